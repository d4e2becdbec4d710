"""``papyra.conf.global_settings``: fields, environment overrides and casting, dict()/tuple()."""

from __future__ import annotations

import enum
import functools
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal, Optional, Union

import pytest

import papyra
from papyra.conf.global_settings import BaseSettings, Settings, safe_get_type_hints
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.serializers import StandardSerializerConfig
from papyra.utils.logging import StandardLoggingConfig

DEFAULT_FIELDS = ("debug", "version", "secret_key", "logging_level", "persistence")


# Every field name used below; the environment of the test run must not leak into them.
FIELD_NAMES = (
    *DEFAULT_FIELDS,
    *("workers", "ratio", "name", "mode", "colour", "data_dir", "limit", "hidden", "_private"),
    *("thing", "maybe", "either", "items", "port", "label", "future", "host", "token", "needed"),
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in FIELD_NAMES:
        monkeypatch.delenv(name.upper(), raising=False)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Custom:
    def __init__(self) -> None:
        self.value = 1


# Optional[...], Union[...] and a quoted annotation on purpose: casting must handle every
# spelling a settings module may use, not only PEP 604 unions.
class AppSettings(Settings):
    workers: int = 2
    ratio: Optional[float] = None  # noqa: UP045
    name: "str | None" = None  # noqa: UP037
    mode: Literal["fast", "safe"] = "safe"
    colour: Colour = Colour.RED
    data_dir: Path = Path("/tmp")
    limit: Union[int, str] = 0  # noqa: UP007
    hidden: ClassVar[int] = 5
    _private: int = 7


# -- defaults and fields --------------------------------------------------------------


def test_default_values() -> None:
    current = Settings()
    assert current.debug is False
    assert current.version == papyra.__version__ == "0.3.0"
    assert current.secret_key is None
    assert current.logging_level == "INFO"
    assert isinstance(current.persistence, InMemoryPersistence)


def test_default_persistence_is_one_shared_instance() -> None:
    assert Settings().persistence is Settings().persistence


def test_fields_cover_the_mro_base_first_and_skip_classvars_and_private_names() -> None:
    assert tuple(AppSettings().dict()) == (
        *DEFAULT_FIELDS,
        "workers",
        "ratio",
        "name",
        "mode",
        "colour",
        "data_dir",
        "limit",
    )


def test_type_hints_are_computed_per_subclass() -> None:
    assert AppSettings.__type_hints__["workers"] is int
    assert AppSettings.__type_hints__["debug"] is bool
    assert "workers" not in Settings.__type_hints__


def test_subclass_overrides_a_default_without_annotation() -> None:
    backend = InMemoryPersistence()

    class Prod(Settings):
        debug = True
        persistence = backend

    current = Prod()
    assert current.debug is True
    assert current.persistence is backend
    assert current.dict()["persistence"] is backend


def test_keyword_arguments_become_attributes() -> None:
    current = Settings(debug=True, logging_level="DEBUG", anything="x")
    assert current.debug is True
    assert current.logging_level == "DEBUG"
    assert current.anything == "x"


def test_attributes_can_be_assigned_after_creation() -> None:
    current = Settings()
    current.debug = True
    assert current.debug is True


def test_post_init_runs_after_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    class Hooked(Settings):
        def post_init(self) -> None:
            seen.append(self.logging_level)

    monkeypatch.setenv("LOGGING_LEVEL", "WARNING")
    Hooked(logging_level="DEBUG")
    assert seen == ["WARNING"]


# -- environment overrides ------------------------------------------------------------


def test_environment_wins_over_keyword_arguments_and_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGGING_LEVEL", "ERROR")
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    current = Settings(logging_level="DEBUG")
    assert current.logging_level == "ERROR"
    assert current.secret_key == "s3cret"


def test_environment_is_read_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    before = Settings()
    monkeypatch.setenv("DEBUG", "true")
    assert before.debug is False
    assert Settings().debug is True


@pytest.mark.parametrize("raw", ["true", "TRUE", "1", "yes", "On", "y", " true "])
def test_truthy_strings_are_true(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("DEBUG", raw)
    assert Settings().debug is True


@pytest.mark.parametrize("raw", ["false", "0", "no", "off", "", "banana"])
def test_other_strings_are_false(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("DEBUG", raw)
    assert Settings(debug=True).debug is False


def test_truthy_set_can_be_customised(monkeypatch: pytest.MonkeyPatch) -> None:
    class Strict(Settings):
        __truthy__ = {"enabled"}  # noqa: RUF012 - overrides a plain class attribute

    monkeypatch.setenv("DEBUG", "enabled")
    assert Strict().debug is True
    monkeypatch.setenv("DEBUG", "true")
    assert Strict().debug is False


def test_numbers_paths_enums_and_literals_are_cast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKERS", "8")
    monkeypatch.setenv("RATIO", "0.25")
    monkeypatch.setenv("MODE", "fast")
    monkeypatch.setenv("COLOUR", "blue")
    monkeypatch.setenv("DATA_DIR", "/srv/data")
    current = AppSettings()
    assert current.workers == 8
    assert current.ratio == 0.25
    assert current.mode == "fast"
    assert current.colour is Colour.BLUE
    assert current.data_dir == Path("/srv/data")


def test_enum_can_be_given_by_member_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLOUR", "RED")
    assert AppSettings(colour=Colour.BLUE).colour is Colour.RED


def test_optional_is_unwrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATIO", "3")
    monkeypatch.setenv("NAME", "papyra")
    current = AppSettings()
    assert current.ratio == 3.0 and type(current.ratio) is float
    assert current.name == "papyra"


def test_failed_cast_names_the_value_and_the_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKERS", "many")
    with pytest.raises(ValueError) as info:
        AppSettings()
    assert str(info.value) == "Cannot cast value 'many' to type 'int'"


def test_failed_optional_cast_names_the_inner_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATIO", "half")
    with pytest.raises(ValueError, match=r"^Cannot cast value 'half' to type 'float'$"):
        AppSettings()


def test_value_outside_a_literal_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODE", "reckless")
    with pytest.raises(ValueError, match=r"^Cannot cast value 'reckless'"):
        AppSettings()


def test_union_of_several_types_cannot_be_cast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMIT", "10")
    with pytest.raises(ValueError, match=r"^Cannot cast value '10'"):
        AppSettings()


def test_environment_is_ignored_for_any_typed_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSISTENCE", "/var/lib/papyra.ndjson")
    current = Settings()
    assert isinstance(current.persistence, InMemoryPersistence)


def test_environment_is_ignored_for_custom_classes_and_containers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Odd(BaseSettings):
        thing: Custom = Custom()
        maybe: Optional[Custom] = None  # noqa: UP045 - the typing spelling, on purpose
        either: Union[Custom, InMemoryPersistence, None] = None  # noqa: UP007 - idem
        items: list[str] = []  # noqa: RUF012 - a settings field, not shared state

    for name in ("THING", "MAYBE", "EITHER", "ITEMS"):
        monkeypatch.setenv(name, "x")
    current = Odd()
    assert isinstance(current.thing, Custom)
    assert current.maybe is None and current.either is None
    assert current.items == []


def test_classvars_and_private_names_ignore_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HIDDEN", "9")
    monkeypatch.setenv("_PRIVATE", "9")
    current = AppSettings()
    assert current.hidden == 5
    assert current._private == 7


# -- safe_get_type_hints --------------------------------------------------------------


def test_safe_get_type_hints_matches_typing_when_hints_resolve() -> None:
    hints = safe_get_type_hints(AppSettings)
    assert hints["workers"] is int
    assert hints["ratio"] == Optional[float]  # noqa: UP045 - what AppSettings declares


@pytest.fixture
def unresolvable_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A settings class with one annotation naming something that does not exist."""
    name = f"papyra_test_hints_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from __future__ import annotations
            from papyra.conf.global_settings import Settings

            Port = int

            class Broken(Settings):
                port: Port = 80
                label: str | None = None
                future: NotDefinedYet = None
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__(name)
    yield sys.modules[name]
    sys.modules.pop(name, None)


def test_safe_get_type_hints_falls_back_per_class(unresolvable_module: Any) -> None:
    hints = safe_get_type_hints(unresolvable_module.Broken)
    assert hints["debug"] is bool  # inherited, resolved in papyra's module
    assert hints["port"] is int  # resolved against the defining module
    assert hints["future"] == "NotDefinedYet"  # kept raw


def test_unresolvable_annotations_do_not_break_env_casting(
    unresolvable_module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("LABEL", "main")
    monkeypatch.setenv("FUTURE", "x")
    current = unresolvable_module.Broken()
    assert current.port == 8080
    assert current.label == "main"
    assert current.future is None


# -- dict() / tuple() -----------------------------------------------------------------


class WithProperties(BaseSettings):
    host: str = "localhost"
    port: int = 80
    token: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @functools.cached_property
    def label(self) -> str:
        return self.host.upper()

    @property
    def broken(self) -> str:
        raise RuntimeError("not available")

    @property
    def _internal(self) -> int:
        return 1


def test_dict_returns_fields_in_order() -> None:
    assert WithProperties().dict() == {"host": "localhost", "port": 80, "token": None}


def test_dict_exclude_none() -> None:
    assert WithProperties().dict(exclude_none=True) == {"host": "localhost", "port": 80}


def test_dict_upper() -> None:
    assert WithProperties().dict(upper=True) == {"HOST": "localhost", "PORT": 80, "TOKEN": None}


def test_dict_exclude_uses_field_names() -> None:
    assert WithProperties().dict(exclude={"port", "token"}, upper=True) == {"HOST": "localhost"}


def test_dict_include_properties_skips_raising_and_private_ones() -> None:
    result = WithProperties(port=8000).dict(include_properties=True)
    assert result == {
        "host": "localhost",
        "port": 8000,
        "token": None,
        "url": "http://localhost:8000",
        "label": "LOCALHOST",
    }


def test_dict_options_apply_to_properties() -> None:
    result = WithProperties().dict(include_properties=True, upper=True, exclude={"label", "token"})
    assert result == {"HOST": "localhost", "PORT": 80, "URL": "http://localhost:80"}


def test_dict_skips_fields_without_a_value() -> None:
    class Required(BaseSettings):
        needed: str

    assert Required().dict() == {}
    assert Required(needed="x").dict() == {"needed": "x"}


def test_tuple_is_the_list_of_dict_items() -> None:
    current = WithProperties()
    assert current.tuple() == [("host", "localhost"), ("port", 80), ("token", None)]
    assert current.tuple(exclude_none=True, upper=True, include_properties=True) == list(
        current.dict(exclude_none=True, upper=True, include_properties=True).items()
    )


# -- helper configs exposed as properties ---------------------------------------------


def test_logging_config_follows_logging_level() -> None:
    config = Settings(logging_level="warning").logging_config
    assert isinstance(config, StandardLoggingConfig)
    assert config.level == "WARNING"


def test_serializer_config_is_the_standard_one() -> None:
    assert isinstance(Settings().serializer_config, StandardSerializerConfig)


def test_settings_dict_with_properties_includes_the_configs() -> None:
    result = Settings().dict(include_properties=True)
    assert isinstance(result["logging_config"], StandardLoggingConfig)
    assert isinstance(result["serializer_config"], StandardSerializerConfig)
