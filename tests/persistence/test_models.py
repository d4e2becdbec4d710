"""The record models are an on-disk format: field order, enum values and defaults are pinned."""

from __future__ import annotations

import dataclasses
import json

import pytest

from papyra.address import ActorAddress
from papyra.persistence.models import (
    CompactionReport,
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)
from papyra.persistence.startup import PersistenceStartupConfig, PersistenceStartupMode


def names(model: type) -> list[str]:
    return [f.name for f in dataclasses.fields(model)]


def test_record_field_order_is_the_on_disk_key_order() -> None:
    # The 0.3.0 fields first, in their order; the fields added since then after them.
    assert names(PersistedEvent) == [
        "system_id", "actor_address", "event_type", "payload", "timestamp",
        "run_id", "actor_name", "actor_type",
    ]
    assert names(PersistedAudit) == [
        "system_id", "timestamp", "total_actors", "alive_actors", "stopping_actors",
        "restarting_actors", "registry_size", "registry_orphans", "registry_dead",
        "dead_letters_count",
        "dead_letters_total", "run_id",
    ]
    assert names(PersistedDeadLetter) == [
        "system_id", "target", "message_type", "payload", "timestamp",
        "run_id",
    ]


@pytest.mark.parametrize(
    ("model", "added"),
    [
        (PersistedEvent, ["run_id", "actor_name", "actor_type"]),
        (PersistedAudit, ["dead_letters_total", "run_id"]),
        (PersistedDeadLetter, ["run_id"]),
    ],
)
def test_fields_added_since_0_3_0_are_optional_and_marked(model: type, added: list[str]) -> None:
    fields = dataclasses.fields(model)
    assert [f.name for f in fields if f.metadata.get("added")] == added
    assert all(f.default is None for f in fields if f.name in added)
    assert all(f.default is dataclasses.MISSING for f in fields if f.name not in added)


@pytest.mark.parametrize("model", [PersistedEvent, PersistedAudit, PersistedDeadLetter])
def test_records_are_frozen_and_slotted(model: type) -> None:
    assert "__slots__" in vars(model)
    assert model.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_records_cannot_be_mutated_and_compare_by_value() -> None:
    addr = ActorAddress("local", 1)
    event = PersistedEvent("local", addr, "ActorStarted", {}, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.event_type = "x"  # type: ignore[misc]
    assert event == PersistedEvent("local", ActorAddress("local", 1), "ActorStarted", {}, 1.0)


def test_anomaly_type_values_are_the_strings_one_to_five() -> None:
    assert [(m.name, m.value) for m in PersistenceAnomalyType] == [
        ("TRUNCATED_LINE", "1"),
        ("PARTIAL_WRITE", "2"),
        ("CORRUPTED_LINE", "3"),
        ("ORPHANED_ROTATED_FILE", "4"),
        ("UNEXPECTED_FILE", "5"),
    ]
    text = repr(PersistenceAnomalyType.CORRUPTED_LINE)
    assert text == "<PersistenceAnomalyType.CORRUPTED_LINE: '3'>"
    # A str enum: it serialises to its value and compares equal to it.
    assert json.dumps({"type": PersistenceAnomalyType.CORRUPTED_LINE}) == '{"type": "3"}'
    assert PersistenceAnomalyType.TRUNCATED_LINE == "1"
    assert PersistenceAnomalyType("4") is PersistenceAnomalyType.ORPHANED_ROTATED_FILE


def test_recovery_mode_is_a_plain_enum() -> None:
    assert not isinstance(PersistenceRecoveryMode.REPAIR, str)
    assert PersistenceRecoveryMode("quarantine") is PersistenceRecoveryMode.QUARANTINE
    modes = [m.value for m in PersistenceRecoveryMode]
    assert modes == ["ignore", "repair", "quarantine", "rebuild"]


def test_compaction_report_derived_numbers() -> None:
    report = CompactionReport(backend="json", before_records=10, after_records=4,
                              before_bytes=1000, after_bytes=400)
    assert report.removed_records == 6
    assert report.reclaimed_bytes == 600
    unknown = CompactionReport(backend="redis", before_records=3, after_records=3)
    assert unknown.removed_records == 0
    assert unknown.reclaimed_bytes is None
    assert CompactionReport("x", 1, 1, before_bytes=5).reclaimed_bytes is None


def test_scan_report_has_anomalies() -> None:
    assert not PersistenceScanReport(backend="memory", anomalies=()).has_anomalies
    anomaly = PersistenceAnomaly(
        PersistenceAnomalyType.CORRUPTED_LINE, "f.ndjson", "Invalid JSON at line 2"
    )
    assert PersistenceScanReport(backend="json", anomalies=(anomaly,)).has_anomalies
    assert PersistenceAnomaly(PersistenceAnomalyType.TRUNCATED_LINE, "p").detail is None


@pytest.mark.parametrize(
    ("kind", "path", "detail", "line", "headline"),
    [
        (
            "CORRUPTED_LINE", "/var/log/facts.ndjson", "Invalid JSON at line 17", 17,
            "CORRUPTED_LINE  /var/log/facts.ndjson:17  Invalid JSON",
        ),
        (
            "TRUNCATED_LINE", "ev.ndjson", "Line 18 missing newline", 18,
            "TRUNCATED_LINE  ev.ndjson:18  Missing newline",
        ),
        (
            "CORRUPTED_LINE", "papyra:local:events", "Invalid JSON payload in stream entry", None,
            "CORRUPTED_LINE  papyra:local:events  Invalid JSON payload in stream entry",
        ),
        (
            "ORPHANED_ROTATED_FILE", "logs/ev.ndjson.7", "Unexpected file in rotation set", None,
            "ORPHANED_ROTATED_FILE  logs/ev.ndjson.7  Unexpected file in rotation set",
        ),
        ("PARTIAL_WRITE", "ev.ndjson", None, None, "PARTIAL_WRITE  ev.ndjson  -"),
    ],
)
def test_anomaly_headline(
    kind: str, path: str, detail: str | None, line: int | None, headline: str
) -> None:
    anomaly = PersistenceAnomaly(PersistenceAnomalyType[kind], path, detail)
    assert (anomaly.line, anomaly.headline()) == (line, headline)
    # The headline is an addition: the repr (printed by the CLI, spec'd) is unchanged.
    assert repr(anomaly) == (
        f"PersistenceAnomaly(type={PersistenceAnomalyType[kind]!r}, path={path!r}, "
        f"detail={detail!r})"
    )


def test_recovery_defaults() -> None:
    config = PersistenceRecoveryConfig()
    assert config.mode is PersistenceRecoveryMode.IGNORE
    assert config.quarantine_dir is None
    scan = PersistenceScanReport(backend="json", anomalies=())
    report = PersistenceRecoveryReport(backend="json", scan=scan)
    assert report.repaired_files == () and report.quarantined_files == ()


def test_startup_config_defaults_and_string_modes() -> None:
    config = PersistenceStartupConfig()
    assert config.mode is PersistenceStartupMode.IGNORE
    assert config.recovery is None and config.timeout_seconds is None
    # The mode may be given as its plain string value; comparisons still work.
    assert PersistenceStartupConfig(mode="recover").mode == PersistenceStartupMode.RECOVER
    assert [m.value for m in PersistenceStartupMode] == [
        "ignore", "scan_only", "recover", "fail_on_anomaly",
    ]
