"""The capacity decision for one target at one instant.

Rules (README "How Surge decides"):
- target = max(reactive, push floor, calendar floor, min), clamped to [min, max]; reactive sizes for the demand
  expected when new units would serve when demand is really rising (surge.core.response.Trend); a push floor is
  the hold's sized units corrected upward from the observed response, and follows the observed demand once the
  response's peak has passed (surge.core.response.hold_floor);
- scale-out applies at once;
- scale-in only when the lower target has held for the whole cooldown window (the peak demand over the
  window decides, like a stabilization window), not within the cooldown after a scale-out, never while a push's
  response has not passed its peak or a calendar event is active, never below an active hold's floor, and by at
  most `max_scale_in_step_units` per action;
- a missing, stale or gappy signal never lowers capacity;
- desired never leaves [min_units, max_units], whatever the inputs;
- a target an operator paused (`surge pause`) is decided as usual, and its decision changes nothing: desired stays
  the current count (None when that is outside [min_units, max_units]: no call), limits stay, and the explanation
  says what it would have done.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from surge.core.config import LinkedInstances, ScalingConfig, TargetConfig, TargetKind
from surge.core.instances import InstancePlan, plan_instances
from surge.core.response import freshest_trend, hold_floor, next_push_start, push_response
from surge.core.signals import (
    CalendarEvent,
    GroupLimits,
    Hold,
    Pause,
    RateSample,
    TargetSignals,
    TargetState,
    UtcDatetime,
    latest_fresh,
    units_for_rps,
)

RELEASE_FRACTION_OF_SIZED_DEMAND = 0.5
"""A push hold past its minimum is released once the peak demand over one cooldown stays below this share."""


class Action(StrEnum):
    SCALE_OUT = "scale_out"
    SCALE_IN = "scale_in"
    STEADY = "steady"


class Signal(StrEnum):
    """Which signal set the target."""

    REACTIVE = "reactive"
    PUSH = "push"
    CALENDAR = "calendar"
    MIN = "min"
    MAX = "max"
    GROUP_MIN = "group_min"
    CURRENT = "current"


class Reason(StrEnum):
    """Machine-readable reason for a decision."""

    SCALE_OUT = "scale_out"
    SCALE_IN = "scale_in"
    ABOVE_MAX = "above_max"
    AT_TARGET = "at_target"
    CAPACITY_UNKNOWN = "capacity_unknown"
    HOLD_ACTIVE = "hold_active"
    EVENT_ACTIVE = "event_active"
    SIGNAL_MISSING = "signal_missing"
    SIGNAL_GAP = "signal_gap"
    COOLDOWN = "cooldown"
    STEP_INTERVAL = "step_interval"
    WITHIN_TOLERANCE = "within_tolerance"
    LIMITS_ONLY = "limits_only"
    PAUSED = "paused"
    TARGET_UNAVAILABLE = "target_unavailable"


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    target_id: str
    kind: TargetKind
    action: Action
    reason: Reason
    winner: Signal
    explanation: str
    current_desired_units: int | None
    desired_units: int | None = Field(description="None when the current capacity is unknown: change nothing")
    demand_rps: float | None
    demand_source: str | None
    reactive_units: int | None
    trend_headroom_rps: float = Field(default=0.0, description="demand added for a rise before new units serve")
    push_floor_units: int
    calendar_floor_units: int
    active_holds: list[str]
    hold_floors: list[str] = Field(default_factory=list, description="each active hold's floor, explained")
    active_events: list[str]
    scale_in_allowed_at: UtcDatetime | None = None
    group_limits: GroupLimits | None = Field(default=None, description="ASG min/max to set, if they change")
    next_state: TargetState = Field(description="what to remember once this decision is applied")
    dry_run: bool = False
    instances: InstancePlan | None = Field(
        default=None, description="ECS on EC2: the linked group's side of this decision (README 'ECS on EC2')"
    )

    @property
    def changes_desired(self) -> bool:
        return self.desired_units is not None and self.desired_units != self.current_desired_units

    @property
    def changes_limits(self) -> bool:
        return self.group_limits is not None

    @property
    def grows_instances(self) -> bool:
        return self.instances is not None and self.instances.grows

    @property
    def shrinks_instances(self) -> bool:
        return self.instances is not None and self.instances.shrinks


# ---------------------------------------------------------------------------------------------- demand


@dataclass(frozen=True)
class Demand:
    rps: float
    source: str
    age_seconds: float


def high_resolution_max_age_seconds(period_seconds: int) -> float:
    """A high-resolution datapoint is stale after three periods (at least 30 s)."""
    return max(30.0, 3.0 * period_seconds)


def _high_resolution_max_age(signals: TargetSignals) -> float:
    samples = signals.high_resolution_samples
    return high_resolution_max_age_seconds(samples[0].period_seconds) if samples else 30.0


def current_demand(signals: TargetSignals, scaling: ScalingConfig, now: datetime) -> Demand | None:
    """The freshest evidence of demand: the larger of the latest ALB and high-resolution rates."""
    candidates: list[Demand] = []
    alb = latest_fresh(signals.request_samples, now, scaling.metric_max_age_seconds)
    if alb is not None:
        candidates.append(Demand(alb.rps, "alb_request_count", (now - alb.end).total_seconds()))
    if signals.high_resolution_samples:
        high = latest_fresh(signals.high_resolution_samples, now, _high_resolution_max_age(signals))
        if high is not None:
            candidates.append(Demand(high.rps, "high_resolution", (now - high.end).total_seconds()))
    if not candidates:
        return None
    return max(candidates, key=lambda d: d.rps)


def covered_peak_rps(
    samples: list[RateSample], window_start: datetime, now: datetime, max_age_seconds: float
) -> float | None:
    """Peak rate over [window_start, now], or None unless the samples cover the window without a gap.

    Coverage: a sample overlaps the window's start, consecutive samples touch, and the newest is fresh.
    """
    newest = latest_fresh(samples, now, max_age_seconds)
    if newest is None:
        return None
    # Metrics lag: the window always reaches back to the newest datapoint, even when it is shorter than the lag.
    window_start = min(window_start, newest.start)
    in_window = sorted((s for s in samples if s.end > window_start and s.start <= now), key=lambda s: s.start)
    if not in_window or in_window[0].start > window_start:
        return None
    tolerance = timedelta(seconds=1)
    for earlier, later in itertools.pairwise(in_window):
        if later.start > earlier.end + tolerance:
            return None
    return max(s.rps for s in in_window)


def window_peak_rps(
    signals: TargetSignals, scaling: ScalingConfig, window_start: datetime, now: datetime
) -> float | None:
    """Peak demand over the window from every source that covers it; None if no source covers it."""
    peaks = []
    alb = covered_peak_rps(signals.request_samples, window_start, now, scaling.metric_max_age_seconds)
    if alb is not None:
        peaks.append(alb)
    if signals.high_resolution_samples:
        high = covered_peak_rps(signals.high_resolution_samples, window_start, now, _high_resolution_max_age(signals))
        if high is not None:
            peaks.append(high)
    return max(peaks) if peaks else None


# ------------------------------------------------------------------------------------- holds and events


def hold_released(hold: Hold) -> bool:
    """An operator released the hold (`surge hold release`): it no longer counts anywhere, at once."""
    return hold.released_at is not None


def hold_is_active(hold: Hold, now: datetime, peak_rps_over_cooldown: float | None) -> bool:
    """A hold lasts at least until `min_until`, at most until `max_until`; in between it is released once
    the peak demand over one cooldown window has stayed below half of what it was sized for. A released hold is
    not active."""
    if hold_released(hold) or now < hold.started_at or now >= hold.max_until:
        return False
    if now < hold.min_until:
        return True
    if peak_rps_over_cooldown is None:
        return True  # no evidence that traffic subsided: keep holding
    return peak_rps_over_cooldown >= RELEASE_FRACTION_OF_SIZED_DEMAND * hold.sized_for_rps


def event_is_active(event: CalendarEvent, now: datetime) -> bool:
    """From `lead_seconds` before the start until `hold_after_seconds` after the end."""
    return event.active_from <= now < event.active_until


def event_floor_units(event: CalendarEvent, now: datetime) -> int:
    """The event's floor: its units while active, then stepping down over `ramp_down_steps` steps."""
    if now < event.active_from:
        return 0
    if now < event.active_until:
        return event.units
    elapsed_seconds = (now - event.active_until).total_seconds()
    step = int(elapsed_seconds // event.ramp_down_step_seconds) + 1
    steps = event.ramp_down_steps
    if step > steps:
        return 0
    remaining_share = (steps + 1 - step) / (steps + 1)
    return math.ceil(event.units * remaining_share - 1e-9)


# ------------------------------------------------------------------------------------------- decision


def _clamp(units: int, scaling: ScalingConfig) -> int:
    return max(scaling.min_units, min(scaling.max_units, units))


def decide(target: TargetConfig, signals: TargetSignals, now: datetime) -> Decision:
    """Decide the desired units of one target at `now` (an aware UTC datetime).

    A paused target (`signals.pause`) is decided exactly as if it were not, then the decision is turned into one
    that changes nothing (`paused_decision`)."""
    decision = _decide_acting(target, signals, now)
    if target.instances is not None:
        decision = with_instances(decision, target.instances, signals)
    if signals.pause is None:
        return decision
    return paused_decision(decision, signals.pause, signals, target.scaling)


def paused_decision(decision: Decision, pause: Pause, signals: TargetSignals, scaling: ScalingConfig) -> Decision:
    """What a paused target gets: the same reading of its signals (demand, floors, holds, events), no change.

    Desired stays the current count, or None (no call) when the current count is unknown or outside
    [min_units, max_units]; the group's limits and the remembered state stay as read."""
    current = decision.current_desired_units
    kept = current if current is not None and scaling.min_units <= current <= scaling.max_units else None
    return decision.model_copy(
        update={
            "action": Action.STEADY,
            "reason": Reason.PAUSED,
            "winner": Signal.CURRENT,
            "desired_units": kept,
            "group_limits": None,
            "instances": None,
            "scale_in_allowed_at": None,
            "next_state": signals.state,
            "explanation": f"{_paused_text(pause)}: {_would_text(decision)}",
        }
    )


def _paused_text(pause: Pause) -> str:
    since = pause.paused_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"paused by an operator since {since}" + (f" ({pause.reason})" if pause.reason else "")


def _would_text(decision: Decision) -> str:
    """What the target would get if it were not paused, for the paused decision's explanation."""
    current = decision.current_desired_units
    if decision.reason is Reason.CAPACITY_UNKNOWN:
        return "current capacity could not be read; changing nothing"
    if decision.reason is Reason.ABOVE_MAX:
        return f"would lower {current} -> {decision.desired_units} (above max_units), changing nothing"
    if decision.action is not Action.STEADY:
        change, _, why = decision.explanation.partition(": ")
        return f"would {change}, changing nothing" + (f" ({why})" if why else "")
    limits = decision.group_limits
    if limits is not None:
        return (
            f"would set the group's limits to min {limits.min_units}, max {limits.max_units}, changing nothing "
            f"({decision.explanation})"
        )
    return f"would keep {current} units, changing nothing ({decision.explanation})"


TASKS_SETTLED = frozenset({Reason.AT_TARGET, Reason.WITHIN_TOLERANCE, Reason.SCALE_IN, Reason.STEP_INTERVAL})
"""The task decisions after which idle instances may go (and only with a fresh demand and a readable table): not
during a cooldown, a hold, an event, or while a signal is missing (nothing is removed for lack of a signal)."""


def with_instances(decision: Decision, linked: LinkedInstances, signals: TargetSignals) -> Decision:
    """A linked target's decision with its instance side (surge.core.instances): the tasks as decided, the group
    sized for them; the explanation says both numbers and which waited for which.

    The group unreadable: the tasks still scale (a spike is not lost to the group), the instances stay. The
    configuration not fitting what is deployed (`LinkedReading.invalid`): nothing changes for the target."""
    capacity = signals.capacity
    if capacity is None:
        return decision
    reading = capacity.linked
    if reading is not None and reading.invalid is not None:
        return decision.model_copy(
            update={
                "action": Action.STEADY,
                "reason": Reason.TARGET_UNAVAILABLE,
                "winner": Signal.CURRENT,
                "desired_units": None,
                "group_limits": None,
                "scale_in_allowed_at": None,
                "next_state": signals.state,
                "explanation": f"{reading.invalid}; nothing changes",
            }
        )
    if reading is None or reading.group is None:
        why = reading.error if reading is not None and reading.error else "the linked group was not read"
        return decision.model_copy(
            update={
                "explanation": f"{decision.explanation}; instances unchanged: {why} "
                "(tasks beyond what the instances in service hold wait for placement)"
            }
        )
    plan = plan_instances(
        linked,
        reading.group,
        desired_tasks=capacity.desired_units,
        running_tasks=capacity.in_service_units,
        target_tasks=decision.desired_units,
        allow_scale_in=decision.reason in TASKS_SETTLED
        and decision.demand_rps is not None
        and signals.store_error is None,
    )
    update: dict[str, object] = {"instances": plan}
    tasks_from, tasks_to = capacity.desired_units, decision.desired_units
    if decision.changes_desired and tasks_to is not None and tasks_to > tasks_from:
        wait = " (tasks wait for placement)" if plan.grows else ""
        update["explanation"] = f"{decision.explanation}; tasks {tasks_from} -> {tasks_to}, {plan.explanation}{wait}"
    elif decision.changes_desired:
        update["explanation"] = (
            f"{decision.explanation}; tasks {tasks_from} -> {tasks_to} first, {plan.explanation}"
            + (" until those tasks have stopped (instances wait for tasks)" if not plan.shrinks else "")
        )
    elif plan.grows:
        update |= {
            "action": Action.SCALE_OUT,
            "reason": Reason.SCALE_OUT,
            "explanation": f"{plan.explanation} for {plan.tasks_for_sizing} tasks ({decision.explanation})",
        }
    elif plan.shrinks:
        update |= {
            "action": Action.SCALE_IN,
            "reason": Reason.SCALE_IN,
            "explanation": f"{plan.explanation} after tasks went down to {tasks_from} (instances waited for tasks)",
        }
    else:
        update["explanation"] = f"{decision.explanation}; {plan.explanation}"
    return decision.model_copy(update=update)


def _decide_acting(target: TargetConfig, signals: TargetSignals, now: datetime) -> Decision:
    """The decision of a target that is not paused (README "How Surge decides")."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware UTC datetime")
    scaling = target.scaling
    cooldown = timedelta(seconds=scaling.scale_in_cooldown_seconds)
    demand = current_demand(signals, scaling, now)
    peak_rps = window_peak_rps(signals, scaling, now - cooldown, now)

    trend = freshest_trend(signals, scaling, now, _high_resolution_max_age(signals))
    holds = [h for h in signals.holds if hold_is_active(h, now, peak_rps)]
    # A hold is superseded only by a later push whose own hold is active (and so carries the response).
    floors = [
        hold_floor(
            h,
            push_response(h, signals, scaling, trend, now, next_push_start(h, holds)),
            scaling,
            now,
            peak_rps,
        )
        for h in holds
    ]
    holds_forbid_scale_in = any(f.phase not in ("established", "following") for f in floors)
    # A push's ramp is its hold's business (sized, then corrected from the response); the trend's headroom is for
    # a rise no push explains, so it does not add to a push response that is still rising.
    headroom_rps = (
        trend.headroom_rps(scaling) if trend is not None and demand is not None and not holds_forbid_scale_in else 0.0
    )
    events = [e for e in signals.calendar if event_is_active(e, now)]
    push_floor = max((f.units for f in floors), default=0)
    calendar_floor = max((event_floor_units(e, now) for e in signals.calendar), default=0)
    reactive = (
        units_for_rps(demand.rps + headroom_rps, scaling.unit_capacity_rps, scaling.target_utilization)
        if demand
        else None
    )

    def build(
        action: Action,
        reason: Reason,
        winner: Signal,
        desired: int | None,
        explanation: str,
        allowed_at: datetime | None = None,
    ) -> Decision:
        limits, saved = _group_limits(target, signals, desired, events, calendar_floor)
        if action is Action.STEADY and limits is not None:
            reason = Reason.LIMITS_ONLY
        changes = desired is not None and signals.capacity is not None and desired != signals.capacity.desired_units
        next_state = TargetState(
            last_scale_out_at=now if changes and action is Action.SCALE_OUT else signals.state.last_scale_out_at,
            last_scale_in_at=now if changes and action is Action.SCALE_IN else signals.state.last_scale_in_at,
            saved_group_limits=saved,
            shadow=signals.state.shadow,
            version=signals.state.version,
        )
        return Decision(
            target_id=target.id,
            kind=target.kind,
            action=action,
            reason=reason,
            winner=winner,
            explanation=explanation,
            current_desired_units=signals.capacity.desired_units if signals.capacity else None,
            desired_units=desired,
            demand_rps=round(demand.rps, 3) if demand else None,
            demand_source=demand.source if demand else None,
            reactive_units=reactive,
            trend_headroom_rps=round(headroom_rps, 3),
            push_floor_units=push_floor,
            calendar_floor_units=calendar_floor,
            active_holds=[h.push_id for h in holds],
            hold_floors=[f.explanation for f in floors],
            active_events=[e.name for e in events],
            scale_in_allowed_at=allowed_at,
            group_limits=limits,
            next_state=next_state,
            dry_run=scaling.dry_run,
        )

    if signals.capacity is None and signals.unavailable is not None:
        return build(
            Action.STEADY,
            Reason.TARGET_UNAVAILABLE,
            Signal.CURRENT,
            None,
            f"target unavailable ({signals.unavailable}); nothing changes",
        )
    if signals.capacity is None:
        return build(
            Action.STEADY,
            Reason.CAPACITY_UNKNOWN,
            Signal.CURRENT,
            None,
            "current capacity could not be read; nothing changes",
        )
    current = signals.capacity.desired_units

    candidates = [
        (scaling.min_units, Signal.MIN),
        (push_floor, Signal.PUSH),
        (calendar_floor, Signal.CALENDAR),
        (reactive or 0, Signal.REACTIVE),
        (_group_min_floor(target, signals), Signal.GROUP_MIN),
    ]
    wanted, winner = max(candidates, key=lambda c: c[0])
    target_units = _clamp(wanted, scaling)
    if target_units < wanted:
        winner = Signal.MAX
    demand_text = _demand_text(demand)

    if current > scaling.max_units:
        return build(
            Action.SCALE_IN,
            Reason.ABOVE_MAX,
            Signal.MAX,
            scaling.max_units,
            f"current {current} is above max_units {scaling.max_units}; lowering to the maximum",
        )
    if target_units > current:
        return build(
            Action.SCALE_OUT,
            Reason.SCALE_OUT,
            winner,
            target_units,
            f"scale out {current} -> {target_units}: {_winner_text(winner, demand_text, holds, events)}",
            now + cooldown,
        )
    if target_units == current:
        return build(Action.STEADY, Reason.AT_TARGET, winner, current, f"at target {current} units ({demand_text})")

    # The target is lower than the current desired count: scale in only when it is safe.
    if holds_forbid_scale_in:
        return build(
            Action.STEADY,
            Reason.HOLD_ACTIVE,
            Signal.PUSH,
            current,
            f"holding {current} units: push hold {', '.join(h.push_id for h in holds)} is active "
            "(its response has not passed its peak)",
        )
    if events:
        return build(
            Action.STEADY,
            Reason.EVENT_ACTIVE,
            Signal.CALENDAR,
            current,
            f"holding {current} units: calendar event {', '.join(e.name for e in events)} is active",
        )
    if signals.store_error is not None:
        return build(
            Action.STEADY,
            Reason.SIGNAL_MISSING,
            Signal.CURRENT,
            current,
            f"holding {current} units: push holds and calendar could not be read ({signals.store_error})",
        )
    if demand is None:
        return build(
            Action.STEADY,
            Reason.SIGNAL_MISSING,
            Signal.CURRENT,
            current,
            f"holding {current} units: no fresh request metric"
            + (f" ({signals.metric_error})" if signals.metric_error else ""),
        )
    if peak_rps is None:
        return build(
            Action.STEADY,
            Reason.SIGNAL_GAP,
            Signal.CURRENT,
            current,
            f"holding {current} units: the request metric does not cover the last "
            f"{scaling.scale_in_cooldown_seconds} s without a gap",
        )
    last_out = signals.state.last_scale_out_at
    if last_out is not None and now < last_out + cooldown:
        allowed_at = last_out + cooldown
        return build(
            Action.STEADY,
            Reason.COOLDOWN,
            Signal.CURRENT,
            current,
            f"holding {current} units: scale-in cooldown after the scale-out at {last_out.isoformat()}",
            allowed_at,
        )
    last_in = signals.state.last_scale_in_at
    step_gap = timedelta(seconds=scaling.scale_in_step_interval_seconds)
    if last_in is not None and now < last_in + step_gap:
        return build(
            Action.STEADY,
            Reason.STEP_INTERVAL,
            Signal.CURRENT,
            current,
            f"holding {current} units until the next scale-in step",
            last_in + step_gap,
        )
    peak_units = units_for_rps(peak_rps, scaling.unit_capacity_rps, scaling.target_utilization)
    settled_target = max(target_units, _clamp(peak_units, scaling))
    if settled_target >= current:
        return build(
            Action.STEADY,
            Reason.AT_TARGET,
            Signal.REACTIVE,
            current,
            f"holding {current} units: peak {peak_rps:.0f} rps over the last "
            f"{scaling.scale_in_cooldown_seconds} s still needs them",
        )
    floor_units = _clamp(max(scaling.min_units, push_floor, calendar_floor, _group_min_floor(target, signals)), scaling)
    demand_driven = settled_target > floor_units
    if demand_driven and settled_target > current * (1 - scaling.scale_in_tolerance):
        return build(
            Action.STEADY,
            Reason.WITHIN_TOLERANCE,
            Signal.REACTIVE,
            current,
            f"holding {current} units: {settled_target} would remove less than "
            f"{scaling.scale_in_tolerance:.0%} (noise, not a trend)",
        )
    stepped = current - scaling.max_scale_in_step_units
    # Units no evidence ever asked for (a push's guess or safety factor, a trend's extrapolation) go at once: the
    # step limit protects capacity some measurement justified, down from the highest need any evidence showed.
    evidenced = [f.evidenced_units for f in floors if f.evidenced_units is not None]
    ceiling = _clamp(max([peak_units, *evidenced]), scaling) if floors else None
    if ceiling is not None and ceiling < stepped:
        stepped = ceiling
    desired = max(settled_target, stepped)
    return build(
        Action.SCALE_IN,
        Reason.SCALE_IN,
        winner if desired == target_units else Signal.REACTIVE,
        desired,
        f"scale in {current} -> {desired}: peak {peak_rps:.0f} rps over the last "
        f"{scaling.scale_in_cooldown_seconds} s needs {max(peak_units, scaling.min_units)} units"
        + (f" (step of at most {scaling.max_scale_in_step_units})" if desired > settled_target else "")
        + (" (units above what any measurement needed released at once)" if ceiling == stepped else ""),
    )


def _group_min_floor(target: TargetConfig, signals: TargetSignals) -> int:
    """An Auto Scaling group's own MinSize (as the operator set it) is a floor: AWS rejects desired below it."""
    if target.kind is not TargetKind.ASG or signals.capacity is None or signals.capacity.group_limits is None:
        return 0
    own = signals.state.saved_group_limits or signals.capacity.group_limits
    return own.min_units


def _group_limits(
    target: TargetConfig,
    signals: TargetSignals,
    desired: int | None,
    active_events: list[CalendarEvent],
    calendar_floor: int,
) -> tuple[GroupLimits | None, GroupLimits | None]:
    """For an Auto Scaling group: the MinSize/MaxSize to set now (None: leave them) and what to remember.

    During an active calendar event MinSize is raised to the event's floor, and MaxSize is raised whenever
    the desired count would exceed it; once neither is needed the values Surge found are restored.
    """
    capacity = signals.capacity
    saved = signals.state.saved_group_limits
    if target.kind is not TargetKind.ASG or capacity is None or capacity.group_limits is None:
        return None, saved
    current = capacity.group_limits
    own = saved or current
    units = desired if desired is not None else capacity.desired_units
    want_min = own.min_units
    if active_events:
        want_min = max(want_min, min(calendar_floor, units))
    want_min = min(want_min, units)
    want_max = max(own.max_units, units)
    wanted = GroupLimits(min_units=want_min, max_units=want_max)
    to_set = None if wanted == current else wanted
    remember = None if wanted == own else own
    return to_set, remember


def _demand_text(demand: Demand | None) -> str:
    if demand is None:
        return "no fresh request metric"
    return f"demand {demand.rps:,.0f} rps from {demand.source}, {demand.age_seconds:.0f} s old"


def _winner_text(winner: Signal, demand_text: str, holds: list[Hold], events: list[CalendarEvent]) -> str:
    if winner is Signal.PUSH:
        return "push hold " + ", ".join(f"{h.push_id} ({h.audience:,} notified)" for h in holds)
    if winner is Signal.CALENDAR:
        return "calendar event " + (", ".join(e.name for e in events) or "ramp-down")
    if winner is Signal.MAX:
        return f"capped at max_units ({demand_text})"
    if winner in (Signal.MIN, Signal.GROUP_MIN):
        return "raised to the minimum"
    return demand_text
