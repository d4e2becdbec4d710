"""The mailbox of both dispatch twins: FIFO, capacity, back-pressure, closing, cancellation."""

from __future__ import annotations

import sys
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from papyra._envelope import Envelope
from papyra.exceptions import MailboxClosed

pytestmark = pytest.mark.anyio


async def test_fifo_order_and_envelopes(impl: Any) -> None:
    box = impl.dispatch.Mailbox(capacity=None)
    for i in range(100):
        await box.put(Envelope(i))
    got = [(await box.get()).message for _ in range(100)]
    assert got == list(range(100))


async def test_bare_items_come_back_as_envelopes(impl: Any) -> None:
    box = impl.dispatch.Mailbox()
    assert box.offer("hello")
    env = await box.get()
    assert isinstance(env, Envelope) and env.message == "hello" and env.reply is None


@pytest.mark.parametrize(
    ("bad", "error"),
    [(-1, ValueError), (sys.maxsize + 1, ValueError), (1.5, TypeError), ("3", TypeError),
     (True, TypeError)],
)
def test_invalid_capacity_is_refused_alike_by_both_twins(
    impl: Any, bad: Any, error: type[Exception]
) -> None:
    with pytest.raises(error) as info:
        impl.dispatch.Mailbox(capacity=bad)
    assert str(info.value) == (
        f"mailbox_capacity must be None or an int from 0 to {sys.maxsize}, not {bad!r}."
    )


def test_the_largest_capacity_fits_both_twins(impl: Any) -> None:
    box = impl.dispatch.Mailbox(capacity=sys.maxsize)
    assert box.capacity == sys.maxsize and box.offer("x")


def test_default_capacity_is_1024(impl: Any) -> None:
    assert impl.dispatch.Mailbox().capacity == 1024


async def test_none_capacity_is_unbounded(impl: Any) -> None:
    box = impl.dispatch.Mailbox(capacity=None)
    for i in range(5000):
        box.put_nowait(Envelope(i))  # never WouldBlock
    assert len(box) == 5000


async def test_put_waits_while_full_then_completes_in_order(impl: Any) -> None:
    box = impl.dispatch.Mailbox(capacity=2)
    box.put_nowait(Envelope(0))
    box.put_nowait(Envelope(1))
    with pytest.raises(anyio.WouldBlock):
        box.put_nowait(Envelope(99))
    done: list[int] = []

    async def producer(i: int) -> None:
        await box.put(Envelope(i))
        done.append(i)

    async with anyio.create_task_group() as tg:
        for i in (2, 3, 4):
            tg.start_soon(producer, i)
            await wait_all_tasks_blocked()
        assert done == []  # all three wait for room
        got = [(await box.get()).message for _ in range(5)]
    assert got == [0, 1, 2, 3, 4]  # waiting producers keep their turn
    assert sorted(done) == [2, 3, 4]


async def test_offer_does_not_overtake_waiting_producers(impl: Any) -> None:
    box = impl.dispatch.Mailbox(capacity=1)
    box.put_nowait(Envelope("a"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(box.put, Envelope("b"))
        await wait_all_tasks_blocked()
        assert (await box.get()).message == "a"
        # "b" was woken for the free slot; a newcomer must not take it first.
        assert box.offer("c") is False
        assert (await box.get()).message == "b"
    assert box.offer("c") is True


async def test_cancelled_put_leaves_the_mailbox_unchanged(impl: Any) -> None:
    box = impl.dispatch.Mailbox(capacity=1)
    box.put_nowait(Envelope("a"))
    with anyio.move_on_after(0.01) as scope:
        await box.put(Envelope("lost"))
    assert scope.cancelled_caught
    assert (await box.get()).message == "a"
    assert box.offer("b")  # no stale waiter blocks later producers
    assert (await box.get()).message == "b"
    with pytest.raises(anyio.WouldBlock):
        box.get_nowait()


async def test_close_fails_waiting_and_new_puts_but_keeps_queued_items(impl: Any) -> None:
    box = impl.dispatch.Mailbox(capacity=1)
    box.put_nowait(Envelope("queued"))
    errors: list[BaseException] = []

    async def blocked_put() -> None:
        try:
            await box.put(Envelope("late"))
        except MailboxClosed as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(blocked_put)
        await wait_all_tasks_blocked()
        await box.aclose()
    assert len(errors) == 1 and str(errors[0]) == "Mailbox is closed."
    with pytest.raises(MailboxClosed, match=r"Mailbox is closed\."):
        await box.put(Envelope("x"))
    assert (await box.get()).message == "queued"
    with pytest.raises(anyio.EndOfStream):
        await box.get()
    await box.aclose()  # idempotent


async def test_get_waits_then_wakes_on_put_or_close(impl: Any) -> None:
    box = impl.dispatch.Mailbox()
    got: list[Any] = []

    async def consumer() -> None:
        got.append((await box.get()).message)
        try:
            await box.get()
        except anyio.EndOfStream:
            got.append("end")

    async with anyio.create_task_group() as tg:
        tg.start_soon(consumer)
        await wait_all_tasks_blocked()
        await box.put(Envelope(1))
        await wait_all_tasks_blocked()
        assert got == [1]
        box.close()
    assert got == [1, "end"]


async def test_receive_side_close(impl: Any) -> None:
    box = impl.dispatch.Mailbox()
    box.put_nowait(Envelope(1))
    await box.aclose(receive=True)
    with pytest.raises(anyio.ClosedResourceError):
        await box.get()


async def test_capacity_zero_is_a_rendezvous(impl: Any) -> None:
    box = impl.dispatch.Mailbox(capacity=0)
    with pytest.raises(anyio.WouldBlock):
        box.put_nowait(Envelope("nobody waits"))
    received: list[Any] = []
    sent = anyio.Event()

    async def producer() -> None:
        await box.put(Envelope("handed over"))
        sent.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        await wait_all_tasks_blocked()
        assert not sent.is_set()
        received.append((await box.get()).message)
    assert received == ["handed over"] and sent.is_set()


async def test_force_ignores_capacity_but_not_closing(impl: Any) -> None:
    box = impl.dispatch.Mailbox(capacity=1)
    box.put_nowait(Envelope(1))
    assert box.force("system") is True
    assert len(box) == 2
    box.close()
    assert box.force("late") is False
    assert [m.message for m in [box.get_nowait(), box.get_nowait()]] == [1, "system"]


async def test_public_mailbox_is_the_selected_twin() -> None:
    from papyra import _accel
    from papyra.mailbox import Mailbox

    assert Mailbox is _accel.dispatch.Mailbox


async def test_futures_complete_once(impl: Any) -> None:
    fut = impl.dispatch.create_future()
    assert not fut.done()
    fut.set_result(1)
    assert fut.done() and await fut == 1
    cancelled = impl.dispatch.create_future()
    cancelled.cancel()
    assert cancelled.cancelled()
