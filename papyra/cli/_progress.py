"""A progress bar for long persistence work (``scan``, ``recover``, ``compact``), driven by bytes.

Drawn on stderr only when stderr is a terminal and the backend's files hold at least
:data:`MIN_BYTES`; silent otherwise (pipes, tests, CI), so stdout stays exactly the documented
output. The files are the backend's own list (``files()``, as the file backends offer); a
backend without it that has a ``path`` counts as that one file; anything else has no bar.

Where the byte counts come from, best first:

1. **The backend's progress hook.** A backend that has an attribute ``progress`` (``None`` by
   default) gets a callable ``progress(done: int, total: int) -> None`` assigned for the
   duration of the call and restored afterwards. The backend calls it, from any thread, with
   the bytes processed so far in this operation and the operation's total (a recovery or
   compaction that reads the file twice reports ``total = 2 * size``); the bar takes both
   numbers as they come. The callable only stores them -- it is cheap enough to call per
   block -- and never raises.
2. **The process's read counter** (Linux ``/proc/self/io``, ``rchar``): file backends without
   the hook read their file in blocks in a worker thread, so the bytes this process reads
   during the call track the work. The total is an estimate: one read of the files (or
   ``passes`` reads), grown by one more read each time the count passes it; the bar is
   completed when the call returns.
3. Neither: no bar.

The bar is redrawn every :data:`TICK` seconds by a daemon thread; the event loop is not involved.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from papyra.persistence.startup import StartupStep, StepLabel

__all__ = ("MIN_BYTES", "TICK", "ProgressCallback", "progress_label", "startup_step", "tracked")

T = TypeVar("T")

#: Files smaller than this finish too fast for a bar to help.
MIN_BYTES = 4 * 1024 * 1024
#: Seconds between two redraws.
TICK = 0.1

ProgressCallback = Callable[[int, int], None]

_PROC_IO = "/proc/self/io"


class _Counts:
    """Latest ``(done, total)``; written by the backend (any thread), read by the ticker."""

    __slots__ = ("value",)

    def __init__(self, total: int) -> None:
        self.value = (0, total)

    def report(self, done: int, total: int) -> None:
        # One tuple assignment: the ticker sees the old pair or the new one, never half of each.
        self.value = (int(done), int(total))


def _bytes_read() -> int | None:
    try:
        with open(_PROC_IO, "rb") as f:
            for line in f:
                if line.startswith(b"rchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _files(backend: Any) -> list[Path]:
    """The files behind ``backend``: its ``files()``, else its ``path``, else none."""
    listing = getattr(backend, "files", None)
    if callable(listing):
        try:
            return [Path(f) for f in listing()]
        except Exception:  # a bar is never worth a failure
            return []
    path = getattr(backend, "path", None)
    return [Path(path)] if isinstance(path, (str, os.PathLike)) else []


def _size(files: list[Path]) -> int:
    total = 0
    for f in files:
        try:
            total += os.stat(f).st_size
        except OSError:
            pass
    return total


def _has_hook(backend: Any) -> bool:
    try:
        current = backend.progress
    except AttributeError:
        return False
    return current is None or (callable(current) and not hasattr(current, "__self__"))


class _Display:
    def __init__(
        self,
        backend: Any,
        stream: TextIO,
        label: str,
        size: int,
        passes: int,
        read_counter: Callable[[], int | None] | None,
    ) -> None:
        self._backend = backend
        self._size = size
        total = size * max(passes, 1)
        self._counts = _Counts(total)
        self._estimate = total  # read-counter mode only (the ticker thread owns it)
        self._read_counter = read_counter
        self._base = read_counter() if read_counter is not None else None
        self._hooked = read_counter is None
        self._previous_hook: Any = None
        if self._hooked:
            self._previous_hook = backend.progress
            backend.progress = self._counts.report
        self._bar = click.progressbar(
            length=max(total, 1), label=label, file=stream, show_percent=True, show_eta=True
        )
        self._bar.__enter__()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="papyra-progress", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        if self._hooked:
            done, total = self._counts.value
        else:
            now = self._read_counter() if self._read_counter is not None else None
            done = 0 if now is None or self._base is None else now - self._base
            if done > self._estimate:  # the estimate was short: one more read of the files
                self._estimate += self._size * (1 + (done - self._estimate - 1) // self._size)
            total = self._estimate
        total = max(total, 1)
        if total != self._bar.length:
            self._bar.length = total
        step = min(done, total) - self._bar.pos
        if step > 0:
            self._bar.update(step)

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            self._poll()

    def close(self, *, completed: bool) -> None:
        self._stop.set()
        self._thread.join()
        if self._hooked:
            self._backend.progress = self._previous_hook
        if completed:
            length = self._bar.length or 1
            if self._bar.pos < length:
                self._bar.update(length - self._bar.pos)
        self._bar.__exit__(None, None, None)


def progress_label(verb: str, backend: Any) -> str:
    """``"<verb> <file name>"`` for a backend with a ``path``, else ``verb``."""
    path = getattr(backend, "path", None)
    return f"{verb} {Path(path).name}" if isinstance(path, (str, os.PathLike)) else verb


_STEP_VERBS: dict[str, str] = {"scan": "Scanning", "recover": "Recovering", "verify": "Verifying"}


def startup_step(backend: Any) -> StartupStep:
    """A :class:`~papyra.persistence.startup.StartupStep` that shows each call of a startup
    check (``Scanning``, ``Recovering``, ``Verifying``) with :func:`tracked`."""

    async def step(label: StepLabel, call: Callable[[], Awaitable[T]], /) -> T:
        return await tracked(backend, progress_label(_STEP_VERBS[label], backend), call)

    return step


async def tracked(
    backend: Any,
    label: str,
    call: Callable[[], Awaitable[T]],
    *,
    passes: int = 1,
    stream: TextIO | None = None,
    min_bytes: int | None = None,
    read_counter: Callable[[], int | None] | None = None,
) -> T:
    """``await call()``, with a progress bar on ``stream`` (default: stderr) when it helps.

    ``passes``: the first estimate of how many times the operation reads the files; a backend
    with a progress hook replaces it with its own total at its first report, and without the
    hook the estimate grows as the reads exceed it. ``min_bytes`` (default :data:`MIN_BYTES`) and
    ``read_counter`` (default: ``/proc/self/io``) are for tests. The bar never changes what
    ``call`` returns or raises.
    """
    out = stream if stream is not None else sys.stderr
    threshold = MIN_BYTES if min_bytes is None else min_bytes
    counter = _bytes_read if read_counter is None else read_counter
    display = None
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        size = _size(_files(backend))
        if size and size >= threshold:
            if _has_hook(backend):
                display = _Display(backend, out, label, size, passes, None)
            elif counter() is not None:
                display = _Display(backend, out, label, size, passes, counter)
    if display is None:
        return await call()
    try:
        result = await call()
    except BaseException:
        display.close(completed=False)
        raise
    display.close(completed=True)
    return result
