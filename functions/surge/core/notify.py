"""Notification text: one message per burst of changes, each line saying old -> new, why, and what comes next.

ScalingDecision events reach the notifier through a queue with a 60 s batching window, so every change of a
burst (a push, then the metric catching up, then a calendar pre-scale) arrives together and becomes ONE
message; a target that changed several times in the burst gets one line from its first to its last count.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from surge.core.decision import Action, Signal
from surge.core.plan import AppliedChange


class Notification(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str
    text: str
    changes: int
    dry_run: bool


def compose(changes: list[AppliedChange]) -> Notification | None:
    """One message for a batch of applied changes; None when nothing changed."""
    real = [
        c for c in changes if c.from_units != c.to_units or c.group_limits_set or c.instances_from != c.instances_to
    ]
    if not real:
        return None
    by_target: dict[str, list[AppliedChange]] = {}
    for change in sorted(real, key=lambda c: (c.applied_at, c.target_id)):
        seen = by_target.setdefault(change.target_id, [])
        if seen and _counts(seen[-1]) == _counts(change):
            continue  # the same change twice (two overlapping loops, an at-least-once delivery): say it once
        seen.append(change)
    lines = [_line(target_changes) for target_changes in by_target.values()]
    dry_run = all(c.dry_run for c in real)
    prefix = "[dry run] " if dry_run else ""
    if len(by_target) == 1:
        only = next(iter(by_target.values()))
        subject = (
            f"{prefix}Surge: {only[0].target_id} {_count(only[0].from_units)} -> {_count(only[-1].to_units)} units"
        )
    else:
        subject = f"{prefix}Surge: {len(by_target)} targets changed"
    said = sum(len(target_changes) for target_changes in by_target.values())
    return Notification(subject=subject, text="\n".join(lines), changes=said, dry_run=dry_run)


def _counts(change: AppliedChange) -> tuple[int | None, ...]:
    return (change.from_units, change.to_units, change.instances_from, change.instances_to)


def _instances(changes: list[AppliedChange]) -> str:
    """ECS on EC2: the instances under the tasks, and which waited for which."""
    moved = [c for c in changes if c.instances_from != c.instances_to]
    if not moved:
        return ""
    first, last = moved[0], moved[-1]
    tasks = changes[-1]
    if last.instances_to is not None and last.instances_from is not None and last.instances_to > last.instances_from:
        wait = " (tasks wait for placement)" if tasks.to_units != tasks.from_units else ""
    else:
        wait = f" after tasks went down to {_count(tasks.to_units)}"
    return f" Instances {_count(first.instances_from)} -> {_count(last.instances_to)}{wait}."


def _line(changes: list[AppliedChange]) -> str:
    first, last = changes[0], changes[-1]
    decision = last.decision
    steps = "" if len(changes) == 1 else f" in {len(changes)} steps"
    marker = "[dry run] " if last.dry_run else ""
    text = (
        f"{marker}{first.target_id}: {_count(first.from_units)} -> {_count(last.to_units)} units{steps}"
        f" ({decision.action.value.replace('_', ' ')}) at {_time(last.applied_at)}.{_instances(changes)} {_why(last)}"
    )
    if decision.action is Action.SCALE_OUT or decision.active_holds or decision.active_events:
        text += f" {_next_scale_in(last)}"
    if last.group_limits_set and decision.group_limits is not None:
        limits = decision.group_limits
        text += f" Group min/max set to {limits.min_units}/{limits.max_units}."
    return text


def _why(change: AppliedChange) -> str:
    decision = change.decision
    if decision.winner is Signal.PUSH and decision.active_holds:
        return f"Push {', '.join(decision.active_holds)} (hold {decision.push_floor_units} units)."
    if decision.winner is Signal.CALENDAR:
        events = ", ".join(decision.active_events) or "an event ramping down"
        return f"Calendar: {events} ({decision.calendar_floor_units} units)."
    if decision.demand_rps is not None and decision.winner is Signal.REACTIVE:
        return f"Demand {decision.demand_rps:,.0f} rps ({decision.demand_source})."
    return decision.explanation[:1].upper() + decision.explanation[1:] + "."


def _next_scale_in(change: AppliedChange) -> str:
    decision = change.decision
    if decision.active_holds:
        return "Scale-in waits for the push hold to end."
    if decision.active_events:
        return "Scale-in waits for the event to end."
    if decision.scale_in_allowed_at is not None:
        return f"Scale-in allowed from {_time(decision.scale_in_allowed_at)}."
    return "Scale-in only after the cooldown, once demand stays lower."


def _count(units: int | None) -> str:
    return "?" if units is None else str(units)


def _time(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S UTC")
