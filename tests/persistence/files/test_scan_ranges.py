"""What a scan tells recovery: the byte ranges it keeps, and the copy of those ranges.

Recovery copies the kept ranges while its one scan runs (no second pass over the lines);
these tests hold the ranges to the rule "every complete line that is a JSON object, byte for
byte", at every read-block size, and the copy to the same bytes whichever kernel copy the
system offers.
"""

from __future__ import annotations

import random
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


def copy(src: Path, ranges: list[int], dest: Path) -> int:
    copier = rewrite.RangeCopier(src, dest)
    try:
        for k in range(0, len(ranges), 2):
            copier.add(ranges[k], ranges[k + 1])
        return copier.finish()
    finally:
        copier.abort()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("block", [7, 1000])
def test_the_ranges_told_during_the_scan_are_the_kept_ranges(
    tmp_path: Path, impl: Any, seed: int, block: int
) -> None:
    rng = random.Random(seed)
    body = b"".join(rng.choice(LINES) for _ in range(200)) + b'{"torn'
    path = tmp_path / "log.ndjson"
    path.write_bytes(body)
    told: list[int] = []
    result = scan_file(path, nd=impl.ndjson, block=block, kept=lambda a, b: told.extend((a, b)))
    assert result is not None and result.drop
    assert told == sorted(told) and told[-1] <= result.keep_end
    data = path.read_bytes()
    pieces = [data[told[k] : told[k + 1]] for k in range(0, len(told), 2)]
    assert b"".join(pieces) == kept(body)


def test_a_clean_file_tells_no_range(tmp_path: Path, impl: Any) -> None:
    path = tmp_path / "log.ndjson"
    path.write_bytes(LINES[0] * 50 + b'{"torn')
    told: list[int] = []
    result = scan_file(path, nd=impl.ndjson, block=64, kept=lambda a, b: told.extend((a, b)))
    assert result is not None and result.torn_line == 50 and told == []


@pytest.mark.parametrize(
    "methods", [["copy_file_range", "sendfile", "pread"], ["sendfile", "pread"], ["pread"]]
)
def test_the_copier_copies_the_same_bytes_with_any_kernel_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, methods: list[str]
) -> None:
    monkeypatch.setattr(rewrite, "_kernel_copy", list(methods))
    monkeypatch.setattr(rewrite, "BLOCK", 1000)  # several blocks per range
    src = tmp_path / "src"
    data = bytes(random.Random(1).randrange(256) for _ in range(10_000))
    src.write_bytes(data)
    dest = tmp_path / "dest"
    seen: list[int] = []
    token = rewrite.read_progress.set(seen.append)
    try:
        n = copy(src, [0, 10, 10, 2500, 4000, 9999], dest)
    finally:
        rewrite.read_progress.reset(token)
    assert dest.read_bytes() == data[0:2500] + data[4000:9999] and n == 2500 + 5999
    assert sum(seen) == n  # the copier reports what it copies, from its own thread


def test_the_copier_stops_where_the_source_ends(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"abcdef")
    dest = tmp_path / "dest"
    assert copy(src, [1, 3, 4, 100, 200, 300], dest) == 4
    assert dest.read_bytes() == b"bcef"


def test_a_copier_fed_nothing_writes_an_empty_file_or_nothing(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"abc")
    dest = tmp_path / "dest"
    rewrite.RangeCopier(src, dest).abort()
    assert not dest.exists()  # never fed: never created
    assert copy(src, [], dest) == 0 and dest.read_bytes() == b""


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
    assert copy(src, [2, 8], dest) == 6
    assert dest.read_bytes() == b"234567"
    assert rewrite._kernel_copy[0] == "sendfile"


def test_a_kernel_copy_that_copies_nothing_is_not_taken_for_the_end_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rewrite, "_kernel_copy", ["copy_file_range", "sendfile", "pread"])
    monkeypatch.setattr(rewrite.os, "copy_file_range", lambda *args: 0, raising=False)
    monkeypatch.setattr(rewrite.os, "sendfile", lambda *args: 0, raising=False)
    src = tmp_path / "src"
    src.write_bytes(b"0123456789")
    dest = tmp_path / "dest"
    assert copy(src, [2, 8, 9, 30], dest) == 7
    assert dest.read_bytes() == b"2345679"
    assert rewrite._kernel_copy == ["pread"]


def test_a_real_io_error_is_raised_and_the_copy_removed(
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
        copy(src, [0, 4, 5, 10], dest)
    assert not dest.exists()
