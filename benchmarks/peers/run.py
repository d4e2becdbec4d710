"""Papyra against its peers, measured in one run on one machine: ``make bench-peers``.

Runs every workload of :mod:`workloads` for every peer, each (peer, workload) in a fresh
interpreter, and writes one JSON file (default ``benchmarks/peers/results.json``);
``benchmarks/plot.py`` draws it. Not part of ``pytest benchmarks`` nor of CI.

The peers:

* ``papyra``: this checkout, compiled twins, asyncio; ``papyra-uvloop``: the same on uvloop's
  event loop; ``papyra-pure``: this checkout with ``PAPYRA_NO_EXTENSIONS=1``;
* ``papyra-0.3.0``: the release on PyPI, installed with ``pip install --target`` into its own
  directory (it has the same import name), imported from there alone;
* ``pykka`` (``ThreadingActor``: a thread per actor) and ``thespian`` (``simpleSystemBase``: the
  in-process base, where actors run in the sender's thread; its other bases put each actor in
  a process of its own, out of reach for 10,000 actors on two cores);
* the ceilings, no library: ``ceiling`` is raw asyncio primitives doing the same work (a
  bounded ``asyncio.Queue`` for tell and fan-out, bare futures for ask, raw tasks for
  spawn+stop and idle memory), ``ceiling-uvloop`` the same on uvloop. They run in the same
  session as the peers, so every panel of the plot carries its own reference.

The ``bench`` extra installs pykka, thespian, uvloop and matplotlib; 0.3.0 is installed on the
first run (``--papyra-030-dir``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORKLOADS_PY = HERE / "workloads.py"

PEERS = {
    "papyra": "Papyra (this checkout, compiled, asyncio)",
    "papyra-uvloop": "Papyra (this checkout, compiled, uvloop)",
    "papyra-pure": "Papyra (this checkout, pure Python, asyncio)",
    "papyra-0.3.0": "Papyra 0.3.0 (PyPI)",
    "pykka": "pykka (ThreadingActor)",
    "thespian": "Thespian (simpleSystemBase)",
    "ceiling": "Ceiling: raw asyncio primitives",
    "ceiling-uvloop": "Ceiling: raw asyncio primitives, uvloop",
}
#: The peers that are no library but the loop's own primitives (drawn apart by plot.py).
CEILINGS = ("ceiling", "ceiling-uvloop")

#: workload -> (N per round, unit, operations per round as a function of N)
SIZES: dict[str, tuple[int, str]] = {
    "tell": (200_000, "msg"),
    "ask": (20_000, "ask"),
    "fan-out": (100, "msg"),  # per actor, 1,000 actors
    "spawn+stop": (10_000, "actor"),
    "idle-memory": (10_000, "actor"),
}
QUICK_DIVISOR = 20


def ops_per_round(workload: str, n: int) -> int:
    return n * 1_000 if workload == "fan-out" else n


def install_papyra_030(target: Path) -> None:
    if (target / "papyra" / "__init__.py").exists():
        return
    print(f"installing papyra==0.3.0 into {target}", flush=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", str(target), "papyra==0.3.0"],
        check=True,
    )


def environment(peer: str, papyra_030: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PAPYRA_NO_EXTENSIONS"}
    if peer == "papyra-0.3.0":
        env["PYTHONPATH"] = str(papyra_030)  # only the release, never this checkout
    else:
        env["PYTHONPATH"] = str(ROOT)
    if peer == "papyra-pure":
        env["PAPYRA_NO_EXTENSIONS"] = "1"
    return env


def measure(peer: str, workload: str, n: int, rounds: int, papyra_030: Path) -> dict[str, Any]:
    script_peer = "papyra" if peer == "papyra-pure" else peer
    proc = subprocess.run(
        [sys.executable, str(WORKLOADS_PY), script_peer, workload, str(n), str(rounds)],
        env=environment(peer, papyra_030), cwd=HERE, capture_output=True, text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{peer} {workload} failed:\n{proc.stdout}{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if "seconds" in result:
        median = statistics.median(result["seconds"])
        result["ops_per_s"] = ops_per_round(workload, n) / median
    return result


def table(data: dict[str, Any]) -> str:
    """The results as a Markdown table: one row per workload, one column per peer."""
    peers = [p for p in PEERS if any(p in r for r in data["results"].values())]
    lines = [
        "| workload | " + " | ".join(PEERS[p] for p in peers) + " |",
        "| --- | " + " | ".join("---:" for _ in peers) + " |",
    ]
    for workload, by_peer in data["results"].items():
        unit = SIZES[workload][1]
        cells = []
        for peer in peers:
            result = by_peer.get(peer)
            if result is None:
                cells.append("-")
            elif workload == "idle-memory":
                cells.append(f"{result['bytes_per_actor'] / 1024:,.1f} KB")
            else:
                cells.append(f"{result['ops_per_s']:,.0f}")
        label = (
            f"{workload} (RSS per idle actor, lower is better)"
            if workload == "idle-memory" else f"{workload} ({unit}/s)"
        )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated subset")
    parser.add_argument("--workloads", default=",".join(SIZES), help="comma-separated subset")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (after a warm-up)")
    parser.add_argument(
        "--quick", action="store_true", help=f"sizes / {QUICK_DIVISOR}: a smoke run, not a result"
    )
    parser.add_argument(
        "--papyra-030-dir", type=Path, default=HERE / ".papyra-0.3.0",
        help="where papyra==0.3.0 is (or gets) installed with pip --target",
    )
    parser.add_argument("--table", type=Path, help="only print the table of an existing JSON file")
    args = parser.parse_args()
    if args.table is not None:
        print(table(json.loads(args.table.read_text())))
        return

    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = sorted(set(peers) - set(PEERS)) + sorted(set(workloads) - set(SIZES))
    if unknown:
        parser.error(f"unknown peer or workload: {', '.join(unknown)}")
    if "papyra-0.3.0" in peers:
        install_papyra_030(args.papyra_030_dir.resolve())

    data: dict[str, Any] = {
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "quick": args.quick,
        "rounds": args.rounds,
        "peers": {p: PEERS[p] for p in peers},
        "ceilings": [p for p in peers if p in CEILINGS],
        "sizes": {},
        "results": {},
    }
    for workload in workloads:
        n, unit = SIZES[workload]
        if args.quick:
            n = max(1, n // QUICK_DIVISOR)
        data["sizes"][workload] = {"n": n, "unit": unit, "ops": ops_per_round(workload, n)}
        data["results"][workload] = {}
        for peer in peers:
            result = measure(peer, workload, n, args.rounds, args.papyra_030_dir.resolve())
            data["results"][workload][peer] = result
            shown = (
                f"{result['bytes_per_actor']:,.0f} B/actor" if "bytes_per_actor" in result
                else f"{result['ops_per_s']:,.0f} {unit}/s"
            )
            print(f"{workload:12} {peer:14} {shown}", flush=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nwrote {args.out}\n")
    print(table(data))


if __name__ == "__main__":
    main()
