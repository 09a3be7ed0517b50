"""Applying a decision safely when another flow may have acted since it was made (pure).

The loop and the push fast path run at once on AWS: a push can record its hold and raise capacity between the
loop's ReadSignals and its ApplyCapacity, and the loop's decision then describes a world that is gone. So
ApplyCapacity re-reads the target (its table items and its current capacity) just before acting and reconciles
the decision with what it finds:

- a **scale-out** means "at least this many": it is raised to any floor that is binding now (a push hold within
  its minimum, or one the decision already held; an active calendar entry), and it is *superseded* (no call)
  when the current desired count is already at least that: another flow got there first;
- a **scale-in** is abandoned as soon as anything changed the target since the decision read it (its state
  version moved: a push, a scale-out, another loop), unless a new floor is above the current count, which is
  then applied;
- a change of an Auto Scaling group's limits alone is re-decided next iteration if the state moved;
- nothing is changed once an operator has paused the target (`surge pause`), whatever the decision made before
  the pause said; a hold an operator released (`surge hold release`) is no floor.

The state written afterwards is merged with the fresh one, never a stale copy: timestamps keep the later value,
the group's own limits saved by anyone are never dropped. The write is conditional on the version read here;
if it fails, ApplyCapacity re-reads and reconciles again, so an interleaving that slips between the re-read
and the write is repaired before the flow moves on.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from surge.core.config import ScalingConfig
from surge.core.decision import Action, Decision, event_floor_units, hold_released
from surge.core.signals import CalendarEvent, CurrentCapacity, GroupLimits, Hold, Pause, TargetState


class Outcome(StrEnum):
    AS_DECIDED = "as_decided"
    RAISED_TO_NEW_FLOOR = "raised_to_new_floor"
    SUPERSEDED = "superseded"
    SCALE_IN_ABANDONED = "scale_in_abandoned"
    PAUSED = "paused"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FreshView(_Model):
    """What ApplyCapacity reads again just before it acts on one target."""

    state: TargetState
    holds: list[Hold] = Field(default_factory=list)
    calendar: list[CalendarEvent] = Field(default_factory=list)
    current_desired_units: int | None = Field(description="None when the current capacity could not be read")
    current_group_limits: GroupLimits | None = None
    pause: Pause | None = Field(default=None, description="an operator's pause, if the target is paused now")
    read_capacity: CurrentCapacity | None = Field(
        default=None, description="the capacity as read now (with an ECS-on-EC2 target's linked group)"
    )


class Reconciled(_Model):
    outcome: Outcome
    desired_units: int | None = Field(description="what to set now; None: make no call")
    group_limits: GroupLimits | None = None
    next_state: TargetState
    explanation: str

    @property
    def acts(self) -> bool:
        return self.desired_units is not None


def binding_floor_units(decision: Decision, scaling: ScalingConfig, fresh: FreshView, now: datetime) -> int:
    """The floor nobody may go below now: the decision's own floors (its holds' floors as it computed them:
    corrected, or following the demand), any push hold the decision did not know that is still within its minimum
    (a new push), and every calendar entry's floor, clamped to [min, max]."""
    holds = [
        h.units
        for h in fresh.holds
        if h.push_id not in decision.active_holds and h.started_at <= now < h.min_until and not hold_released(h)
    ]
    events = [event_floor_units(e, now) for e in fresh.calendar]
    wanted = max([scaling.min_units, decision.push_floor_units, decision.calendar_floor_units, *holds, *events])
    return max(scaling.min_units, min(scaling.max_units, wanted))


def merge_states(fresh: TargetState, decided: TargetState, *, moved: bool) -> TargetState:
    """The state to write: the fresh one's version; the later of each timestamp; the group's own limits as the
    decision computed them when nothing moved, else whichever side saved them (never dropped)."""

    def later(a: datetime | None, b: datetime | None) -> datetime | None:
        return max((x for x in (a, b) if x is not None), default=None)

    saved = decided.saved_group_limits if not moved else (fresh.saved_group_limits or decided.saved_group_limits)
    return TargetState(
        last_scale_out_at=later(fresh.last_scale_out_at, decided.last_scale_out_at),
        last_scale_in_at=later(fresh.last_scale_in_at, decided.last_scale_in_at),
        saved_group_limits=saved,
        shadow=fresh.shadow,
        version=fresh.version,
    )


def reconcile(decision: Decision, scaling: ScalingConfig, fresh: FreshView, now: datetime) -> Reconciled:
    """What to do with `decision` given what is true now (see the module docstring)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware UTC datetime")
    decided = decision.desired_units
    moved = fresh.state.version != decision.next_state.version
    current = fresh.current_desired_units
    floor = binding_floor_units(decision, scaling, fresh, now)
    state = merge_states(fresh.state, decision.next_state, moved=moved)

    def result(outcome: Outcome, desired: int | None, explanation: str) -> Reconciled:
        limits = _limits_for(decision, fresh, desired, changed=desired != decided)
        next_state = state
        if limits is not None and desired is not None and desired != decided and state.saved_group_limits is None:
            next_state = state.model_copy(update={"saved_group_limits": fresh.current_group_limits})
        return Reconciled(
            outcome=outcome,
            desired_units=desired,
            group_limits=limits if desired is not None else None,
            next_state=next_state,
            explanation=explanation,
        )

    if fresh.pause is not None:
        return result(Outcome.PAUSED, None, "the target was paused by an operator after this decision")
    if decided is None:
        return result(Outcome.SUPERSEDED, None, "the decision had no desired count")
    if decision.action is Action.SCALE_OUT or (decision.action is Action.STEADY and not moved):
        # A steady decision only changes a group's limits: it keeps whatever count is there now.
        kept = current if decision.action is Action.STEADY and current is not None else decided
        kept = max(scaling.min_units, min(scaling.max_units, kept))
        wanted = max(kept, floor)
        if current is not None and decision.action is Action.SCALE_OUT and wanted <= current:
            return result(
                Outcome.SUPERSEDED,
                None,
                f"already at {current} units (another change got there first); {wanted} needed",
            )
        if wanted > kept:
            return result(
                Outcome.RAISED_TO_NEW_FLOOR,
                wanted,
                f"raised from {decided} to {wanted}: a floor appeared after the decision (a new push hold or event)",
            )
        return result(Outcome.AS_DECIDED, wanted, decision.explanation)
    if decision.action is Action.STEADY:
        return result(Outcome.SUPERSEDED, None, "the target changed since this decision; re-decided next iteration")
    # Scale-in (including lowering to max_units).
    if current is None:
        return result(Outcome.SCALE_IN_ABANDONED, None, "current capacity unreadable: no scale-in")
    if floor > current:
        return result(Outcome.RAISED_TO_NEW_FLOOR, floor, f"a new floor of {floor} units appeared: raised, not lowered")
    if moved and floor <= current:
        return result(
            Outcome.SCALE_IN_ABANDONED,
            None,
            "the target changed since this scale-in was decided (a push or another change): no scale-in",
        )
    wanted = max(decided, floor)
    if wanted >= current:
        return result(Outcome.SUPERSEDED, None, f"already at {current} units; nothing to lower")
    return result(Outcome.AS_DECIDED, wanted, decision.explanation)


def _limits_for(decision: Decision, fresh: FreshView, desired: int | None, *, changed: bool) -> GroupLimits | None:
    """The decision's group limits, with MaxSize raised when the reconciled count needs more."""
    limits = decision.group_limits
    if desired is None or not changed or fresh.current_group_limits is None:
        return limits
    base = limits or fresh.current_group_limits
    if desired > base.max_units:
        return GroupLimits(min_units=min(base.min_units, desired), max_units=desired)
    return limits
