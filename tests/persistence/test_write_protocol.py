"""The write protocol: ``record_nowait`` / ``flush``, the outbox behind the defaults, ``as_writer``.

The last section, "Any backend", is written to be copied: replace the factories in
``BACKENDS`` by your own backend's and it checks the write protocol and the ordering contract
against it (see "Writing a backend" in docs/persistence.md).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.lowlevel
import pytest

from papyra.persistence import InMemoryPersistence, JsonFilePersistence
from papyra.persistence._outbox import Outbox, RecordWriter, as_writer
from papyra.persistence.base import PersistenceBackend
from papyra.persistence.contract import PersistenceBackendContract, backend_capabilities
from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent
from tests.redis_server import redis_backend

pytestmark = pytest.mark.anyio

#: Upper bound for a step that must not hang; it turns a deadlock into a failure.
DEADLINE = 5


def event(name: str, ts: float = 1.0) -> PersistedEvent:
    return PersistedEvent("local", "local:1", name, {}, ts)


def audit(ts: float = 1.0) -> PersistedAudit:
    return PersistedAudit("local", ts, 0, 0, 0, 0, 0, (), (), 0)


def dead_letter(name: str, ts: float = 1.0) -> PersistedDeadLetter:
    return PersistedDeadLetter("local", "local:2", name, None, ts)


def label(record: Any) -> str:
    if isinstance(record, PersistedEvent):
        return f"event:{record.event_type}"
    if isinstance(record, PersistedDeadLetter):
        return f"dead_letter:{record.message_type}"
    if isinstance(record, PersistedAudit):
        return "audit"
    return repr(record)


class Store:
    """A fake store whose writes can be made to block or fail, recording what arrived.

    ``store.block(name)`` makes the write of the event/dead letter called ``name`` wait until
    ``store.release(name)``; ``store.entered[name]`` is set when that write has begun.
    ``store.fail[name] = exc`` makes it raise.
    """

    def __init__(self) -> None:
        self.written: list[str] = []
        self.fail: dict[str, Exception] = {}
        self.gates: dict[str, anyio.Event] = {}
        self.entered: dict[str, anyio.Event] = {}

    def block(self, name: str) -> None:
        self.gates[name] = anyio.Event()
        self.entered[name] = anyio.Event()

    def release(self, name: str) -> None:
        self.gates[name].set()

    async def write(self, record: Any) -> None:
        name = label(record)
        short = name.split(":", 1)[-1]
        if short in self.gates:
            self.entered[short].set()
            await self.gates[short].wait()
        else:
            await anyio.lowlevel.checkpoint()
        if short in self.fail:
            raise self.fail[short]
        self.written.append(name)


class ListBackend(PersistenceBackend):
    """A minimal third-party backend: only the three ``record_*`` coroutines (and reads)."""

    def __init__(self, store: Store | None = None) -> None:
        super().__init__()
        self.store = Store() if store is None else store
        self.events: list[Any] = []

    async def record_event(self, event: Any) -> None:
        await self.store.write(event)
        self.events.append(event)

    async def record_audit(self, report: Any) -> None:
        await self.store.write(report)

    async def record_dead_letter(self, dead_letter: Any) -> None:
        await self.store.write(dead_letter)

    async def list_events(self, *, limit: int | None = None, since: float | None = None) -> Any:
        return tuple(self.events)


class DuckBackend:
    """A duck-typed backend: not a ``PersistenceBackend``, no ``record_nowait`` / ``flush``."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = Store() if store is None else store
        self.events: list[Any] = []

    async def record_event(self, event: Any) -> None:
        await self.store.write(event)
        self.events.append(event)

    async def record_audit(self, report: Any) -> None:
        await self.store.write(report)

    async def record_dead_letter(self, dead_letter: Any) -> None:
        await self.store.write(dead_letter)

    async def list_events(self, *, limit: int | None = None, since: float | None = None) -> Any:
        return tuple(self.events)

    async def aclose(self) -> None: ...


class SlottedDuck:
    """A duck-typed backend that refuses new attributes."""

    __slots__ = ("store",)

    def __init__(self) -> None:
        self.store = Store()

    async def record_event(self, event: Any) -> None:
        await self.store.write(event)

    async def record_audit(self, report: Any) -> None:
        await self.store.write(report)

    async def record_dead_letter(self, dead_letter: Any) -> None:
        await self.store.write(dead_letter)


@dataclasses.dataclass(frozen=True)
class FrozenDuck:
    store: Store = dataclasses.field(default_factory=Store)

    async def record_event(self, event: Any) -> None:
        await self.store.write(event)

    async def record_audit(self, report: Any) -> None:
        await self.store.write(report)

    async def record_dead_letter(self, dead_letter: Any) -> None:
        await self.store.write(dead_letter)


# -- the outbox -------------------------------------------------------------------------------


async def test_outbox_writes_in_fifo_order_through_each_kinds_method() -> None:
    backend = DuckBackend()
    outbox = Outbox(backend)
    outbox.record_nowait("event", event("a"))
    outbox.record_nowait("audit", audit())
    outbox.record_nowait("dead_letter", dead_letter("b"))
    outbox.record_nowait("event", event("c"))
    assert len(outbox) == 4
    assert backend.store.written == []  # nothing is written before the flush
    await outbox.flush()
    assert backend.store.written == ["event:a", "audit", "dead_letter:b", "event:c"]
    assert len(outbox) == 0 and outbox.idle


def test_record_nowait_is_synchronous_and_rejects_unknown_kinds_at_the_call() -> None:
    outbox = Outbox(DuckBackend())
    assert not inspect.iscoroutinefunction(outbox.record_nowait)
    outbox.record_nowait("event", event("a"))
    for kind in ("events", "Event", "", None, 1):
        with pytest.raises(ValueError, match="unknown record kind"):
            outbox.record_nowait(kind, event("x"))  # type: ignore[arg-type]
    assert len(outbox) == 1


async def test_records_queued_during_a_flush_keep_their_place_for_the_next_one() -> None:
    backend = DuckBackend()
    backend.store.block("a")
    outbox = Outbox(backend)
    outbox.record_nowait("event", event("a"))
    outbox.record_nowait("event", event("b"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(outbox.flush)
        await backend.store.entered["a"].wait()
        outbox.record_nowait("event", event("c"))
        outbox.record_nowait("dead_letter", dead_letter("d"))
        backend.store.release("a")
    # The flush wrote what was queued when it started; the late records wait, in order.
    assert backend.store.written == ["event:a", "event:b"]
    assert len(outbox) == 2
    await outbox.flush()
    assert backend.store.written == ["event:a", "event:b", "event:c", "dead_letter:d"]


async def test_concurrent_flushes_write_each_record_once_and_in_order() -> None:
    backend = DuckBackend()
    backend.store.block("a")
    outbox = Outbox(backend)
    for name in ("a", "b"):
        outbox.record_nowait("event", event(name))
    seen_by_second: list[str] = []
    second_called = anyio.Event()

    async def second_flush() -> None:
        second_called.set()
        await outbox.flush()
        seen_by_second.extend(backend.store.written)

    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            tg.start_soon(outbox.flush)
            await backend.store.entered["a"].wait()
            outbox.record_nowait("event", event("c"))
            tg.start_soon(second_flush)
            await second_called.wait()
            # Queue empty or not, a flush is writing: a third flush must wait for it too.
            tg.start_soon(outbox.flush)
            backend.store.release("a")
    assert backend.store.written == ["event:a", "event:b", "event:c"]
    # When the second flush returned, everything queued before its call had been written.
    assert seen_by_second == ["event:a", "event:b", "event:c"]
    assert outbox.idle


async def test_an_error_mid_drain_writes_the_rest_then_raises_the_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = DuckBackend()
    backend.store.fail["bad1"] = ValueError("first failure")
    backend.store.fail["bad2"] = RuntimeError("second failure")
    outbox = Outbox(backend)
    for name in ("ok1", "bad1", "ok2", "bad2", "ok3"):
        outbox.record_nowait("event", event(name))
    with (
        caplog.at_level(logging.WARNING, logger="papyra"),
        pytest.raises(ValueError, match="first failure"),
    ):
        await outbox.flush()
    assert backend.store.written == ["event:ok1", "event:ok2", "event:ok3"]
    logged = [r for r in caplog.records if r.name == "papyra" and r.exc_info]
    assert [str(r.exc_info[1]) for r in logged if r.exc_info] == ["second failure"]
    # Failed records are not retried.
    assert len(outbox) == 0
    await outbox.flush()
    assert backend.store.written == ["event:ok1", "event:ok2", "event:ok3"]


async def test_a_cancelled_flush_keeps_the_unwritten_records_queued_in_order() -> None:
    backend = DuckBackend()
    backend.store.block("b")
    outbox = Outbox(backend)
    for name in ("a", "b", "c", "d"):
        outbox.record_nowait("event", event(name))
    async with anyio.create_task_group() as tg:
        tg.start_soon(outbox.flush)
        await backend.store.entered["b"].wait()
        tg.cancel_scope.cancel()
    assert backend.store.written == ["event:a"]
    assert len(outbox) == 3
    backend.store.release("b")
    with anyio.fail_after(DEADLINE):
        await outbox.flush()  # the lock was released by the cancelled flush
    assert backend.store.written == ["event:a", "event:b", "event:c", "event:d"]


async def test_a_cancelled_flush_logs_the_error_it_could_not_raise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = DuckBackend()
    backend.store.fail["bad"] = ValueError("lost unless logged")
    backend.store.block("slow")
    outbox = Outbox(backend)
    outbox.record_nowait("event", event("bad"))
    outbox.record_nowait("event", event("slow"))
    with caplog.at_level(logging.WARNING, logger="papyra"):
        async with anyio.create_task_group() as tg:
            tg.start_soon(outbox.flush)
            await backend.store.entered["slow"].wait()
            tg.cancel_scope.cancel()
    assert any(
        r.exc_info and str(r.exc_info[1]) == "lost unless logged" for r in caplog.records
    )
    assert len(outbox) == 1


async def test_a_flush_from_inside_a_write_does_not_wait_for_itself() -> None:
    class Reentrant(ListBackend):
        async def record_event(self, event: Any) -> None:
            await self.flush()  # e.g. a backend that flushes its own buffers the same way
            await super().record_event(event)

    backend = Reentrant()
    backend.record_nowait("event", event("a"))
    backend.record_nowait("event", event("b"))
    with anyio.fail_after(DEADLINE):
        await backend.flush()
    assert backend.store.written == ["event:a", "event:b"]


# -- the defaults on PersistenceBackend --------------------------------------------------------


async def test_the_default_record_nowait_queues_and_flush_writes_through_record_methods() -> None:
    backend = ListBackend()
    backend.record_nowait("event", event("a"))
    backend.record_nowait("dead_letter", dead_letter("b"))
    backend.record_nowait("audit", audit())
    assert backend.store.written == []
    await backend.flush()
    assert backend.store.written == ["event:a", "dead_letter:b", "audit"]
    with pytest.raises(ValueError, match="unknown record kind"):
        backend.record_nowait("events", event("c"))


async def test_the_defaults_work_without_super_init_and_on_the_bare_base() -> None:
    class NoInit(PersistenceBackend):
        def __init__(self) -> None:  # never calls super().__init__()
            self.seen: list[Any] = []

        async def record_event(self, event: Any) -> None:
            self.seen.append(event.event_type)

    backend = NoInit()
    backend.record_nowait("event", event("a"))
    await backend.record_event(event("b"))
    await backend.flush()
    assert backend.seen == ["a", "b"]

    base = PersistenceBackend()
    base.record_nowait("audit", audit())
    await base.flush()  # the base's record_audit discards it
    await base.flush()  # nothing left: returns at once


async def test_a_flush_with_nothing_queued_returns_without_writing() -> None:
    backend = ListBackend()
    await backend.flush()
    await backend.record_event(event("a"))
    await backend.flush()
    assert backend.store.written == ["event:a"]


async def test_a_direct_write_lands_after_the_facts_queued_before_it() -> None:
    backend = ListBackend()
    backend.record_nowait("event", event("fact"))
    backend.record_nowait("dead_letter", dead_letter("letter"))
    await backend.record_event(event("direct"))
    assert backend.store.written == ["event:fact", "dead_letter:letter", "event:direct"]
    backend.record_nowait("event", event("fact2"))
    await backend.record_audit(audit())
    assert backend.store.written[-2:] == ["event:fact2", "audit"]


async def test_a_direct_write_waits_for_a_flush_in_progress() -> None:
    # The queue is empty while the flush writes its last record, but that record is still
    # owed to the store before the direct one.
    backend = ListBackend()
    backend.store.block("fact")
    backend.record_nowait("event", event("fact"))
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            tg.start_soon(backend.flush)
            await backend.store.entered["fact"].wait()
            tg.start_soon(backend.record_event, event("direct"))
            await anyio.wait_all_tasks_blocked()
            assert backend.store.written == []
            backend.store.release("fact")
    assert backend.store.written == ["event:fact", "event:direct"]


async def test_a_direct_write_logs_queued_errors_and_still_writes_its_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = ListBackend()
    backend.store.fail["bad"] = OSError("disk full")
    backend.record_nowait("event", event("bad"))
    backend.record_nowait("event", event("fact"))
    with caplog.at_level(logging.WARNING, logger="papyra"):
        await backend.record_event(event("direct"))
    assert backend.store.written == ["event:fact", "event:direct"]
    assert any(r.exc_info and str(r.exc_info[1]) == "disk full" for r in caplog.records)
    # The direct write's own error is its caller's.
    backend.store.fail["direct2"] = OSError("mine")
    with pytest.raises(OSError, match="mine"):
        await backend.record_event(event("direct2"))


async def test_subclass_chains_calling_super_write_each_record_once() -> None:
    class Tagged(ListBackend):
        async def record_event(self, event: Any) -> None:
            await super().record_event(dataclasses.replace(event, payload={"tagged": True}))

    backend = Tagged()
    backend.record_nowait("event", event("fact"))
    with anyio.fail_after(DEADLINE):
        await backend.record_event(event("direct"))
        await backend.flush()
    assert backend.store.written == ["event:fact", "event:direct"]
    assert all(e.payload == {"tagged": True} for e in backend.events)


async def _noop_write(self: Any, record: Any) -> None:
    self.got.append(record)


def test_only_subclasses_keeping_the_default_record_nowait_are_wrapped() -> None:
    class Queued(PersistenceBackend):
        record_event = _noop_write  # type: ignore[assignment]

    class Native(PersistenceBackend):
        record_event = _noop_write  # type: ignore[assignment]

        def record_nowait(self, kind: str, record: Any) -> None: ...

    class NativeChild(Native):
        record_audit = _noop_write  # type: ignore[assignment]

    assert Queued.record_event is not _noop_write
    assert Queued.record_event.__wrapped__ is _noop_write  # type: ignore[attr-defined]
    assert Native.record_event is _noop_write
    assert NativeChild.record_audit is _noop_write
    # The memory backend takes records at once: nothing to drain, nothing wrapped.
    assert not hasattr(InMemoryPersistence.record_event, "__wrapped__")


# -- as_writer ---------------------------------------------------------------------------------


def test_as_writer_returns_backends_that_have_the_protocol_themselves(tmp_path: Path) -> None:
    for backend in (PersistenceBackend(), ListBackend(), InMemoryPersistence(),
                    JsonFilePersistence(tmp_path / "log.ndjson")):
        assert as_writer(backend) is backend


async def test_as_writer_adapts_a_duck_typed_backend_and_keeps_its_identity() -> None:
    duck = DuckBackend()
    writer: object = as_writer(duck)
    assert isinstance(writer, RecordWriter)
    assert type(duck) is DuckBackend
    assert as_writer(duck) is writer  # one queue per backend
    writer.record_nowait("event", event("a"))
    writer.record_nowait("audit", audit())
    with pytest.raises(ValueError, match="unknown record kind"):
        writer.record_nowait("nope", event("x"))
    assert duck.store.written == []
    await writer.flush()
    assert duck.store.written == ["event:a", "audit"]


async def test_a_duck_typed_direct_write_lands_after_the_facts_queued_before_it() -> None:
    duck = DuckBackend()
    writer = as_writer(duck)
    writer.record_nowait("event", event("fact"))
    writer.record_nowait("dead_letter", dead_letter("letter"))
    await duck.record_event(event("direct"))
    assert duck.store.written == ["event:fact", "dead_letter:letter", "event:direct"]
    await writer.flush()
    assert duck.store.written == ["event:fact", "dead_letter:letter", "event:direct"]


async def test_as_writer_adapts_a_backend_with_only_half_the_protocol() -> None:
    class NoFlush(DuckBackend):
        def record_nowait(self, kind: str, record: Any) -> None:
            raise AssertionError("not used without flush()")

    backend = NoFlush()
    writer = as_writer(backend)
    assert writer is not cast(object, backend)
    writer.record_nowait("event", event("a"))
    await writer.flush()
    assert backend.store.written == ["event:a"]


@pytest.mark.parametrize("make", [SlottedDuck, FrozenDuck])
async def test_a_backend_refusing_attributes_gets_an_unwrapped_adapter(
    make: Callable[[], Any], caplog: pytest.LogCaptureFixture
) -> None:
    backend = make()
    with caplog.at_level(logging.DEBUG, logger="papyra"):
        writer = as_writer(backend)
    assert writer is not backend
    assert [r.levelno for r in caplog.records if r.name == "papyra"] == [logging.DEBUG]
    # Facts stay in order among themselves ...
    writer.record_nowait("event", event("fact1"))
    writer.record_nowait("event", event("fact2"))
    # ... but a direct write is not held back behind them (the documented limitation).
    await backend.record_event(event("direct"))
    await writer.flush()
    assert backend.store.written == ["event:direct", "event:fact1", "event:fact2"]


# -- any backend: copy this section to check your own ------------------------------------------

BACKENDS: dict[str, Callable[[Path], Any]] = {
    "memory": lambda tmp: InMemoryPersistence(),
    "json": lambda tmp: JsonFilePersistence(tmp / "events.ndjson"),
    "subclass": lambda tmp: ListBackend(),
    "duck-typed": lambda tmp: DuckBackend(),
    "redis": lambda tmp: redis_backend(),  # a real server: see tests/redis_server.py
}


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    instance = BACKENDS[request.param](tmp_path)
    yield instance
    aclose = getattr(instance, "aclose", None)
    if aclose is not None:
        await aclose()


async def test_contract_the_writer_takes_facts_synchronously(backend: Any) -> None:
    writer = as_writer(backend)
    assert isinstance(writer, RecordWriter)
    assert not inspect.iscoroutinefunction(writer.record_nowait)
    writer.record_nowait("event", event("a"))
    with pytest.raises(ValueError):
        writer.record_nowait("no-such-kind", event("b"))
    await writer.flush()
    if isinstance(backend, PersistenceBackend):
        assert isinstance(backend, PersistenceBackendContract)
        assert backend_capabilities(backend).supports_record_nowait


async def test_contract_facts_reach_the_store_before_later_direct_writes(backend: Any) -> None:
    writer = as_writer(backend)
    writer.record_nowait("event", event("fact-1", ts=1.0))
    writer.record_nowait("event", event("fact-2", ts=2.0))
    await backend.record_event(event("direct", ts=3.0))
    writer.record_nowait("event", event("fact-3", ts=4.0))
    await writer.flush()
    stored = [e.event_type for e in await backend.list_events()]
    assert stored == ["fact-1", "fact-2", "direct", "fact-3"]


async def test_contract_flush_returns_once_everything_handed_over_is_stored(backend: Any) -> None:
    writer = as_writer(backend)
    for i in range(20):
        writer.record_nowait("event", event(f"e{i}", ts=float(i)))
    await writer.flush()
    stored = [e.event_type for e in await backend.list_events()]
    assert stored == [f"e{i}" for i in range(20)]


# -- a backend that keeps failed records: the system's writer retries ---------------------------


class FlakyKeeper(PersistenceBackend):
    """Keeps what it could not store (``queued_records``); its first ``failures`` flushes fail."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.pending: list[Any] = []
        self.stored: list[Any] = []
        self.flushes = 0
        self.all_stored = anyio.Event()

    @property
    def queued_records(self) -> int:
        return len(self.pending)

    def record_nowait(self, kind: str, record: Any) -> None:
        self.pending.append(record)

    async def flush(self) -> None:
        await anyio.lowlevel.checkpoint()
        self.flushes += 1
        if self.flushes <= self.failures:
            raise ConnectionError("store away")
        self.stored += self.pending
        self.pending.clear()
        self.all_stored.set()


async def test_the_writer_retries_a_backend_that_kept_its_records(
    impl: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from papyra.actor import Actor
    from papyra.system import ActorSystem

    class Quiet(Actor):
        async def receive(self, message: Any) -> None:
            return None

    backend = FlakyKeeper(failures=2)
    async with ActorSystem(persistence=backend, _dispatch=impl.dispatch) as system:
        system.spawn(Quiet)
        # No further fact is handed over: the retries come from the writer alone.
        with anyio.fail_after(DEADLINE):
            await backend.all_stored.wait()
        assert [e.event_type for e in backend.stored] == ["ActorStarted"]
    assert backend.flushes >= 3
    assert caplog.text.count("persisting records failed") == 2

