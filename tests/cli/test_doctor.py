"""``papyra doctor run`` (cli.md §8): every mode, every exit code, ``--json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode

from .support import CLEAN, CORRUPT, GOOD, ScriptedBackend, UnsupportedBackend, anomalous, write_log

Invoke = Callable[..., Result]
UseBackend = Callable[[Any], Any]

REPR = (
    "(PersistenceAnomaly(type=<PersistenceAnomalyType.CORRUPTED_LINE: '3'>, "
    "path='ev.ndjson', detail='Invalid JSON at line 3'),)"
)


@pytest.fixture
def corrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "ev.ndjson"
    write_log(path, CORRUPT)
    return path


def test_healthy(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(InMemoryPersistence())
    result = invoke("doctor", "run")
    assert (result.exit_code, result.stdout) == (0, "ℹ Persistence is healthy\n")


def test_scan_unsupported(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(UnsupportedBackend())
    result = invoke("doctor", "run")
    assert (result.exit_code, result.stdout) == (
        0, "ℹ Persistence scan not supported by backend.\n"
    )


def test_fail_on_anomaly_lists_anomalies(invoke: Invoke, corrupt: Path) -> None:
    before = corrupt.read_bytes()
    result = invoke("doctor", "run", "--path", "ev.ndjson")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"✖ Persistence anomalies detected: {REPR}",
        "✖ - CORRUPTED_LINE: ev.ndjson (Invalid JSON at line 3)",
    ]
    assert corrupt.read_bytes() == before


@pytest.mark.parametrize("mode", ["ignore", "scan_only", "Scan_Only"])
def test_ignore_and_scan_only_report_and_pass(invoke: Invoke, corrupt: Path, mode: str) -> None:
    before = corrupt.read_bytes()
    result = invoke("doctor", "run", "--path", "ev.ndjson", "--mode", mode)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"✖ Persistence anomalies detected (ignored): {REPR}",
        "✖ - CORRUPTED_LINE: ev.ndjson (Invalid JSON at line 3)",
    ]
    assert corrupt.read_bytes() == before


def test_recover_defaults_to_repair(invoke: Invoke, corrupt: Path) -> None:
    result = invoke("doctor", "run", "--path", "ev.ndjson", "--mode", "recover")
    assert (result.exit_code, result.stdout) == (0, "ℹ Recovery successful\n")
    assert corrupt.read_bytes() == GOOD


def test_recover_quarantine(invoke: Invoke, corrupt: Path, tmp_path: Path) -> None:
    before = corrupt.read_bytes()
    result = invoke(
        "doctor", "run", "--path", "ev.ndjson", "--mode", "RECOVER",
        "--recovery-mode", "quarantine", "--quarantine-dir", "qd",
    )
    assert (result.exit_code, result.stdout) == (0, "ℹ Recovery successful\n")
    [moved] = (tmp_path / "qd").iterdir()
    assert moved.name.startswith("ev.ndjson.quarantine.")
    assert moved.read_bytes() == before


def test_recovery_leaving_anomalies_exits_2(invoke: Invoke, use_backend: UseBackend) -> None:
    backend = use_backend(ScriptedBackend([anomalous("a"), anomalous("b")]))
    result = invoke("doctor", "run", "--mode", "recover", "--recovery-mode", "rebuild")
    # The 0.3.0 line, then the anomalies that remain (not those recovery removed).
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "✖ Recovery attempted but anomalies still exist",
        "✖ CORRUPTED_LINE  ev.ndjson  b",
    ]
    assert backend.calls == [
        ("scan", None),
        ("recover", PersistenceRecoveryConfig(PersistenceRecoveryMode.REBUILD, None)),
        ("scan", None),
    ]


def test_recover_ignore_mode_leaves_anomalies(invoke: Invoke, corrupt: Path) -> None:
    before = corrupt.read_bytes()
    result = invoke(
        "doctor", "run", "--path", "ev.ndjson", "--mode", "recover", "--recovery-mode", "ignore"
    )
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "✖ Recovery attempted but anomalies still exist",
        "✖ CORRUPTED_LINE  ev.ndjson:3  Invalid JSON",
    ]
    assert corrupt.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--mode", "panic"), "Invalid mode: panic"),
        (("--mode", "recover", "--recovery-mode", "mend"), "Invalid recovery mode: mend"),
        (("--recovery-mode", "mend"), "Invalid recovery mode: mend"),
        (
            ("--mode", "recover", "--recovery-mode", "quarantine"),
            "quarantine recovery requires --quarantine-dir",
        ),
    ],
)
def test_invalid_configuration_exit_1(
    invoke: Invoke, corrupt: Path, args: tuple[str, ...], message: str
) -> None:
    before = corrupt.read_bytes()
    result = invoke("doctor", "run", "--path", "ev.ndjson", *args)
    assert (result.exit_code, result.stderr, result.stdout) == (1, message + "\n", "")
    assert corrupt.read_bytes() == before


def test_invalid_mode_is_refused_before_scanning(invoke: Invoke, use_backend: UseBackend) -> None:
    backend = use_backend(ScriptedBackend([CLEAN]))
    assert invoke("doctor", "run", "--mode", "nope").exit_code == 1
    assert backend.calls == []


def test_json_documents(invoke: Invoke, corrupt: Path) -> None:
    result = invoke("doctor", "run", "--path", "ev.ndjson", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "mode": "fail_on_anomaly",
        "status": "failed",
        "healthy": False,
        "anomalies": [
            {"type": "CORRUPTED_LINE", "path": "ev.ndjson", "detail": "Invalid JSON at line 3"}
        ],
        "recovery": None,
        "remaining_anomalies": [],
    }
    result = invoke("doctor", "run", "--path", "ev.ndjson", "--json", "--mode", "recover")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert (doc["status"], doc["healthy"], doc["remaining_anomalies"]) == ("recovered", True, [])
    assert doc["recovery"] == {
        "mode": "repair", "repaired_files": ["ev.ndjson"], "quarantined_files": []
    }
    result = invoke("doctor", "run", "--path", "ev.ndjson", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] == "healthy"


def test_json_recovery_incomplete_and_unsupported(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(ScriptedBackend([anomalous("a"), anomalous("b")]))
    result = invoke("doctor", "run", "--json", "--mode", "recover")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["status"] == "recovery_incomplete"
    assert [a["detail"] for a in doc["remaining_anomalies"]] == ["b"]
    use_backend(UnsupportedBackend())
    result = invoke("doctor", "run", "--json", "--mode", "ignore")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] == "unsupported"
