"""Property tests of decide(): the safety rules hold for every valid input, not just the hand-picked ones.

Every instant is a small offset from the module-level REF (or from the drawn `now`), so failing examples shrink
to readable times. Rates stay in realistic ranges (see `test_decide_does_not_raise_on_extreme_but_valid_rates`
for what happens beyond them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from surge.core.config import AutoScalingGroup, EcsService, ScalingConfig, TargetConfig, TargetKind
from surge.core.decision import Action, Decision, Reason, Signal, decide
from surge.core.plan import Route, route_for
from surge.core.signals import (
    CalendarEvent,
    CurrentCapacity,
    GroupLimits,
    Hold,
    Pause,
    RateSample,
    TargetSignals,
    TargetState,
    units_for_rps,
)

REF = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
HIGH_RESOLUTION_PERIODS = (10, 1, 5, 20, 30, 60)


def _after(base: datetime, seconds: int) -> datetime:
    return base + timedelta(seconds=seconds)


@dataclass(frozen=True)
class Case:
    target: TargetConfig
    signals: TargetSignals
    now: datetime

    def with_signals(self, **update: object) -> Case:
        # The updates are already-valid values (lists of models, strings), so a plain copy suffices.
        signals = self.signals.model_copy(update=update)
        return Case(self.target, signals, self.now)

    def decide(self) -> Decision:
        return decide(self.target, self.signals, self.now)


# ----------------------------------------------------------------------------------------------- strategies
# Helpers take hypothesis' `draw` and only use strategies built once at import time: building strategies
# per example (`a | b`, `.map`, nested composites) costs more than the decision itself.

_INT = {bounds: st.integers(*bounds) for bounds in [(0, 1), (0, 3), (0, 5), (0, 20), (0, 40), (0, 60), (0, 150)]}
_OFFSET = st.integers(-3_600, 3_600)
_SECONDS_0_1800 = st.integers(0, 1_800)
_COOLDOWN = st.sampled_from([300, 0, 30, 60, 120, 600]) | st.integers(0, 900)
_LOAD = st.integers(0, 120).map(lambda percent: percent / 100) | st.floats(min_value=0, max_value=1.2)
_UNIT_CAPACITY = st.floats(min_value=1, max_value=2_000)
_UTILIZATION = st.floats(min_value=0.05, max_value=1)
_SIZED_FOR = st.floats(min_value=0, max_value=10_000)
_MAYBE = st.booleans()
_HIGH_RESOLUTION_PERIOD = st.sampled_from(HIGH_RESOLUTION_PERIODS)


def _int(draw: st.DrawFn, low: int, high: int) -> int:
    """An integer in [low, high] from a shared strategy (shrinks towards `low`)."""
    strategy = _INT.get((0, high - low))
    return low + draw(st.integers(0, high - low) if strategy is None else strategy)


def _maybe(draw: st.DrawFn) -> bool:
    return draw(_MAYBE)


def draw_scaling(draw: st.DrawFn) -> ScalingConfig:
    """Every field decide() reads; initial units, loop interval and push sizing stay at their defaults."""
    max_units = _int(draw, 1, 80)
    min_units = _int(draw, 0, min(20, max_units))
    return ScalingConfig(
        min_units=min_units,
        max_units=max_units,
        unit_capacity_rps=draw(_UNIT_CAPACITY),
        target_utilization=draw(_UTILIZATION),
        scale_in_cooldown_seconds=draw(_COOLDOWN),
        scale_in_step_interval_seconds=draw(st.integers(0, 300)),
        max_scale_in_step_units=draw(st.integers(1, 20)),
        metric_max_age_seconds=draw(st.integers(60, 600)),
        dry_run=_maybe(draw),
    )


def draw_target(draw: st.DrawFn, kinds: tuple[TargetKind, ...]) -> TargetConfig:
    kind = kinds[_int(draw, 0, len(kinds) - 1)]
    scaling = draw_scaling(draw)
    if kind is TargetKind.ECS:
        return TargetConfig(id="api", kind=kind, ecs=EcsService(cluster="prod", service="api"), scaling=scaling)
    return TargetConfig(id="web", kind=kind, asg=AutoScalingGroup(group_name="web-asg"), scaling=scaling)


def draw_series(draw: st.DrawFn, now: datetime, period: int, max_count: int, full_rps: float) -> list[RateSample]:
    """Up to `max_count` samples going back from a newest one that is fresh (half the time: it ended at most one
    period ago), or anywhere from still in progress to 15 minutes old.

    A base rate with up to three spikes, each needing 0-120 % of `full_rps` (what max_units serve), and up to two
    gaps of 1 s to three periods between samples.
    """
    count = _int(draw, 0, max_count)
    age = _int(draw, 0, period) if _maybe(draw) else _int(draw, -period, 900)
    end = _after(now, -age)
    base = draw(_LOAD) * full_rps
    spikes = {_int(draw, 0, max(0, count - 1)): draw(_LOAD) * full_rps for _ in range(_int(draw, 0, 3))}
    gaps = {_int(draw, 0, max(0, count - 1)): _int(draw, 1, 3 * period) for _ in range(_int(draw, 0, 2))}
    samples = []
    for i in range(count):
        start = end - timedelta(seconds=period)
        samples.append(RateSample(start=start, period_seconds=period, requests=spikes.get(i, base) * period))
        end = start - timedelta(seconds=gaps.get(i, 0))
    return samples[::-1] if _maybe(draw) else samples


def draw_hold(draw: st.DrawFn, now: datetime, push_id: str, max_units: int, *, active: bool = False) -> Hold:
    """Any hold around `now`; with `active`, one certainly active (started, and before its minimum)."""
    if active:
        started = _after(now, -draw(_SECONDS_0_1800))
        min_until = _after(now, 1 + draw(_SECONDS_0_1800))
    else:
        started = _after(now, draw(_OFFSET))
        min_until = _after(started, draw(_SECONDS_0_1800))
    return Hold(
        push_id=push_id,
        units=_int(draw, 0, max_units + 10),
        sized_for_rps=draw(_SIZED_FOR),
        started_at=started,
        min_until=min_until,
        max_until=_after(min_until, draw(_SECONDS_0_1800)),
        audience=_int(draw, 0, 150) * 1_000,
    )


def draw_event(draw: st.DrawFn, now: datetime, name: str, max_units: int, *, active: bool = False) -> CalendarEvent:
    """Any event around `now`; with `active`, one certainly active (between start - lead and end + hold_after)."""
    lead = draw(_SECONDS_0_1800)
    hold_after = draw(_SECONDS_0_1800)
    start = _after(now, draw(_OFFSET))
    end = _after(start, 1 + draw(_OFFSET.map(abs)))
    if active:
        start = min(start, _after(now, lead))
        end = max(end, _after(now, 1 - hold_after), start + timedelta(seconds=1))
    return CalendarEvent(
        entry_id=f"cal-{name}",
        name=name,
        start_at=start,
        end_at=end,
        units=_int(draw, 0, max_units + 10),
        lead_seconds=lead,
        hold_after_seconds=hold_after,
        ramp_down_steps=_int(draw, 0, 5),
        ramp_down_step_seconds=1 + draw(st.integers(0, 600)),
    )


def draw_group_limits(draw: st.DrawFn) -> GroupLimits:
    return GroupLimits(min_units=_int(draw, 0, 40), max_units=_int(draw, 0, 150))


def draw_capacity(draw: st.DrawFn, scaling: ScalingConfig, kind: TargetKind) -> CurrentCapacity:
    """Desired anywhere in [0, max_units + 5] (sometimes below min or above max), or near max_units (so that
    there is something to scale in)."""
    limits = draw_group_limits(draw) if kind is TargetKind.ASG and _maybe(draw) else None
    if _maybe(draw):
        desired = _int(draw, 0, scaling.max_units + 5)
    else:
        desired = scaling.max_units - _int(draw, 0, scaling.max_units - scaling.min_units)
    return CurrentCapacity(desired_units=desired, in_service_units=_int(draw, 0, desired), group_limits=limits)


def draw_state(draw: st.DrawFn, now: datetime, kind: TargetKind) -> TargetState:
    def instant() -> datetime | None:
        return _after(now, -_int(draw, 0, 1_200)) if _maybe(draw) else None

    return TargetState(
        last_scale_out_at=instant(),
        last_scale_in_at=instant(),
        saved_group_limits=draw_group_limits(draw) if kind is TargetKind.ASG and _maybe(draw) else None,
    )


@st.composite
def cases(
    draw: st.DrawFn,
    kinds: tuple[TargetKind, ...] = (TargetKind.ECS, TargetKind.ASG),
    capacity_known: bool | None = None,
    force_active: bool = False,
    paused: bool | None = False,
) -> Case:
    """A valid target, signals and aware UTC `now` (REF plus up to an hour); `paused` None: paused or not."""
    target = draw_target(draw, kinds)
    scaling = target.scaling
    now = _after(REF, _int(draw, 0, 3_600))
    # Half the cases have no holds and half no events, so that scale-in is reached often.
    hold_list = [
        draw_hold(draw, now, f"push-{i}", scaling.max_units) for i in range(_int(draw, 0, 3) if _maybe(draw) else 0)
    ]
    event_list = [
        draw_event(draw, now, f"event-{i}", scaling.max_units) for i in range(_int(draw, 0, 2) if _maybe(draw) else 0)
    ]
    if force_active:
        if _maybe(draw):
            hold_list.append(draw_hold(draw, now, "push-active", scaling.max_units, active=True))
        else:
            event_list.append(draw_event(draw, now, "event-active", scaling.max_units, active=True))
    known = _maybe(draw) if capacity_known is None else capacity_known
    high_resolution_period = draw(_HIGH_RESOLUTION_PERIOD)
    full_rps = scaling.max_units * scaling.unit_capacity_rps * scaling.target_utilization
    signals = TargetSignals(
        target_id=target.id,
        request_samples=draw_series(draw, now, 60, 15, full_rps),
        high_resolution_samples=(draw_series(draw, now, high_resolution_period, 36, full_rps) if _maybe(draw) else []),
        metric_error="Throttling" if _maybe(draw) else None,
        holds=hold_list,
        store_error="ProvisionedThroughputExceeded" if _int(draw, 0, 3) == 3 else None,
        calendar=event_list,
        capacity=draw_capacity(draw, target.scaling, target.kind) if known else None,
        state=draw_state(draw, now, target.kind),
        pause=draw_pause(draw, now) if paused or (paused is None and _maybe(draw)) else None,
    )
    return Case(target, signals, now)


def draw_pause(draw: st.DrawFn, now: datetime) -> Pause:
    reason = "deploy in progress" if _maybe(draw) else None
    return Pause(
        paused_at=_after(now, -_int(draw, 0, 3_600)), paused_by="arn:aws:iam::123456789012:user/ops", reason=reason
    )


def _scaled(samples: list[RateSample], factor: float) -> list[RateSample]:
    return [RateSample(start=s.start, period_seconds=s.period_seconds, requests=s.requests * factor) for s in samples]


def _assert_not_lowered(decision: Decision, case: Case) -> None:
    """Desired stays at or above current, unless current is above max_units (then exactly max_units)."""
    assert case.signals.capacity is not None
    current = case.signals.capacity.desired_units
    assert decision.desired_units is not None
    if current > case.target.scaling.max_units:
        assert decision.desired_units == case.target.scaling.max_units
        assert decision.reason is Reason.ABOVE_MAX
    else:
        assert decision.desired_units >= current


# ------------------------------------------------------------------------------------------- properties


@PROPERTY_SETTINGS
@given(cases(paused=None))
def test_desired_is_always_within_min_and_max(case: Case) -> None:
    decision = case.decide()
    scaling = case.target.scaling
    if case.signals.capacity is None:
        assert decision.desired_units is None
        assert decision.reason is (Reason.CAPACITY_UNKNOWN if case.signals.pause is None else Reason.PAUSED)
    elif case.signals.pause is not None and not scaling.min_units <= case.signals.capacity.desired_units <= (
        scaling.max_units
    ):
        # paused outside [min, max]: no desired count at all (no call), rather than a change
        assert (decision.desired_units, decision.reason) == (None, Reason.PAUSED)
    else:
        assert decision.desired_units is not None
        assert scaling.min_units <= decision.desired_units <= scaling.max_units


def _later_active_push(case: Case, hold: Hold) -> datetime | None:
    """When the first later push whose hold is active now went out (None: `hold` is the latest)."""
    later = [
        h.started_at
        for h in case.signals.holds
        if h.started_at > hold.started_at and h.push_id != hold.push_id and h.started_at <= case.now < h.max_until
    ]
    return min(later, default=None)


def _observed_peak_rps(case: Case, hold: Hold) -> float | None:
    """The highest rate since `hold`'s push that the metrics show now (its own source: the high-resolution metric
    when it has datapoints since the push, else the ALB minutes), up to the next push if one followed."""
    until = _later_active_push(case, hold)
    for samples in (case.signals.high_resolution_samples, case.signals.request_samples):
        since = [
            s
            for s in samples
            if hold.started_at < s.end <= case.now + timedelta(seconds=1) and (until is None or s.start < until)
        ]
        if since:
            return max(s.rps for s in since)
    return None


@PROPERTY_SETTINGS
@given(cases(capacity_known=True, force_active=True))
def test_never_lower_during_an_event_nor_below_a_holds_observed_peak_before_its_minimum(case: Case) -> None:
    decision = case.decide()
    # The forced hold (before its minimum) or event (inside its window) is seen as active ...
    assert "push-active" in decision.active_holds or "event-active" in decision.active_events
    # ... and every hold/event active by its own times is reported.
    for hold in case.signals.holds:
        if hold.started_at <= case.now < hold.min_until:
            assert hold.push_id in decision.active_holds
    events = [e for e in case.signals.calendar if e.active_from <= case.now < e.active_until]
    for event in case.signals.calendar:
        starts = event.start_at - timedelta(seconds=event.lead_seconds)
        if starts <= case.now < event.end_at + timedelta(seconds=event.hold_after_seconds):
            assert event.name in decision.active_events
    within_minimum = [h for h in case.signals.holds if h.started_at <= case.now < h.min_until]
    latest = [h for h in within_minimum if _later_active_push(case, h) is None]
    superseded = [h for h in within_minimum if _later_active_push(case, h) is not None]
    if events or any(_observed_peak_rps(case, h) is None for h in latest):
        # an event, or the latest hold with no evidence of its response yet: never lower
        _assert_not_lowered(decision, case)
        return
    assert case.signals.capacity is not None
    assert decision.desired_units is not None
    scaling = case.target.scaling

    def clamped(units: int) -> int:
        return min(max(units, scaling.min_units), scaling.max_units)

    if decision.desired_units < case.signals.capacity.desired_units:
        # a hold whose response has shown its size may give back what no measurement asked for, never what the
        # observed peak needed before its minimum ends
        for hold in within_minimum:
            peak = _observed_peak_rps(case, hold)
            if peak is None:
                # superseded before any datapoint of its own: it keeps what it was sized for until its minimum
                assert hold in superseded
                assert decision.desired_units >= clamped(hold.units)
                continue
            need = units_for_rps(peak, scaling.unit_capacity_rps, scaling.target_utilization)
            assert decision.desired_units >= clamped(need)


MISSING_SIGNALS = ("no_samples", "metric_error", "store_error", "store_error_and_no_store_data")


@PROPERTY_SETTINGS
@given(case=cases(capacity_known=True), missing=st.sampled_from(MISSING_SIGNALS))
def test_never_lower_because_a_signal_is_missing(case: Case, missing: str) -> None:
    if missing == "no_samples":
        case = case.with_signals(request_samples=[], high_resolution_samples=[])
    elif missing == "metric_error":
        case = case.with_signals(request_samples=[], high_resolution_samples=[], metric_error="AccessDenied")
    elif missing == "store_error":
        case = case.with_signals(store_error="ResourceNotFound")
    else:
        case = case.with_signals(store_error="ResourceNotFound", holds=[], calendar=[])
    decision = case.decide()
    _assert_not_lowered(decision, case)
    assert decision.action is not Action.SCALE_IN or decision.reason is Reason.ABOVE_MAX


@PROPERTY_SETTINGS
@given(case=cases(capacity_known=True), factor=st.floats(min_value=1, max_value=100))
def test_more_demand_never_lowers_desired(case: Case, factor: float) -> None:
    busier = case.with_signals(
        request_samples=_scaled(case.signals.request_samples, factor),
        high_resolution_samples=_scaled(case.signals.high_resolution_samples, factor),
    )
    quiet, busy = case.decide(), busier.decide()
    assert quiet.desired_units is not None
    assert busy.desired_units is not None
    assert busy.desired_units >= quiet.desired_units


@PROPERTY_SETTINGS
@given(cases())
def test_group_limits_always_admit_desired(case: Case) -> None:
    decision = case.decide()
    capacity = case.signals.capacity
    if case.target.kind is TargetKind.ECS:
        assert decision.group_limits is None
        assert decision.next_state.saved_group_limits is None
        return
    if decision.group_limits is not None:
        # AWS rejects MinSize > DesiredCapacity or DesiredCapacity > MaxSize.
        assert decision.desired_units is not None
        assert decision.group_limits.min_units <= decision.desired_units <= decision.group_limits.max_units
    if capacity is not None and capacity.group_limits is not None:
        # The limits in force once the decision is applied (new ones, or the unchanged current ones) admit it.
        assert decision.desired_units is not None
        in_force = decision.group_limits or capacity.group_limits
        assert in_force.min_units <= decision.desired_units <= in_force.max_units
        # Surge remembers the operator's own limits exactly while the group runs on different ones.
        own = case.signals.state.saved_group_limits or capacity.group_limits
        if in_force != own:
            assert decision.next_state.saved_group_limits == own
        else:
            assert decision.next_state.saved_group_limits is None
    else:
        assert decision.group_limits is None


@PROPERTY_SETTINGS
@given(cases(paused=None))
def test_decide_is_deterministic_and_survives_json(case: Case) -> None:
    first = case.decide()
    second = case.decide()
    assert first == second
    # Step Functions carries the decision as JSON between states.
    assert Decision.model_validate_json(first.model_dump_json()) == first


def _expected_route(decision: Decision) -> Route:
    """The route of a one-target plan, from the decision's action alone."""
    if decision.action is Action.SCALE_IN:
        return Route.SCALE_IN  # even when it also restores a group's limits
    if decision.action is Action.SCALE_OUT:
        return Route.CALENDAR if decision.winner is Signal.CALENDAR or decision.changes_limits else Route.SCALE_OUT
    return Route.CALENDAR if decision.changes_limits else Route.STEADY


@PROPERTY_SETTINGS
@given(cases(capacity_known=True))
def test_every_action_respects_its_guards_and_takes_its_route(case: Case) -> None:
    decision = case.decide()
    assert route_for([decision]) is _expected_route(decision)
    scaling = case.target.scaling
    assert case.signals.capacity is not None
    current = case.signals.capacity.desired_units
    assert decision.desired_units is not None
    if decision.desired_units < current and current <= scaling.max_units:
        state = case.signals.state
        assert (decision.action, decision.reason) == (Action.SCALE_IN, Reason.SCALE_IN)
        if not decision.active_holds:
            assert current - decision.desired_units <= scaling.max_scale_in_step_units
        # a hold lets scale-in through only once its response has shown its size, and never below its floor
        # (units above what any measurement needed may go in one step)
        assert decision.desired_units >= min(decision.push_floor_units, scaling.max_units)
        assert decision.active_events == []
        assert case.signals.store_error is None
        assert decision.demand_rps is not None
        assert decision.desired_units >= decision.calendar_floor_units or decision.desired_units == scaling.max_units
        cooldown = timedelta(seconds=scaling.scale_in_cooldown_seconds)
        assert state.last_scale_out_at is None or case.now >= state.last_scale_out_at + cooldown
        step = timedelta(seconds=scaling.scale_in_step_interval_seconds)
        assert state.last_scale_in_at is None or case.now >= state.last_scale_in_at + step
        assert decision.next_state.last_scale_in_at == case.now
    if decision.desired_units > current:
        assert decision.action is Action.SCALE_OUT
        assert decision.next_state.last_scale_out_at == case.now
    if decision.active_events:
        _assert_not_lowered(decision, case)
    if decision.desired_units == current:
        assert decision.action is Action.STEADY
        assert decision.next_state.last_scale_out_at == case.signals.state.last_scale_out_at
        assert decision.next_state.last_scale_in_at == case.signals.state.last_scale_in_at


# ------------------------------------------------------------------------------------ paused, released

_SAME_READING = (
    "target_id",
    "kind",
    "current_desired_units",
    "demand_rps",
    "demand_source",
    "reactive_units",
    "trend_headroom_rps",
    "push_floor_units",
    "calendar_floor_units",
    "active_holds",
    "hold_floors",
    "active_events",
    "dry_run",
)


@PROPERTY_SETTINGS
@given(cases(paused=True))
def test_a_paused_targets_decision_never_changes_desired_or_limits(case: Case) -> None:
    decision = case.decide()
    unpaused = decide(case.target, case.signals.model_copy(update={"pause": None}), case.now)
    scaling = case.target.scaling
    capacity = case.signals.capacity
    assert (decision.action, decision.reason, decision.winner) == (Action.STEADY, Reason.PAUSED, Signal.CURRENT)
    assert not decision.changes_desired
    assert not decision.changes_limits
    assert decision.group_limits is None
    assert decision.next_state == case.signals.state, "nothing to remember: nothing was done"
    if capacity is not None and scaling.min_units <= capacity.desired_units <= scaling.max_units:
        assert decision.desired_units == capacity.desired_units
    else:
        assert decision.desired_units is None
    assert route_for([decision]) is Route.STEADY
    # ... and it read its signals exactly as the unpaused decision did, and says what that one would do.
    for name in _SAME_READING:
        assert getattr(decision, name) == getattr(unpaused, name), name
    assert decision.explanation.startswith("paused by an operator since ")
    if unpaused.changes_desired and unpaused.reason is not Reason.ABOVE_MAX:
        assert (
            f"would {unpaused.action.value.replace('_', ' ')} {capacity.desired_units if capacity else None} -> "
            in (decision.explanation)
        )
    assert decision.explanation.endswith(("changing nothing", ")"))


@PROPERTY_SETTINGS
@given(cases(paused=True))
def test_a_paused_target_never_sets_the_route_of_a_plan(case: Case) -> None:
    paused = case.decide()
    others = decide(case.target, case.signals.model_copy(update={"pause": None}), case.now)
    assert route_for([paused, others]) is route_for([others])
    assert route_for([paused]) is Route.STEADY


@PROPERTY_SETTINGS
@given(case=cases(paused=None), data=st.data())
def test_a_released_hold_counts_for_nothing(case: Case, data: st.DataObject) -> None:
    released_hold = data.draw(
        st.builds(
            lambda seconds, units: Hold(
                push_id="push-released",
                units=units,
                sized_for_rps=1_000_000.0,
                started_at=_after(case.now, -seconds),
                min_until=_after(case.now, 1 + seconds),
                max_until=_after(case.now, 2 + seconds),
                audience=1_000_000,
                released_at=_after(case.now, -seconds // 2),
                released_by="arn:aws:iam::123456789012:user/ops",
            ),
            st.integers(0, 1_800),
            st.integers(0, 10_000),
        )
    )
    with_it = case.with_signals(holds=[*case.signals.holds, released_hold])
    assert with_it.decide() == case.decide()


# ----------------------------------------------------------------------------------------------- finding


def test_decide_does_not_raise_on_extreme_but_valid_rates() -> None:
    # 1e308 requests / 60 s / (0.001 rps * 0.7) = 2.4e309 -> inf in floats.
    target = TargetConfig(
        id="api",
        kind=TargetKind.ECS,
        ecs=EcsService(cluster="prod", service="api"),
        scaling=ScalingConfig(min_units=1, max_units=10, unit_capacity_rps=0.001),
    )
    signals = TargetSignals(
        target_id="api",
        request_samples=[RateSample(start=_after(REF, -60), period_seconds=60, requests=1e308)],
        capacity=CurrentCapacity(desired_units=1, in_service_units=1),
    )
    decision = decide(target, signals, REF)
    assert decision.desired_units == 10
