"""``papyra metrics``: the persistence counters of a backend.

``metrics persistence`` takes ``--path`` / ``--url`` like the other commands (default
``settings.persistence``); ``metrics reset`` works on ``settings.persistence`` only. Metrics
live in the backend object, per process: in a fresh ``papyra`` process they only show what
that process did (a ``metrics persistence`` right after start shows zeros).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from papyra.cli._backend import BackendSource, backend_options, configured_backend, open_backend
from papyra.cli._base import PapyraGroup, echo_json, info, run_async
from papyra.persistence.contract import safe_metrics_snapshot

__all__ = ("metrics", "persistence", "render_table", "reset")


def render_table(title: str, rows: Mapping[str, Any]) -> list[str]:
    """A two-column ``Key``/``Value`` table in the box style 0.3.0 (rich) printed.

    Heavy head (``┏━┳┓``, ``┃``, ``┡━╇┩``), light body (``│``, ``└─┴┘``); the title centred
    above. Lines are never wrapped, whatever the terminal width.
    """
    cells = [(str(k), str(v)) for k, v in rows.items()]
    kw = max([len("Key"), *(len(k) for k, _ in cells)])
    vw = max([len("Value"), *(len(v) for _, v in cells)])
    width = kw + vw + 7
    lines = [(" " * max((width - len(title)) // 2, 0) + title).rstrip()]
    lines.append(f"┏{'━' * (kw + 2)}┳{'━' * (vw + 2)}┓")
    lines.append(f"┃ {'Key'.ljust(kw)} ┃ {'Value'.ljust(vw)} ┃")
    lines.append(f"┡{'━' * (kw + 2)}╇{'━' * (vw + 2)}┩")
    lines.extend(f"│ {k.ljust(kw)} │ {v.ljust(vw)} │" for k, v in cells)
    lines.append(f"└{'─' * (kw + 2)}┴{'─' * (vw + 2)}┘")
    return lines


@click.group(cls=PapyraGroup)
def metrics() -> None:
    """Inspect runtime metrics and observability counters"""


@metrics.command("persistence")
@backend_options
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot as one JSON object.")
def persistence(source: BackendSource, as_json: bool) -> None:
    """Show the persistence backend's metrics (records written, scans, errors, ...)."""
    snapshot = run_async(_snapshot, source)
    if snapshot is None:
        if as_json:
            echo_json({})
        else:
            info("Persistence backend does not expose metrics.")
        return
    if as_json:
        echo_json(snapshot)
    elif not snapshot:
        info("No metrics available.")
    else:
        for line in render_table("Persistence Metrics", snapshot):
            click.echo(line)


async def _snapshot(source: BackendSource) -> dict[str, Any] | None:
    """The backend's metrics snapshot, or ``None`` when it has no ``metrics``."""
    async with open_backend(source) as backend:
        if not hasattr(backend, "metrics"):
            return None
        return dict(safe_metrics_snapshot(backend))


@metrics.command("reset")
def reset() -> None:
    """Reset the persistence counters (the *_errors counters are kept)."""
    backend = configured_backend()
    if not hasattr(backend, "metrics"):
        info("Persistence backend does not expose metrics.")
        return
    backend.metrics.reset()
    info("Metrics reset")
