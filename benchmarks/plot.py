"""Draw the peers comparison (``benchmarks/peers/results.json``) as a PNG.

Usage: ``python benchmarks/plot.py [RESULTS.json] [OUT.png]`` (defaults: the peers results
and ``docs/img/peers.png``). Needs matplotlib (the ``bench`` extra). One panel per workload,
one bar per peer, on a log scale: throughput panels read "longer is better", the idle-memory
panel "shorter is better". The ceilings (raw asyncio primitives doing the same work, measured in
the same run) are hatched bars at the bottom of each panel, and the asyncio ceiling is also a
dashed line across the panel, so every peer's bar can be read against it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IN = ROOT / "benchmarks" / "peers" / "results.json"
DEFAULT_OUT = ROOT / "docs" / "img" / "peers.png"

COLOURS = {
    "papyra": "#1f5fa8",
    "papyra-uvloop": "#3d8bd9",
    "papyra-pure": "#8fbbe6",
    "papyra-0.3.0": "#9a9a9a",
    "pykka": "#d9822b",
    "thespian": "#4a9a5b",
    "ceiling": "#ffffff",
    "ceiling-uvloop": "#ffffff",
}
CEILING_EDGE = "#333333"
#: The ceiling drawn as a line across each panel.
CEILING_LINE = "ceiling"
TITLES = {
    "tell": "tell: 1 producer, 1 consumer\n(messages/s, higher is better)",
    "ask": "ask: sequential round trips\n(asks/s, higher is better)",
    "fan-out": "fan-out to 1,000 actors\n(messages/s, higher is better)",
    "spawn+stop": "spawn + stop 10,000 actors\n(actors/s, higher is better)",
    "idle-memory": "RSS per idle actor, 10,000 actors\n(KB, lower is better)",
}


def _value(workload: str, result: dict[str, Any]) -> float:
    if workload == "idle-memory":
        return float(result["bytes_per_actor"]) / 1024
    return float(result["ops_per_s"])


def _label(workload: str, value: float) -> str:
    if workload == "idle-memory":
        return f"{value:,.1f} KB"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if value >= 1e3:
        return f"{value / 1e3:,.0f} k"
    return f"{value:,.0f}"


def plot(data: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    peers: dict[str, str] = data["peers"]
    workloads = list(data["results"])
    fig, axes = plt.subplots(len(workloads), 1, figsize=(9, 2.1 * len(workloads) + 0.8))
    if len(workloads) == 1:
        axes = [axes]
    for ax, workload in zip(axes, workloads, strict=True):
        results = data["results"][workload]
        ceilings = set(data.get("ceilings", ()))
        # The peers first, the ceilings last (runs from before the ceilings have none).
        names = [p for p in peers if p in results and p not in ceilings]
        names += [p for p in peers if p in results and p in ceilings]
        values = [_value(workload, results[p]) for p in names]
        positions = range(len(names))
        bars = ax.barh(
            positions, values, color=[COLOURS.get(p, "#666666") for p in names],
            edgecolor=[CEILING_EDGE if p in ceilings else "none" for p in names],
        )
        for bar, name in zip(bars, names, strict=True):
            if name in ceilings:
                bar.set_hatch("///")
        if CEILING_LINE in names:
            ax.axvline(
                _value(workload, results[CEILING_LINE]), color=CEILING_EDGE, linestyle="--",
                linewidth=0.9, alpha=0.7,
            )
        ax.set_yticks(list(positions), [peers[p] for p in names], fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlim(min(values) / 2, max(values) * 4)
        ax.set_title(TITLES.get(workload, workload), fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(axis="x", which="major", alpha=0.3)
        for y, value in zip(positions, values, strict=True):
            ax.text(value * 1.08, y, _label(workload, value), va="center", fontsize=8)
    machine = data.get("machine", {})
    fig.suptitle(
        f"Papyra, its peers and the raw-asyncio ceilings (hatched, dashed line), one run on "
        f"one machine\n({machine.get('cpus', '?')} CPUs, "
        f"Python {machine.get('python', '?')}, {data.get('generated', '')[:10]})"
        + (" [QUICK RUN: not a result]" if data.get("quick") else ""),
        fontsize=10,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str]) -> None:
    source = Path(argv[0]) if argv else DEFAULT_IN
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    if not source.exists():
        raise SystemExit(f"{source} not found: run `make bench-peers` (benchmarks/peers/run.py)")
    plot(json.loads(source.read_text()), out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
