"""Raw ASGI endpoints: ``healthz`` and ``metrics``.

Both take the ASGI triple plus keyword-only options, answer with exactly two messages
(``http.response.start`` with ``content-type`` and ``content-length``, then one
``http.response.body``) and return without sending anything for a non-HTTP scope. JSON bodies
come from :data:`papyra.serializers.serializer` (compact, strict JSON). ``docs/web.md`` lists the
payloads and status codes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from papyra.contrib.asgi.types import JsonDict
from papyra.persistence.startup import (
    PersistenceStartupConfig,
    PersistenceStartupMode,
    StartupStatus,
    run_startup_check,
)
from papyra.serializers import serializer

if TYPE_CHECKING:
    from papyra.persistence.models import PersistenceAnomaly
    from papyra.system import ActorSystem

__all__ = (
    "JSON_TYPE",
    "OPENMETRICS_TYPE",
    "TEXT_TYPE",
    "Receive",
    "Scope",
    "Send",
    "healthz",
    "metrics",
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_SCAN = "scan"
_STARTUP_CHECK = ("startup-check", "startup_check")
# Statuses of run_startup_check after which the service should not receive traffic.
_UNHEALTHY = (StartupStatus.FAILED, StartupStatus.RECOVERY_INCOMPLETE)


async def _respond(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode("latin-1")),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _respond_json(send: Send, status: int, payload: Any) -> None:
    await _respond(send, status, serializer.dumps(payload).encode("utf-8"), JSON_TYPE)


def _anomalies(anomalies: Iterable[PersistenceAnomaly]) -> list[JsonDict]:
    return [
        {"type": _value(a.type), "path": a.path, "detail": a.detail} for a in anomalies
    ]


def _value(obj: Any) -> Any:
    """An enum member's value (``PersistenceAnomalyType.CORRUPTED_LINE`` -> ``"3"``), else
    ``obj``: modes and types may be given as members or as their plain values."""
    return getattr(obj, "value", obj)


def _report(report: Any) -> Any:
    if report is None:
        return None
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        return dataclasses.asdict(report)
    return None


async def healthz(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    system: ActorSystem,
    mode: str = "scan",
    startup_config: PersistenceStartupConfig | None = None,
) -> None:
    """Report whether the system's persistence is healthy.

    ``mode`` (a string, or an enum whose value is one):

    * ``"scan"``: scan the backend; 200 when clean (or when the backend cannot scan:
      ``"scan_supported": false``), 503 with the anomalies otherwise.
    * ``"startup-check"`` (or ``"startup_check"``): run the startup check of ``startup_config``
      (default: ``FAIL_ON_ANOMALY``) -- the same procedure as ``ActorSystem.start()``. Clean:
      200. Anomalies: ``FAIL_ON_ANOMALY`` -> 503; ``RECOVER`` -> recover, scan again, report
      ``"recovery"`` and ``"post_anomalies"``, 503 if anomalies remain; ``IGNORE`` /
      ``SCAN_ONLY`` -> 200.
    * anything else: 400, ``{"ok": false, "error": "invalid mode: '<mode>'"}``.

    An exception while checking answers 500 with ``"error"`` (its class name) and
    ``"message"`` (``str(exc)``): nothing is raised to the server. Each request runs the
    check anew, in the server's task for that request, on the event loop the system runs on
    (``RECOVER`` then repairs the log from that request). A scope that is not ``http``
    (``lifespan``, ``websocket``) is ignored: no answer is sent.
    """
    if scope.get("type") != "http":
        return
    try:
        status, payload = await _health(system, mode, startup_config)
    except Exception as exc:
        status, payload = 500, {"ok": False, "error": type(exc).__name__, "message": str(exc)}
    await _respond_json(send, status, payload)


async def _health(
    system: ActorSystem, mode: Any, startup_config: PersistenceStartupConfig | None
) -> tuple[int, JsonDict]:
    backend = system.persistence
    name = _value(mode)
    payload: JsonDict = {"ok": True, "mode": name, "backend": type(backend).__name__}
    if name == _SCAN:
        scan = await backend.scan()
        if scan is None:
            payload["scan_supported"] = False
            return 200, payload
        payload["scan_supported"] = True
        payload["anomalies"] = _anomalies(scan.anomalies)
        if scan.anomalies:
            payload["ok"] = False
            return 503, payload
        return 200, payload
    if name in _STARTUP_CHECK:
        config = startup_config or PersistenceStartupConfig(
            mode=PersistenceStartupMode.FAIL_ON_ANOMALY
        )
        outcome = await run_startup_check(backend, config.mode, config.recovery)
        payload["anomalies"] = _anomalies(outcome.anomalies)
        if outcome.status in (StartupStatus.RECOVERED, StartupStatus.RECOVERY_INCOMPLETE):
            payload["recovery"] = _report(outcome.recovery)
            payload["post_anomalies"] = _anomalies(outcome.remaining)
        if outcome.status in _UNHEALTHY:
            payload["ok"] = False
            return 503, payload
        return 200, payload
    return 400, {"ok": False, "error": f"invalid mode: {name!r}"}


def _snapshot(system: ActorSystem) -> dict[str, Any]:
    """The backend's counters, or ``{}`` when it has none or they cannot be read."""
    try:
        snap = system.persistence.metrics.snapshot()
        return dict(snap) if isinstance(snap, Mapping) else {}
    except Exception:
        return {}


def _text(snap: Mapping[str, Any]) -> str:
    lines = ["Persistence Metrics", "-" * 19]
    if snap:
        lines.extend(f"{key}: {value}" for key, value in snap.items())
    else:
        lines.append("metrics: <unavailable>")
    return "\n".join(lines)


async def metrics(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    system: ActorSystem,
    format: str = "json",
) -> None:
    """Answer with the persistence backend's counters (``metrics.snapshot()``).

    * ``"json"`` (and any unknown format): 200, the snapshot as a JSON object (``{}`` when
      the backend has no metrics).
    * ``"text"``: 200, ``text/plain``: ``Persistence Metrics``, a rule, one ``key: value`` a
      line (``metrics: <unavailable>`` without metrics).
    * ``"prometheus"``: 200, OpenMetrics text from ``papyra.metrics.prometheus_text(system)``
      (the runtime and persistence metrics, docs/observability.md); 500 (like ``healthz``)
      when rendering raises.

    A fresh snapshot per request, taken in the server's task for that request; nothing is
    raised to the server. A scope that is not ``http`` is ignored: no answer is sent.
    """
    if scope.get("type") != "http":
        return
    kind = _value(format)
    if kind == "prometheus":
        await _prometheus(send, system)
    elif kind == "text":
        await _respond(send, 200, _text(_snapshot(system)).encode("utf-8"), TEXT_TYPE)
    else:
        await _respond_json(send, 200, _snapshot(system))


async def _prometheus(send: Send, system: ActorSystem) -> None:
    from papyra.metrics import prometheus_text

    try:
        body = prometheus_text(system).encode("utf-8")
    except Exception as exc:
        await _respond_json(
            send, 500, {"ok": False, "error": type(exc).__name__, "message": str(exc)}
        )
        return
    await _respond(send, 200, body, OPENMETRICS_TYPE)
