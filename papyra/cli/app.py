"""The ``papyra`` console script: ``app`` is the root click group.

``papyra --version`` names the version and whether the compiled speedups loaded; ``papyra``
alone (or any group without a sub-command) prints help and exits 0.
"""

from __future__ import annotations

import click

from papyra import __version__
from papyra.cli._base import PapyraGroup
from papyra.cli.cluster.app import cluster
from papyra.cli.doctor.app import doctor
from papyra.cli.inspect.app import inspect
from papyra.cli.metrics.app import metrics
from papyra.cli.persistence.app import persistence

__all__ = ("app", "version_text")


def version_text() -> str:
    """``Papyra, version X`` and, on a second line, which implementation is running."""
    from papyra import _accel

    speedups = (
        "active (compiled Cython twins)"
        if _accel.EXTENSIONS_ACTIVE
        else "inactive (pure Python)"
    )
    return f"Papyra, version {__version__}\ncompiled speedups: {speedups}"


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(version_text())
    ctx.exit(0)


@click.group(cls=PapyraGroup, name="papyra")
@click.option(
    "--version",
    "-v",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and whether the compiled speedups are active, then exit.",
)
def app() -> None:
    """Papyra: operate the persistence of an actor system and inspect the facts it recorded.

    Commands read the JSON file given with --path, the Redis server given with --url, or the
    configured settings.persistence (PAPYRA_SETTINGS_MODULE).
    """


app.add_command(persistence)
app.add_command(doctor)
app.add_command(inspect)
app.add_command(metrics)
app.add_command(cluster)
