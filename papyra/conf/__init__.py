"""Papyra settings: ``monkay`` (the manager) and ``settings`` (a forwarding proxy).

``settings.persistence`` reads the ``persistence`` attribute of the *active* settings
object, whatever it is at that moment: the class named by ``PAPYRA_SETTINGS_MODULE``
(default ``papyra.conf.global_settings.Settings``), or whatever was assigned to
``monkay.settings``. See ``docs/settings.md``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from papyra.conf._manager import ImproperlyConfigured, SettingsImportError, SettingsManager

__all__ = (
    "DEFAULT_SETTINGS_PATH",
    "SETTINGS_ENV_VAR",
    "ImproperlyConfigured",
    "SettingsForward",
    "SettingsImportError",
    "SettingsManager",
    "get_papyra_monkay",
    "monkay",
    "settings",
)

SETTINGS_ENV_VAR = "PAPYRA_SETTINGS_MODULE"
DEFAULT_SETTINGS_PATH = "papyra.conf.global_settings.Settings"

monkay = SettingsManager(env_var=SETTINGS_ENV_VAR, default_path=DEFAULT_SETTINGS_PATH)


@cache
def get_papyra_monkay() -> SettingsManager:
    """Return :data:`monkay` after loading the settings once (import errors propagate).

    Cached, so the loading check happens on the first call only; a failed load is not cached
    and is retried on the next call.
    """
    monkay.evaluate_settings(ignore_import_errors=False)
    return monkay


class SettingsForward:
    """Forwards attribute get/set/delete to ``monkay.settings``, the active settings object.

    Every access looks the active object up again, so replacing or reloading the settings
    (``monkay.settings = ...``, ``del monkay.settings``) is seen at once by code holding
    this proxy.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(get_papyra_monkay().settings, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(get_papyra_monkay().settings, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(get_papyra_monkay().settings, name)

    def __dir__(self) -> list[str]:
        return dir(get_papyra_monkay().settings)

    def __repr__(self) -> str:
        return f"<SettingsForward to {monkay!r}>"


settings = SettingsForward()
