"""OpenTelemetry traces of messages: ``ActorSystem(tracing=True)`` (extra ``papyra[otel]``).

With tracing on, every message an actor handles gets a span, and so does every ``ask``:

* ``ask <destination>`` (kind ``PRODUCER``) in the asking task, around the whole ask;
* ``process <destination>`` (kind ``CONSUMER``) in the actor's task, around ``receive``.

The sender's context travels with the message (``tell`` and ``ask`` capture the current one),
so the span of a handled message is a child of whatever was current where it was sent: a
chain ``tell -> ask -> tell`` through three actors is one trace. Attributes follow the
OpenTelemetry messaging conventions: ``messaging.system`` = ``"papyra"``,
``messaging.operation.type`` (``send`` / ``process``), ``messaging.operation.name`` (``ask`` /
``process``), ``messaging.destination.name`` (the actor's name, else its address), plus
``papyra.actor.address``, ``papyra.actor.type`` and ``papyra.message.type``. A ``receive``
or ``ask`` that raises marks its span as an error and records the exception.

Without tracing nothing of OpenTelemetry is imported and the send and receive paths are the
plain ones: the system hands out :class:`TracedActorRef` only when tracing is on.
Only ``opentelemetry-api`` is needed; exporting is the application's tracer provider's job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from papyra._envelope import STOP, Traced, untraced
from papyra.messages import ProxyCall, ProxyGetAttr, ProxySetAttr
from papyra.ref import ActorRef

if TYPE_CHECKING:
    from papyra._speedups.dispatch_py import ActorCell

__all__ = ("TracedActorRef", "Tracing")

_NOT_TRACED = (ProxyCall, ProxyGetAttr, ProxySetAttr, Traced)


class Tracing:
    """The tracer of one actor system, and what its refs and its host call.

    ``provider``: an OpenTelemetry ``TracerProvider`` or ``None`` for the global one. Made by
    ``ActorSystem(tracing=...)``, not by hand.

    :raises RuntimeError: ``opentelemetry-api`` is not installed (the message names the extra).
    """

    def __init__(self, system_id: str, provider: Any = None) -> None:
        try:
            from opentelemetry import context, trace
        except ImportError:
            raise RuntimeError(
                "ActorSystem(tracing=...) needs OpenTelemetry: pip install papyra[otel] "
                "(or pip install opentelemetry-api)"
            ) from None
        from papyra import __version__

        self.system_id = system_id
        self._context = context
        self._trace = trace
        self.tracer = trace.get_tracer("papyra", __version__, tracer_provider=provider)

    def _attributes(self, cell: ActorCell | None, address: Any, message: Any) -> dict[str, Any]:
        name = cell.name if cell is not None else None
        attrs: dict[str, Any] = {
            "messaging.system": "papyra",
            "messaging.destination.name": name or str(address),
            "papyra.system.id": self.system_id,
            "papyra.actor.address": str(address),
            "papyra.message.type": type(message).__name__,
        }
        if cell is not None and cell.actor_type:
            attrs["papyra.actor.type"] = cell.actor_type
        return attrs

    def wrap(self, message: Any) -> Any:
        """``message`` with the current context, unless it is a control message."""
        if message is STOP or type(message) in _NOT_TRACED:
            return message
        return Traced(message, self._context.get_current())

    async def process(self, cell: ActorCell, traced: Traced) -> Any:
        """Handle ``traced.message`` with the actor's ``receive`` inside a ``process`` span."""
        message = traced.message
        attrs = self._attributes(cell, cell.address, message)
        attrs["messaging.operation.type"] = "process"
        attrs["messaging.operation.name"] = "process"
        with self.tracer.start_as_current_span(
            f"process {attrs['messaging.destination.name']}",
            context=traced.context,
            kind=self._trace.SpanKind.CONSUMER,
            attributes=attrs,
        ):
            return await cell.actor.receive(message)


class TracedActorRef(ActorRef):
    """The ref a system with tracing hands out: ``tell`` and ``ask`` carry the sender's
    context to the actor, ``ask`` has a span of its own. Used exactly like :class:`ActorRef`."""

    def _tracing(self) -> Tracing | None:
        cell = self._cell
        tracing: Tracing | None = None if cell is None else cell.host.tracing
        return tracing

    def _refuse(self, message: Any, expects_reply: bool) -> Any:
        return super()._refuse(untraced(message), expects_reply)

    async def tell(self, message: Any) -> None:
        """:meth:`ActorRef.tell <papyra.ref.ActorRef.tell>`, carrying the caller's
        OpenTelemetry context to the actor (its ``process`` span is a child of it).

        :raises ActorStopped: as ``ActorRef.tell``.
        """
        tracing = self._tracing()
        await super().tell(message if tracing is None else tracing.wrap(message))

    send = tell

    async def ask(self, message: Any, *, timeout: float | None = None) -> Any:
        """:meth:`ActorRef.ask <papyra.ref.ActorRef.ask>` inside an ``ask <destination>`` span
        of the caller's task, carrying that context to the actor. A span that ends with an
        exception is marked as an error.

        :raises AskTimeout: as ``ActorRef.ask``; and so for its other exceptions.
        :raises ActorStopped: as ``ActorRef.ask``.
        """
        tracing = self._tracing()
        if tracing is None or message is STOP or type(message) in _NOT_TRACED:
            return await super().ask(message, timeout=timeout)
        attrs = tracing._attributes(self._cell, self._address, message)
        attrs["messaging.operation.type"] = "send"
        attrs["messaging.operation.name"] = "ask"
        with tracing.tracer.start_as_current_span(
            f"ask {attrs['messaging.destination.name']}",
            kind=tracing._trace.SpanKind.PRODUCER,
            attributes=attrs,
        ):
            return await super().ask(tracing.wrap(message), timeout=timeout)
