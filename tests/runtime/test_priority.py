"""Priority and control messages: ``spawn(priority=..., control_first=...)`` and the
``PriorityMailbox`` of both dispatch twins (docs/runtime.md, "Priority and control messages")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from papyra._envelope import STOP, ActorTerminated, Envelope, Traced
from papyra.actor import Actor
from papyra.exceptions import ActorStopped, MailboxClosed
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Urgent:
    n: int


class Alarm(Urgent):
    pass


class Recorder(Actor):
    """Blocks on ``"block"`` until ``release`` is set; ``("watch", ref)`` watches ``ref``;
    records everything else in ``log`` and returns it."""

    def __init__(self, log: list[Any], entered: anyio.Event, release: anyio.Event) -> None:
        self.log = log
        self.entered = entered
        self.release = release

    async def receive(self, message: Any) -> Any:
        if message == "block":
            self.entered.set()
            await self.release.wait()
            return None
        if type(message) is tuple and message[0] == "watch":
            await self.context.watch(message[1])
            return None
        self.log.append(message)
        return message


class Rig:
    """A Recorder's factory, its log and its two events."""

    def __init__(self, make_gate: Callable[[], anyio.Event]) -> None:
        self.log: list[Any] = []
        self.entered = make_gate()
        self.release = make_gate()

    def factory(self) -> Recorder:
        return Recorder(self.log, self.entered, self.release)


async def blocked(system: ActorSystem, rig: Rig, **options: Any) -> Any:
    """Spawn a Recorder with ``options`` and leave it blocked in ``"block"``."""
    ref = system.spawn(rig.factory, **options)
    await ref.tell("block")
    await rig.entered.wait()
    return ref


def mailbox_of(system: ActorSystem, ref: Any) -> Any:
    cell = system._lifecycle.cell_of(ref)
    assert cell is not None
    return cell.mailbox


# -- through the runtime --------------------------------------------------------------------


async def test_the_default_mailbox_is_the_plain_fifo_one(system: ActorSystem, impl: Any) -> None:
    ref = system.spawn(lambda: Recorder([], anyio.Event(), anyio.Event()))
    assert type(mailbox_of(system, ref)) is impl.dispatch.Mailbox


async def test_urgent_messages_overtake_the_backlog_fifo_among_themselves(
    system: ActorSystem, make_gate: Callable[[], anyio.Event], impl: Any
) -> None:
    rig = Rig(make_gate)
    ref = await blocked(system, rig, priority=(Urgent,))
    assert type(mailbox_of(system, ref)) is impl.dispatch.PriorityMailbox
    for message in ("a", Urgent(1), "b", Urgent(2), "c", Urgent(3)):
        await ref.tell(message)
    assert len(mailbox_of(system, ref)) == 6
    rig.release.set()
    assert await ref.ask("sync") == "sync"
    assert rig.log == [Urgent(1), Urgent(2), Urgent(3), "a", "b", "c", "sync"]


@pytest.mark.parametrize("types", [{Urgent}, frozenset({Urgent}), [Urgent], Urgent])
async def test_a_type_set_matches_subclasses(
    system: ActorSystem, make_gate: Callable[[], anyio.Event], types: Any
) -> None:
    rig = Rig(make_gate)
    ref = await blocked(system, rig, priority=types)
    for message in ("a", Alarm(1), 7, Urgent(2)):
        await ref.tell(message)
    rig.release.set()
    await ref.ask("sync")
    assert rig.log == [Alarm(1), Urgent(2), "a", 7, "sync"]


async def test_an_iterator_of_classes_is_taken_once_and_a_registered_set_is_copied(
    system: ActorSystem, make_gate: Callable[[], anyio.Event]
) -> None:
    rig = Rig(make_gate)
    ref = await blocked(system, rig, priority=iter([Urgent]))
    assert mailbox_of(system, ref).priority == (Urgent,)
    types = {Urgent}
    system.register("r", rig.factory, priority=types)
    types.clear()
    assert mailbox_of(system, system.actor("r")).priority == (Urgent,)


async def test_a_predicate_marks_urgent_messages(
    system: ActorSystem, make_gate: Callable[[], anyio.Event]
) -> None:
    rig = Rig(make_gate)
    seen: list[Any] = []

    def bang(message: Any) -> bool:
        seen.append(message)
        return isinstance(message, str) and message.startswith("!")

    ref = await blocked(system, rig, priority=bang)
    for message in ("a", "!b", "c", "!d"):
        await ref.tell(message)
    assert seen == ["block", "a", "!b", "c", "!d"]  # at send time, once per message
    rig.release.set()
    await ref.ask("sync")
    assert rig.log == ["!b", "!d", "a", "c", "sync"]


async def test_ask_of_an_urgent_message_returns_its_reply_ahead_of_the_backlog(
    system: ActorSystem, make_gate: Callable[[], anyio.Event]
) -> None:
    rig = Rig(make_gate)
    ref = await blocked(system, rig, priority=(Urgent,))
    await ref.tell("a")
    replies: list[Any] = []

    async def ask(message: Any) -> None:
        replies.append(await ref.ask(message))

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask, Urgent(1))
        await wait_all_tasks_blocked()
        rig.release.set()
    assert replies == [Urgent(1)]
    await ref.ask("sync")
    assert rig.log == [Urgent(1), "a", "sync"]


async def test_a_predicate_that_raises_fails_the_send_and_enqueues_nothing(
    system: ActorSystem, make_gate: Callable[[], anyio.Event]
) -> None:
    rig = Rig(make_gate)

    def picky(message: Any) -> bool:
        if message == "bad":
            raise LookupError("cannot classify")
        return False

    ref = await blocked(system, rig, priority=picky)
    with pytest.raises(LookupError, match="cannot classify"):
        await ref.tell("bad")
    with pytest.raises(LookupError, match="cannot classify"):
        await ref.ask("bad")
    assert len(mailbox_of(system, ref)) == 0
    assert system.dead_letters.messages == []
    rig.release.set()
    assert await ref.ask("sync") == "sync"
    assert rig.log == ["sync"]


async def test_the_predicate_runs_once_per_send_even_when_the_sender_waits_for_room(
    system: ActorSystem, make_gate: Callable[[], anyio.Event]
) -> None:
    rig = Rig(make_gate)
    calls: list[Any] = []

    def count(message: Any) -> bool:
        calls.append(message)
        return message == "!"

    ref = await blocked(system, rig, priority=count, mailbox_capacity=1)
    await ref.tell("a")  # now full
    async with anyio.create_task_group() as tg:
        tg.start_soon(ref.tell, "b")
        await wait_all_tasks_blocked()
        tg.start_soon(ref.ask, "!")
        await wait_all_tasks_blocked()
        assert calls == ["block", "a", "b", "!"]
        rig.release.set()
    await ref.ask("sync")
    assert calls == ["block", "a", "b", "!", "sync"]
    assert rig.log == ["a", "!", "b", "sync"]  # the urgent waiting producer went in first


@pytest.mark.parametrize("how", ["tell", "ask", "system.stop"])
async def test_control_first_stop_overtakes_the_backlog_which_becomes_dead_letters(
    system: ActorSystem, make_gate: Callable[[], anyio.Event], how: str
) -> None:
    rig = Rig(make_gate)
    ref = await blocked(system, rig, control_first=True)
    await ref.tell("a")
    outcomes: list[Any] = []

    async def ask_b() -> None:
        try:
            outcomes.append(await ref.ask("b"))
        except ActorStopped as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask_b)
        await wait_all_tasks_blocked()
        if how == "tell":
            await ref.tell(STOP)
        elif how == "ask":
            tg.start_soon(ref.ask, STOP)
            await wait_all_tasks_blocked()
        else:
            await system.stop(ref)
        rig.release.set()
    await system.join(ref)
    assert rig.log == []
    assert len(outcomes) == 1 and isinstance(outcomes[0], ActorStopped)
    letters = [(d.message, d.expects_reply) for d in system.dead_letters.messages]
    assert letters == [("a", False), ("b", True)]


async def test_control_first_stop_waiting_for_room_is_admitted_before_waiting_senders(
    system: ActorSystem, make_gate: Callable[[], anyio.Event]
) -> None:
    rig = Rig(make_gate)
    ref = await blocked(system, rig, control_first=True, mailbox_capacity=1)
    await ref.tell("a")  # now full
    outcomes: list[Any] = []

    async def send(message: Any) -> None:
        try:
            outcomes.append(await ref.ask(message))
        except ActorStopped as exc:
            outcomes.append(type(exc))

    async with anyio.create_task_group() as tg:
        tg.start_soon(send, "b")
        await wait_all_tasks_blocked()
        tg.start_soon(send, STOP)
        await wait_all_tasks_blocked()
        rig.release.set()
    await system.join(ref)
    assert rig.log == ["a"]  # queued before the stop; "b" was still waiting for room
    assert sorted(map(repr, outcomes)) == sorted(map(repr, [None, ActorStopped]))
    assert [d.message for d in system.dead_letters.messages] == ["b"]


@pytest.mark.parametrize("options", [{}, {"priority": (Urgent,)}])
async def test_without_control_first_stop_still_waits_behind_the_backlog(
    system: ActorSystem, make_gate: Callable[[], anyio.Event], options: dict[str, Any]
) -> None:
    rig = Rig(make_gate)
    ref = await blocked(system, rig, **options)
    await ref.tell("a")
    await ref.tell(Urgent(1))
    await ref.tell(STOP)
    rig.release.set()
    await system.join(ref)
    expected = [Urgent(1), "a"] if options else ["a", Urgent(1)]
    assert rig.log == expected
    assert system.dead_letters.messages == []


@pytest.mark.parametrize("control_first", [True, False])
async def test_watch_notices_overtake_the_backlog_with_control_first(
    system: ActorSystem, make_gate: Callable[[], anyio.Event], control_first: bool
) -> None:
    rig = Rig(make_gate)
    target = system.spawn(Rig(make_gate).factory)
    watcher = system.spawn(rig.factory, control_first=control_first)
    await watcher.ask(("watch", target))
    await watcher.tell("block")
    await rig.entered.wait()
    await watcher.tell("a")
    await watcher.tell("b")
    await system.stop(target, wait=True)
    rig.release.set()
    await watcher.ask("sync")
    kinds = [type(m).__name__ if isinstance(m, ActorTerminated) else m for m in rig.log]
    if control_first:
        assert kinds == ["ActorTerminated", "a", "b", "sync"]
    else:
        assert kinds == ["a", "b", "ActorTerminated", "sync"]


async def test_full_mailbox_admits_waiting_urgent_producers_first(
    system: ActorSystem, make_gate: Callable[[], anyio.Event]
) -> None:
    rig = Rig(make_gate)
    ref = await blocked(system, rig, priority=(Urgent,), mailbox_capacity=2)
    await ref.tell("a")
    await ref.tell("b")
    mailbox = mailbox_of(system, ref)
    async with anyio.create_task_group() as tg:
        for message in ("c", Urgent(1), "d", Urgent(2)):
            tg.start_soon(ref.tell, message)
            await wait_all_tasks_blocked()
        assert len(mailbox) == 2  # everyone waits for room
        rig.release.set()
    await ref.ask("sync")
    # "a" leaves first (it was queued); each freed slot then goes to a waiting urgent producer.
    assert rig.log == ["a", Urgent(1), Urgent(2), "b", "c", "d", "sync"]


async def test_capacity_zero_rendezvous_hands_over_urgent_producers_first(
    system: ActorSystem, make_gate: Callable[[], anyio.Event]
) -> None:
    rig = Rig(make_gate)
    ref = await blocked(system, rig, priority=(Urgent,), mailbox_capacity=0)
    async with anyio.create_task_group() as tg:
        for message in ("a", Urgent(1), "b", Urgent(2)):
            tg.start_soon(ref.tell, message)
            await wait_all_tasks_blocked()
        assert len(mailbox_of(system, ref)) == 0
        rig.release.set()
    assert await ref.ask("sync") == "sync"
    assert await ref.ask(Urgent(3)) == Urgent(3)
    assert rig.log == [Urgent(1), Urgent(2), "a", "b", "sync", Urgent(3)]


BAD_OPTIONS = [
    ({"priority": "Urgent"}, "not 'Urgent'"),
    ({"priority": [Urgent, "x"]}, "'x' is not a class"),
    ({"priority": 42}, "not 42"),
    ({"control_first": 1}, "control_first must be a bool, not 1"),
    ({"control_first": None}, "control_first must be a bool, not None"),
]


@pytest.mark.parametrize(("options", "text"), BAD_OPTIONS)
async def test_bad_options_are_refused_at_spawn_before_anything_is_spawned(
    system: ActorSystem, options: dict[str, Any], text: str
) -> None:
    before = len(system.list_actors())
    with pytest.raises(TypeError, match=text):
        system.spawn(lambda: Recorder([], anyio.Event(), anyio.Event()), name="x", **options)
    assert len(system.list_actors()) == before
    assert "x" not in system.list_names()


@pytest.mark.parametrize(("options", "text"), BAD_OPTIONS)
async def test_bad_options_are_refused_at_register(
    system: ActorSystem, options: dict[str, Any], text: str
) -> None:
    with pytest.raises(TypeError, match=text):
        system.register("x", lambda: Recorder([], anyio.Event(), anyio.Event()), **options)
    with pytest.raises(ActorStopped):
        system.actor("x")


class Parent(Actor):
    """Spawns a child with the options it is sent; returns the child's ref or the error."""

    async def receive(self, message: Any) -> Any:
        try:
            return self.context.spawn_child(
                lambda: Recorder([], anyio.Event(), anyio.Event()), **message
            )
        except TypeError as exc:
            return exc


@pytest.mark.parametrize(("options", "text"), BAD_OPTIONS)
async def test_bad_options_are_refused_at_spawn_child(
    system: ActorSystem, options: dict[str, Any], text: str
) -> None:
    parent = system.spawn(Parent)
    before = len(system.list_actors())
    error = await parent.ask(options)
    assert isinstance(error, TypeError) and text in str(error)
    assert len(system.list_actors()) == before


async def test_spawn_child_passes_the_options_on(system: ActorSystem, impl: Any) -> None:
    parent = system.spawn(Parent)
    child = await parent.ask({"priority": (Urgent,), "control_first": True})
    mailbox = mailbox_of(system, child)
    assert type(mailbox) is impl.dispatch.PriorityMailbox
    assert mailbox.priority == (Urgent,) and mailbox.control_first is True


async def test_register_keeps_the_options_for_every_instance(
    system: ActorSystem, make_gate: Callable[[], anyio.Event], impl: Any
) -> None:
    rig = Rig(make_gate)
    system.register("prio", rig.factory, priority=(Urgent,), control_first=True)
    plain = Rig(make_gate)
    system.register("plain", plain.factory)
    assert type(mailbox_of(system, system.actor("plain"))) is impl.dispatch.Mailbox
    ref = system.actor("prio")
    mailbox = mailbox_of(system, ref)
    assert type(mailbox) is impl.dispatch.PriorityMailbox
    assert mailbox.priority == (Urgent,) and mailbox.control_first is True
    await ref.tell("block")
    await rig.entered.wait()
    await ref.tell("a")
    await ref.tell(Urgent(1))
    rig.release.set()
    await ref.ask("sync")
    assert rig.log == [Urgent(1), "a", "sync"]
    await system.stop(ref, wait=True)
    again = mailbox_of(system, system.actor("prio"))  # a fresh instance, same options
    assert type(again) is impl.dispatch.PriorityMailbox and again.control_first is True


# -- the mailbox itself ---------------------------------------------------------------------


def test_urgent_lane_first_each_lane_fifo_len_and_drain(impl: Any) -> None:
    box = impl.dispatch.PriorityMailbox(None, (Urgent,))
    for item in ("a", Urgent(1), Envelope("b"), Envelope(Urgent(2)), "c"):
        assert box.offer(item)
    assert len(box) == 5
    assert box.poll() == Urgent(1)
    assert box.poll() == Envelope(Urgent(2))
    assert len(box) == 3
    assert box.drain() == ["a", Envelope("b"), "c"]
    assert len(box) == 0 and box.poll() is impl.dispatch.EMPTY


def test_drain_returns_urgent_items_first(impl: Any) -> None:
    box = impl.dispatch.PriorityMailbox(None, (Urgent,))
    for item in ("a", Urgent(1), "b", Urgent(2)):
        box.offer(item)
    assert box.drain() == [Urgent(1), Urgent(2), "a", "b"]
    assert len(box) == 0


def test_traced_messages_are_classified_by_what_they_carry(impl: Any) -> None:
    box = impl.dispatch.PriorityMailbox(None, (Urgent,))
    box.offer(Traced("a", None))
    box.offer(Envelope(Traced(Urgent(1), None)))
    assert box.poll().message.message == Urgent(1)


@pytest.mark.parametrize("control_first", [True, False])
def test_stop_and_forced_items_follow_control_first_only(
    impl: Any, control_first: bool
) -> None:
    calls: list[Any] = []

    def never(message: Any) -> bool:
        calls.append(message)
        return False

    box = impl.dispatch.PriorityMailbox(None, never, control_first)
    box.offer("a")
    box.offer(STOP)
    note = object()
    box.force(note)
    assert calls == ["a"]  # the classifier never sees STOP or forced items
    got = [box.poll() for _ in range(3)]
    assert got == ([STOP, note, "a"] if control_first else ["a", STOP, note])


def test_control_first_alone_makes_a_priority_mailbox(impl: Any) -> None:
    box = impl.dispatch.PriorityMailbox(4, None, True)
    assert box.priority is None and box.control_first is True
    box.offer("a")
    box.offer(Envelope(STOP, None))
    assert box.poll() == Envelope(STOP, None)


def test_capacity_counts_both_lanes_and_force_ignores_it(impl: Any) -> None:
    box = impl.dispatch.PriorityMailbox(2, (Urgent,), True)
    assert box.offer("a") and box.offer(Urgent(1))
    assert not box.offer(Urgent(2)) and not box.offer("b")
    with pytest.raises(anyio.WouldBlock):
        box.put_nowait(Urgent(3))
    assert box.force(STOP)
    assert len(box) == 3
    assert box.drain() == [Urgent(1), STOP, "a"]


async def test_waiting_urgent_producers_are_admitted_first(impl: Any) -> None:
    box = impl.dispatch.PriorityMailbox(1, (Urgent,))
    box.put_nowait("a")
    done: list[Any] = []

    async def producer(item: Any) -> None:
        await box.put(item)
        done.append(item)

    async with anyio.create_task_group() as tg:
        for item in ("b", Urgent(1), "c", Urgent(2)):
            tg.start_soon(producer, item)
            await wait_all_tasks_blocked()
        assert done == [] and len(box) == 1
        got = []
        while len(got) < 5:
            item = box.poll()
            if item is impl.dispatch.EMPTY:
                await wait_all_tasks_blocked()
                continue
            got.append(item)
    assert got == ["a", Urgent(1), Urgent(2), "b", "c"]
    assert len(done) == 4  # every producer returned (trio does not resume them in order)


async def test_a_cancelled_urgent_producer_leaves_its_lane(impl: Any) -> None:
    box = impl.dispatch.PriorityMailbox(1, (Urgent,))
    box.put_nowait("a")
    async with anyio.create_task_group() as tg:
        tg.start_soon(box.put, Urgent(1))
        await wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    assert box.poll() == "a"
    assert box.poll() is impl.dispatch.EMPTY
    assert box.offer(Urgent(2)) and box.drain() == [Urgent(2)]


async def test_close_fails_waiting_producers_of_both_lanes(impl: Any) -> None:
    box = impl.dispatch.PriorityMailbox(1, (Urgent,))
    box.put_nowait(Urgent(0))
    errors: list[BaseException] = []

    async def producer(item: Any) -> None:
        try:
            await box.put(item)
        except MailboxClosed as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(producer, "a")
        tg.start_soon(producer, Urgent(1))
        await wait_all_tasks_blocked()
        box.close()
        box.close()  # idempotent
    assert len(errors) == 2 and box.closed
    assert not box.force(STOP)
    with pytest.raises(MailboxClosed):
        box.offer(Urgent(2))
    assert (await box.get()).message == Urgent(0)
    with pytest.raises(anyio.EndOfStream):
        await box.get()


async def test_get_and_wait_see_the_urgent_lane(impl: Any) -> None:
    box = impl.dispatch.PriorityMailbox(None, (Urgent,))
    got: list[Any] = []

    async def consumer() -> None:
        got.append((await box.get()).message)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consumer)
        await wait_all_tasks_blocked()
        box.offer(Urgent(1))
    assert got == [Urgent(1)]
    box.offer(Urgent(2))
    await box.wait()  # returns at once
    assert box.get_nowait().message == Urgent(2)
    with pytest.raises(anyio.WouldBlock):
        box.get_nowait()


async def test_capacity_zero_is_a_rendezvous_urgent_producer_first(impl: Any) -> None:
    box = impl.dispatch.PriorityMailbox(0, (Urgent,))
    assert not box.offer("x")  # nobody waiting to take it
    order: list[Any] = []

    async def producer(item: Any) -> None:
        await box.put(item)
        order.append(item)

    async with anyio.create_task_group() as tg:
        tg.start_soon(producer, "a")
        await wait_all_tasks_blocked()
        tg.start_soon(producer, Urgent(1))
        await wait_all_tasks_blocked()
        assert len(box) == 0
        await box.wait()
        taken = [(await box.get()).message, (await box.get()).message]
    assert taken == [Urgent(1), "a"]

    async def consumer() -> None:
        order.append((await box.get()).message)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consumer)
        await wait_all_tasks_blocked()
        assert box.offer(Urgent(2))  # a consumer is waiting: handed over
    assert order[-1] == Urgent(2)


def test_the_predicate_is_called_once_per_send_through_the_slow_path(impl: Any) -> None:
    calls: list[Any] = []

    def count(message: Any) -> bool:
        calls.append(message)
        return True

    box = impl.dispatch.PriorityMailbox(0, count)
    message = object()
    assert not box.offer(message)  # refused: its verdict is kept for the slow path
    assert box._classify(message) is True
    assert calls == [message]
    assert box._classify(message) is True  # consumed: classified again
    assert calls == [message, message]


def test_repr_and_slots(impl: Any) -> None:
    box = impl.dispatch.PriorityMailbox(3, (Urgent,))
    box.offer(Urgent(1))
    box.offer("a")
    assert repr(box) == "<PriorityMailbox capacity=3 urgent=1 queued=1 open>"
    with pytest.raises(AttributeError):
        box.capacty = 8


@pytest.mark.parametrize(
    ("priority", "normal"),
    [
        (None, None),
        (Urgent, (Urgent,)),
        ({Urgent}, (Urgent,)),
        ([Urgent, int], (Urgent, int)),
        (iter, (Urgent,)),  # an iterator: made in the test, each twin needs a fresh one
        ((), ()),
    ],
)
def test_check_priority_normalises_type_sets(impl: Any, priority: Any, normal: Any) -> None:
    if priority is iter:
        priority = iter([Urgent])
    assert impl.dispatch.check_priority(priority, False) == normal


def test_check_priority_keeps_a_predicate(impl: Any) -> None:
    def pred(message: Any) -> bool:
        return True

    assert impl.dispatch.check_priority(pred, True) is pred


@pytest.mark.parametrize(
    ("priority", "control_first", "text"),
    [
        ("abc", False, "priority must be None, a predicate or an iterable of classes, not 'abc'."),
        (b"a", False, "priority must be None, a predicate or an iterable of classes, not b'a'."),
        (3, False, "priority must be None, a predicate or an iterable of classes, not 3."),
        ([int, 3], False, "priority types must be classes; 3 is not a class."),
        (None, "yes", "control_first must be a bool, not 'yes'."),
    ],
)
def test_bad_options_are_refused_alike_by_both_twins(
    impl: Any, priority: Any, control_first: Any, text: str
) -> None:
    with pytest.raises(TypeError) as info:
        impl.dispatch.PriorityMailbox(4, priority, control_first)
    assert str(info.value) == text


async def test_a_timer_message_into_a_full_mailbox_keeps_its_own_lane(
    make_system: Any,
) -> None:
    """A timer that fires while the mailbox is full is forced in (it never waits), in the
    lane its message belongs to: an ordinary tick does not jump ahead of the backlog even
    with ``control_first``, an urgent one does."""
    from papyra.clock import ManualClock

    clock = ManualClock()
    system = await make_system(clock=clock)
    rig = Rig(anyio.Event)

    class Ticking(Recorder):
        async def on_start(self) -> None:
            self.context.timers.start_single("tick", "tick", 1.0)
            self.context.timers.start_single("alarm", Alarm(1), 2.0)

    ref = system.spawn(
        lambda: Ticking(rig.log, rig.entered, rig.release),
        priority=Urgent, control_first=True, mailbox_capacity=1,
    )
    await ref.tell("block")
    await rig.entered.wait()
    await ref.tell("queued")  # the mailbox is full now
    await clock.advance(1.0)  # "tick" is forced in: behind "queued"
    await clock.advance(1.0)  # the alarm is forced in: ahead of both
    rig.release.set()
    assert await ref.ask("last") == "last"
    assert rig.log == [Alarm(1), "queued", "tick", "last"]
