"""Coercion of written mappings, the serialisation rule and the tolerant reading rule."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from papyra.address import ActorAddress
from papyra.persistence import _utils
from papyra.persistence._records import (
    _COERCERS,
    KINDS,
    MODELS,
    WRITE_SCHEMAS,
    RecordKind,
    coerce,
    coerce_audit,
    coerce_dead_letter,
    coerce_event,
    json_default,
    pick_fields,
    record_from_dict,
    record_to_dict,
    select_window,
    strict_default,
    timestamp_of,
)
from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=json_default, separators=(",", ":"), ensure_ascii=False)


# -- coercion -------------------------------------------------------------------------------


def test_seed_mapping_becomes_an_event_with_a_string_address() -> None:
    event = coerce_event({
        "system_id": "local",
        "actor_address": ActorAddress("local", 1),
        "event_type": "counter.incremented",
        "payload": {"value": 5, "total": 5},
        "timestamp": 1763800000.25,
    })
    assert event == PersistedEvent("local", "local:1", "counter.incremented",
                                   {"value": 5, "total": 5}, 1763800000.25)


def test_missing_event_fields_get_defaults_and_timestamp_is_now() -> None:
    before = time.time()
    event = coerce_event({"kind": "event", "unknown": 1})
    after = time.time()
    assert (event.system_id, event.actor_address, event.event_type, event.payload) == (
        "local", None, "", {},
    )
    assert before <= event.timestamp <= after
    # Each defaulted payload is its own dict.
    assert coerce_event({}).payload is not coerce_event({}).payload


def test_a_null_timestamp_is_treated_as_missing() -> None:
    assert isinstance(coerce_event({"timestamp": None}).timestamp, float)
    assert coerce_event({"timestamp": 0}).timestamp == 0


def test_dead_letter_mapping() -> None:
    letter = coerce_dead_letter({"target": ActorAddress("sys", 2), "message_type": "dict",
                                 "payload": {"a": 1}, "timestamp": 5.0, "kind": "dead_letter"})
    assert letter == PersistedDeadLetter("local", "sys:2", "dict", {"a": 1}, 5.0)
    bare = coerce_dead_letter({"timestamp": 1})
    fields = (bare.system_id, bare.target, bare.message_type, bare.payload)
    assert fields == ("local", None, "", None)


def test_audit_mapping_defaults_and_name_lists_become_tuples() -> None:
    audit = coerce_audit({"timestamp": 3.0, "total_actors": 2, "registry_orphans": ["a", "b"]})
    assert audit == PersistedAudit("local", 3.0, 2, 0, 0, 0, 0, ("a", "b"), (), 0)


def test_other_addresses_in_mappings_are_kept_as_given() -> None:
    raw = {"system": "local", "actor_id": 1}
    assert coerce_event({"actor_address": raw, "timestamp": 1}).actor_address == raw
    assert coerce_event({"actor_address": "local:9", "timestamp": 1}).actor_address == "local:9"


def test_models_and_other_objects_pass_through_unchanged() -> None:
    addr = ActorAddress("local", 1)
    event = PersistedEvent("local", addr, "x", {}, 1.0)
    assert coerce_event(event) is event  # an ActorAddress inside a model is NOT stringified
    audit = PersistedAudit("local", 1.0, 0, 0, 0, 0, 0, (), (), 0)
    assert coerce_audit(audit) is audit
    marker = object()
    assert coerce_event(marker) is marker
    assert coerce_dead_letter("text") == "text"
    # A model of another kind is "any other object" too.
    assert coerce_audit(event) is event


def test_generic_coerce_dispatches_by_kind() -> None:
    assert isinstance(coerce("event", {}), PersistedEvent)
    assert isinstance(coerce("audit", {}), PersistedAudit)
    assert isinstance(coerce("dead_letter", {}), PersistedDeadLetter)
    with pytest.raises(ValueError, match="unknown record kind"):
        coerce("events", {})


# -- serialisation --------------------------------------------------------------------------


def test_record_to_dict_puts_kind_first_then_fields_in_order() -> None:
    letter = PersistedDeadLetter("local", "local:2", "dict", {"a": 1}, 1763800002.0)
    assert dumps(record_to_dict("dead_letter", letter)) == (
        '{"kind":"dead_letter","system_id":"local","target":"local:2","message_type":"dict",'
        '"payload":{"a":1},"timestamp":1763800002.0}'
    )


def test_record_to_dict_is_shallow() -> None:
    payload = {"nested": [1, 2]}
    addr = ActorAddress("local", 1)
    out = record_to_dict("event", PersistedEvent("local", addr, "x", payload, 1.0))
    assert out["payload"] is payload
    assert out["actor_address"] is addr


def test_address_inside_a_model_is_written_as_an_object() -> None:
    event = PersistedEvent("local", ActorAddress("local", 1), "ActorStarted", {}, 1.0)
    assert json.loads(dumps(record_to_dict("event", event)))["actor_address"] == {
        "system": "local", "actor_id": 1,
    }


def test_record_to_dict_rejects_wrong_objects_and_kinds() -> None:
    with pytest.raises(TypeError, match="PersistedEvent"):
        record_to_dict("event", {"timestamp": 1})
    with pytest.raises(TypeError):
        record_to_dict("audit", PersistedEvent("local", "local:1", "x", {}, 1.0))
    with pytest.raises(ValueError, match="unknown record kind"):
        record_to_dict("nope", PersistedEvent("local", "local:1", "x", {}, 1.0))


def test_coerce_then_serialise_is_how_file_backends_reject_other_objects() -> None:
    with pytest.raises(TypeError):
        record_to_dict("event", coerce_event(object()))


@dataclasses.dataclass
class Point:
    x: int
    y: Any


class Opaque:
    def __str__(self) -> str:
        return "<opaque>"


def test_json_default_fallbacks() -> None:
    assert json_default(ActorAddress("a", 3)) == {"system": "a", "actor_id": 3}
    assert json_default(Point(1, ActorAddress("a", 1))) == {"x": 1, "y": ActorAddress("a", 1)}
    assert json_default(Path("/tmp/x")) == "/tmp/x"
    assert json_default(PurePosixPath("a/b")) == "a/b"
    assert json_default(Opaque()) == "<opaque>"
    assert json_default({1, 2}) in ("{1, 2}", "{2, 1}")
    # Nested dataclasses are handled by the encoder calling the hook again.
    nested = {"p": Point(1, ActorAddress("a", 1))}
    assert dumps(nested) == '{"p":{"x":1,"y":{"system":"a","actor_id":1}}}'
    # A dataclass *class* is not an instance: it is stringified.
    assert json_default(Point) == str(Point)


def test_utils_keeps_the_old_helper_names() -> None:
    assert _utils._json_default(Path("p")) == "p"
    data = {"event_type": "x", "kind": "event", "z": 1}
    assert _utils._pick_dataclass_fields(PersistedEvent, data) == {"event_type": "x"}
    assert pick_fields(PersistedDeadLetter, {"target": None}) == {"target": None}


# -- reading --------------------------------------------------------------------------------


def test_reading_keeps_known_fields_as_decoded() -> None:
    data = json.loads(
        '{"kind":"event","system_id":"s","actor_address":{"system":"s","actor_id":1},'
        '"event_type":"ActorStarted","payload":{"k":[1]},"timestamp":2.5,"future_field":true}'
    )
    event = record_from_dict("event", data)
    assert event == PersistedEvent("s", {"system": "s", "actor_id": 1}, "ActorStarted",  # type: ignore[arg-type]
                                   {"k": [1]}, 2.5)


def test_reading_fills_defaults_for_missing_fields() -> None:
    assert record_from_dict("event", {"kind": "event", "timestamp": 1}) == PersistedEvent(
        "local", None, "", {}, 1  # type: ignore[arg-type]
    )
    letter = record_from_dict("dead_letter", {"timestamp": 1}, system_id="sys")
    assert letter == PersistedDeadLetter("sys", None, "", None, 1)
    audit = record_from_dict("audit", {"timestamp": 1, "registry_dead": ["x"], "alive_actors": 4})
    assert audit == PersistedAudit("local", 1, 0, 4, 0, 0, 0, (), ["x"], 0)  # type: ignore[arg-type]


def test_reading_skips_records_without_timestamp() -> None:
    for kind in KINDS:
        assert record_from_dict(kind, {"kind": kind, "system_id": "local"}) is None


def test_reading_keeps_explicit_nulls() -> None:
    event = record_from_dict("event", {"timestamp": 1, "payload": None, "system_id": None})
    assert event is not None
    assert event.payload is None and event.system_id is None


def test_reading_an_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError):
        record_from_dict("events", {"timestamp": 1})
    with pytest.raises(ValueError):
        record_from_dict("events", {})


texts = st.text(max_size=12)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts | st.floats(
    allow_nan=False, allow_infinity=False
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=10,
)
timestamps = st.floats(min_value=0, max_value=4e9, allow_nan=False)
maybe_texts = st.none() | texts
events = st.builds(PersistedEvent, texts, texts, texts,
                   st.dictionaries(texts, json_values, max_size=4), timestamps,
                   run_id=maybe_texts, actor_name=maybe_texts, actor_type=maybe_texts)
dead_letters = st.builds(PersistedDeadLetter, texts, st.none() | texts, texts, json_values,
                         timestamps, run_id=maybe_texts)
counts = st.integers(0, 10**6)
names = st.lists(texts, max_size=3).map(tuple)
audits = st.builds(PersistedAudit, texts, timestamps, counts, counts, counts, counts, counts,
                   names, names, counts, dead_letters_total=st.none() | counts,
                   run_id=maybe_texts)


def as_read_back(record: Any) -> Any:
    # JSON has no tuples: the audit name fields come back as lists.
    if isinstance(record, PersistedAudit):
        return dataclasses.replace(
            record,
            registry_orphans=list(record.registry_orphans),  # type: ignore[arg-type]
            registry_dead=list(record.registry_dead),
        )
    return record


@given(st.one_of(events.map(lambda r: ("event", r)), audits.map(lambda r: ("audit", r)),
                 dead_letters.map(lambda r: ("dead_letter", r))))
def test_round_trip_through_json(item: tuple[str, Any]) -> None:
    kind, record = item
    data = json.loads(dumps(record_to_dict(kind, record)))
    assert next(iter(data)) == "kind" and data["kind"] == kind
    # Every 0.3.0 field, then the fields added since, each only when it is set.
    assert list(data)[1:] == [
        f.name
        for f in dataclasses.fields(record)
        if not f.metadata.get("added") or getattr(record, f.name) is not None
    ]
    assert record_from_dict(kind, data) == as_read_back(record)


@given(events, st.dictionaries(
    st.sampled_from(["system_id", "actor_address", "event_type", "payload"]), st.just(True)
))
def test_any_subset_of_fields_reads_back_with_defaults(
    event: PersistedEvent, drop: dict[str, bool]
) -> None:
    data = json.loads(dumps(record_to_dict("event", event)))
    for key in drop:
        del data[key]
    read = record_from_dict("event", data)
    assert read is not None
    defaults = {"system_id": "local", "actor_address": None, "event_type": "", "payload": {}}
    for name in ("system_id", "actor_address", "event_type", "payload"):
        assert getattr(read, name) == (defaults[name] if name in drop else getattr(event, name))


@given(st.dictionaries(st.sampled_from(["system_id", "actor_address", "event_type", "payload",
                                        "timestamp", "kind", "extra"]), json_values))
def test_coerced_mapping_serialises_to_exactly_the_model_fields(data: dict[str, Any]) -> None:
    event = coerce_event(data)
    out = record_to_dict("event", event)
    assert list(out) == ["kind", "system_id", "actor_address", "event_type", "payload", "timestamp"]
    for key in ("system_id", "actor_address", "event_type"):
        if key in data:
            assert out[key] == data[key]


# -- list_* window --------------------------------------------------------------------------


class Stamped:
    def __init__(self, ts: Any) -> None:
        self.timestamp = ts


def test_timestamp_of_reads_models_mappings_and_objects() -> None:
    assert timestamp_of(PersistedEvent("l", "l:1", "x", {}, 4.0)) == 4.0
    assert timestamp_of({"timestamp": 3}) == 3
    assert timestamp_of(Stamped(2.0)) == 2.0
    assert timestamp_of(Stamped("2")) is None
    assert timestamp_of(Stamped(True)) is None
    assert timestamp_of(object()) is None


def test_select_window_since_then_last_limit() -> None:
    items = [Stamped(t) for t in (1, 2, 3, 4, 5)]
    stamps = lambda xs: [x.timestamp for x in xs]  # noqa: E731
    assert stamps(select_window(items)) == [1, 2, 3, 4, 5]
    assert stamps(select_window(items, since=3)) == [3, 4, 5]
    assert stamps(select_window(items, limit=2)) == [4, 5]
    assert stamps(select_window(items, since=2, limit=2)) == [4, 5]
    assert stamps(select_window(items, since=4.5, limit=10)) == [5]
    assert select_window(items, limit=0) == ()
    assert select_window(items, since=99) == ()
    assert isinstance(select_window(items), tuple)


def test_select_window_skips_unstamped_items_only_when_filtering_by_time() -> None:
    items = [Stamped(1), object(), {"timestamp": 2}, Stamped(None)]
    assert len(select_window(items)) == 4
    assert select_window(items, since=0) == (items[0], items[2])


# -- the kinds table --------------------------------------------------------------------------


def test_kinds_table_describes_each_kind_once() -> None:
    assert list(KINDS) == ["event", "audit", "dead_letter"]
    for name, kind in KINDS.items():
        assert isinstance(kind, RecordKind)
        assert kind.name == name
        assert kind.method == f"record_{name}"
        assert kind.plural == f"{name}s"
    assert KINDS["event"].model is PersistedEvent
    assert KINDS["audit"].model is PersistedAudit
    assert KINDS["dead_letter"].model is PersistedDeadLetter
    assert [KINDS[k].coerce for k in KINDS] == [coerce_event, coerce_audit, coerce_dead_letter]
    assert len({kind.code for kind in KINDS.values()}) == 3


def test_kind_records_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        KINDS["event"].method = "record_audit"  # type: ignore[misc]


def test_the_other_tables_derive_from_kinds() -> None:
    from papyra.persistence.backends import memory

    assert dict(MODELS) == {name: kind.model for name, kind in KINDS.items()}
    assert dict(_COERCERS) == {name: kind.coerce for name, kind in KINDS.items()}
    expected_stores = {
        "event": ("_events", coerce_event),
        "audit": ("_audits", coerce_audit),
        "dead_letter": ("_dead_letters", coerce_dead_letter),
    }
    assert expected_stores == memory._STORES
    backend = memory.InMemoryPersistence()
    for attribute, _ in memory._STORES.values():
        assert isinstance(getattr(backend, attribute), list)


def test_kind_methods_exist_on_the_backend_base_and_lists_on_memory() -> None:
    from papyra.persistence.backends.memory import InMemoryPersistence
    from papyra.persistence.base import PersistenceBackend

    for kind in KINDS.values():
        assert callable(getattr(PersistenceBackend, kind.method))
        assert callable(getattr(InMemoryPersistence, f"list_{kind.plural}"))


def test_kind_codes_match_both_scanner_twins(impl: Any) -> None:
    nd = impl.ndjson
    twin_codes = {
        "event": nd.KIND_EVENT, "audit": nd.KIND_AUDIT, "dead_letter": nd.KIND_DEAD_LETTER
    }
    assert {name: kind.code for name, kind in KINDS.items()} == twin_codes
    # What the scanner actually writes in a line's kind bits, not only its constants.
    lines = b"".join(b'{"kind":"%s","timestamp":1}\n' % name.encode() for name in KINDS)
    table = nd.scan_lines(lines, want=nd.WANT_KIND)
    assert [flag & nd.KIND_MASK for flag in table.flags] == [k.code for k in KINDS.values()]


# -- a dict straight to its line (WRITE_SCHEMAS + the twins' encode_fields) -------------------

FIELD_NAMES = sorted({f.name for model in MODELS.values() for f in dataclasses.fields(model)})
field_values = (
    json_values
    | st.builds(ActorAddress, st.just("local"), st.integers(0, 99))
    | st.lists(texts, max_size=3)
    | st.just(PurePosixPath("/tmp/x"))
)
mappings = st.dictionaries(
    st.sampled_from([*FIELD_NAMES, "kind", "extra"]), field_values, max_size=10
)


def test_write_schemas_follow_the_model_fields() -> None:
    for kind, model in MODELS.items():
        schema = WRITE_SCHEMAS[kind]
        assert [entry[0] for entry in schema] == [f.name for f in dataclasses.fields(model)]
        added = [bool(f.metadata.get("added")) for f in dataclasses.fields(model)]
        assert [entry[3] for entry in schema] == added


@given(st.sampled_from(list(KINDS)), mappings)
def test_a_dict_encodes_as_its_coerced_model_in_both_twins(
    impl: Any, kind: str, data: dict[str, Any]
) -> None:
    if data.get("timestamp") is None:  # a missing one is "now": not comparable across calls
        data["timestamp"] = 1.5
    for default in (json_default, None):
        expected = impl.ndjson.encode_record(record_to_dict(kind, coerce(kind, data)), default)
        assert impl.ndjson.encode_fields(data, kind, WRITE_SCHEMAS[kind], default) == expected


def test_a_dict_without_timestamp_is_stamped_now(impl: Any) -> None:
    before = time.time()
    line = impl.ndjson.encode_fields({"timestamp": None}, "event", WRITE_SCHEMAS["event"])
    assert before <= json.loads(line)["timestamp"] <= time.time()


def test_encode_fields_refuses_bad_input(impl: Any) -> None:
    from collections import OrderedDict

    nd = impl.ndjson
    with pytest.raises(TypeError, match="must be a dict, not OrderedDict"):
        nd.encode_fields(OrderedDict(a=1), "event", WRITE_SCHEMAS["event"])
    with pytest.raises(TypeError, match="schema must be a tuple, not list"):
        nd.encode_fields({}, "event", list(WRITE_SCHEMAS["event"]))
    with pytest.raises(ValueError, match=r"\(name, missing, fix, optional\)"):
        nd.encode_fields({}, "event", (("a", None, None),))
    unencodable = {"payload": {"x": object()}}
    with pytest.raises(TypeError):
        nd.encode_fields(unencodable, "event", WRITE_SCHEMAS["event"], strict_default)
