"""The settings manager (``papyra.monkay``) and the forwarding proxy (``papyra.settings``)."""

from __future__ import annotations

import sys
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import papyra
from papyra.conf import (
    ImproperlyConfigured,
    SettingsForward,
    SettingsImportError,
    get_papyra_monkay,
    monkay,
    settings,
)
from papyra.conf.global_settings import Settings
from papyra.persistence.backends.memory import InMemoryPersistence

ENV_NAMES = (
    "PAPYRA_SETTINGS_MODULE", "DEBUG", "VERSION", "SECRET_KEY", "LOGGING_LEVEL", "PERSISTENCE",
)

WriteModule = Callable[[str], str]


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    del monkay.settings
    yield
    del monkay.settings


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WriteModule]:
    """Write a uniquely named module to ``tmp_path`` (on ``sys.path``); return its name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names: list[str] = []

    def write(source: str) -> str:
        name = f"papyra_test_settings_{uuid.uuid4().hex}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        names.append(name)
        return name

    yield write
    for name in names:
        sys.modules.pop(name, None)


APP_SETTINGS = """
    from papyra.conf.global_settings import Settings

    class AppSettings(Settings):
        debug = True
        workers: int = 3
"""


# -- lazy loading ---------------------------------------------------------------------


def test_default_settings_class_is_used_when_the_variable_is_unset() -> None:
    assert type(monkay.settings) is Settings
    assert monkay.settings_path == "papyra.conf.global_settings.Settings"


def test_settings_are_built_once_and_cached() -> None:
    first = monkay.settings
    assert monkay.settings is first
    assert monkay.settings_loaded


def test_variable_names_the_settings_class(
    monkeypatch: pytest.MonkeyPatch, write_module: WriteModule
) -> None:
    module = write_module(APP_SETTINGS)
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", f"{module}.AppSettings")
    assert not monkay.settings_loaded
    active = monkay.settings
    assert type(active).__name__ == "AppSettings"
    assert active.debug is True
    assert active.workers == 3


def test_colon_separated_path_is_accepted(
    monkeypatch: pytest.MonkeyPatch, write_module: WriteModule
) -> None:
    module = write_module(APP_SETTINGS)
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", f"{module}:AppSettings")
    assert type(monkay.settings).__name__ == "AppSettings"


def test_variable_is_read_at_first_access_not_at_import(
    monkeypatch: pytest.MonkeyPatch, write_module: WriteModule
) -> None:
    module = write_module(APP_SETTINGS)
    # papyra.conf is long imported; setting the variable now still takes effect.
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", f"{module}.AppSettings")
    assert monkay.settings.workers == 3


def test_changing_the_variable_after_first_access_needs_a_reload(
    monkeypatch: pytest.MonkeyPatch, write_module: WriteModule
) -> None:
    before = monkay.settings
    module = write_module(APP_SETTINGS)
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", f"{module}.AppSettings")
    assert monkay.settings is before
    del monkay.settings
    assert type(monkay.settings).__name__ == "AppSettings"


def test_settings_class_sees_environment_overrides(
    monkeypatch: pytest.MonkeyPatch, write_module: WriteModule
) -> None:
    module = write_module(APP_SETTINGS)
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", f"{module}.AppSettings")
    monkeypatch.setenv("WORKERS", "12")
    assert monkay.settings.workers == 12


# -- configuration errors -------------------------------------------------------------


def test_module_path_is_a_configuration_error_that_suggests_the_class(
    monkeypatch: pytest.MonkeyPatch, write_module: WriteModule
) -> None:
    module = write_module(APP_SETTINGS)
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", module)
    with pytest.raises(ImproperlyConfigured) as info:
        monkay.settings
    message = str(info.value)
    assert "PAPYRA_SETTINGS_MODULE" in message
    assert "names a module, not a settings class" in message
    assert f"'{module}.AppSettings'" in message
    assert not isinstance(info.value, ImportError)


def test_dotted_module_path_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # ``email.mime`` is a subpackage that ``import email`` does not import by itself.
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", "email.mime")
    with pytest.raises(ImproperlyConfigured, match="names a module"):
        monkay.settings


def test_unimportable_module_names_the_variable_and_the_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", "no_such_papyra_pkg.conf.Prod")
    with pytest.raises(SettingsImportError) as info:
        monkay.settings
    message = str(info.value)
    assert "PAPYRA_SETTINGS_MODULE" in message
    assert "'no_such_papyra_pkg.conf.Prod'" in message
    assert "no_such_papyra_pkg" in message
    assert isinstance(info.value, ImportError)
    assert "\n" not in message


def test_missing_dependency_inside_the_settings_module_is_reported(
    monkeypatch: pytest.MonkeyPatch, write_module: WriteModule
) -> None:
    module = write_module("import no_such_dependency_xyz\n")
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", f"{module}.AppSettings")
    with pytest.raises(SettingsImportError, match="no_such_dependency_xyz"):
        monkay.settings


def test_broken_settings_module_is_reported_with_the_variable(
    monkeypatch: pytest.MonkeyPatch, write_module: WriteModule
) -> None:
    module = write_module("def broken(:\n")
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", f"{module}.AppSettings")
    with pytest.raises(ImproperlyConfigured) as info:
        monkay.settings
    assert "PAPYRA_SETTINGS_MODULE" in str(info.value)
    assert "SyntaxError" in str(info.value)
    assert not isinstance(info.value, ImportError)


def test_missing_class_is_reported(
    monkeypatch: pytest.MonkeyPatch, write_module: WriteModule
) -> None:
    module = write_module(APP_SETTINGS)
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", f"{module}.Missing")
    with pytest.raises(SettingsImportError, match="has no attribute 'Missing'"):
        monkay.settings


def test_class_that_is_not_a_settings_class_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", "json.JSONDecoder")
    with pytest.raises(ImproperlyConfigured, match="is not a settings class"):
        monkay.settings


def test_failed_load_is_retried_after_the_configuration_is_fixed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", "no_such_papyra_pkg.Prod")
    with pytest.raises(SettingsImportError):
        monkay.settings
    monkeypatch.delenv("PAPYRA_SETTINGS_MODULE")
    assert type(monkay.settings) is Settings


def test_settings_class_reading_settings_while_built_gets_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, write_module: WriteModule
) -> None:
    module = write_module(
        """
        import papyra
        from papyra.conf.global_settings import Settings

        class Loop(Settings):
            def post_init(self):
                papyra.monkay.settings
        """
    )
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", f"{module}.Loop")
    with pytest.raises(ImproperlyConfigured, match="while they were being created"):
        monkay.settings


# -- set / replace / drop -------------------------------------------------------------


def test_assigned_instance_is_used_as_is() -> None:
    mine = Settings(debug=True)
    monkay.settings = mine
    assert monkay.settings is mine
    assert monkay.settings_path is None


def test_assigned_class_is_instantiated() -> None:
    class Custom(Settings):
        logging_level = "ERROR"

    monkay.settings = Custom
    assert type(monkay.settings) is Custom
    assert monkay.settings.logging_level == "ERROR"


def test_assigned_class_that_fails_keeps_the_previous_settings() -> None:
    class Broken(Settings):
        def post_init(self) -> None:
            raise RuntimeError("boom")

    before = monkay.settings
    with pytest.raises(RuntimeError, match="boom"):
        monkay.settings = Broken
    assert monkay.settings is before


def test_assigned_path_is_imported_lazily(write_module: WriteModule) -> None:
    module = write_module(APP_SETTINGS)
    monkay.settings = f"{module}.AppSettings"
    assert module not in sys.modules
    assert monkay.settings_path == f"{module}.AppSettings"
    assert monkay.settings.workers == 3
    assert module in sys.modules


def test_assigned_path_errors_name_the_path() -> None:
    monkay.settings = "no_such_papyra_pkg.Prod"
    with pytest.raises(SettingsImportError, match=r"'no_such_papyra_pkg\.Prod'"):
        monkay.settings


@pytest.mark.parametrize("value", [None, papyra])
def test_assigning_none_or_a_module_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match=r"del monkay\.settings"):
        monkay.settings = value


def test_assigned_path_wins_over_the_variable(
    monkeypatch: pytest.MonkeyPatch, write_module: WriteModule
) -> None:
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", "no_such_papyra_pkg.Prod")
    module = write_module(APP_SETTINGS)
    monkay.settings = f"{module}.AppSettings"
    assert monkay.settings.workers == 3


def test_delete_drops_the_cache_and_reloads() -> None:
    first = monkay.settings
    del monkay.settings
    assert not monkay.settings_loaded
    second = monkay.settings
    assert second is not first
    assert type(second) is Settings


def test_delete_forgets_an_assigned_value(
    monkeypatch: pytest.MonkeyPatch, write_module: WriteModule
) -> None:
    monkay.settings = Settings(debug=True)
    module = write_module(APP_SETTINGS)
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", f"{module}.AppSettings")
    del monkay.settings
    assert type(monkay.settings).__name__ == "AppSettings"


def test_attributes_of_the_active_settings_can_be_assigned_and_patched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = InMemoryPersistence()
    monkay.settings.persistence = backend
    assert monkay.settings.persistence is backend
    other = InMemoryPersistence()
    monkeypatch.setattr(monkay.settings, "persistence", other)
    assert settings.persistence is other


# -- evaluate_settings ----------------------------------------------------------------


def test_evaluate_settings_loads_and_is_idempotent() -> None:
    assert monkay.evaluate_settings() is True
    loaded = monkay.settings
    assert monkay.evaluate_settings() is True
    assert monkay.settings is loaded


def test_evaluate_settings_raises_import_errors_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", "no_such_papyra_pkg.Prod")
    with pytest.raises(SettingsImportError):
        monkay.evaluate_settings()


def test_evaluate_settings_can_ignore_import_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", "no_such_papyra_pkg.Prod")
    assert monkay.evaluate_settings(ignore_import_errors=True) is False
    assert not monkay.settings_loaded


def test_evaluate_settings_never_ignores_configuration_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", "json")
    with pytest.raises(ImproperlyConfigured, match="names a module"):
        monkay.evaluate_settings(ignore_import_errors=True)


def test_concurrent_first_access_builds_one_instance(
    monkeypatch: pytest.MonkeyPatch, write_module: WriteModule
) -> None:
    module = write_module(
        """
        import time
        from papyra.conf.global_settings import Settings

        built = []

        class Slow(Settings):
            def post_init(self):
                time.sleep(0.01)
                built.append(self)
        """
    )
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", f"{module}.Slow")
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(monkay.settings)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sys.modules[module].built) == 1
    assert all(item is seen[0] for item in seen)


# -- papyra.monkay, papyra.settings and the forwarding proxy --------------------------


def test_package_exposes_the_manager_and_the_proxy() -> None:
    assert papyra.monkay is monkay
    assert papyra.settings is settings
    assert isinstance(settings, SettingsForward)
    assert papyra.Settings is Settings


def test_get_papyra_monkay_returns_the_loaded_manager() -> None:
    get_papyra_monkay.cache_clear()
    manager = get_papyra_monkay()
    assert manager is monkay
    assert get_papyra_monkay() is manager
    assert monkay.settings_loaded


def test_proxy_reads_the_active_settings() -> None:
    assert settings.debug is False
    assert settings.version == papyra.__version__
    assert settings.dict()["logging_level"] == "INFO"


def test_proxy_assignment_is_visible_through_the_manager() -> None:
    backend = InMemoryPersistence()
    settings.persistence = backend
    assert monkay.settings.persistence is backend


def test_proxy_delete_is_forwarded() -> None:
    settings.extra_flag = 1
    assert monkay.settings.extra_flag == 1
    del settings.extra_flag
    assert not hasattr(monkay.settings, "extra_flag")


def test_proxy_follows_replacement_and_reload() -> None:
    monkay.settings = Settings(debug=True)
    assert settings.debug is True
    del monkay.settings
    assert settings.debug is False


def test_proxy_reports_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", "no_such_papyra_pkg.Prod")
    with pytest.raises(SettingsImportError, match="PAPYRA_SETTINGS_MODULE"):
        settings.persistence


def test_proxy_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError):
        settings.no_such_setting
    assert "persistence" in dir(settings)
