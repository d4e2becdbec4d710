"""Failures are visible, and only actor failures are actor failures.

* every crash is logged once on the ``papyra`` logger (``log_crashes=False`` turns it off);
* ``ActorCrashed`` carries the exception's type, message and a bounded traceback as strings,
  persisted too, and the event log keeps no traceback (nor the frames behind it) alive;
* an exception that cannot be printed is an ordinary crash;
* a stray cancellation raised by actor code is a crash; the actor's own cancellation is not;
* ``SystemExit``, ``KeyboardInterrupt`` and other base exceptions shut the system down and are
  re-raised to the code that owns it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import anyio
import anyio.abc
import pytest

from papyra import _crash, _lifecycle
from papyra.actor import Actor
from papyra.events import ActorCrashed
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped
from papyra.messages import ProxyCall
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.ref import ActorRef
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.supervisor import SupervisorDecision
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio

RESTART = SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=1_000)
ESCALATE = SupervisionPolicy(strategy=Strategy.ESCALATE)


class Boom(Exception):
    pass


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class UnprintableStop(StopIteration):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class Fatal(BaseException):
    """A base exception that is neither an ``Exception`` nor a cancellation."""


async def stray_cancellation() -> None:
    """Raise a cancellation that is not a cancellation of the running task."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # trio: asyncio's CancelledError is just a foreign base exception
        raise asyncio.CancelledError("stray") from None
    fut = loop.create_future()
    fut.cancel()
    await fut  # raises CancelledError: the future was cancelled, not this task


class Crasher(Actor):
    """Raises an exception sent as a message; ``"stray"`` raises a stray cancellation."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, BaseException):
            raise message
        if message == "stray":
            await stray_cancellation()
        if message == "spawn":
            return self.context.spawn_child(Crasher, policy=ESCALATE)
        return message


def crashes(system: ActorSystem, ref: ActorRef | None = None) -> list[ActorCrashed]:
    return [
        e
        for e in system.events()
        if isinstance(e, ActorCrashed) and (ref is None or e.address == ref.address.to_dict())
    ]


async def until_stopped(system: ActorSystem, ref: ActorRef) -> None:
    address = ref.address.to_dict()
    await system.wait_for_event(
        lambda e: isinstance(e, ActorStoppedEvent) and e.address == address, timeout=5
    )


def papyra_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "papyra" and r.levelno >= logging.ERROR]


# -- crash logging ---------------------------------------------------------------------------------


async def test_a_crash_is_logged_once_at_error_with_its_traceback(
    make_system: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="papyra")
    system = await make_system()
    ref = system.spawn(Crasher, name="c")
    exc = Boom("bad input")
    with pytest.raises(Boom):
        await ref.ask(exc)

    [record] = papyra_errors(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[1] is exc
    message = record.getMessage()
    assert "local:1" in message and "Crasher" in message and "Boom: bad input" in message
    assert "Traceback (most recent call last)" in caplog.text
    assert "raise message" in caplog.text
    # Structured fields, for JSON formatters and structlog (extra=).
    fields = ("system_id", "actor_address", "actor_name", "actor_type")
    assert tuple(getattr(record, f) for f in fields) == ("local", "local:1", "c", "Crasher")
    assert record.message_type == "Boom"  # the class of the message being handled


async def test_crash_logging_can_be_turned_off(
    make_system: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="papyra")
    system = await make_system(log_crashes=False)
    ref = system.spawn(Crasher, name="c")
    with pytest.raises(Boom):
        await ref.ask(Boom("quiet"))
    assert papyra_errors(caplog) == []
    assert len(crashes(system, ref)) == 1  # still reported as an event


async def test_log_crashes_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="log_crashes"):
        ActorSystem(log_crashes="no")  # type: ignore[arg-type]


async def test_an_escalated_crash_is_logged_once(
    make_system: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="papyra")
    system = await make_system()
    root = system.spawn(Crasher, name="root")
    child = await root.ask("spawn")
    exc = Boom("deep")
    with pytest.raises(Boom):
        await child.ask(exc)
    await system.wait_for_event(lambda e: type(e).__name__ == "ActorRestarted", timeout=5)

    [record] = papyra_errors(caplog)
    assert record.exc_info is not None and record.exc_info[1] is exc
    assert "local:2" in record.getMessage()
    escalated = [r for r in caplog.records if "escalated" in r.getMessage()]
    assert [(r.levelno, r.exc_info) for r in escalated] == [(logging.INFO, None)]
    assert (record.actor_address, escalated[0].actor_address) == ("local:2", "local:1")
    assert len(crashes(system, root)) == 1


# -- what ActorCrashed carries ---------------------------------------------------------------------


async def test_actor_crashed_carries_the_failure_as_strings(make_system: Any) -> None:
    backend = InMemoryPersistence()
    system = await make_system(persistence=backend, log_crashes=False)
    ref = system.spawn(Crasher, name="c")
    exc = Boom("bad input")
    with pytest.raises(Boom) as info:
        await ref.ask(exc)
    assert info.value is exc  # the caller gets the very exception, traceback included
    assert exc.__traceback__ is not None

    [event] = crashes(system, ref)
    assert event.reason == "Boom: bad input"
    assert event.error_type == f"{__name__}.Boom"
    assert event.error_message == "bad input"
    assert event.error_traceback.startswith("Traceback (most recent call last):\n")
    assert "in receive\n    raise message\n" in event.error_traceback
    assert event.error_traceback.endswith(f"{__name__}.Boom: bad input\n")
    # ``error`` is a detached copy: same type and arguments, no traceback.
    assert type(event.error) is Boom
    assert event.error.args == ("bad input",)
    assert event.error is not exc
    assert event.error.__traceback__ is None
    assert event.payload["error"] == "Boom: bad input"

    await system.aclose()
    [persisted] = [e for e in backend.events if e.event_type == "ActorCrashed"]
    assert persisted.payload == {
        "error": "Boom: bad input",
        "reason": "Boom: bad input",
        "error_type": event.error_type,
        "error_message": "bad input",
        "error_traceback": event.error_traceback,
    }


async def test_an_on_start_failure_carries_its_cause(make_system: Any) -> None:
    class BadStart(Actor):
        async def on_start(self) -> None:
            raise Boom("cannot start")

        async def receive(self, message: Any) -> Any:
            return message

    system = await make_system(log_crashes=False)
    ref = system.spawn(BadStart)
    await until_stopped(system, ref)

    [event] = crashes(system, ref)
    assert event.reason == "RuntimeError: actor.on_start() failed"
    cause = event.error.__cause__
    assert type(cause) is Boom and cause.args == ("cannot start",)
    assert cause.__traceback__ is None
    assert 'raise Boom("cannot start")' in event.error_traceback
    assert "The above exception was the direct cause" in event.error_traceback
    assert event.error_traceback.endswith("RuntimeError: actor.on_start() failed\n")


async def test_the_strings_are_bounded(make_system: Any) -> None:
    def dive(depth: int) -> None:
        if depth == 0:
            raise Boom("x" * 1_000_000)
        dive(depth - 1)

    class Deep(Actor):
        async def receive(self, message: Any) -> Any:
            dive(500)

    system = await make_system(log_crashes=False)
    ref = system.spawn(Deep)
    with pytest.raises(Boom):
        await ref.ask("go")
    [event] = crashes(system, ref)
    assert len(event.error_message) <= _crash.MAX_MESSAGE
    assert event.error_message.startswith("xxx")
    assert len(event.reason or "") <= _crash.MAX_MESSAGE + len("Boom: ")
    assert len(event.error_traceback) <= _crash.MAX_TRACEBACK
    assert "in dive" in event.error_traceback


class Heavy:
    __slots__ = ("__weakref__", "data")

    def __init__(self) -> None:
        self.data = bytearray(100_000)


class Hoarder(Actor):
    """Fails with 100 kB held by a local of the failing frame."""

    held: ClassVar[list[weakref.ref[Heavy]]] = []

    async def receive(self, message: Any) -> Any:
        if message == "sync":
            return "synced"
        heavy = Heavy()
        Hoarder.held.append(weakref.ref(heavy))
        raise Boom(f"crash {message}")


class Formatting(logging.Handler):
    """Formats every record, traceback included, then forgets it (like a real handler)."""

    def __init__(self) -> None:
        super().__init__()
        self.formatted = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "Traceback" in self.format(record):
            self.formatted += 1


@contextmanager
def only_handler(handler: logging.Handler) -> Iterator[None]:
    """Send ``papyra`` records to ``handler`` alone while the block runs.

    pytest's capture handlers keep every record (with its traceback) until the test ends,
    which would hide what the runtime itself keeps.
    """
    logger = logging.getLogger("papyra")
    saved = logger.handlers[:], logger.propagate
    logger.handlers = [handler]
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers, logger.propagate = saved


async def test_the_event_log_keeps_no_frames_alive(make_system: Any) -> None:
    Hoarder.held = []
    system = await make_system(max_events=None)
    ref = system.spawn(Hoarder, name="h", policy=RESTART)
    handler = Formatting()
    caught = 0
    with only_handler(handler):
        for i in range(40):
            try:
                await ref.ask(i)
            except Boom as exc:
                caught += exc.__traceback__ is not None  # the caller's copy has it all
        for i in range(40, 80):
            await ref.tell(i)
        assert await ref.ask("sync") == "synced"  # FIFO: after the 40 tells

    gc.collect()
    assert caught == 40
    assert handler.formatted == 80  # every crash was logged with its traceback
    assert len(Hoarder.held) == 80
    assert [r for r in Hoarder.held if r() is not None] == []
    events = crashes(system, ref)
    assert len(events) == 80
    assert all(e.error.__traceback__ is None for e in events)
    assert all('raise Boom(f"crash {message}")' in e.error_traceback for e in events)


# -- exceptions that cannot be printed -------------------------------------------------------------


async def test_an_unprintable_exception_is_an_ordinary_crash(
    make_system: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="papyra")
    backend = InMemoryPersistence()
    system = await make_system(persistence=backend)
    ref = system.spawn(Crasher, name="c")
    exc = Unprintable()
    with anyio.fail_after(5), pytest.raises(Unprintable) as info:
        await ref.ask(exc)
    assert info.value is exc

    assert await ref.ask("still here") == "still here"  # restarted, system running
    [event] = crashes(system, ref)
    assert event.reason == "Unprintable: <exception str() failed>"
    assert event.error_message == "<exception str() failed>"
    assert "Unprintable: <exception str() failed>" in event.error_traceback
    assert event.payload["error"] == event.reason
    [record] = papyra_errors(caplog)
    assert "<exception str() failed>" in record.getMessage()
    await system.aclose()
    assert [e.payload["reason"] for e in backend.events if e.event_type == "ActorCrashed"] == [
        "Unprintable: <exception str() failed>"
    ]


async def test_an_unprintable_exception_that_cannot_travel_is_wrapped(
    make_system: Any,
) -> None:
    system = await make_system(log_crashes=False)
    ref = system.spawn(Crasher, name="c")
    with anyio.fail_after(5), pytest.raises(RuntimeError) as info:
        await ref.ask(UnprintableStop())
    # asyncio futures refuse StopIteration and a coroutine turns it into RuntimeError: either
    # way the caller gets a RuntimeError chained to it.
    assert isinstance(info.value.__cause__, UnprintableStop)
    assert await ref.ask("still here") == "still here"


# -- cancellations ---------------------------------------------------------------------------------


@pytest.fixture(params=["cancelling", "flag"])
def cancel_detection(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of telling the actor's own cancellation from a stray one on asyncio.

    ``cancelling``: ``Task.cancelling()`` (3.11+). ``flag``: the actor task records its
    ``cancel()`` calls (what 3.10 uses), forced here on newer versions too.
    """
    if request.param == "flag":
        monkeypatch.setattr(_lifecycle, "_TASK_CANCELLING", False)
    elif sys.version_info < (3, 11):
        pytest.skip("Task.cancelling() needs Python 3.11")
    return str(request.param)


async def test_a_stray_cancellation_is_a_crash(
    make_system: Any, cancel_detection: str
) -> None:
    system = await make_system(log_crashes=False)
    ref = system.spawn(Crasher, name="c")
    with anyio.fail_after(5), pytest.raises(RuntimeError, match="CancelledError") as info:
        await ref.ask("stray")
    assert isinstance(info.value.__cause__, asyncio.CancelledError)

    assert await ref.ask("still here") == "still here"
    [event] = crashes(system, ref)
    assert isinstance(event.error, asyncio.CancelledError)
    assert event.error_type.endswith("CancelledError")
    assert [type(e).__name__ for e in system.events()] == [
        "ActorStarted", "ActorCrashed", "ActorRestarted"
    ]


class Sleeper(Actor):
    entered: anyio.Event

    async def receive(self, message: Any) -> Any:
        Sleeper.entered.set()
        await anyio.sleep_forever()


async def test_the_actors_own_cancellation_is_not_a_crash(
    impl: Any, cancel_detection: str
) -> None:
    Sleeper.entered = anyio.Event()
    outcome: list[BaseException] = []

    async def ask_it(ref: ActorRef) -> None:
        with anyio.fail_after(5):
            try:
                await ref.ask("sleep")
            except ActorStopped as exc:
                outcome.append(exc)

    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as scope:
            system = ActorSystem(_dispatch=impl.dispatch)
            await system.start()
            ref = system.spawn(Sleeper, name="s")
            tg.start_soon(ask_it, ref)
            with anyio.fail_after(5):
                await Sleeper.entered.wait()
            scope.cancel()
            await system.aclose()  # cancelled at once: the actor tasks are cancelled too

    await until_stopped(system, ref)
    assert crashes(system) == []
    assert len(outcome) == 1  # the ask in progress ends with ActorStopped


# -- base exceptions shut the system down ----------------------------------------------------------


class Everywhere(Actor):
    """Raises ``where.error`` from the hook named by ``where.place``."""

    place = ""
    error: BaseException = Fatal()

    async def on_start(self) -> None:
        if Everywhere.place == "on_start":
            raise Everywhere.error

    async def on_stop(self) -> None:
        if Everywhere.place == "on_stop":
            raise Everywhere.error

    async def on_child_failure(self, child_ref: ActorRef, exc: BaseException) -> Any:
        if Everywhere.place == "on_child_failure":
            raise Everywhere.error
        return SupervisorDecision.STOP

    async def receive(self, message: Any) -> Any:
        if message == "spawn":
            return self.context.spawn_child(Crasher)
        if message == "go" and Everywhere.place == "receive":
            raise Everywhere.error
        return message

    def explode(self) -> None:
        raise Everywhere.error


@pytest.fixture
def everywhere() -> Iterator[type[Everywhere]]:
    yield Everywhere
    Everywhere.place = ""


@pytest.mark.parametrize(
    "error", [SystemExit(3), KeyboardInterrupt(), Fatal()], ids=["SystemExit", "KI", "custom"]
)
async def test_a_base_exception_in_receive_ends_the_owners_async_with(
    impl: Any, error: BaseException
) -> None:
    backend = InMemoryPersistence()
    outcome: list[BaseException] = []

    async def ask_it(ref: ActorRef, message: Any) -> None:
        try:
            await ref.ask(message)
        except ActorStopped as exc:
            outcome.append(exc)

    system = ActorSystem(_dispatch=impl.dispatch, persistence=backend)

    async def own_it(bystanders: anyio.abc.TaskGroup) -> None:
        async with system:
            bystanders.start_soon(ask_it, system.spawn(Crasher, name="c"), error)
            system.spawn(Crasher)
            await anyio.sleep_forever()  # the owner is interrupted

    async with anyio.create_task_group() as bystanders:  # tasks the system does not own
        with anyio.fail_after(5), pytest.raises(type(error)) as info:
            await own_it(bystanders)

    assert info.value is error
    assert len(outcome) == 1  # the ask of the fatal message gets ActorStopped
    assert crashes(system) == []  # not an actor failure
    assert not system.running
    assert system.refs(alive_only=True) == ()
    assert backend.closed  # after everything was written
    stopped = [e.actor_address for e in backend.events if e.event_type == "ActorStopped"]
    assert sorted(stopped) == ["local:1", "local:2"]


@pytest.mark.parametrize("place", ["on_start", "on_stop", "on_child_failure", "proxy"])
async def test_a_base_exception_anywhere_in_an_actor_shuts_the_system_down(
    impl: Any, everywhere: type[Everywhere], place: str
) -> None:
    everywhere.place = place
    error = Fatal(place)
    everywhere.error = error
    system = ActorSystem(_dispatch=impl.dispatch, log_crashes=False)

    async def own_it() -> ActorRef:
        async with system:
            ref = system.spawn(everywhere)
            if place == "on_child_failure":
                child = await ref.ask("spawn")
                await child.tell(Boom("child"))
            elif place == "proxy":
                await ref.tell(ProxyCall(("explode",)))
            elif place == "on_stop":
                await system.stop(ref)
            await anyio.sleep_forever()
        raise AssertionError("not interrupted")

    with anyio.fail_after(5), pytest.raises(Fatal) as info:
        await own_it()
    assert info.value is error
    ref = system.refs(alive_only=False)[0]  # the actor that raised it
    assert crashes(system, ref) == []
    assert any(
        isinstance(e, ActorStoppedEvent) and e.address == ref.address.to_dict()
        for e in system.events()
    )


async def test_a_base_exception_while_closing_is_raised_by_aclose(impl: Any) -> None:
    with anyio.fail_after(5):
        system = ActorSystem(_dispatch=impl.dispatch, log_crashes=False)
        await system.start()
        ref = system.spawn(Crasher)
        error = Fatal()
        await ref.tell(error)  # handled while aclose() drains the mailbox
        await ref.tell("after")
        with pytest.raises(Fatal) as info:
            await system.aclose()
    assert info.value is error
    assert [dl.message for dl in system.dead_letters.messages] == ["after"]
    await system.aclose()  # closed: nothing left to raise


async def test_a_base_exception_with_start_and_aclose(impl: Any) -> None:
    with anyio.fail_after(5):
        system = ActorSystem(_dispatch=impl.dispatch, log_crashes=False)
        await system.start()
        ref = system.spawn(Crasher)
        await ref.tell(Fatal())
        await system.wait_for_event(ActorStoppedEvent, timeout=5)  # not interrupted
        assert not system.running
        with pytest.raises(Fatal):
            await system.aclose()


class FailsTwice(Actor):
    async def receive(self, message: Any) -> Any:
        raise Fatal("first")

    async def on_stop(self) -> None:
        raise Fatal("second")


async def test_the_first_base_exception_wins(impl: Any) -> None:
    with anyio.fail_after(5):
        system = ActorSystem(_dispatch=impl.dispatch, log_crashes=False)
        await system.start()
        ref = system.spawn(FailsTwice)
        await ref.tell("go")
        with pytest.raises(Fatal, match="first"):
            await system.aclose()


async def test_aclose_inside_async_with(impl: Any) -> None:
    async with ActorSystem(_dispatch=impl.dispatch) as system:
        ref = system.spawn(Crasher)
        assert await ref.ask("hi") == "hi"
        await system.aclose()
        assert not system.running
    assert not ref.is_alive()


async def test_aclose_inside_async_with_after_a_base_exception(impl: Any) -> None:
    system = ActorSystem(_dispatch=impl.dispatch, log_crashes=False)
    error = Fatal()

    async def own_it() -> None:
        async with system:
            ref = system.spawn(Crasher)
            try:
                await ref.ask(error)
            finally:  # the owner is interrupted, and closes the system itself
                await system.aclose()

    with anyio.fail_after(5), pytest.raises(Fatal) as info:
        await own_it()
    assert info.value is error
