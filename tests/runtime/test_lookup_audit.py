"""Addresses (actors.md §3), lookup and introspection (§12, §18), refs (§7) and the error table
(§2)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from papyra._envelope import STOP, Envelope
from papyra.actor import Actor
from papyra.address import ActorAddress
from papyra.audit import ActorInfo, AuditReport
from papyra.events import ActorCrashed, ActorEvent, ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped, AskTimeout, MailboxClosed, PapyraError
from papyra.mailbox import Mailbox
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.models import PersistedAudit
from papyra.ref import ActorRef
from papyra.system import ActorSystem

pytestmark = pytest.mark.anyio


class W(Actor):
    def __init__(self) -> None:
        self.got: list[Any] = []

    async def receive(self, message: Any) -> Any:
        if isinstance(message, BaseException):
            raise message
        if message == "got":
            return list(self.got)
        if isinstance(message, tuple) and message[0] == "spawn":
            return self.context.spawn_child(message[1])
        self.got.append(message)
        return message


class Other(W):
    pass


class Outer:
    class Inner(Actor):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, BaseException):
                raise message
            return message


class Gated(Actor):
    """Blocks in ``receive("block")`` and (for instances after the first) in ``on_start``."""

    def __init__(self, state: SimpleNamespace) -> None:
        self.state = state
        state.instances += 1
        self.number = state.instances
        self.got: list[Any] = []

    async def on_start(self) -> None:
        if self.number > 1:
            self.state.entered.set()
            await self.state.gate.wait()

    async def receive(self, message: Any) -> Any:
        if isinstance(message, BaseException):
            raise message
        if message == "block":
            self.state.entered.set()
            await self.state.gate.wait()
        self.got.append(message)
        return list(self.got)


def gated_state(make_gate: Any) -> SimpleNamespace:
    return SimpleNamespace(instances=0, gate=make_gate(), entered=anyio.Event())


async def entered(state: SimpleNamespace) -> None:
    with anyio.fail_after(5):
        await state.entered.wait()


async def until_event(system: ActorSystem, kind: type[ActorEvent], ref: ActorRef) -> None:
    address = ref.address.to_dict()
    await system.wait_for_event(
        lambda e: isinstance(e, kind) and e.address == address, timeout=5
    )


async def until_stopped(system: ActorSystem, ref: ActorRef) -> None:
    await until_event(system, ActorStoppedEvent, ref)


async def until_started(system: ActorSystem, *refs: ActorRef) -> None:
    for ref in refs:
        await until_event(system, ActorStarted, ref)


def assert_stopped_error(error: BaseException, message: str, reason: str | None) -> None:
    assert type(error) is ActorStopped
    assert isinstance(error, PapyraError)
    assert str(error) == message
    assert error.reason == reason


# -- ActorAddress ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "system", "actor_id"),
    [
        ("local:1", "local", 1),
        ("local://1", "local", 1),
        (" local : 7 ", "local", 7),
        ("local:// 12 ", "local", 12),
        ("sys-a:-3", "sys-a", -3),
        ("my system:0", "my system", 0),
    ],
)
def test_parse_valid_addresses(raw: str, system: str, actor_id: int) -> None:
    assert ActorAddress.parse(raw) == ActorAddress(system=system, actor_id=actor_id)


@pytest.mark.parametrize(
    "raw",
    [1, None, b"local:1", ("local", 1), "local1", "", ":1", "  :1", "://1", "local:", "local:x",
     "local://", "node:1:2", "a://b:1", "local:1.5"],
)
def test_parse_rejects_malformed_addresses(raw: Any) -> None:
    with pytest.raises(ValueError):
        ActorAddress.parse(raw)


def test_address_text_and_dict_forms() -> None:
    address = ActorAddress(system="local", actor_id=1)
    assert str(address) == "local:1"
    assert address.to_dict() == {"system": "local", "actor_id": 1}
    assert ActorAddress.from_dict({"system": "local", "actor_id": 1}) == address
    coerced = ActorAddress.from_dict({"system": 5, "actor_id": "7", "extra": True})
    assert coerced == ActorAddress("5", 7)
    assert type(coerced.system) is str and type(coerced.actor_id) is int


def test_address_is_a_frozen_value_object() -> None:
    a, b = ActorAddress("local", 1), ActorAddress("local", 1)
    assert a == b and hash(a) == hash(b)
    assert a != ActorAddress("local", 2)
    assert a != ActorAddress("other", 1)
    assert len({a, b, ActorAddress("local", 2)}) == 2
    with pytest.raises(FrozenInstanceError):
        a.actor_id = 2  # type: ignore[misc]


systems = st.text(min_size=1).filter(lambda s: ":" not in s and s.strip() == s)


@given(system=systems, actor_id=st.integers())
def test_address_round_trips(system: str, actor_id: int) -> None:
    address = ActorAddress(system, actor_id)
    assert ActorAddress.parse(str(address)) == address
    assert ActorAddress.parse(f"{system}://{actor_id}") == address
    assert ActorAddress.from_dict(address.to_dict()) == address


# -- addresses assigned by the system ------------------------------------------------------------


async def test_rids_count_every_spawn_from_one(make_system: Any) -> None:
    system = await make_system(system_id="edge")
    first = system.spawn(W)
    second = system.spawn(W, name="w")
    child = await first.ask(("spawn", W))
    assert [first._rid, second._rid, child._rid] == [1, 2, 3]
    assert [str(r.address) for r in (first, second, child)] == ["edge:1", "edge:2", "edge:3"]
    assert system.list_actors() == (
        ActorAddress("edge", 1), ActorAddress("edge", 2), ActorAddress("edge", 3),
    )


async def test_address_survives_restarts(system: ActorSystem) -> None:
    ref = system.spawn(W, name="w")
    with pytest.raises(ValueError):
        await ref.ask(ValueError("x"))
    assert system.ref_for_name("w").address == ActorAddress("local", 1)
    assert system.actor_info(ref).address == ActorAddress("local", 1)


# -- ref_for / ref_for_name ----------------------------------------------------------------------


async def test_ref_for_hands_out_fresh_equal_refs(system: ActorSystem) -> None:
    ref = system.spawn(W)
    by_address = system.ref_for(ActorAddress("local", 1))
    by_text = system.ref_for("local:1")
    assert by_address is not by_text
    assert by_address == by_text == ref
    assert by_address._rid == by_text._rid == 1
    assert await by_text.ask("hi") == "hi"
    assert await ref.ask("got") == ["hi"]


async def test_ref_for_errors(system: ActorSystem) -> None:
    ref = system.spawn(W)
    with pytest.raises(ActorStopped) as info:
        system.ref_for("remote:1")
    assert_stopped_error(info.value, "Remote actor systems are not supported yet.", "shutdown")
    with pytest.raises(ActorStopped) as info:
        system.ref_for(ActorAddress("local", 99))
    assert_stopped_error(info.value, "Actor does not exist.", "shutdown")
    with pytest.raises(ValueError):
        system.ref_for("not an address")

    await system.stop(ref)  # stopping: refused at once, and still after termination
    with pytest.raises(ActorStopped) as info:
        system.ref_for("local:1")
    assert_stopped_error(info.value, "Actor is not running.", "shutdown")
    await until_stopped(system, ref)
    with pytest.raises(ActorStopped) as info:
        system.ref_for(ActorAddress("local", 1))
    assert_stopped_error(info.value, "Actor is not running.", "shutdown")


async def test_ref_for_name(system: ActorSystem, make_gate: Any) -> None:
    state = gated_state(make_gate)
    ref = system.spawn(lambda: Gated(state), name="g")
    found = system.ref_for_name("g")
    assert found == ref and found is not ref

    await ref.tell("block")
    await entered(state)
    await system.stop(ref)
    stale = system.ref_for_name("g")  # no liveness check while the name is registered
    assert stale == ref
    assert not stale.is_alive()

    state.gate.set()
    await until_stopped(system, ref)
    with pytest.raises(ActorStopped) as info:
        system.ref_for_name("g")
    assert_stopped_error(info.value, "Actor with name 'g' does not exist.", "shutdown")


async def test_name_is_released_by_any_permanent_termination(system: ActorSystem) -> None:
    ref = system.spawn(W, name="w")
    await ref.tell(STOP)
    await until_stopped(system, ref)
    assert system.list_names() == {}
    with pytest.raises(ActorStopped):
        system.ref_for_name("w")
    again = system.spawn(W, name="w")
    assert system.ref_for_name("w") == again
    assert again._rid == 2


async def test_list_names(system: ActorSystem) -> None:
    a = system.spawn(W, name="a")
    system.spawn(W)
    b = system.spawn(W, name="b")
    names = system.list_names()
    assert names == {"a": a.address, "b": b.address}
    assert all(type(v) is ActorAddress for v in names.values())
    names.clear()
    assert len(system.list_names()) == 2  # a copy
    with pytest.raises(ValueError):
        await a.ask(ValueError("restart"))
    assert system.list_names() == {"a": ActorAddress("local", 1), "b": ActorAddress("local", 3)}


# -- list_actors / refs / refs_by_type / broadcast -----------------------------------------------


async def test_list_actors_and_refs(system: ActorSystem) -> None:
    refs = [system.spawn(W) for _ in range(3)]
    await system.stop(refs[1])
    all_addresses = tuple(r.address for r in refs)

    assert system.list_actors() == all_addresses
    assert system.list_actors(alive_only=True) == (refs[0].address, refs[2].address)
    assert system.refs() == (refs[0], refs[2])
    assert system.refs(alive_only=False) == tuple(refs)
    assert all(type(r) is ActorRef for r in system.refs(alive_only=False))
    assert system.refs()[0] is not refs[0]

    await until_stopped(system, refs[1])
    assert system.list_actors() == all_addresses  # stopped records are kept
    assert system.refs(alive_only=False)[1].is_alive() is False


async def test_refs_by_type(system: ActorSystem) -> None:
    w = system.spawn(W)
    other = system.spawn(Other)
    inner = system.spawn(Outer.Inner)
    inner_qualified = f"{Outer.Inner.__module__}.{Outer.Inner.__qualname__}"

    assert system.refs_by_type(W) == (w, other)  # isinstance
    assert system.refs_by_type(Other) == (other,)
    assert system.refs_by_type(Actor) == (w, other, inner)
    assert system.refs_by_type("W") == (w,)  # names match the exact class only
    assert system.refs_by_type("Inner") == (inner,)
    assert system.refs_by_type("Outer.Inner") == (inner,)
    assert system.refs_by_type(inner_qualified) == (inner,)
    assert system.refs_by_type(f"{W.__module__}.W") == (w,)
    assert system.refs_by_type("Actor") == ()
    assert system.refs_by_type("Missing") == ()

    await system.stop(w)
    assert system.refs_by_type(W) == (other,)
    assert system.refs_by_type(W, alive_only=False) == (w, other)


async def test_refs_by_type_looks_at_the_current_instance(system: ActorSystem) -> None:
    classes = iter([W, Outer.Inner])
    ref = system.spawn(lambda: next(classes)(), name="shifty")
    assert system.refs_by_type(W) == (ref,)
    with pytest.raises(ValueError):
        await ref.ask(ValueError("x"))
    assert system.refs_by_type(W) == ()
    assert system.refs_by_type("Inner") == (ref,)
    assert system.actor_info(ref).actor_type == "Outer.Inner"


async def test_broadcast(system: ActorSystem) -> None:
    w1, w2 = system.spawn(W), system.spawn(W)
    other = system.spawn(Other)
    inner = system.spawn(Outer.Inner)
    stopped = system.spawn(W)
    await system.stop(stopped)

    assert await system.broadcast("all") == 4
    assert await system.broadcast("w-only", actor_type="W") == 2
    assert await system.broadcast("w-family", actor_type=W) == 3
    assert await system.broadcast("none", actor_type="Missing") == 0
    letters_before = len(system.dead_letters.messages)
    assert await system.broadcast("incl-stopped", alive_only=False) == 4
    assert len(system.dead_letters.messages) == letters_before + 1

    assert await w1.ask("got") == ["all", "w-only", "w-family", "incl-stopped"]
    assert await w2.ask("got") == ["all", "w-only", "w-family", "incl-stopped"]
    assert await other.ask("got") == ["all", "w-family", "incl-stopped"]
    assert await inner.ask("probe") == "probe"


# -- actor_info ------------------------------------------------------------------------------------


async def test_actor_info_accepts_every_target_kind(system: ActorSystem) -> None:
    system.spawn(W)
    ref = system.spawn(W, name="w")
    expected = ActorInfo(
        rid=2, address=ActorAddress("local", 2), name="w", parent_rid=None, children_rids=(),
        alive=True, stopping=False, restarting=False, actor_type="W",
    )
    targets = [
        ref,
        system.ref_for_name("w"),
        2,
        ActorAddress("local", 2),
        ActorAddress("elsewhere", 2),  # the system is not checked
        "local:2",
        "local://2",
        SimpleNamespace(_rid=2),
    ]
    for target in targets:
        assert system.actor_info(target) == expected, target


@pytest.mark.parametrize("target", [1.5, None, [1], {"rid": 1}, object()])
async def test_actor_info_rejects_other_types(system: ActorSystem, target: Any) -> None:
    system.spawn(W)
    with pytest.raises(TypeError):
        system.actor_info(target)


async def test_actor_info_unknown_actor(system: ActorSystem) -> None:
    system.spawn(W)
    for target in (99, "local:99", ActorAddress("local", 0), SimpleNamespace(_rid=42)):
        with pytest.raises(ActorStopped) as info:
            system.actor_info(target)
        assert_stopped_error(info.value, "Actor does not exist.", "shutdown")
    with pytest.raises(ValueError):
        system.actor_info("bogus")


async def test_actor_info_tree_and_states(system: ActorSystem) -> None:
    parent = system.spawn(W, name="p")
    c1 = await parent.ask(("spawn", W))
    c2 = await parent.ask(("spawn", Other))
    await system.stop(c1)
    await until_stopped(system, c1)

    info = system.actor_info(parent)
    assert info.children_rids == (c1._rid, c2._rid)  # stopped children stay listed
    assert info.parent_rid is None
    assert info.state == "alive"
    c1_info = system.actor_info(c1)
    assert (c1_info.alive, c1_info.stopping, c1_info.restarting) == (False, True, False)
    assert c1_info.state == "stopping"  # kept after termination (A4)
    assert c1_info.parent_rid == parent._rid
    assert c1_info.name is None
    assert system.actor_info(c2).actor_type == "Other"


async def test_actor_info_while_restarting(system: ActorSystem, make_gate: Any) -> None:
    state = gated_state(make_gate)
    ref = system.spawn(lambda: Gated(state), name="g")
    async with anyio.create_task_group() as tg:

        async def crash() -> None:
            with pytest.raises(ValueError):
                await ref.ask(ValueError("x"))

        tg.start_soon(crash)
        await entered(state)
        info = system.actor_info(ref)
        assert (info.alive, info.restarting, info.state) == (True, True, "restarting")
        assert system.audit().restarting_actors == 1
        state.gate.set()
    assert system.actor_info(ref).state == "alive"


def test_actor_info_state_priority() -> None:
    def info(alive: bool, stopping: bool, restarting: bool) -> ActorInfo:
        return ActorInfo(1, ActorAddress("local", 1), None, None, (), alive, stopping, restarting)

    assert info(True, True, True).state == "restarting"
    assert info(True, True, False).state == "stopping"
    assert info(False, True, False).state == "stopping"
    assert info(True, False, False).state == "alive"
    assert info(False, False, False).state == "stopped"


def test_panel_line_text() -> None:
    full = ActorInfo(1, ActorAddress("local", 1), "w", None, (), True, False, False, "W")
    assert full.panel_line() == (
        "rid=1 address=local:1 name=w actor=W state=alive parent=- children=-"
    )
    bare = ActorInfo(3, ActorAddress("local", 3), None, 1, (4, 5), False, True, False)
    assert bare.panel_line() == (
        "rid=3 address=local:3 name=- actor=- state=stopping parent=1 children=4,5"
    )


# -- control_panel ---------------------------------------------------------------------------------


async def test_control_panel_empty(system: ActorSystem) -> None:
    assert system.control_panel() == ("No actors.",)
    assert system.control_panel(alive_only=True) == ("No actors.",)


async def test_control_panel_text(system: ActorSystem) -> None:
    system.spawn(W, name="w")
    second = system.spawn(W)
    await system.stop(second)
    await until_stopped(system, second)

    assert system.control_panel() == (
        "RID  ADDRESS  NAME  ACTOR  STATE     PARENT  CHILDREN",
        "1    local:1  w     W      alive     -       -",
        "2    local:2  -     W      stopping  -       -",
    )
    assert system.control_panel(alive_only=True) == (
        "RID  ADDRESS  NAME  ACTOR  STATE  PARENT  CHILDREN",
        "1    local:1  w     W      alive  -       -",
    )


async def test_control_panel_with_a_tree(system: ActorSystem) -> None:
    parent = system.spawn(W, name="parent")
    await parent.ask(("spawn", Outer.Inner))
    await parent.ask(("spawn", W))
    assert system.control_panel() == (
        "RID  ADDRESS  NAME    ACTOR        STATE  PARENT  CHILDREN",
        "1    local:1  parent  W            alive  -       2,3",
        "2    local:2  -       Outer.Inner  alive  1       -",
        "3    local:3  -       W            alive  1       -",
    )


# -- audit ---------------------------------------------------------------------------------------


async def test_audit_counts(make_system: Any, clock: Any, make_gate: Any) -> None:
    backend = InMemoryPersistence()
    system = await make_system(persistence=backend, time_fn=clock)
    state = gated_state(make_gate)
    gated = system.spawn(lambda: Gated(state), name="g")
    w = system.spawn(W, name="w")
    gone = system.spawn(W)
    await system.stop(gone)
    with pytest.raises(ActorStopped):
        await gone.tell("late")
    await gated.tell("block")
    await entered(state)
    await system.stop(gated)  # stopping, not terminated: its name is still registered

    report = system.audit()

    assert report.system_id == "local"
    assert report.total_actors == 3
    assert report.alive_actors == 1
    assert report.stopping_actors == 2
    assert report.restarting_actors == 0
    assert report.registry_size == 2
    assert report.registry_orphans == ()
    assert report.registry_dead == ("g",)
    assert report.dead_letters_count == report.dead_letters_total == 1
    assert [i.rid for i in report.actors] == [1, 2, 3]
    assert report.actors[1] == system.actor_info(w)

    state.gate.set()
    await until_stopped(system, gated)
    await until_stopped(system, gone)
    after = system.audit(include_actor_details=False)
    assert after.actors == ()
    assert (after.total_actors, after.alive_actors, after.stopping_actors) == (3, 1, 2)
    assert (after.registry_size, after.registry_dead) == (1, ())

    await anyio.wait_all_tasks_blocked()
    assert list(backend.audits) == [
        PersistedAudit(
            system_id="local", timestamp=clock.now, total_actors=3, alive_actors=1,
            stopping_actors=2, restarting_actors=0, registry_size=2, registry_orphans=(),
            registry_dead=("g",), dead_letters_count=1, dead_letters_total=1,
            run_id=system.run_id,
        ),
        PersistedAudit(
            "local", clock.now, 3, 1, 2, 0, 1, (), (), 1, dead_letters_total=1,
            run_id=system.run_id,
        ),
    ]


async def test_audit_reports_to_the_hook(make_system: Any) -> None:
    seen: list[Any] = []

    class Hooks:
        def on_audit(self, report: Any) -> None:
            seen.append(report)

    system = await make_system(hooks=Hooks())
    report = system.audit()
    assert seen == [report] and seen[0] is report
    assert report.total_actors == 0
    assert report.summary_lines() == (
        "system_id=local",
        "actors(total=0, alive=0, stopping=0, restarting=0)",
        "registry(size=0, orphans=0, dead=0)",
        "dead_letters=0",
    )


async def test_audit_summary_and_panel_text(system: ActorSystem) -> None:
    system.spawn(W, name="w")
    second = system.spawn(W)
    await system.stop(second)
    with pytest.raises(ActorStopped):
        await second.tell("late")
    await until_stopped(system, second)

    report = system.audit()
    summary = (
        "system_id=local",
        "actors(total=2, alive=1, stopping=1, restarting=0)",
        "registry(size=1, orphans=0, dead=0)",
        "dead_letters=1",
    )
    assert report.summary_lines() == summary
    assert report.panel_lines() == (
        *summary,
        "rid=1 address=local:1 name=w actor=W state=alive parent=- children=-",
        "rid=2 address=local:2 name=- actor=W state=stopping parent=- children=-",
    )
    assert system.audit(include_actor_details=False).panel_lines() == (
        *summary,
        "actors=<not included>",
    )


def test_summary_lines_count_orphans_and_dead_names() -> None:
    report = AuditReport(
        system_id="s", total_actors=5, alive_actors=2, stopping_actors=2, restarting_actors=1,
        registry_size=4, registry_orphans=("x", "y"), registry_dead=("z",), dead_letters_count=7,
    )
    assert report.summary_lines() == (
        "system_id=s",
        "actors(total=5, alive=2, stopping=2, restarting=1)",
        "registry(size=4, orphans=2, dead=1)",
        "dead_letters=7",
    )
    assert report.panel_lines() == (*report.summary_lines(), "actors=<not included>")


async def test_audit_after_close_is_not_persisted(make_system: Any) -> None:
    backend = InMemoryPersistence()
    system = await make_system(persistence=backend)
    system.spawn(W)
    await system.aclose()
    report = system.audit()
    assert report.alive_actors == 0
    assert backend.audits == ()


# -- refs ----------------------------------------------------------------------------------------


async def test_ref_equality_hash_and_repr(system: ActorSystem) -> None:
    a = system.spawn(W)
    b = system.spawn(W)
    a_again = system.ref_for("local:1")
    assert a == a_again and hash(a) == hash(a_again)
    assert a != b
    assert len({a, a_again, b}) == 2
    assert repr(a) == "ActorRef(local:1)"
    assert a.address == ActorAddress("local", 1)
    with pytest.raises(FrozenInstanceError):
        a._rid = 5  # type: ignore[misc]


def test_ref_without_address() -> None:
    ref = ActorRef(3, lambda env: None, lambda: True)
    with pytest.raises(RuntimeError, match=r"^ActorRef has no address bound$"):
        ref.address
    assert ref.is_alive()


# -- the error table (§2) ------------------------------------------------------------------------


async def test_tell_and_ask_on_a_stopped_actor(system: ActorSystem) -> None:
    ref = system.spawn(W)
    await system.stop(ref)
    assert ref.is_alive() is False
    with pytest.raises(ActorStopped) as told:
        await ref.tell("t")
    assert_stopped_error(told.value, "Actor is not running.", None)
    with pytest.raises(ActorStopped) as asked:
        await ref.ask("a")
    assert_stopped_error(asked.value, "Actor is not running.", None)
    assert [(d.message, d.expects_reply, d.target) for d in system.dead_letters.messages] == [
        ("t", False, ref),
        ("a", True, ref),
    ]


async def test_refs_die_with_their_system(make_system: Any) -> None:
    system = await make_system()
    ref = system.spawn(W)
    await system.aclose()
    assert not ref.is_alive()
    with pytest.raises(ActorStopped) as info:
        await ref.ask("x")
    assert_stopped_error(info.value, "Actor is not running.", None)
    assert system.dead_letters.messages[-1].message == "x"


async def test_ask_timeout(system: ActorSystem, make_gate: Any) -> None:
    state = gated_state(make_gate)
    ref = system.spawn(lambda: Gated(state))
    await ref.tell("block")
    await entered(state)

    with pytest.raises(AskTimeout) as info:
        await ref.ask("late", timeout=0.05)
    assert str(info.value) == "ask() timed out after 0.05 seconds."
    assert isinstance(info.value, PapyraError)

    state.gate.set()
    # The timed-out message is still processed, and its undeliverable reply is no crash.
    assert await ref.ask("next") == ["block", "late", "next"]
    assert not any(isinstance(e, ActorCrashed) for e in system.events())
    assert ref.is_alive()


async def test_mailbox_put_after_close() -> None:
    mailbox = Mailbox()
    await mailbox.aclose()
    with pytest.raises(MailboxClosed) as info:
        await mailbox.put(Envelope("x"))
    assert str(info.value) == "Mailbox is closed."
    assert isinstance(info.value, PapyraError)


async def test_spawn_requires_a_running_system(make_system: Any) -> None:
    system = await make_system(start=False)
    with pytest.raises(ActorStopped) as info:
        system.spawn(W)
    assert_stopped_error(info.value, "ActorSystem is not running.", "shutdown")

    await system.start()
    system.spawn(W)
    await system.aclose()
    with pytest.raises(ActorStopped) as info:
        system.spawn(W)
    assert_stopped_error(info.value, "ActorSystem is not running.", "shutdown")


async def test_spawn_duplicate_name(system: ActorSystem) -> None:
    system.spawn(W, name="w")
    with pytest.raises(ValueError) as info:
        system.spawn(Other, name="w")
    assert str(info.value) == "Actor name 'w' already exists."
    assert system.list_actors() == (ActorAddress("local", 1),)


async def test_spawn_factory_errors_propagate(system: ActorSystem) -> None:
    def broken() -> W:
        raise LookupError("no actor for you")

    with pytest.raises(LookupError, match="no actor for you"):
        system.spawn(broken)
    ref = system.spawn(W)
    assert await ref.ask("ok") == "ok"


async def test_start_is_idempotent(make_system: Any) -> None:
    system = await make_system()
    ref = system.spawn(W, name="w")
    await system.start()
    assert ref.is_alive()
    assert await ref.ask("still") == "still"
    assert [type(e) for e in system.events()] == [ActorStarted]


async def test_closed_system_cannot_restart(make_system: Any) -> None:
    system = await make_system()
    await system.aclose()
    await system.aclose()  # idempotent
    with pytest.raises(ActorStopped) as info:
        await system.start()
    assert_stopped_error(info.value, "ActorSystem is closed.", "shutdown")


async def test_async_with_starts_and_closes(impl: Any) -> None:
    async with ActorSystem(_dispatch=impl.dispatch) as system:
        assert isinstance(system, ActorSystem)
        ref = system.spawn(W)
        assert await ref.ask("in") == "in"
    assert not ref.is_alive()
    with pytest.raises(ActorStopped):
        system.spawn(W)
