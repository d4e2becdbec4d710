"""Progress bars: drawn on a terminal only, from the backend hook or the process read counter."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from papyra.cli import _progress
from papyra.cli._progress import tracked
from papyra.persistence.json import JsonFilePersistence

from .support import GOOD

pytestmark = pytest.mark.anyio


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class HookedBackend:
    """A file backend that reports progress through the documented ``progress`` attribute."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.progress: Any = None


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "ev.ndjson"
    path.write_bytes(GOOD * 2000)
    return path


@pytest.fixture(autouse=True)
def fast_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_progress, "TICK", 0.005)


async def wait_for(stream: io.StringIO, text: str) -> None:
    with anyio.fail_after(5):
        # polls: the bar writes to a plain StringIO, which has nothing to signal
        while text not in stream.getvalue():  # noqa: ASYNC110
            await anyio.sleep(0.005)


async def test_hook_drives_the_bar(log: Path) -> None:
    backend = HookedBackend(log)
    out = Terminal()

    async def work() -> str:
        backend.progress(250, 1000)
        await wait_for(out, "25%")
        backend.progress(1000, 1000)
        return "report"

    assert await tracked(backend, "Scanning ev.ndjson", work, stream=out, min_bytes=0) == "report"
    text = out.getvalue()
    assert "Scanning ev.ndjson" in text and "25%" in text and "100%" in text
    assert text.endswith("\n")
    assert backend.progress is None  # the hook is handed back


async def test_read_counter_fallback(log: Path) -> None:
    backend = JsonFilePersistence(log)
    out = Terminal()
    reads = iter(range(0, 10**9, log.stat().st_size // 4))

    def counter() -> int:
        return next(reads)

    async def work() -> Any:
        await wait_for(out, "%")
        return await backend.scan()

    report = await tracked(backend, "Scanning", work, stream=out, min_bytes=0, read_counter=counter)
    assert report.anomalies == ()
    assert "100%" in out.getvalue()
    await backend.aclose()


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs /proc/self/io")
async def test_real_read_counter(log: Path) -> None:
    backend = JsonFilePersistence(log)
    out = Terminal()
    report = await tracked(
        backend, "Compacting", backend.compact, stream=out, min_bytes=0, passes=2
    )
    assert report.before_records == 4000
    assert "Compacting" in out.getvalue() and "100%" in out.getvalue()
    await backend.aclose()


async def test_silent_when_not_a_terminal(log: Path) -> None:
    backend = HookedBackend(log)
    out = io.StringIO()

    async def work() -> int:
        assert backend.progress is None  # not attached either
        return 7

    assert await tracked(backend, "Scanning", work, stream=out, min_bytes=0) == 7
    assert out.getvalue() == ""


async def test_silent_for_small_files_and_pathless_backends(log: Path) -> None:
    out = Terminal()

    async def work() -> None:
        return None

    await tracked(HookedBackend(log), "Scanning", work, stream=out)  # below MIN_BYTES
    await tracked(object(), "Scanning", work, stream=out, min_bytes=0)  # no files at all
    assert out.getvalue() == ""


async def test_failure_propagates_and_restores_hook(log: Path) -> None:
    backend = HookedBackend(log)
    out = Terminal()

    async def work() -> None:
        backend.progress(10, 100)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await tracked(backend, "Recovering", work, stream=out, min_bytes=0)
    assert backend.progress is None
    assert "100%" not in out.getvalue()


def test_cli_draws_nothing_when_stderr_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from papyra.cli.app import app

    monkeypatch.setattr(_progress, "MIN_BYTES", 0)
    path = tmp_path / "ev.ndjson"
    path.write_bytes(GOOD * 100)
    for command in ("scan", "compact", "recover"):
        result = CliRunner().invoke(app, ["persistence", command, "--path", str(path)])
        assert result.exit_code == 0
        assert result.stderr == ""


async def test_files_come_from_the_backend(tmp_path: Path) -> None:
    from papyra.persistence.backends.rotating import RotatingFilePersistence

    rotating = RotatingFilePersistence(tmp_path / "ev.ndjson", max_files=3)
    assert _progress._files(rotating) == rotating.files()
    assert _progress.progress_label("Scanning", rotating) == "Scanning ev.ndjson"  # the active file
    assert _progress._files(HookedBackend(tmp_path / "x.ndjson")) == [tmp_path / "x.ndjson"]
    assert _progress._files(object()) == []
    assert _progress.progress_label("Scanning", object()) == "Scanning"
    await rotating.aclose()


async def test_rotated_files_count_towards_the_bar(tmp_path: Path) -> None:
    from papyra.persistence.backends.rotating import RotatingFilePersistence

    active = tmp_path / "ev.ndjson"
    active.write_bytes(GOOD)
    (tmp_path / "ev.ndjson.1").write_bytes(GOOD * 2000)  # the bulk sits in a rotated slot
    backend = RotatingFilePersistence(active, max_files=2)
    out = Terminal()
    report = await tracked(
        backend, "Scanning ev.ndjson", backend.scan, stream=out, min_bytes=len(GOOD) * 2
    )
    assert report.anomalies == ()
    assert "Scanning ev.ndjson" in out.getvalue() and "100%" in out.getvalue()
    await backend.aclose()


async def test_read_counter_estimate_grows_past_one_read(log: Path) -> None:
    backend = HookedBackend(log)
    del backend.progress  # no hook: the read counter drives the bar
    size = log.stat().st_size
    reads = iter([0, 0])  # the probe and the baseline, then one and a half reads of the file

    def counter() -> int:
        return next(reads, size + size // 2)

    out = Terminal()

    async def work() -> None:
        await wait_for(out, "75%")  # 1.5 reads of an estimate grown to 2

    await tracked(backend, "Recovering", work, stream=out, min_bytes=0, read_counter=counter)
    before, _, after = out.getvalue().partition("75%")
    assert "100%" not in before  # never claimed done before it was
    assert "100%" in after  # completed when the call returned


async def test_startup_step_labels_each_call(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    seen: list[str] = []

    async def fake_tracked(backend: Any, label: str, call: Any, **kwargs: Any) -> Any:
        seen.append(label)
        return await call()

    monkeypatch.setattr(_progress, "tracked", fake_tracked)
    step = _progress.startup_step(HookedBackend(log))

    async def answer() -> int:
        return 42

    assert [await step(label, answer) for label in ("scan", "recover", "verify")] == [42, 42, 42]
    assert seen == ["Scanning ev.ndjson", "Recovering ev.ndjson", "Verifying ev.ndjson"]
