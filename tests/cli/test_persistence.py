"""``papyra persistence scan | recover | startup-check | compact | inspect`` (cli.md §3-§7)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.backends.retention import RetentionPolicy
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import (
    CompactionReport,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
)

from .support import (
    CLEAN,
    CORRUPT,
    GOOD,
    TORN,
    ScriptedBackend,
    UnsupportedBackend,
    anomalous,
    audit,
    dead_letter,
    event,
    lines,
    write_log,
)

Invoke = Callable[..., Result]
UseBackend = Callable[[Any], Any]

# -- scan ---------------------------------------------------------------------------------------


def test_scan_healthy_file(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    write_log(path)
    result = invoke("persistence", "scan", "--path", str(path))
    assert (result.exit_code, result.stdout) == (0, "✔ Persistence is healthy.\n")


def test_scan_missing_file_is_healthy(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("persistence", "scan", "--path", str(tmp_path / "absent.ndjson"))
    assert result.exit_code == 0
    assert "Persistence is healthy." in result.stdout
    assert not (tmp_path / "absent.ndjson").exists()


def test_scan_anomalies_exit_2(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = write_log(tmp_path / "ev.ndjson", GOOD * 3, CORRUPT, TORN)
    result = invoke("persistence", "scan", "--path", "ev.ndjson")
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "✖ Found 2 persistence anomalies:",
        "✖ - CORRUPTED_LINE: ev.ndjson (Invalid JSON at line 9)",
        "✖ - TRUNCATED_LINE: ev.ndjson (Line 10 missing newline)",
    ]
    assert (tmp_path / "ev.ndjson").read_bytes() == data


def test_scan_unsupported_backend(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(UnsupportedBackend())
    result = invoke("persistence", "scan")
    assert (result.exit_code, result.stdout) == (
        0, "ℹ Persistence backend does not support scanning.\n"
    )


def test_scan_defaults_to_settings_backend(invoke: Invoke, use_backend: UseBackend) -> None:
    backend = use_backend(InMemoryPersistence())
    result = invoke("persistence", "scan")
    assert (result.exit_code, result.stdout) == (0, "✔ Persistence is healthy.\n")
    assert backend.metrics.scans == 1


def test_scan_json(invoke: Invoke, tmp_path: Path, use_backend: UseBackend) -> None:
    path = tmp_path / "ev.ndjson"
    write_log(path, CORRUPT)
    result = invoke("persistence", "scan", "--path", str(path), "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc == {
        "backend": "json",
        "supported": True,
        "healthy": False,
        "anomalies": [
            {"type": "CORRUPTED_LINE", "path": str(path), "detail": "Invalid JSON at line 3"}
        ],
    }
    write_log(path)
    result = invoke("persistence", "scan", "--path", str(path), "--json")
    assert json.loads(result.stdout)["healthy"]
    use_backend(UnsupportedBackend())
    result = invoke("persistence", "scan", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "backend": None, "supported": False, "healthy": True, "anomalies": []
    }


# -- recover ------------------------------------------------------------------------------------


def test_recover_default_mode_repairs(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    write_log(path, CORRUPT, TORN)
    result = invoke("persistence", "recover", "--path", str(path))
    assert result.exit_code == 0
    # The 0.3.0 lines, then what the recovery's scan found, one headline each.
    assert result.stdout.splitlines() == [
        "ℹ Recovery completed",
        f"ℹ repaired {path}",
        f"ℹ found CORRUPTED_LINE  {path}:3  Invalid JSON",
        f"ℹ found TRUNCATED_LINE  {path}:4  Missing newline",
    ]
    assert path.read_bytes() == GOOD


def test_recover_nothing_to_do(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    data = write_log(path)
    result = invoke("persistence", "recover", "--path", str(path), "--mode", "REPAIR")
    assert (result.exit_code, result.stdout) == (0, "ℹ Recovery completed\n")
    assert path.read_bytes() == data


def test_recover_ignore_changes_nothing(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    data = write_log(path, CORRUPT)
    result = invoke("persistence", "recover", "--path", str(path), "--mode", "ignore")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "ℹ Recovery completed", f"ℹ found CORRUPTED_LINE  {path}:3  Invalid JSON"
    ]
    assert path.read_bytes() == data


def test_recover_rebuild_is_repair(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    write_log(path, CORRUPT)
    result = invoke("persistence", "recover", "--path", str(path), "--mode", "Rebuild")
    assert result.exit_code == 0
    assert f"ℹ repaired {path}" in result.stdout
    assert path.read_bytes() == GOOD


def test_recover_quarantine_creates_dir(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = write_log(tmp_path / "ev.ndjson", CORRUPT)
    result = invoke(
        "persistence", "recover", "--path", "ev.ndjson",
        "--mode", "quarantine", "--quarantine-dir", "qd/sub",
    )
    assert result.exit_code == 0
    out = result.stdout.splitlines()
    assert out[:2] == ["ℹ Recovery completed", "ℹ repaired ev.ndjson"]
    assert len(out) == 4 and out[2].startswith("ℹ quarantined qd/sub/ev.ndjson.quarantine.")
    assert out[3] == "ℹ found CORRUPTED_LINE  ev.ndjson:3  Invalid JSON"
    moved = tmp_path / out[2].removeprefix("ℹ quarantined ")
    assert moved.read_bytes() == data
    assert (tmp_path / "ev.ndjson").read_bytes() == GOOD


def test_recover_quarantine_requires_dir(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    data = write_log(path, CORRUPT)
    result = invoke("persistence", "recover", "--path", str(path), "--mode", "quarantine")
    assert result.exit_code == 1
    assert result.stderr == "quarantine mode requires --quarantine-dir\n"
    assert result.stdout == ""
    assert path.read_bytes() == data


def test_recover_invalid_mode(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    data = write_log(path, CORRUPT)
    result = invoke("persistence", "recover", "--path", str(path), "--mode", "fix-it")
    assert (result.exit_code, result.stderr, result.stdout) == (
        1, "Invalid recovery mode: fix-it\n", ""
    )
    assert path.read_bytes() == data


def test_recover_passes_config_and_tolerates_none(
    invoke: Invoke, use_backend: UseBackend, tmp_path: Path
) -> None:
    backend = use_backend(ScriptedBackend([CLEAN]))
    result = invoke(
        "persistence", "recover", "--mode", "quarantine", "--quarantine-dir", str(tmp_path / "q")
    )
    assert (result.exit_code, result.stdout) == (0, "ℹ Recovery completed\n")
    assert backend.calls == [
        (
            "recover",
            PersistenceRecoveryConfig(PersistenceRecoveryMode.QUARANTINE, str(tmp_path / "q")),
        )
    ]
    assert (tmp_path / "q").is_dir()


def test_recover_memory_backend(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(InMemoryPersistence())
    result = invoke("persistence", "recover")
    assert (result.exit_code, result.stdout) == (0, "ℹ Recovery completed\n")


# -- startup-check ------------------------------------------------------------------------------


def test_startup_check_healthy(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(ScriptedBackend([CLEAN]))
    result = invoke("persistence", "startup-check")
    assert (result.exit_code, result.stdout) == (0, "ℹ Persistence is healthy\n")


def test_startup_check_unsupported_is_healthy(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(UnsupportedBackend())
    result = invoke("persistence", "startup-check", "--mode", "FAIL_ON_ANOMALY")
    assert (result.exit_code, result.stdout) == (0, "ℹ Persistence is healthy\n")


def test_startup_check_fail_on_anomaly(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_log(tmp_path / "ev.ndjson", CORRUPT)
    result = invoke("persistence", "startup-check", "--path", "ev.ndjson")
    assert result.exit_code == 1
    # The 0.3.0 line (the repr, byte for byte), then one headline per anomaly.
    assert result.stdout.splitlines() == [
        "✖ Persistence anomalies detected: "
        "(PersistenceAnomaly(type=<PersistenceAnomalyType.CORRUPTED_LINE: '3'>, "
        "path='ev.ndjson', detail='Invalid JSON at line 3'),)",
        "✖ CORRUPTED_LINE  ev.ndjson:3  Invalid JSON",
    ]


@pytest.mark.parametrize("mode", ["ignore", "scan_only", "SCAN_ONLY"])
def test_startup_check_ignore_modes_are_silent(invoke: Invoke, tmp_path: Path, mode: str) -> None:
    path = tmp_path / "ev.ndjson"
    data = write_log(path, CORRUPT)
    result = invoke("persistence", "startup-check", "--path", str(path), "--mode", mode)
    assert (result.exit_code, result.stdout) == (0, "")
    assert path.read_bytes() == data


def test_startup_check_recover_with_mode(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    write_log(path, CORRUPT)
    result = invoke(
        "persistence", "startup-check", "--path", str(path),
        "--mode", "recover", "--recovery-mode", "repair",
    )
    assert (result.exit_code, result.stdout) == (0, "ℹ Recovery successful\n")
    assert path.read_bytes() == GOOD


def test_startup_check_recover_without_mode_uses_backend_default(
    invoke: Invoke, tmp_path: Path
) -> None:
    # 0.3.0 quirk kept: the backend default (IGNORE) repairs nothing, success is printed anyway.
    path = tmp_path / "ev.ndjson"
    data = write_log(path, CORRUPT)
    result = invoke("persistence", "startup-check", "--path", str(path), "--mode", "Recover")
    assert (result.exit_code, result.stdout) == (0, "ℹ Recovery successful\n")
    assert path.read_bytes() == data


def test_startup_check_recover_passes_config(invoke: Invoke, use_backend: UseBackend) -> None:
    backend = use_backend(ScriptedBackend([anomalous("x")]))
    assert invoke("persistence", "startup-check", "--mode", "recover").exit_code == 0
    assert backend.calls == [("scan", None), ("recover", None)]
    backend = use_backend(ScriptedBackend([anomalous("x")]))
    result = invoke(
        "persistence", "startup-check", "--mode", "recover", "--recovery-mode", "QUARANTINE"
    )
    assert result.exit_code == 0
    assert backend.calls[1] == (
        "recover", PersistenceRecoveryConfig(PersistenceRecoveryMode.QUARANTINE)
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--mode", "later"), "Invalid startup mode: later"),
        (("--recovery-mode", "fix"), "Invalid recovery mode: fix"),
    ],
)
def test_startup_check_invalid_modes(
    invoke: Invoke, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "ev.ndjson"
    data = write_log(path, CORRUPT)
    result = invoke("persistence", "startup-check", "--path", str(path), *args)
    assert (result.exit_code, result.stderr, result.stdout) == (1, message + "\n", "")
    assert path.read_bytes() == data


# -- compact ------------------------------------------------------------------------------------


def test_compact_memory_prints_dict(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(InMemoryPersistence())
    result = invoke("persistence", "compact")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "ℹ Compaction completed",
        "ℹ   backend: memory",
        "ℹ   before_records: 0",
        "ℹ   after_records: 0",
        "ℹ   before_bytes: None",
        "ℹ   after_bytes: None",
    ]


def test_compact_file_prints_report(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    write_log(path, CORRUPT, b"[1]\n")
    size = path.stat().st_size
    result = invoke("persistence", "compact", "--path", str(path))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "ℹ Compaction completed",
        "ℹ   backend: json",
        "ℹ   before_records: 2",
        "ℹ   after_records: 2",
        f"ℹ   before_bytes: {size}",
        f"ℹ   after_bytes: {len(GOOD)}",
    ]
    assert path.read_bytes() == GOOD


@pytest.mark.parametrize(
    ("returned", "extra"),
    [
        (None, []),
        ("done", []),
        (
            CompactionReport("x", 5, 3),
            [
                "ℹ   backend: x",
                "ℹ   before_records: 5",
                "ℹ   after_records: 3",
                "ℹ   before_bytes: None",
                "ℹ   after_bytes: None",
            ],
        ),
    ],
)
def test_compact_other_results(
    invoke: Invoke, use_backend: UseBackend, returned: Any, extra: list[str]
) -> None:
    use_backend(ScriptedBackend([CLEAN], compact_result=returned))
    result = invoke("persistence", "compact")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["ℹ Compaction completed", *extra]


# -- inspect ------------------------------------------------------------------------------------


def test_inspect_plain_lines(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ev.ndjson"
    write_log(path)
    result = invoke("persistence", "inspect", "--path", str(path))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "Persistence Inspect",
        "------------------",
        "backend: JsonFilePersistence",
        "retention: max_records=None max_age_seconds=None max_total_bytes=None",
        "events_sampled: 1",
        "audits_sampled: 0",
        "dead_letters_sampled: 1",
    ]


async def _fill(backend: InMemoryPersistence, n: int) -> None:
    for i in range(n):
        await backend.record_event(event(float(i)))
        await backend.record_audit(audit(float(i)))
    await backend.record_dead_letter(dead_letter(1.0))


def test_inspect_capped_and_metrics(invoke: Invoke, use_backend: UseBackend) -> None:
    import anyio

    backend = use_backend(InMemoryPersistence(RetentionPolicy(max_records=7, max_age_seconds=1.5)))
    anyio.run(_fill, backend, 3)
    result = invoke("persistence", "inspect", "--limit", "3", "--show-metrics")
    assert result.exit_code == 0
    out = result.stdout.splitlines()
    assert out[:7] == [
        "Persistence Inspect",
        "------------------",
        "backend: InMemoryPersistence",
        "retention: max_records=7 max_age_seconds=1.5 max_total_bytes=None",
        "events_sampled: 3 (capped)",
        "audits_sampled: 3 (capped)",
        "dead_letters_sampled: 1",
    ]
    assert out[7] == "metrics:"
    assert out[8:] == [f"  {k}: {v}" for k, v in backend.metrics.snapshot().items()]
    assert "  records_written: 7" in out


class NoReads(UnsupportedBackend):
    """No list_* methods, no retention, and metrics that cannot be read."""

    @property
    def retention(self) -> Any:
        return None

    @property
    def metrics(self) -> Any:
        raise RuntimeError("no metrics")


def test_inspect_without_read_api(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(NoReads())
    result = invoke("persistence", "inspect", "--show-metrics")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "Persistence Inspect",
        "------------------",
        "backend: NoReads",
        "retention: <none>",
        "counts: <unavailable>",
        "metrics: <unavailable>",
    ]


class FailingReads(InMemoryPersistence):
    async def list_audits(self, *, limit: int | None = None, since: float | None = None) -> Any:
        raise RuntimeError("boom")


def test_inspect_read_failure_is_unavailable(invoke: Invoke, use_backend: UseBackend) -> None:
    use_backend(FailingReads())
    out = lines(invoke("persistence", "inspect").stdout)
    assert out[-1] == "counts: <unavailable>"
    assert not any("sampled" in line for line in out)


def test_inspect_json(invoke: Invoke, use_backend: UseBackend, tmp_path: Path) -> None:
    import anyio

    backend = use_backend(InMemoryPersistence())
    anyio.run(_fill, backend, 2)
    result = invoke("persistence", "inspect", "--json", "--limit", "2", "--show-metrics")
    doc = json.loads(result.stdout)
    assert doc["backend"] == "InMemoryPersistence"
    assert doc["retention"] == {
        "max_records": None, "max_age_seconds": None, "max_total_bytes": None
    }
    assert doc["limit"] == 2
    assert doc["counts"] == {
        "events": {"sampled": 2, "capped": True},
        "audits": {"sampled": 2, "capped": True},
        "dead_letters": {"sampled": 1, "capped": False},
    }
    assert doc["metrics"]["records_written"] == 5
    use_backend(NoReads())
    doc = json.loads(invoke("persistence", "inspect", "--json").stdout)
    assert doc == {"backend": "NoReads", "retention": None, "limit": 1000, "counts": None}


def test_path_backend_is_json_and_closed(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import papyra.cli._backend as module

    made: list[JsonFilePersistence] = []

    def factory(path: str, retention_policy: RetentionPolicy | None = None) -> JsonFilePersistence:
        backend = JsonFilePersistence(path, retention_policy)
        made.append(backend)
        return backend

    monkeypatch.setattr(module, "JsonFilePersistence", factory)
    path = str(tmp_path / "ev.ndjson")
    write_log(tmp_path / "ev.ndjson")
    commands = [
        ("persistence", command) for command in
        ("scan", "compact", "inspect", "recover", "startup-check")
    ]
    commands += [
        ("doctor", "run"), ("inspect", "events"), ("inspect", "audits"),
        ("inspect", "dead-letters"), ("inspect", "summary"), ("metrics", "persistence"),
    ]
    for command in commands:
        assert invoke(*command, "--path", path).exit_code == 0, command
    assert len(made) == len(commands) and all(b.closed for b in made)
    assert all(b.retention == RetentionPolicy() for b in made)
