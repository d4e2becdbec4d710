"""Record models and report types of the persistence layer.

The three ``Persisted*`` records are the *system facts* a backend stores. Their field order is
the on-disk key order of the file and Redis backends, so it must never change.

Fields added since Papyra 0.3.0 come last, default to ``None`` and carry :data:`ADDED` in
their metadata: a record is written with such a field only when it is set. A record without
them is therefore written byte for byte as before, and every reader, 0.3.0's included, ignores
keys it does not know.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from papyra._validate import enum_member
from papyra.address import ActorAddress

__all__ = (
    "ADDED",
    "CompactionReport",
    "PersistedAudit",
    "PersistedDeadLetter",
    "PersistedEvent",
    "PersistenceAnomaly",
    "PersistenceAnomalyType",
    "PersistenceRecoveryConfig",
    "PersistenceRecoveryMode",
    "PersistenceRecoveryReport",
    "PersistenceScanReport",
    "RotatingCompactionReport",
    "RotatingRecoveryReport",
)


#: Metadata of the fields added since 0.3.0: optional, written only when not ``None``.
ADDED: Mapping[str, Any] = {"added": True}


@dataclass(frozen=True, slots=True)
class PersistedEvent:
    """A lifecycle fact about one actor (``"ActorStarted"``, ``"ActorCrashed"``, ... or user text).

    The runtime writes ``actor_address`` as the string ``"local:1"``; records read back from a file
    hold whatever was decoded (a string, or a dict for an address written as an object).
    The runtime also sets the added fields: ``run_id`` (the ``ActorSystem.run_id`` of the run
    that emitted the event), ``actor_name`` (the registered name, unset for unnamed actors)
    and ``actor_type`` (the actor's class, ``__qualname__``).
    """

    system_id: str
    actor_address: ActorAddress | str
    event_type: str
    payload: Mapping[str, Any]
    timestamp: float
    run_id: str | None = field(default=None, metadata=ADDED)
    actor_name: str | None = field(default=None, metadata=ADDED)
    actor_type: str | None = field(default=None, metadata=ADDED)


@dataclass(frozen=True, slots=True)
class PersistedAudit:
    """A point-in-time summary of the actor system (counts and registry health).

    ``dead_letters_count`` is the number of dead letters the system retained at the time,
    ``dead_letters_total`` (added) the number it ever recorded; ``run_id`` (added) as in
    :class:`PersistedEvent`.
    """

    system_id: str
    timestamp: float
    total_actors: int
    alive_actors: int
    stopping_actors: int
    restarting_actors: int
    registry_size: int
    registry_orphans: tuple[str, ...]
    registry_dead: tuple[str, ...]
    dead_letters_count: int
    dead_letters_total: int | None = field(default=None, metadata=ADDED)
    run_id: str | None = field(default=None, metadata=ADDED)


@dataclass(frozen=True, slots=True)
class PersistedDeadLetter:
    """A message that could not be delivered; ``payload`` is the undelivered object itself.

    ``run_id`` (added) as in :class:`PersistedEvent`.
    """

    system_id: str
    target: ActorAddress | str | None
    message_type: str
    payload: Any
    timestamp: float
    run_id: str | None = field(default=None, metadata=ADDED)


@dataclass(frozen=True)
class CompactionReport:
    """What a ``compact()`` call did. Byte counts are ``None`` where the backend cannot measure."""

    backend: str
    before_records: int
    after_records: int
    before_bytes: int | None = None
    after_bytes: int | None = None

    @property
    def removed_records(self) -> int:
        """``before_records - after_records``: how many records the compaction dropped."""
        return self.before_records - self.after_records

    @property
    def reclaimed_bytes(self) -> int | None:
        """``before_bytes - after_bytes``, or ``None`` when either side is unknown."""
        if self.before_bytes is None or self.after_bytes is None:
            return None
        return self.before_bytes - self.after_bytes


@dataclass(frozen=True)
class RotatingCompactionReport(CompactionReport):
    """What a ``RotatingFilePersistence.compact()`` call did.

    ``after_records`` and ``after_bytes`` count what is in the set afterwards.
    ``overflow_dropped`` is the number of records that retention kept but that were deleted
    because they did not fit in ``max_files`` files of ``max_bytes`` -- only with
    ``drop_overflow=True``; otherwise the oldest file takes them and it is ``0``. They are part
    of ``removed_records``.
    """

    overflow_dropped: int = 0


class PersistenceAnomalyType(str, Enum):
    """Kinds of damage a ``scan()`` can report.

    The values are the strings ``"1"``..``"5"`` (what ``auto()`` produced on the original ``str``
    enum). They appear in JSON payloads, so they are part of the format; show ``.name`` to people.
    """

    TRUNCATED_LINE = "1"
    PARTIAL_WRITE = "2"
    CORRUPTED_LINE = "3"
    ORPHANED_ROTATED_FILE = "4"
    UNEXPECTED_FILE = "5"  # defined for third-party backends; no built-in backend reports it


@dataclass(frozen=True)
class PersistenceAnomaly:
    """One damaged spot. ``type`` takes the member, its value (``"3"``) or its name in any case
    (``"corrupted_line"``) and holds the member."""

    type: PersistenceAnomalyType
    path: str
    detail: str | None = None

    def __post_init__(self) -> None:
        if type(self.type) is not PersistenceAnomalyType:
            object.__setattr__(
                self, "type", enum_member(PersistenceAnomalyType, self.type, "anomaly type")
            )

    @property
    def line(self) -> int | None:
        """The line number the detail names (the file backends' ``"Invalid JSON at line N"``,
        ``"Line N missing newline"``), else ``None``."""
        return _split_detail(self.detail)[0]

    def headline(self) -> str:
        """One line for people: kind, where, what -- separated by two spaces.

        ``where`` is the path (a file, or a Redis stream key) followed by ``:N`` when the
        detail names a line, so that editors and terminals can jump to it::

            CORRUPTED_LINE  /var/log/facts.ndjson:17  Invalid JSON
            TRUNCATED_LINE  /var/log/facts.ndjson:18  Missing newline
            CORRUPTED_LINE  papyra:local:events  Invalid JSON payload in stream entry
        """
        line, what = _split_detail(self.detail)
        where = self.path if line is None else f"{self.path}:{line}"
        return f"{self.type.name}  {where}  {what or '-'}"


_AT_LINE = re.compile(r"(?P<what>.+?) at line (?P<line>\d+)")
_LINE_FIRST = re.compile(r"[Ll]ine (?P<line>\d+) (?P<what>.+)")


def _split_detail(detail: str | None) -> tuple[int | None, str | None]:
    """``(line, rest)`` of an anomaly detail that names a line; ``(None, detail)`` otherwise."""
    if not detail:
        return None, detail
    match = _AT_LINE.fullmatch(detail) or _LINE_FIRST.fullmatch(detail)
    if match is None:
        return None, detail
    what = match["what"]
    return int(match["line"]), what[:1].upper() + what[1:]


@dataclass(frozen=True)
class PersistenceScanReport:
    """The result of a read-only ``scan()``.

    ``backend`` names the backend: ``"memory"``, ``"json"``, ``"rotating"`` or ``"redis"``.
    """

    backend: str
    anomalies: tuple[PersistenceAnomaly, ...]

    @property
    def has_anomalies(self) -> bool:
        """True when the scan found anything to report."""
        return bool(self.anomalies)


class PersistenceRecoveryMode(Enum):
    """How ``recover()`` treats damage. ``REBUILD`` behaves exactly like ``REPAIR`` everywhere."""

    IGNORE = "ignore"
    REPAIR = "repair"
    QUARANTINE = "quarantine"
    REBUILD = "rebuild"


@dataclass(frozen=True)
class PersistenceRecoveryConfig:
    """What ``recover()`` does. ``mode`` takes the member, its value or its name in any case
    (``"repair"``, ``"REPAIR"``) and holds the member; anything else raises ``ValueError``
    (``TypeError`` if not a string)."""

    mode: PersistenceRecoveryMode = PersistenceRecoveryMode.IGNORE
    quarantine_dir: str | None = None

    def __post_init__(self) -> None:
        if type(self.mode) is not PersistenceRecoveryMode:
            object.__setattr__(
                self, "mode", enum_member(PersistenceRecoveryMode, self.mode, "recovery mode")
            )


@dataclass(frozen=True)
class PersistenceRecoveryReport:
    """The result of ``recover()``: the scan it acted on and the files (or streams) it touched."""

    backend: str
    scan: PersistenceScanReport
    repaired_files: tuple[str, ...] = ()
    quarantined_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class RotatingRecoveryReport(PersistenceRecoveryReport):
    """What a ``RotatingFilePersistence.recover()`` call did.

    ``overflow_dropped``: records that survived the damage and retention but were deleted
    because they did not fit in ``max_files`` files (only with ``drop_overflow=True``, else
    ``0``), as in :class:`RotatingCompactionReport`.
    """

    overflow_dropped: int = 0
