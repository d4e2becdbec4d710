"""Small helpers that are not part of the actor runtime (see :mod:`papyra.utils.logging`)."""

__all__ = ()
