"""0.3.0's (misspelled) home of :func:`papyra_lifecycle`, kept.

:mod:`papyra.contrib.asgi.lifecycle` is the correctly spelled alias.
"""

from papyra.contrib.asgi._lifecycle import (
    NO_APP,
    PapyraLifespan,
    papyra_lifecycle,
    prepare_and_start,
)

__all__ = ("NO_APP", "PapyraLifespan", "papyra_lifecycle", "prepare_and_start")
