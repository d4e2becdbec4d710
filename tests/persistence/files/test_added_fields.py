"""Fields added to the records since 0.3.0 (run id, actor name and class, dead letters total).

They are additive: written after the 0.3.0 fields and only when set, so a record without them
keeps its 0.3.0 bytes; our readers fill them in when present and default them when absent; and
0.3.0's reading rule (keep the keys that are fields of its models, ignore the rest) still
builds every record.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest

from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent

pytestmark = pytest.mark.anyio

EVENT = PersistedEvent(
    "local", "local:1", "ActorStarted", {}, 1.5,
    run_id="0f" * 16, actor_name="counter", actor_type="Counter",
)
AUDIT = PersistedAudit(
    "local", 2.5, 3, 1, 2, 0, 1, (), ("counter",), 4, dead_letters_total=9, run_id="0f" * 16
)
LETTER = PersistedDeadLetter("local", "local:1", "str", "hi", 3.5, run_id="0f" * 16)

#: The record models of Papyra 0.3.0, field for field (its ``papyra.persistence.models``).
OLD_MODELS = {
    "event": dataclasses.make_dataclass(
        "PersistedEvent",
        ["system_id", "actor_address", "event_type", "payload", "timestamp"],
        frozen=True,
    ),
    "audit": dataclasses.make_dataclass(
        "PersistedAudit",
        [
            "system_id", "timestamp", "total_actors", "alive_actors", "stopping_actors",
            "restarting_actors", "registry_size", "registry_orphans", "registry_dead",
            "dead_letters_count",
        ],
        frozen=True,
    ),
    "dead_letter": dataclasses.make_dataclass(
        "PersistedDeadLetter",
        ["system_id", "target", "message_type", "payload", "timestamp"],
        frozen=True,
    ),
}


def old_read(line: bytes) -> Any:
    """How Papyra 0.3.0 reads a line: ``Model(**_pick_dataclass_fields(Model, row))``."""
    row = orjson.loads(line)
    model = OLD_MODELS[row.pop("kind")]
    names = {f.name for f in dataclasses.fields(model)}
    return model(**{k: v for k, v in row.items() if k in names})


def without_added(record: Any) -> Any:
    changes = {
        f.name: None for f in dataclasses.fields(record) if f.metadata.get("added")
    }
    return dataclasses.replace(record, **changes)


def as_read(audit: PersistedAudit) -> PersistedAudit:
    """JSON has no tuples: the audit name fields read back as lists."""
    return dataclasses.replace(
        audit,
        registry_orphans=list(audit.registry_orphans),  # type: ignore[arg-type]
        registry_dead=list(audit.registry_dead),  # type: ignore[arg-type]
    )


async def write_all(backend: Any) -> None:
    await backend.record_event(EVENT)
    await backend.record_audit(AUDIT)
    await backend.record_dead_letter(LETTER)
    await backend.aclose()


@pytest.fixture(params=["json", "rotating"])
def make_backend(request: pytest.FixtureRequest, tmp_path: Path, impl: Any) -> Any:
    def make() -> Any:
        if request.param == "json":
            return JsonFilePersistence(tmp_path / "log.ndjson", _ndjson=impl.ndjson)
        return RotatingFilePersistence(tmp_path / "log.ndjson", _ndjson=impl.ndjson)

    return make


async def test_added_fields_come_last_and_only_when_set(
    tmp_path: Path, make_backend: Any
) -> None:
    await write_all(make_backend())
    set_lines = (tmp_path / "log.ndjson").read_bytes().splitlines()
    bare_backend = JsonFilePersistence(tmp_path / "plain.ndjson")
    await bare_backend.record_event(without_added(EVENT))
    await bare_backend.record_audit(without_added(AUDIT))
    await bare_backend.record_dead_letter(without_added(LETTER))
    await bare_backend.aclose()
    bare_lines = (tmp_path / "plain.ndjson").read_bytes().splitlines()

    assert bare_lines == [
        b'{"kind":"event","system_id":"local","actor_address":"local:1",'
        b'"event_type":"ActorStarted","payload":{},"timestamp":1.5}',
        b'{"kind":"audit","system_id":"local","timestamp":2.5,"total_actors":3,'
        b'"alive_actors":1,"stopping_actors":2,"restarting_actors":0,"registry_size":1,'
        b'"registry_orphans":[],"registry_dead":["counter"],"dead_letters_count":4}',
        b'{"kind":"dead_letter","system_id":"local","target":"local:1","message_type":"str",'
        b'"payload":"hi","timestamp":3.5}',
    ]
    run = b'"run_id":"' + b"0f" * 16 + b'"'
    assert set_lines == [
        bare_lines[0][:-1] + b"," + run + b',"actor_name":"counter","actor_type":"Counter"}',
        bare_lines[1][:-1] + b',"dead_letters_total":9,' + run + b"}",
        bare_lines[2][:-1] + b"," + run + b"}",
    ]


async def test_records_with_added_fields_read_back(make_backend: Any) -> None:
    await write_all(make_backend())
    backend = make_backend()
    assert await backend.list_events() == (EVENT,)
    (audit,) = await backend.list_audits()
    assert audit == as_read(AUDIT)
    assert await backend.list_dead_letters() == (LETTER,)
    await backend.aclose()


async def test_0_3_0_records_read_with_the_added_fields_unset(
    tmp_path: Path, impl: Any
) -> None:
    path = tmp_path / "old.ndjson"
    path.write_bytes(  # 0.3.0's own layout: json.dumps with its default separators
        b'{"kind": "event", "system_id": "local", "actor_address": "local:1", '
        b'"event_type": "ActorStarted", "payload": {}, "timestamp": 1.5}\n'
        b'{"kind": "audit", "system_id": "local", "timestamp": 2.5, "total_actors": 3, '
        b'"alive_actors": 1, "stopping_actors": 2, "restarting_actors": 0, '
        b'"registry_size": 1, "registry_orphans": [], "registry_dead": ["counter"], '
        b'"dead_letters_count": 4}\n'
        b'{"kind": "dead_letter", "system_id": "local", "target": "local:1", '
        b'"message_type": "str", "payload": "hi", "timestamp": 3.5}\n'
    )
    backend = JsonFilePersistence(path, _ndjson=impl.ndjson)
    assert await backend.list_events() == (without_added(EVENT),)
    (audit,) = await backend.list_audits()
    assert audit == as_read(without_added(AUDIT))
    assert audit.dead_letters_total is None and audit.run_id is None
    assert await backend.list_dead_letters() == (without_added(LETTER),)
    await backend.aclose()


async def test_the_0_3_0_reading_rule_still_builds_every_record(make_backend: Any) -> None:
    backend = make_backend()
    await write_all(backend)
    lines = backend.files()[-1].read_bytes().splitlines()

    event, audit, letter = (old_read(line) for line in lines)

    assert dataclasses.astuple(event) == dataclasses.astuple(EVENT)[:5]
    assert dataclasses.astuple(audit) == ("local", 2.5, 3, 1, 2, 0, 1, [], ["counter"], 4)
    assert dataclasses.astuple(letter) == dataclasses.astuple(LETTER)[:5]
