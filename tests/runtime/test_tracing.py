"""``ActorSystem(tracing=...)``: OpenTelemetry spans per handled message and per ask, one trace
across actors, recorded with the SDK's in-memory exporter."""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from papyra.actor import Actor
from papyra.ref import ActorRef
from papyra.system import ActorSystem
from papyra.tracing import TracedActorRef

pytestmark = pytest.mark.anyio


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp


class Last(Actor):
    """End of the chain: records what it got and opens the test's gate."""

    def __init__(self, done: anyio.Event, seen: list[Any]) -> None:
        self.done = done
        self.seen = seen

    async def receive(self, message: Any) -> None:
        self.seen.append(message)
        self.done.set()


class Middle(Actor):
    """Answers an ask by telling ``last``."""

    def __init__(self, last: ActorRef) -> None:
        self.last = last

    async def receive(self, message: Any) -> str:
        await self.last.tell(("from middle", message))
        return "ok"


class First(Actor):
    """Told a message, asks ``middle``."""

    def __init__(self, middle: ActorRef) -> None:
        self.middle = middle

    async def receive(self, message: Any) -> None:
        assert await self.middle.ask(message) == "ok"


class Boom(Actor):
    async def receive(self, message: Any) -> None:
        raise ValueError("no")


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {s.name: s for s in spans}


async def test_tell_ask_tell_forms_one_trace(
    impl: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    done, seen = anyio.Event(), []
    tracer = provider.get_tracer("test")
    async with ActorSystem(tracing=provider, _dispatch=impl.dispatch) as system:
        last = system.spawn(partial(Last, done, seen), name="last")
        middle = system.spawn(partial(Middle, last), name="middle")
        first = system.spawn(partial(First, middle), name="first")
        assert isinstance(first, TracedActorRef)
        with tracer.start_as_current_span("request"):
            await first.tell("order-42")
        with anyio.fail_after(5):
            await done.wait()
    assert seen == [("from middle", "order-42")]  # actors see their messages, never wrappers
    spans = by_name(exporter.get_finished_spans())
    assert set(spans) == {
        "request", "process first", "ask middle", "process middle", "process last",
    }
    root = spans["request"]
    assert {s.context.trace_id for s in spans.values()} == {root.context.trace_id}

    def parent(name: str) -> str:
        parent_ctx = spans[name].parent
        assert parent_ctx is not None
        return next(n for n, s in spans.items() if s.context.span_id == parent_ctx.span_id)

    assert parent("process first") == "request"
    assert parent("ask middle") == "process first"
    assert parent("process middle") == "ask middle"
    assert parent("process last") == "process middle"

    process, ask = spans["process middle"], spans["ask middle"]
    assert (process.kind, ask.kind) == (SpanKind.CONSUMER, SpanKind.PRODUCER)
    assert process.attributes is not None and ask.attributes is not None
    assert dict(process.attributes) == {
        "messaging.system": "papyra",
        "messaging.destination.name": "middle",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "papyra.system.id": "local",
        "papyra.actor.address": "local:2",
        "papyra.actor.type": "Middle",
        "papyra.message.type": "str",
    }
    operation = ("messaging.operation.type", "messaging.operation.name")
    assert tuple(ask.attributes[key] for key in operation) == ("send", "ask")


async def test_a_failing_receive_marks_both_spans(
    impl: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with ActorSystem(tracing=provider, log_crashes=False, _dispatch=impl.dispatch) as system:
        ref = system.spawn(Boom)
        with pytest.raises(ValueError, match="no"):
            await ref.ask("x")
    spans = by_name(exporter.get_finished_spans())
    for name in ("ask local:1", "process local:1"):
        assert spans[name].status.status_code is StatusCode.ERROR
        assert [e.name for e in spans[name].events] == ["exception"]


async def test_dead_letters_and_control_messages_are_not_wrapped(
    impl: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with ActorSystem(tracing=provider, _dispatch=impl.dispatch) as system:
        done, seen = anyio.Event(), []
        ref = system.spawn(partial(Last, done, seen))
        assert await ref.proxy().seen == []  # a proxy message is not traced
        await system.stop(ref)
        with pytest.raises(Exception, match="not running"):
            await ref.tell("late")
        assert [d.message for d in system.dead_letters.messages] == ["late"]
    assert [s.name for s in exporter.get_finished_spans()] == []


async def test_tracing_argument_is_checked() -> None:
    with pytest.raises(TypeError, match="tracing must be True, False or an OpenTelemetry"):
        ActorSystem(tracing="yes")


def test_without_tracing_nothing_of_opentelemetry_is_imported() -> None:
    code = (
        "import anyio, sys\n"
        "from papyra.actor import Actor\n"
        "from papyra.system import ActorSystem\n"
        "class A(Actor):\n"
        "    async def receive(self, m): return m\n"
        "async def main():\n"
        "    async with ActorSystem() as s:\n"
        "        r = s.spawn(A)\n"
        "        assert type(r).__name__ == 'ActorRef'\n"
        "        assert await r.ask(1) == 1\n"
        "anyio.run(main)\n"
        "assert not [m for m in sys.modules if m.startswith(('opentelemetry', 'papyra.tracing'))]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tracing_without_opentelemetry_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None  # as if opentelemetry-api were not installed\n"
        "from papyra.system import ActorSystem\n"
        "try:\n"
        "    ActorSystem(tracing=True)\n"
        "except RuntimeError as exc:\n"
        "    assert 'pip install papyra[otel]' in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('no error')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
