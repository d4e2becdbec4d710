"""Runtime metrics: a typed snapshot, OpenMetrics text, and a ``prometheus_client`` collector.

The system keeps its counters as it runs, at almost no cost: the message loop adds one to an
integer of the actor's cell per handled message, an ``ask`` reads the clock twice, and
everything else (spawns, terminations, crashes, restarts, dead letters) is counted where it
already happens, on rare paths. Gauges (actors alive, mailbox depths) are computed when a
snapshot is taken. docs/observability.md lists every metric.

* :meth:`papyra.system.ActorSystem.metrics` returns a :class:`RuntimeMetrics`;
* :func:`prometheus_text` renders it as OpenMetrics text (:data:`OPENMETRICS_CONTENT_TYPE`);
* :class:`PapyraCollector` exposes it to an existing ``prometheus_client`` registry (the
  ``papyra[prometheus]`` extra). Importing this module never imports ``prometheus_client``.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from papyra.system import ActorSystem

__all__ = (
    "ASK_LATENCY_BUCKETS",
    "OPENMETRICS_CONTENT_TYPE",
    "SUPERVISION_DECISIONS",
    "AskStats",
    "LatencyHistogram",
    "PapyraCollector",
    "RuntimeMetrics",
    "prometheus_text",
)

#: Upper bounds (seconds, inclusive) of the ask latency histogram; a last bucket takes the rest.
ASK_LATENCY_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)

#: What supervision did with a failure: the keys of ``RuntimeMetrics.supervision_decisions``.
SUPERVISION_DECISIONS: tuple[str, ...] = ("restart", "stop", "escalate", "ignore")

#: The content type of :func:`prometheus_text`'s output.
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


class AskStats:
    """The asks of one system, as ``ActorRef.ask`` records them (one per system).

    ``observe`` adds one ask that ended, whatever its outcome, with its duration in seconds;
    ``errors`` counts the asks that raised instead of returning (an ``AskTimeout`` among
    them), ``timeouts`` those that raised ``AskTimeout``. No lock: everything runs on the
    system's event loop.
    """

    __slots__ = ("bounds", "counts", "errors", "sum", "timeouts")

    def __init__(self, bounds: tuple[float, ...] = ASK_LATENCY_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.errors = 0
        self.timeouts = 0

    def observe(self, seconds: float) -> None:
        """Count one ask that lasted ``seconds``, in the first bucket whose bound is >= it."""
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds

    def snapshot(self) -> LatencyHistogram:
        """A frozen copy of the histogram as it is now."""
        return LatencyHistogram(self.bounds, tuple(self.counts), self.sum)


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """A histogram of durations in seconds.

    ``counts[i]`` is the number of observations ``<= bounds[i]`` and above the previous
    bound; the last count (``len(bounds)`` is its index) takes what is above the largest bound.
    """

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    sum: float

    @property
    def count(self) -> int:
        """The number of observations."""
        return sum(self.counts)

    def cumulative(self) -> tuple[tuple[float, int], ...]:
        """``(upper bound, observations <= it)`` per bucket, ending with ``(inf, count)``."""
        total = 0
        pairs = []
        for bound, n in zip((*self.bounds, math.inf), self.counts, strict=True):
            total += n
            pairs.append((bound, total))
        return tuple(pairs)

    def as_dict(self) -> dict[str, Any]:
        """``bounds``, ``counts``, ``count`` and ``sum`` as plain JSON-ready values."""
        return {
            "bounds": list(self.bounds),
            "counts": list(self.counts),
            "count": self.count,
            "sum": self.sum,
        }


@dataclass(frozen=True, slots=True)
class RuntimeMetrics:
    """A point-in-time snapshot of one system's metrics (``ActorSystem.metrics()``).

    Counters count from the system's construction and never decrease (the persistence
    counters are the backend's own: ``PersistenceMetrics.reset()`` zeroes some of them).
    Gauges (``actors_alive``, ``messages_queued``, ``mailbox_depth_max``) describe the moment
    of the snapshot.
    """

    system_id: str
    #: Actors spawned (a spawn whose factory raised is not one).
    actors_spawned: int
    #: Actors whose first instance started (``ActorStarted``); restarts are not counted here.
    actors_started: int
    #: Actors that terminated (``ActorStopped`` emitted).
    actors_stopped: int
    #: Gauge: actors spawned and not terminated yet (stopping ones included).
    actors_alive: int
    #: Messages handled by ``receive`` or as proxy calls, failed ones included (not ``STOP``).
    messages_processed: int
    #: Gauge: messages waiting in the mailboxes of the actors the system still holds.
    messages_queued: int
    #: Gauge: the deepest of those mailboxes.
    mailbox_depth_max: int
    #: Asks that ended, whatever the outcome (the count of ``ask_latency``).
    asks: int
    #: Asks that raised instead of returning a reply (timeouts included).
    ask_errors: int
    #: Asks that raised ``AskTimeout``.
    ask_timeouts: int
    #: How long asks took, from the call to its return or exception.
    ask_latency: LatencyHistogram
    #: Failures raised by actor code (``receive``, ``on_start``); an escalation is not another.
    crashes: int
    #: Instances replaced by a restart that succeeded (``ActorRestarted``).
    restarts: int
    #: Failures supervised, by what supervision did: ``restart``, ``stop``, ``escalate``,
    #: ``ignore`` (a parent's decision). A failure escalated to a parent counts again there.
    supervision_decisions: Mapping[str, int]
    #: Dead letters recorded (``system.dead_letters.total``).
    dead_letters: int
    #: Lifecycle events emitted (``system.events_total``).
    events: int
    #: The backend's own counters (``backend.metrics.snapshot()``; empty without them).
    persistence: Mapping[str, int]

    def as_dict(self) -> dict[str, Any]:
        """The snapshot as plain JSON-ready values (nested dicts for the mappings)."""
        return {
            "system_id": self.system_id,
            "actors_spawned": self.actors_spawned,
            "actors_started": self.actors_started,
            "actors_stopped": self.actors_stopped,
            "actors_alive": self.actors_alive,
            "messages_processed": self.messages_processed,
            "messages_queued": self.messages_queued,
            "mailbox_depth_max": self.mailbox_depth_max,
            "asks": self.asks,
            "ask_errors": self.ask_errors,
            "ask_timeouts": self.ask_timeouts,
            "ask_latency": self.ask_latency.as_dict(),
            "crashes": self.crashes,
            "restarts": self.restarts,
            "supervision_decisions": dict(self.supervision_decisions),
            "dead_letters": self.dead_letters,
            "events": self.events,
            "persistence": dict(self.persistence),
        }


# -- exposition ---------------------------------------------------------------------------------

# (family name, type, unit, help, RuntimeMetrics attribute) of the unlabelled scalar families.
_SCALARS: tuple[tuple[str, str, str, str, str], ...] = (
    ("papyra_actors_spawned", "counter", "", "Actors spawned.", "actors_spawned"),
    ("papyra_actors_started", "counter", "", "Actors whose first instance started.",
     "actors_started"),
    ("papyra_actors_stopped", "counter", "", "Actors that terminated.", "actors_stopped"),
    ("papyra_actors_alive", "gauge", "", "Actors spawned and not terminated yet.",
     "actors_alive"),
    ("papyra_messages_processed", "counter", "",
     "Messages handled by actors, failed ones included.", "messages_processed"),
    ("papyra_mailbox_queued", "gauge", "", "Messages waiting in all mailboxes.",
     "messages_queued"),
    ("papyra_mailbox_depth_max", "gauge", "", "Messages waiting in the deepest mailbox.",
     "mailbox_depth_max"),
    ("papyra_ask_errors", "counter", "", "Asks that raised instead of returning a reply.",
     "ask_errors"),
    ("papyra_ask_timeouts", "counter", "", "Asks that raised AskTimeout.", "ask_timeouts"),
    ("papyra_actor_crashes", "counter", "", "Failures raised by actor code.", "crashes"),
    ("papyra_actor_restarts", "counter", "", "Actor instances replaced by a restart.",
     "restarts"),
    ("papyra_dead_letters", "counter", "", "Messages that could not be delivered.",
     "dead_letters"),
    ("papyra_events", "counter", "", "Lifecycle events emitted.", "events"),
)

# Persistence counter -> (family name, unit, help). Other keys a backend reports are gauges.
_PERSISTENCE: dict[str, tuple[str, str, str]] = {
    "records_written": ("papyra_persistence_records_written", "",
                        "Records the backend wrote."),
    "bytes_written": ("papyra_persistence_written_bytes", "bytes",
                      "Bytes the backend wrote (as encoded)."),
    "scans": ("papyra_persistence_scans", "", "Scans of the persisted log started."),
    "anomalies_detected": ("papyra_persistence_anomalies_detected", "",
                           "Anomalies the scans reported."),
    "recoveries": ("papyra_persistence_recoveries", "", "Recoveries started."),
    "compactions": ("papyra_persistence_compactions", "", "Compactions started."),
    "write_errors": ("papyra_persistence_write_errors", "", "Writes that failed."),
    "scan_errors": ("papyra_persistence_scan_errors", "", "Scans that failed."),
    "recovery_errors": ("papyra_persistence_recovery_errors", "", "Recoveries that failed."),
    "compaction_errors": ("papyra_persistence_compaction_errors", "",
                          "Compactions that failed."),
}

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")

_Sample = tuple[str, dict[str, str], float]


@dataclass(frozen=True, slots=True)
class _Family:
    name: str
    kind: str  # counter, gauge or histogram
    unit: str
    help: str
    samples: tuple[_Sample, ...]  # (full sample name, labels, value)


def _families(m: RuntimeMetrics) -> Iterator[_Family]:
    """Every metric family of the snapshot ``m``, in exposition order."""
    system = {"system": m.system_id}
    for name, kind, unit, text, attr in _SCALARS:
        value = getattr(m, attr)
        sample = f"{name}_total" if kind == "counter" else name
        yield _Family(name, kind, unit, text, ((sample, system, value),))
    decisions = tuple(
        ("papyra_supervision_decisions_total", {**system, "decision": key}, n)
        for key, n in m.supervision_decisions.items()
    )
    yield _Family(
        "papyra_supervision_decisions", "counter", "",
        "Failures supervised, by what supervision did.", decisions,
    )
    name = "papyra_ask_duration_seconds"
    samples: list[_Sample] = [
        (f"{name}_bucket", {**system, "le": _number(bound)}, n)
        for bound, n in m.ask_latency.cumulative()
    ]
    samples.append((f"{name}_count", system, m.ask_latency.count))
    samples.append((f"{name}_sum", system, m.ask_latency.sum))
    yield _Family(
        name, "histogram", "seconds", "How long asks took, whatever their outcome.",
        tuple(samples),
    )
    for key, value in m.persistence.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        known = _PERSISTENCE.get(key)
        if known is not None:
            name, unit, text = known
            yield _Family(name, "counter", unit, text, ((f"{name}_total", system, value),))
        elif key and set(key) <= _NAME_CHARS and not key[0].isdigit():
            name = f"papyra_persistence_{key}"
            text = f"The backend's {key!r} metric."
            yield _Family(name, "gauge", "", text, ((name, system, value),))


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _snapshot_of(system: ActorSystem) -> RuntimeMetrics:
    metrics = getattr(system, "metrics", None)
    if not callable(metrics):
        raise TypeError(f"expected an ActorSystem, not {type(system).__name__}.")
    snapshot = metrics()
    if not isinstance(snapshot, RuntimeMetrics):
        raise TypeError(f"expected an ActorSystem, not {type(system).__name__}.")
    return snapshot


def prometheus_text(system: ActorSystem) -> str:
    """A snapshot of ``system``'s metrics as OpenMetrics text, ending with ``# EOF``.

    Serve it with :data:`OPENMETRICS_CONTENT_TYPE`. Every sample has a ``system`` label (the
    system id), so several systems can share a scrape. Raises ``TypeError`` when ``system``
    is not an ``ActorSystem``; works on a system that is not started or already closed.
    """
    lines: list[str] = []
    for family in _families(_snapshot_of(system)):
        lines.append(f"# HELP {family.name} {_escape(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        if family.unit:
            lines.append(f"# UNIT {family.name} {family.unit}")
        for sample, labels, value in family.samples:
            text = ",".join(f'{key}="{_escape(val)}"' for key, val in labels.items())
            lines.append(f"{sample}{{{text}}} {_number(value)}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


class PapyraCollector:
    """A ``prometheus_client`` collector of one system's metrics (the ``papyra[prometheus]``
    extra)::

        from prometheus_client import REGISTRY
        REGISTRY.register(PapyraCollector(system))

    Each scrape takes a fresh snapshot (``system.metrics()``); the families and names are
    those of :func:`prometheus_text`. ``prometheus_client`` calls :meth:`collect` in the
    thread that serves the scrape (``start_http_server`` serves from a thread of its own),
    and once at ``register``.

    :raises ImportError: ``prometheus_client`` is not installed.
    :raises TypeError: ``system`` is not an ``ActorSystem``.
    """

    def __init__(self, system: ActorSystem) -> None:
        try:
            from prometheus_client.metrics_core import Metric
        except ImportError as exc:
            raise ImportError(
                "PapyraCollector needs prometheus_client: pip install 'papyra[prometheus]'."
            ) from exc
        _snapshot_of(system)  # refuse anything but a system now, not at the first scrape
        self._system = system
        self._metric = Metric

    def collect(self) -> Iterator[Any]:
        """The ``prometheus_client`` metric families of a fresh snapshot."""
        for family in _families(_snapshot_of(self._system)):
            metric = self._metric(family.name, family.help, family.kind, family.unit)
            for sample, labels, value in family.samples:
                metric.add_sample(sample, labels, value)
            yield metric
