"""Observation hooks: an object given as ``ActorSystem(hooks=...)``.

Any object works; methods it lacks are simply not called. The runtime hooks (``on_event``,
``on_dead_letter``, ``on_failure``, ``on_audit``) are called synchronously where the fact arises;
their exceptions are swallowed, and an awaitable they return runs as a background task of the
system (its exceptions swallowed too). ``on_persistence_scan`` / ``on_persistence_recovery`` are
awaited inline during ``ActorSystem.start()``.

``on_restart_budget_exhausted`` (with a :class:`RestartBudgetExhausted`) is a runtime hook too:
it is called when a failure would restart an actor but its policy's budget (``max_restarts``
within ``within_seconds``, with ``max_restarts > 0``) is spent, just before the actor stops.
It is not part of the :class:`SystemHooks` protocol, so hook classes written for 0.3.0 still
conform; :class:`DefaultHooks` has it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from papyra._validate import enum_member
from papyra.address import ActorAddress
from papyra.supervision import Strategy
from papyra.supervisor import SupervisorDecision

if TYPE_CHECKING:
    from papyra._envelope import DeadLetter
    from papyra.events import ActorEvent
    from papyra.persistence.models import PersistenceScanReport

__all__ = (
    "DefaultHooks", "FailureInfo", "MaybeAwaitable", "RestartBudgetExhausted", "SystemHooks"
)

MaybeAwaitable = None | Awaitable[None]


@dataclass(frozen=True, slots=True)
class FailureInfo:
    """What failed and how it is being handled.

    ``on_failure`` sees each failure once with ``supervisor_decision=None`` and, when the parent's
    ``on_child_failure`` returned a decision, a second time with that decision.
    """

    address: ActorAddress
    error: BaseException
    strategy: Strategy | None = None
    supervisor_decision: SupervisorDecision | None = None

    def __post_init__(self) -> None:
        # Values or names (any case) are accepted and stored as the members.
        strategy = self.strategy
        if strategy is not None and type(strategy) is not Strategy:
            object.__setattr__(
                self, "strategy", enum_member(Strategy, strategy, "FailureInfo strategy")
            )
        decision = self.supervisor_decision
        if decision is not None and type(decision) is not SupervisorDecision:
            object.__setattr__(
                self,
                "supervisor_decision",
                enum_member(SupervisorDecision, decision, "FailureInfo supervisor_decision"),
            )


@dataclass(frozen=True, slots=True)
class RestartBudgetExhausted:
    """An actor failed with its restart budget spent: it stops instead of restarting.

    ``error`` is the failure that found the budget spent; ``max_restarts`` and
    ``within_seconds`` are the budget of the policy that applied.
    """

    address: ActorAddress
    error: BaseException
    max_restarts: int
    within_seconds: float


@runtime_checkable
class SystemHooks(Protocol):
    def on_event(self, event: ActorEvent) -> MaybeAwaitable: ...
    def on_dead_letter(self, dead_letter: DeadLetter) -> MaybeAwaitable: ...
    def on_failure(self, failure: FailureInfo) -> MaybeAwaitable: ...
    def on_audit(self, report: object) -> MaybeAwaitable: ...
    async def on_persistence_scan(self, report: PersistenceScanReport) -> None: ...
    async def on_persistence_recovery(self, report: Any) -> None: ...


@dataclass(slots=True)
class DefaultHooks:
    """Hooks that do nothing."""

    def on_event(self, event: ActorEvent) -> MaybeAwaitable:
        return None

    def on_dead_letter(self, dead_letter: DeadLetter) -> MaybeAwaitable:
        return None

    def on_failure(self, failure: FailureInfo) -> MaybeAwaitable:
        return None

    def on_audit(self, report: object) -> MaybeAwaitable:
        return None

    def on_restart_budget_exhausted(self, info: RestartBudgetExhausted) -> MaybeAwaitable:
        return None

    async def on_persistence_scan(self, report: PersistenceScanReport) -> None:
        return None

    async def on_persistence_recovery(self, report: Any) -> None:
        return None
