"""The shape of :data:`papyra.serializers.serializer` and of anything bound to it."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ("SerializerProtocol",)


@runtime_checkable
class SerializerProtocol(Protocol):
    """A ``json``-module-like object: ``dump``/``dumps`` encode, ``load``/``loads`` decode.

    ``dumps`` may return ``str`` (stdlib ``json``) or ``bytes`` (e.g. an orjson-backed
    serializer); callers that need bytes must handle both.
    """

    def dump(self, obj: Any, fp: Any, **kwargs: Any) -> None:
        """Write ``obj``, encoded, to the file ``fp``."""
        ...

    def dumps(self, obj: Any, **kwargs: Any) -> str | bytes:
        """``obj`` encoded."""
        ...

    def load(self, fp: Any, **kwargs: Any) -> Any:
        """The value encoded in the file ``fp``."""
        ...

    def loads(self, s: str | bytes | bytearray, **kwargs: Any) -> Any:
        """The value encoded in ``s``."""
        ...
