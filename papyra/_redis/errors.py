"""The values and errors of the RESP2 codec, shared by both of its twins
(``papyra._speedups.resp_py`` and the compiled ``resp_c``): one class each, whichever parsed."""

from __future__ import annotations

__all__ = ("ProtocolError", "ReplyError")


class ProtocolError(Exception):
    """The server sent bytes that are not RESP2 (the connection is unusable afterwards)."""


class ReplyError:
    """An error reply (``-ERR ...``): a value, so that one failed command of a pipeline does not
    hide the replies of the others. The client raises it where a single reply is expected."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"ReplyError({self.message!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReplyError) and other.message == self.message

    def __hash__(self) -> int:
        return hash(self.message)
