"""Types of the compiled twin: exactly the API of :mod:`papyra._speedups.ndjson_py`."""

from array import array
from collections.abc import Callable, Iterable
from typing import Any

__all__ = (
    "F_JSON",
    "F_NOEOL",
    "F_OBJECT",
    "F_STAMP",
    "KIND_AUDIT",
    "KIND_DEAD_LETTER",
    "KIND_EVENT",
    "KIND_MASK",
    "KIND_SHIFT",
    "WANT_KIND",
    "WANT_STAMP",
    "LineTable",
    "count_lines",
    "encode_fields",
    "encode_record",
    "encode_records",
    "invalid_lines",
    "is_plain",
    "line_ends",
    "scan_lines",
    "select_lines",
    "spans",
)

F_JSON: int
F_OBJECT: int
F_STAMP: int
F_NOEOL: int
KIND_SHIFT: int
KIND_MASK: int
KIND_EVENT: int
KIND_AUDIT: int
KIND_DEAD_LETTER: int
WANT_KIND: int
WANT_STAMP: int

class LineTable:
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def count(self) -> int: ...
    @property
    def ends(self) -> array[int]: ...
    @property
    def flags(self) -> bytearray: ...
    @property
    def stamps(self) -> array[float] | None: ...
    @property
    def tail(self) -> int: ...
    def __init__(
        self,
        start: int,
        end: int,
        ends: array[int],
        flags: bytearray,
        stamps: array[float] | None,
        tail: int,
    ) -> None: ...

def scan_lines(
    buf: bytes | bytearray | memoryview,
    start: int = 0,
    end: int = -1,
    *,
    final: bool = False,
    want: int = 0,
) -> LineTable: ...
def line_ends(
    buf: bytes | bytearray | memoryview, start: int = 0, end: int = -1, *, final: bool = False
) -> LineTable: ...
def invalid_lines(table: LineTable) -> array[int]: ...
def select_lines(table: LineTable, mask: int, value: int, first: int = 0) -> array[int]: ...
def count_lines(table: LineTable, mask: int, value: int, first: int = 0) -> int: ...
def spans(table: LineTable, mask: int, value: int, first: int = 0) -> array[int]: ...
def encode_record(record: dict[str, Any], default: Callable[[Any], Any] | None = None) -> bytes: ...
def encode_records(
    records: Iterable[dict[str, Any]], default: Callable[[Any], Any] | None = None
) -> bytes: ...
def encode_fields(
    record: dict[str, Any],
    kind: str,
    schema: tuple[tuple[str, Any, Callable[[Any], Any] | None, bool], ...],
    default: Callable[[Any], Any] | None = None,
) -> bytes: ...

PLAIN_DEPTH: int

def is_plain(value: Any, reserved: str) -> bool: ...
