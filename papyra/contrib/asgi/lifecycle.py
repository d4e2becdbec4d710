"""``papyra_lifecycle`` under the correct spelling (0.3.0 named the module ``lifesycle``; kept)."""

from papyra.contrib.asgi._lifecycle import (
    NO_APP,
    PapyraLifespan,
    papyra_lifecycle,
    prepare_and_start,
)

__all__ = ("NO_APP", "PapyraLifespan", "papyra_lifecycle", "prepare_and_start")
