"""``install``: the one routine that puts a rewritten file set in place (recover and compact)."""

from __future__ import annotations

from pathlib import Path

import pytest

from papyra.persistence._file import rewrite
from papyra.persistence._file.rewrite import install


def make_set(directory: Path, contents: dict[str, bytes]) -> list[Path]:
    """The slots ``s``, ``s.1``, ``s.2`` (newest first), with the given files written."""
    for name, data in contents.items():
        (directory / name).write_bytes(data)
    return [directory / "s", directory / "s.1", directory / "s.2"]


def chunk_files(directory: Path, *datas: bytes) -> list[Path]:
    paths = []
    for n, data in enumerate(datas, 1):
        path = directory / f"s.compact.tmp.{n}"
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_newest_chunk_becomes_the_active_file_and_unused_slots_go(tmp_path: Path) -> None:
    slots = make_set(tmp_path, {"s": b"a\n", "s.1": b"b\n", "s.2": b"c\n"})
    chunks = chunk_files(tmp_path, b"old\n", b"new\n")
    done = install(chunks, slots, ".compact.tmp")
    assert done.slots == slots[:2] and done.quarantined == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s", "s.1"]
    assert (tmp_path / "s").read_bytes() == b"new\n"
    assert (tmp_path / "s.1").read_bytes() == b"old\n"


def test_no_chunk_empties_the_set(tmp_path: Path) -> None:
    slots = make_set(tmp_path, {"s": b"a\n", "s.2": b"c\n"})
    assert install([], slots, ".compact.tmp").slots == []
    assert list(tmp_path.iterdir()) == []


def test_quarantine_links_every_existing_file_oldest_first(tmp_path: Path) -> None:
    slots = make_set(tmp_path, {"s": b"a\n", "s.2": b"c\n"})
    qdir = tmp_path / "q"
    done = install(chunk_files(tmp_path, b"x\n"), slots, ".recovered.tmp", quarantine_dir=qdir)
    assert [p.name.rsplit(".", 1)[0] for p in done.quarantined] == [
        "s.2.quarantine",
        "s.quarantine",
    ]
    assert [p.read_bytes() for p in done.quarantined] == [b"c\n", b"a\n"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q", "s"]


def test_a_failure_before_the_set_changes_removes_the_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contents = {"s": b"a\n", "s.1": b"b\n", "s.2": b"c\n"}
    slots = make_set(tmp_path, contents)
    chunks = chunk_files(tmp_path, b"x\n", b"y\n")
    calls = 0
    real = rewrite.os.replace

    def second_rename_fails(src: object, dst: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk says no")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(rewrite.os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="disk says no"):
        install(chunks, slots, ".compact.tmp")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == contents


def test_more_chunks_than_slots_is_refused(tmp_path: Path) -> None:
    slots = make_set(tmp_path, {})
    with pytest.raises(ValueError, match="4 files for a set of 3"):
        install(chunk_files(tmp_path, b"1\n", b"2\n", b"3\n", b"4\n"), slots, ".compact.tmp")
