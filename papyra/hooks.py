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
    """What ``ActorSystem(hooks=...)`` calls: any object with some of these methods.

    A missing method is simply not called. Each is called synchronously, in the task where
    the fact happens (an actor's task, or the caller's), and must not block; one that returns
    an awaitable has it awaited in a task of its own while the system runs. What a hook
    raises is logged (``papyra`` logger, debug) and never reaches the runtime.
    """

    def on_event(self, event: ActorEvent) -> MaybeAwaitable:
        """Every lifecycle event (``papyra.events``), as it is emitted."""

    def on_dead_letter(self, dead_letter: DeadLetter) -> MaybeAwaitable:
        """A message that could not be delivered (a stopped actor, a closed system...)."""

    def on_failure(self, failure: FailureInfo) -> MaybeAwaitable:
        """An actor failed: before the decision (``decision=None``), then with it."""

    def on_audit(self, report: object) -> MaybeAwaitable:
        """The report of each ``ActorSystem.audit()``."""

    async def on_persistence_scan(self, report: PersistenceScanReport) -> None:
        """The scan report of the startup check, awaited in ``start()``."""

    async def on_persistence_recovery(self, report: Any) -> None:
        """The recovery report of the startup check, awaited in ``start()``."""


@dataclass(slots=True)
class DefaultHooks:
    """Hooks that do nothing: subclass it and override only the ones you need."""

    def on_event(self, event: ActorEvent) -> MaybeAwaitable:
        """Every lifecycle event, as it is emitted (see :class:`SystemHooks`)."""
        return None

    def on_dead_letter(self, dead_letter: DeadLetter) -> MaybeAwaitable:
        """A message that could not be delivered."""
        return None

    def on_failure(self, failure: FailureInfo) -> MaybeAwaitable:
        """An actor failed: before the supervision decision, then with it."""
        return None

    def on_audit(self, report: object) -> MaybeAwaitable:
        """The report of each ``ActorSystem.audit()``."""
        return None

    def on_restart_budget_exhausted(self, info: RestartBudgetExhausted) -> MaybeAwaitable:
        """An actor spent its restart budget (``max_restarts`` within ``within_seconds``)."""
        return None

    async def on_persistence_scan(self, report: PersistenceScanReport) -> None:
        """The scan report of the startup check."""
        return None

    async def on_persistence_recovery(self, report: Any) -> None:
        """The recovery report of the startup check."""
        return None
