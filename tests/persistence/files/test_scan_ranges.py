"""What a scan tells recovery: the byte ranges it keeps, and the copy of those ranges.

Recovery copies the kept ranges of its one scan (no second pass over the lines); these tests
hold the ranges to the rule "every complete line that is a JSON object, byte for byte", at
every read-block size, and the copy to the same bytes whichever kernel copy is available.
"""

from __future__ import annotations

import random
from array import array
from pathlib import Path
from typing import Any

import orjson
import pytest

from papyra.persistence._file import rewrite
from papyra.persistence._file.read import scan_file

LINES = [
    b'{"kind":"event","timestamp":1.5,"payload":{"n":1}}\n',
    b"junk\n",
    b"\n",
    b"[1,2]\n",
    b'"text"\n',
    b'{"kind":"audit","timestamp":2}\r\n',
    b'{"x":' + b"1" * 300 + b"}\n",  # longer than the smallest blocks below
    b'{"unterminated":\n',
]


def kept(data: bytes) -> bytes:
    """The definition: complete lines that are JSON objects, the final partial line dropped."""
    out = []
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            out.append(line)
    return b"".join(out)


def copy_of(result: Any, path: Path) -> bytes:
    ranges = result.kept_ranges()
    assert list(ranges) == sorted(ranges)
    with open(path, "rb") as f:
        data = f.read()
    return b"".join(data[ranges[k] : ranges[k + 1]] for k in range(0, len(ranges), 2))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("block", [7, 64, 1000, 1 << 20])
def test_kept_ranges_are_the_object_lines(
    tmp_path: Path, impl: Any, seed: int, block: int
) -> None:
    rng = random.Random(seed)
    body = b"".join(rng.choice(LINES) for _ in range(200))
    tail = rng.choice([b"", b'{"kind":"ev', b"{}"])  # torn or not
    path = tmp_path / "log.ndjson"
    path.write_bytes(body + tail)
    result = scan_file(path, nd=impl.ndjson, block=block)
    assert result is not None
    assert copy_of(result, path) == kept(body + tail)
    assert result.keep_end == len(body)  # a final line without "\n" is never kept
    # The lines recovery drops are the ranges between the kept ones.
    dropped = result.drop_spans
    dropped_bytes = sum(dropped[k + 1] - dropped[k] for k in range(0, len(dropped), 2))
    assert dropped_bytes == len(body) - len(kept(body))


@pytest.mark.parametrize(
    "methods", [["copy_file_range", "sendfile", "pread"], ["sendfile", "pread"], ["pread"]]
)
def test_copy_ranges_copies_the_same_bytes_with_any_kernel_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, methods: list[str]
) -> None:
    monkeypatch.setattr(rewrite, "_kernel_copy", list(methods))
    monkeypatch.setattr(rewrite, "BLOCK", 1000)  # several blocks per range
    src = tmp_path / "src"
    data = bytes(random.Random(1).randrange(256) for _ in range(10_000))
    src.write_bytes(data)
    ranges = array("q", [0, 10, 10, 2500, 4000, 9999])
    dest = tmp_path / "dest"
    seen: list[int] = []
    token = rewrite.read_progress.set(seen.append)
    try:
        n = rewrite.copy_ranges(src, ranges, dest, total=len(data))
    finally:
        rewrite.read_progress.reset(token)
    assert dest.read_bytes() == data[0:2500] + data[4000:9999] and n == 2500 + 5999
    assert sum(seen) == len(data)  # copied and skipped bytes: every byte reported once


def test_copy_ranges_stops_where_the_source_ends(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"abcdef")
    dest = tmp_path / "dest"
    assert rewrite.copy_ranges(src, array("q", [1, 3, 4, 100]), dest) == 4
    assert dest.read_bytes() == b"bcef"


def test_an_unsupported_kernel_copy_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def refuse(*args: Any) -> int:
        raise OSError(errno.ENOSYS, "not here")

    monkeypatch.setattr(rewrite, "_kernel_copy", ["copy_file_range", "sendfile", "pread"])
    monkeypatch.setattr(rewrite.os, "copy_file_range", refuse, raising=False)
    src = tmp_path / "src"
    src.write_bytes(b"0123456789")
    dest = tmp_path / "dest"
    assert rewrite.copy_ranges(src, array("q", [2, 8]), dest) == 6
    assert dest.read_bytes() == b"234567"
    assert rewrite._kernel_copy[0] == "sendfile"


def test_a_real_io_error_is_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def broken(*args: Any) -> int:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(rewrite, "_kernel_copy", ["copy_file_range", "sendfile", "pread"])
    monkeypatch.setattr(rewrite.os, "copy_file_range", broken, raising=False)
    src = tmp_path / "src"
    src.write_bytes(b"0123456789")
    dest = tmp_path / "dest"
    with pytest.raises(OSError, match="I/O error"):
        rewrite.copy_ranges(src, array("q", [0, 10]), dest)
    assert not dest.exists()  # the partial copy is removed
