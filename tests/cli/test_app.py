"""The root group: --version, help without a sub-command, one-line usage errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result

from papyra import _accel
from papyra.cli.app import app
from papyra.cli.cluster.app import cluster
from papyra.cli.doctor.app import doctor
from papyra.cli.inspect.app import inspect
from papyra.cli.metrics.app import metrics
from papyra.cli.persistence.app import persistence

Invoke = Callable[..., Result]


@pytest.mark.parametrize("flag", ["--version", "-v"])
def test_version_names_release_and_speedups(invoke: Invoke, flag: str) -> None:
    result = invoke(flag)
    assert result.exit_code == 0
    first, second = result.stdout.splitlines()
    assert first == "Papyra, version 0.3.0"
    state = "active" if _accel.EXTENSIONS_ACTIVE else "inactive"
    assert second.startswith(f"compiled speedups: {state}")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ((), "Commands:"),
        (("--help",), "Commands:"),
        (("persistence",), "Persistence Management CLI Module."),
        (
            ("doctor",),
            "Run system pre-flight checks (persistence scan/recovery) without starting actors.",
        ),
        (("inspect",), "Inspect persisted Papyra system state"),
        (("metrics",), "Inspect runtime metrics and observability counters"),
        (("cluster",), "Look at a cluster of actor systems joined over Redis Streams"),
    ],
)
def test_group_without_subcommand_prints_help_and_exits_0(
    invoke: Invoke, args: tuple[str, ...], text: str
) -> None:
    result = invoke(*args)
    assert result.exit_code == 0
    assert text in result.stdout
    assert result.stderr == ""


def test_tree_has_every_command() -> None:
    assert set(app.commands) == {"persistence", "doctor", "inspect", "metrics", "cluster"}
    assert set(persistence.commands) == {"scan", "recover", "startup-check", "compact", "inspect"}
    assert set(doctor.commands) == {"run"}
    assert set(inspect.commands) == {"events", "audits", "dead-letters", "summary"}
    assert set(metrics.commands) == {"persistence", "reset"}
    assert set(cluster.commands) == {"status"}


def test_sub_groups_work_on_their_own() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(metrics, [])
    assert result.exit_code == 0
    assert "Inspect runtime metrics and observability counters" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("nope",),
        ("persistence", "scan", "--bogus"),
        ("inspect", "events", "--limit", "abc"),
        ("inspect", "events", "--limit", "-1"),
        ("inspect", "audits", "--since", "yesterday"),
        ("persistence", "inspect", "--limit", "1.5"),
    ],
)
def test_usage_errors_are_one_line_exit_2(invoke: Invoke, args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr


def test_help_lists_options_with_dashes(invoke: Invoke) -> None:
    out = invoke("persistence", "startup-check", "--help").stdout
    assert "--recovery-mode" in out and "--path" in out and "--mode" in out
    out = invoke("persistence", "inspect", "--help").stdout
    assert "--show-metrics" in out and "--limit" in out and "--json" in out
    out = invoke("doctor", "run", "--help").stdout
    assert "--quarantine-dir" in out and "--no-" not in out


def test_python_dash_m_papyra_is_the_same_command_line() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "papyra", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "Papyra, version 0.3.0"
