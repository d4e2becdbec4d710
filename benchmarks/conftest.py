"""Benchmark fixtures: same-session baselines and a ratio summary (``impl``: the root conftest).

Run with ``make bench`` (``pytest benchmarks --benchmark-only --benchmark-enable``); see
docs/benchmarks.md. Nothing here asserts a timing: goals are printed, never enforced.

How a ratio is made. Every runtime benchmark names a *baseline*, a raw-asyncio program doing
the same work (same message count, one ``anyio.run`` per round). The baseline benchmark runs
first in its group (:func:`pytest_collection_modifyitems` orders them) and records its timing
in :class:`Baselines`; the runtime rows read it from there, so both sides of a ratio come from
the same process, machine state and timing method (``benchmark.pedantic``, mean of the rounds).
If a baseline was deselected (``-k cython``), it is timed on demand the same way, unreported.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

# -- baselines and results ------------------------------------------------------------------------


@dataclass
class Timing:
    """Mean and median seconds per round of ``ops`` operations, and where they came from."""

    mean: float
    median: float
    ops: int
    source: str  # "benchmark" (a reported row) or "on demand" (its row was deselected)

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.mean


@dataclass
class Row:
    group: str
    impl: str
    unit: str
    ops_per_s: float
    baseline_ops_per_s: float | None
    ratio: float | None
    goal: float | None
    ratio_median: float | None = None


@dataclass
class Baselines:
    """Baseline timings of this session, by group, plus the rows for the final summary."""

    timings: dict[str, Timing] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)

    def record(self, group: str, benchmark: Any, ops: int) -> Timing | None:
        """Store the timing of a baseline benchmark that just ran (None when disabled)."""
        if benchmark.stats is None:
            return None
        stats = benchmark.stats.stats
        timing = Timing(stats.mean, stats.median, ops, "benchmark")
        self.timings[group] = timing
        return timing

    def get(self, group: str, fn: Callable[[], Any], ops: int, rounds: int, warmup: int) -> Timing:
        """The baseline of ``group``, timed now like ``benchmark.pedantic`` if it did not run."""
        timing = self.timings.get(group)
        if timing is None:
            for _ in range(warmup):
                fn()
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            timing = Timing(statistics.mean(times), statistics.median(times), ops, "on demand")
            self.timings[group] = timing
        return timing

    def add_row(
        self,
        group: str,
        impl: str,
        unit: str,
        ops_per_s: float,
        baseline_ops_per_s: float | None = None,
        ratio: float | None = None,
        goal: float | None = None,
        ratio_median: float | None = None,
    ) -> None:
        """Add a line to the end-of-session summary."""
        self.rows.append(
            Row(group, impl, unit, ops_per_s, baseline_ops_per_s, ratio, goal, ratio_median)
        )


_BASELINES = pytest.StashKey[Baselines]()


@pytest.fixture(scope="session")
def baselines(pytestconfig: pytest.Config) -> Baselines:
    return pytestconfig.stash.setdefault(_BASELINES, Baselines())


# -- ordering: each group's baseline first ---------------------------------------------------------


@pytest.hookimpl(trylast=True)  # after pytest has grouped the items by the session-scoped impl
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Within each module, run a group's baseline first, then its python and cython rows.

    Only items carrying a ``benchmark(group=...)`` marker move, among their own slots.
    """
    slots: dict[Any, list[int]] = {}
    for index, item in enumerate(items):
        if item.get_closest_marker("benchmark") is not None:
            slots.setdefault(item.module, []).append(index)
    for positions in slots.values():
        _order_slots(items, positions)


def _order_slots(items: list[pytest.Item], positions: list[int]) -> None:
    """Reorder the items at ``positions`` (one module's) by group, then role, then twin."""
    mine = [items[i] for i in positions]
    groups: dict[str, int] = {}
    for item in mine:
        groups.setdefault(_group_of(item), len(groups))

    def key(item: pytest.Item) -> tuple[int, int, int]:
        callspec = getattr(item, "callspec", None)
        twin = callspec.params.get("impl") if callspec is not None else None
        role = 0 if item.get_closest_marker("baseline") is not None else 1
        return (groups[_group_of(item)], role, 0 if twin in (None, "python") else 1)

    for slot, item in zip(positions, sorted(mine, key=key), strict=True):
        items[slot] = item


def _group_of(item: pytest.Item) -> str:
    marker = item.get_closest_marker("benchmark")
    return str(marker.kwargs.get("group", "")) if marker is not None else ""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "baseline: a raw-asyncio reference row for a ratio")


# -- the summary ---------------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    store = config.stash.get(_BASELINES, None)
    if store is None or not store.rows:
        return
    header = ("benchmark", "impl", "ops/s", "baseline ops/s", "ratio", "goal", "", "median ratio")
    lines = [header]
    for row in store.rows:
        met = "" if row.ratio is None or row.goal is None else (
            "met" if row.ratio >= row.goal else "below"
        )
        lines.append(
            (
                row.group,
                row.impl,
                # A unit with its own denominator ("B/actor") is a size, not a rate.
                f"{row.ops_per_s:,.0f} {row.unit}" + ("" if "/" in row.unit else "/s"),
                "-" if row.baseline_ops_per_s is None else f"{row.baseline_ops_per_s:,.0f}",
                "-" if row.ratio is None else f"{row.ratio:.2f}x",
                "-" if row.goal is None else f">= {row.goal:.1f}x",
                met,
                "-" if row.ratio_median is None else f"{row.ratio_median:.2f}x",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    terminalreporter.write_sep(
        "=", "papyra vs same-run baselines (throughput ratio, higher is better; goals, not asserts)"
    )
    for n, line in enumerate(lines):
        cells = [
            text.ljust(width) if i < 2 else text.rjust(width)
            for i, (text, width) in enumerate(zip(line, widths, strict=True))
        ]
        terminalreporter.write_line("  ".join(cells).rstrip())
        if n == 0:
            terminalreporter.write_line("  ".join("-" * width for width in widths))
    on_demand = sorted(g for g, t in store.timings.items() if t.source == "on demand")
    if on_demand:
        terminalreporter.write_line(
            f"(baselines timed on demand, their rows deselected: {', '.join(on_demand)})"
        )
