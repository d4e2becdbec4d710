"""How records cross the backend boundary: shared by the memory, file and Redis backends.

Three rules live here so that every backend applies them identically:

* **Coercion** (writes): ``record_*`` accepts a model instance or a ``Mapping`` of its fields; the
  mapping becomes the model (unknown keys and ``"kind"`` ignored, missing fields defaulted, an
  ``ActorAddress`` in ``actor_address``/``target`` turned into its ``"local:1"`` string form).
  Any other object comes back unchanged and the caller decides: the memory backend stores it,
  the file and Redis backends reject it (``record_to_dict`` raises ``TypeError``).
* **Serialisation**: ``{"kind": kind, <fields in dataclass order>}``, shallow; values JSON cannot
  encode go through ``json_default`` -- or, for a backend made with ``strict=True``, through
  ``strict_default``, which keeps the structured conversions (dataclasses, paths) and refuses
  everything else (``strict_error`` then names the offending value). A field added since 0.3.0
  (``ADDED`` in its metadata) is written only when it is not ``None``, so records without it
  keep their 0.3.0 bytes.
* **Reading**: ``record_from_dict`` is tolerant. Known keys are kept as decoded, missing ones
  defaulted (added fields to ``None``), extra ones ignored; only a record without a
  ``"timestamp"`` key is unusable.

The three kinds themselves are described once, in :data:`KINDS`: each kind's model, the
backend method that stores it, its coercer and its NDJSON scanner code. Every other per-kind
table (``MODELS`` here, the memory backend's lists, the file engine's kind codes, the write
protocol's dispatch in ``papyra.persistence._outbox``) is derived from it.
"""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import Field, dataclass, fields, is_dataclass
from pathlib import PurePath
from typing import Any, Literal, TypeVar, overload

from papyra import _serial
from papyra.address import ActorAddress
from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent

__all__ = (
    "KINDS",
    "MODELS",
    "WRITE_SCHEMAS",
    "FieldSpec",
    "KindName",
    "ListsRecords",
    "Record",
    "RecordKind",
    "check_strict",
    "coerce",
    "coerce_audit",
    "coerce_dead_letter",
    "coerce_event",
    "json_default",
    "json_default_for",
    "pick_fields",
    "record_from_dict",
    "record_to_dict",
    "select_window",
    "strict_default",
    "strict_error",
    "timestamp_of",
)

KindName = Literal["event", "audit", "dead_letter"]
Record = PersistedEvent | PersistedAudit | PersistedDeadLetter

_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------
# Coercion (writes)
# --------------------------------------------------------------------------------------------


def _address_text(value: Any) -> Any:
    return str(value) if isinstance(value, ActorAddress) else value


def _names(value: Any) -> Any:
    # The audit name fields are tuples; a list from a hand-built mapping is the same data.
    return tuple(value) if isinstance(value, list) else value


def _write_timestamp(data: Mapping[str, Any]) -> Any:
    # A missing (or null) timestamp gets "now": a record without one would be skipped by every
    # file reader and dropped by age retention, i.e. silently lost.
    ts = data.get("timestamp")
    return time.time() if ts is None else ts


@overload
def coerce_event(obj: PersistedEvent | Mapping[str, Any]) -> PersistedEvent: ...
@overload
def coerce_event(obj: _T) -> _T | PersistedEvent: ...
def coerce_event(obj: Any) -> Any:
    """Turn a mapping into a ``PersistedEvent``; return anything else (models included) as is."""
    if isinstance(obj, PersistedEvent) or not isinstance(obj, Mapping):
        return obj
    return PersistedEvent(
        system_id=obj.get("system_id", "local"),
        actor_address=_address_text(obj.get("actor_address")),
        event_type=obj.get("event_type", ""),
        payload=obj.get("payload", {}),
        timestamp=_write_timestamp(obj),
        run_id=obj.get("run_id"),
        actor_name=obj.get("actor_name"),
        actor_type=obj.get("actor_type"),
    )


@overload
def coerce_audit(obj: PersistedAudit | Mapping[str, Any]) -> PersistedAudit: ...
@overload
def coerce_audit(obj: _T) -> _T | PersistedAudit: ...
def coerce_audit(obj: Any) -> Any:
    """Turn a mapping into a ``PersistedAudit``; return anything else (models included) unchanged.

    Counters default to ``0`` and the two name fields to ``()`` (a list is turned into a tuple).
    """
    if isinstance(obj, PersistedAudit) or not isinstance(obj, Mapping):
        return obj
    get = obj.get
    return PersistedAudit(
        system_id=get("system_id", "local"),
        timestamp=_write_timestamp(obj),
        total_actors=get("total_actors", 0),
        alive_actors=get("alive_actors", 0),
        stopping_actors=get("stopping_actors", 0),
        restarting_actors=get("restarting_actors", 0),
        registry_size=get("registry_size", 0),
        registry_orphans=_names(get("registry_orphans", ())),
        registry_dead=_names(get("registry_dead", ())),
        dead_letters_count=get("dead_letters_count", 0),
        dead_letters_total=get("dead_letters_total"),
        run_id=get("run_id"),
    )


@overload
def coerce_dead_letter(obj: PersistedDeadLetter | Mapping[str, Any]) -> PersistedDeadLetter: ...
@overload
def coerce_dead_letter(obj: _T) -> _T | PersistedDeadLetter: ...
def coerce_dead_letter(obj: Any) -> Any:
    """Turn a mapping into a ``PersistedDeadLetter``; return anything else unchanged."""
    if isinstance(obj, PersistedDeadLetter) or not isinstance(obj, Mapping):
        return obj
    return PersistedDeadLetter(
        system_id=obj.get("system_id", "local"),
        target=_address_text(obj.get("target")),
        message_type=obj.get("message_type", ""),
        payload=obj.get("payload"),
        timestamp=_write_timestamp(obj),
        run_id=obj.get("run_id"),
    )


# --------------------------------------------------------------------------------------------
# The kinds
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordKind:
    """Everything that depends on a record's kind, in one place.

    ``name`` is the ``"kind"`` discriminator written with the record; ``plural`` names its
    collection (``list_<plural>``, the memory backend's ``_<plural>`` list, the Redis stream
    suffix); ``model`` is its dataclass; ``method`` the backend coroutine that stores one
    (``record_event`` ...); ``coerce`` turns a mapping into the model; ``code`` is the value
    the NDJSON scanner puts in a line's kind bits (``KIND_EVENT`` ... in both scanner twins).
    """

    name: KindName
    plural: str
    model: type[Record]
    method: str
    coerce: Callable[[Any], Any]
    code: int


#: kind name -> :class:`RecordKind`, in the order the backends list the kinds.
KINDS: Mapping[str, RecordKind] = {
    kind.name: kind
    for kind in (
        RecordKind("event", "events", PersistedEvent, "record_event", coerce_event, 0x10),
        RecordKind("audit", "audits", PersistedAudit, "record_audit", coerce_audit, 0x20),
        RecordKind(
            "dead_letter",
            "dead_letters",
            PersistedDeadLetter,
            "record_dead_letter",
            coerce_dead_letter,
            0x30,
        ),
    )
}

MODELS: Mapping[str, type[Record]] = {name: kind.model for name, kind in KINDS.items()}


def _is_added(f: Field[Any]) -> bool:
    """True for a field added since 0.3.0 (its metadata is ``models.ADDED``)."""
    return f.metadata.get("added") is True


# Field names per kind, computed once: ``dataclasses.fields()`` is slow enough to matter per
# record. ``_FIELDS``: always written; ``_ADDED_FIELDS``: written when not None (see above).
_FIELDS: Mapping[str, tuple[str, ...]] = {
    name: tuple(f.name for f in fields(model) if not _is_added(f))
    for name, model in MODELS.items()
}
_ADDED_FIELDS: Mapping[str, tuple[str, ...]] = {
    name: tuple(f.name for f in fields(model) if _is_added(f))
    for name, model in MODELS.items()
}

_COERCERS: Mapping[str, Callable[[Any], Any]] = {
    name: kind.coerce for name, kind in KINDS.items()
}


#: One field of a record written straight from a mapping: ``(name, missing, fix, optional)``
#: (see ``encode_fields`` in :mod:`papyra._speedups.ndjson_py`).
FieldSpec = tuple[str, Any, Callable[[Any], Any] | None, bool]


def _timestamp_or_now(value: Any) -> Any:
    return time.time() if value is None else value


# ``{}`` below is shared by every record without a payload; the encoder never mutates it.
_EVENT_SCHEMA: tuple[FieldSpec, ...] = (
    ("system_id", "local", None, False),
    ("actor_address", None, _address_text, False),
    ("event_type", "", None, False),
    ("payload", {}, None, False),
    ("timestamp", None, _timestamp_or_now, False),
    ("run_id", None, None, True),
    ("actor_name", None, None, True),
    ("actor_type", None, None, True),
)
_AUDIT_SCHEMA: tuple[FieldSpec, ...] = (
    ("system_id", "local", None, False),
    ("timestamp", None, _timestamp_or_now, False),
    ("total_actors", 0, None, False),
    ("alive_actors", 0, None, False),
    ("stopping_actors", 0, None, False),
    ("restarting_actors", 0, None, False),
    ("registry_size", 0, None, False),
    ("registry_orphans", (), _names, False),
    ("registry_dead", (), _names, False),
    ("dead_letters_count", 0, None, False),
    ("dead_letters_total", None, None, True),
    ("run_id", None, None, True),
)
_DEAD_LETTER_SCHEMA: tuple[FieldSpec, ...] = (
    ("system_id", "local", None, False),
    ("target", None, _address_text, False),
    ("message_type", "", None, False),
    ("payload", None, None, False),
    ("timestamp", None, _timestamp_or_now, False),
    ("run_id", None, None, True),
)

#: kind -> the fields of its line when ``record_*`` gets a ``dict``, for the NDJSON twins'
#: ``encode_fields``: ``encode_fields(d, kind, WRITE_SCHEMAS[kind], default)`` is the line
#: of ``record_to_dict(kind, coerce(kind, d))`` (the coercion rules above, without building
#: the model). tests/persistence/test_records.py holds the two paths to the same bytes.
WRITE_SCHEMAS: Mapping[str, tuple[FieldSpec, ...]] = {
    "event": _EVENT_SCHEMA,
    "audit": _AUDIT_SCHEMA,
    "dead_letter": _DEAD_LETTER_SCHEMA,
}


def coerce(kind: str, obj: Any) -> Any:
    """``coerce_event`` / ``coerce_audit`` / ``coerce_dead_letter`` selected by ``kind``."""
    try:
        coercer = _COERCERS[kind]
    except KeyError:
        raise ValueError(_unknown_kind(kind)) from None
    return coercer(obj)


# --------------------------------------------------------------------------------------------
# Serialisation
# --------------------------------------------------------------------------------------------


def record_to_dict(kind: str, record: object) -> dict[str, Any]:
    """Return ``{"kind": kind, <field>: <value>, ...}`` with the fields in dataclass order.

    Fields added since 0.3.0 are left out while they are ``None``.

    Shallow: values are the record's own objects (an ``ActorAddress`` stays an ``ActorAddress``
    for the encoder's ``json_default``). Raises ``TypeError`` unless ``record`` is the model of
    ``kind`` (so callers that ``coerce`` first reject arbitrary objects here) and ``ValueError``
    for an unknown ``kind``.
    """
    model = MODELS.get(kind)
    if model is None:
        raise ValueError(_unknown_kind(kind))
    if not isinstance(record, model):
        raise TypeError(
            f"a {kind!r} record must be a {model.__name__} or a mapping of its fields, "
            f"not {type(record).__name__}"
        )
    out: dict[str, Any] = {"kind": kind}
    for name in _FIELDS[kind]:
        out[name] = getattr(record, name)
    for name in _ADDED_FIELDS[kind]:
        if (value := getattr(record, name)) is not None:
            out[name] = value
    return out


def json_default(obj: Any) -> Any:
    """Fallback for values the JSON encoder cannot handle (the ``default=`` hook).

    A dataclass instance becomes a dict of its fields (``ActorAddress`` →
    ``{"system": ..., "actor_id": ...}``), a path becomes its string, anything else ``str(obj)``.
    """
    if isinstance(obj, ActorAddress):
        return {"system": obj.system, "actor_id": obj.actor_id}
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in fields(obj)}
    return str(obj)  # covers pathlib paths as well: str(PurePath) is the path text


def strict_default(obj: Any) -> Any:
    """:func:`json_default` without its ``str(obj)`` catch-all: the hook of ``strict=True``.

    The deliberate structured conversions stay (a dataclass, ``ActorAddress`` included, becomes
    a dict of its fields; a path its text); any other object raises ``TypeError``. The codec
    also passes it the dict keys it cannot write natively (see :mod:`papyra._serial`), so an
    object used as a key is refused as well.
    """
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, ActorAddress) or (is_dataclass(obj) and not isinstance(obj, type)):
        return json_default(obj)
    raise TypeError(f"{_type_name(obj)} has no JSON form")


def json_default_for(strict: bool) -> Callable[[Any], Any]:
    """The encoder hook of a backend: :func:`strict_default` or :func:`json_default`."""
    return strict_default if strict else json_default


def strict_error(kind: str, record: Mapping[str, Any], error: Exception) -> TypeError:
    """The ``TypeError`` a strict backend raises for ``record`` (a :func:`record_to_dict` result)
    whose encoding with :func:`strict_default` failed with ``error``.

    Names the first value the strict rules refuse, by its path and type
    (``payload['when']: datetime``); called only after a failure, so successful writes pay
    nothing for it. If no such value is found (``error`` had another cause, such as nesting
    beyond the codec's limit), the message carries ``error``'s text.
    """
    for name, value in record.items():
        where = _refused(value, name, 0)
        if where is not None:
            return TypeError(
                f"cannot store this {kind} record with strict=True: {where} has no JSON form "
                "(use str, numbers, bool, None, lists, dicts, dataclasses or paths; "
                "strict=False writes str(value) instead)"
            )
    return TypeError(f"cannot store this {kind} record with strict=True: {error}")


def check_strict(kind: str, record: object) -> None:
    """Raise what a ``strict=True`` file backend would raise when asked to store ``record``.

    ``record`` is a coerced record (see :func:`coerce`): an object that is not the model of
    ``kind`` is a ``TypeError`` (:func:`record_to_dict`), and so is a value without a JSON form
    (:func:`strict_error`). For backends that keep objects instead of encoding them (memory):
    the record is encoded once to check it, and the line is thrown away.
    """
    data = record_to_dict(kind, record)
    try:
        _serial.encode_line(data, strict_default)
    except TypeError as exc:
        raise strict_error(kind, data, exc) from exc


def _type_name(obj: Any) -> str:
    cls = type(obj)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


_NATIVE_SCALARS = (str, int, float, uuid.UUID)  # bool is an int; enum members are unwrapped


def _refused(value: Any, where: str, depth: int) -> str | None:
    """``"<where>: <type>"`` of the first object in ``value`` that the strict encoding refuses."""
    if value is None or isinstance(value, _NATIVE_SCALARS) or depth > _serial.MAX_DEPTH:
        return None
    if isinstance(value, enum.Enum):
        return _refused(value.value, where, depth)
    if isinstance(value, dict):
        for key, item in value.items():
            if not (key is None or isinstance(key, (str, int, float, enum.Enum))):
                try:
                    strict_default(key)
                except TypeError:
                    return f"{where} (a dict key): {_type_name(key)}"
            found = _refused(item, f"{where}[{key!r}]", depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _refused(item, f"{where}[{index}]", depth + 1)
            if found is not None:
                return found
        return None
    try:
        converted = strict_default(value)
    except TypeError:
        return f"{where}: {_type_name(value)}"
    if isinstance(converted, dict):  # a dataclass: its fields must be encodable too
        for name, item in converted.items():
            found = _refused(item, f"{where}.{name}", depth + 1)
            if found is not None:
                return found
    return None


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def pick_fields(cls: type[Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The items of ``data`` whose keys are field names of the dataclass ``cls``."""
    allowed = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in allowed}


@overload
def record_from_dict(
    kind: Literal["event"], data: Mapping[str, Any], *, system_id: str = ...
) -> PersistedEvent | None: ...
@overload
def record_from_dict(
    kind: Literal["audit"], data: Mapping[str, Any], *, system_id: str = ...
) -> PersistedAudit | None: ...
@overload
def record_from_dict(
    kind: Literal["dead_letter"], data: Mapping[str, Any], *, system_id: str = ...
) -> PersistedDeadLetter | None: ...
@overload
def record_from_dict(
    kind: str, data: Mapping[str, Any], *, system_id: str = ...
) -> Record | None: ...
def record_from_dict(
    kind: str, data: Mapping[str, Any], *, system_id: str = "local"
) -> Record | None:
    """Build the model of ``kind`` from a decoded record, or ``None`` if it has no ``"timestamp"``.

    Tolerant by design (files outlive code versions): known keys are used as decoded (an address
    written as an object stays a dict, name lists stay lists), missing ones get defaults
    (``system_id`` from the argument, addresses ``None``, type names ``""``, event payload ``{}``,
    dead-letter payload ``None``, audit counters ``0``, audit names ``()``, the fields added
    since 0.3.0 ``None``), other keys, ``"kind"`` included, are ignored. The caller has already
    selected records by their ``"kind"``.
    """
    if "timestamp" not in data:
        if kind not in MODELS:
            raise ValueError(_unknown_kind(kind))
        return None
    get = data.get
    # Events and dead letters are built positionally, in field order: this is the list_* hot
    # path, and with eight fields keyword arguments cost about a third more.
    if kind == "event":
        # The model annotates ``ActorAddress | str``; a record without one reads as None.
        address: Any = get("actor_address")
        return PersistedEvent(
            get("system_id", system_id),
            address,
            get("event_type", ""),
            # Not ``get("payload", {})``: that builds an empty dict for every record read; this
            # is about 25% faster for this field.
            data["payload"] if "payload" in data else {},  # noqa: SIM401
            data["timestamp"],
            get("run_id"),
            get("actor_name"),
            get("actor_type"),
        )
    if kind == "dead_letter":
        return PersistedDeadLetter(
            get("system_id", system_id),
            get("target"),
            get("message_type", ""),
            get("payload"),
            data["timestamp"],
            get("run_id"),
        )
    if kind == "audit":
        return PersistedAudit(
            system_id=get("system_id", system_id),
            timestamp=data["timestamp"],
            total_actors=get("total_actors", 0),
            alive_actors=get("alive_actors", 0),
            stopping_actors=get("stopping_actors", 0),
            restarting_actors=get("restarting_actors", 0),
            registry_size=get("registry_size", 0),
            registry_orphans=get("registry_orphans", ()),
            registry_dead=get("registry_dead", ()),
            dead_letters_count=get("dead_letters_count", 0),
            dead_letters_total=get("dead_letters_total"),
            run_id=get("run_id"),
        )
    raise ValueError(_unknown_kind(kind))


def timestamp_of(item: object) -> float | None:
    """The numeric ``timestamp`` of a stored item (model, mapping or object), else ``None``."""
    ts = item.get("timestamp") if isinstance(item, Mapping) else getattr(item, "timestamp", None)
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        return ts
    return None


def select_window(
    items: Sequence[_T], *, since: float | None = None, limit: int | None = None
) -> tuple[_T, ...]:
    """The ``list_*`` window: keep ``timestamp >= since``, then the **last** ``limit`` items.

    Items without a numeric timestamp are excluded once ``since`` is given. ``limit <= 0`` keeps
    nothing (unlike ``items[-0:]``, which would keep everything).
    """
    selected: Sequence[_T] = items
    if since is not None:
        selected = [
            item for item in items if (ts := timestamp_of(item)) is not None and ts >= since
        ]
    if limit is not None:
        if limit <= 0:
            return ()
        if len(selected) > limit:
            selected = selected[len(selected) - limit :]
    return tuple(selected)


def _unknown_kind(kind: object) -> str:
    return f"unknown record kind {kind!r}; expected one of {', '.join(map(repr, KINDS))}"


class ListsRecords:
    """``list_events`` / ``list_audits`` / ``list_dead_letters`` of a backend that reads every
    kind the same way, through its ``_list(kind, limit, since)``."""

    async def _list(self, kind: str, limit: int | None, since: float | None) -> tuple[Any, ...]:
        raise NotImplementedError

    async def list_events(
        self, *, limit: int | None = None, since: float | None = None
    ) -> tuple[PersistedEvent, ...]:
        """Events, oldest first: retention, then ``timestamp >= since``, then the last ``limit``."""
        return await self._list("event", limit, since)

    async def list_audits(
        self, *, limit: int | None = None, since: float | None = None
    ) -> tuple[PersistedAudit, ...]:
        """Audits, oldest first; same rules as :meth:`list_events`."""
        return await self._list("audit", limit, since)

    async def list_dead_letters(
        self, *, limit: int | None = None, since: float | None = None
    ) -> tuple[PersistedDeadLetter, ...]:
        """Dead letters, oldest first; same rules as :meth:`list_events`."""
        return await self._list("dead_letter", limit, since)
