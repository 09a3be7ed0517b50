"""decide() and route_for() on hand-computed examples.

Unless a test says otherwise: min_units 1, max_units 100, unit_capacity_rps 100, target_utilization 0.7
(so one unit serves 100 * 0.7 = 70 rps), cooldown 300 s, step interval 60 s, step 10 units, ALB max age 300 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from surge.core.config import EcsService, ScalingConfig, TargetConfig, TargetKind
from surge.core.decision import Action, Decision, Reason, Signal, decide, event_floor_units, hold_is_active
from surge.core.plan import Route, make_plan, route_for
from surge.core.signals import (
    CalendarEvent,
    CurrentCapacity,
    GroupLimits,
    Hold,
    RateSample,
    TargetSignals,
    TargetState,
    units_for_rps,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _ecs(**scaling: Any) -> TargetConfig:
    return TargetConfig.model_validate(
        {
            "id": "api",
            "kind": "ecs",
            "ecs": {"cluster": "prod", "service": "api"},
            "scaling": {"min_units": 1, "max_units": 100, "unit_capacity_rps": 100, **scaling},
        }
    )


def _asg(**scaling: Any) -> TargetConfig:
    return TargetConfig.model_validate(
        {
            "id": "web",
            "kind": "asg",
            "asg": {"group_name": "web-asg"},
            "scaling": {"min_units": 1, "max_units": 100, "unit_capacity_rps": 100, **scaling},
        }
    )


def _series(*rates: float, newest_end: datetime = NOW, period: int = 60) -> list[RateSample]:
    """Contiguous samples with the given rates (oldest first), the newest ending at `newest_end`."""
    count = len(rates)
    return [
        RateSample(start=newest_end - _seconds(period * (count - i)), period_seconds=period, requests=rate * period)
        for i, rate in enumerate(rates)
    ]


def _flat(rps: float, *, minutes: int = 10, newest_end: datetime = NOW) -> list[RateSample]:
    """`minutes` one-minute ALB samples at `rps`, the newest ending at `newest_end`."""
    return _series(*([rps] * minutes), newest_end=newest_end)


def _signals(
    current: int | None = 10,
    *,
    target_id: str = "api",
    samples: Sequence[RateSample] = (),
    high: Sequence[RateSample] = (),
    holds: Sequence[Hold] = (),
    calendar: Sequence[CalendarEvent] = (),
    limits: GroupLimits | None = None,
    state: TargetState | None = None,
    store_error: str | None = None,
    metric_error: str | None = None,
) -> TargetSignals:
    capacity = (
        None
        if current is None
        else CurrentCapacity(desired_units=current, in_service_units=current, group_limits=limits)
    )
    return TargetSignals(
        target_id=target_id,
        request_samples=list(samples),
        high_resolution_samples=list(high),
        holds=list(holds),
        calendar=list(calendar),
        capacity=capacity,
        state=state or TargetState(),
        store_error=store_error,
        metric_error=metric_error,
    )


def _hold(
    *,
    units: int = 20,
    sized_for_rps: float = 1_000,
    started: float = -60,
    min_until: float = 540,
    max_until: float = 1_740,
    audience: int = 0,
) -> Hold:
    """A push hold with its instants given as seconds from NOW."""
    return Hold(
        push_id="push-1",
        units=units,
        sized_for_rps=sized_for_rps,
        started_at=NOW + _seconds(started),
        min_until=NOW + _seconds(min_until),
        max_until=NOW + _seconds(max_until),
        audience=audience,
    )


def _event(start: datetime, *, units: int = 50, duration: float = 3_600, **extra: Any) -> CalendarEvent:
    return CalendarEvent(
        entry_id="cal-1",
        name="launch",
        start_at=start,
        end_at=start + _seconds(duration),
        units=units,
        **extra,
    )


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware UTC"):
        decide(_ecs(), _signals(), datetime(2024, 6, 1, 12, 0))  # noqa: DTZ001 - deliberately naive


# --------------------------------------------------------------------------------------------- scale-out


def test_scale_out_goes_to_the_needed_units_at_once() -> None:
    # 2000 rps / (100 rps * 0.7) = 28.57 -> 29 units, straight from 4 (no stepping on the way up).
    decision = decide(_ecs(), _signals(4, samples=_flat(2_000)), NOW)
    assert decision.action is Action.SCALE_OUT
    assert decision.reason is Reason.SCALE_OUT
    assert decision.winner is Signal.REACTIVE
    assert decision.current_desired_units == 4
    assert decision.desired_units == 29
    assert decision.reactive_units == 29
    assert decision.demand_rps == 2_000
    assert decision.demand_source == "alb_request_count"
    assert decision.explanation.startswith("scale out 4 -> 29: demand 2,000 rps from alb_request_count, 0 s old")
    assert decision.next_state == TargetState(last_scale_out_at=NOW)
    assert decision.group_limits is None
    assert route_for([decision]) is Route.SCALE_OUT


def test_scale_out_uses_only_the_newest_sample() -> None:
    # Oldest-first 5000, 5000, 700: the newest 700 rps / 70 = 10 units (older peaks do not scale out).
    decision = decide(_ecs(), _signals(4, samples=_series(5_000, 5_000, 700)), NOW)
    assert (decision.action, decision.desired_units) == (Action.SCALE_OUT, 10)


def test_scale_out_is_capped_at_max_units() -> None:
    # 20000 rps / 70 = 285.7 -> 286 units wanted, capped at max_units 100.
    decision = decide(_ecs(), _signals(50, samples=_flat(20_000)), NOW)
    assert (decision.action, decision.desired_units, decision.winner) == (Action.SCALE_OUT, 100, Signal.MAX)
    assert decision.reactive_units == 286


def test_current_below_min_is_raised_to_min() -> None:
    # No metric at all; min_units 3 > current 1 -> scale out to 3.
    decision = decide(_ecs(min_units=3), _signals(1), NOW)
    assert (decision.action, decision.desired_units, decision.winner) == (Action.SCALE_OUT, 3, Signal.MIN)


@pytest.mark.parametrize(
    ("rps", "capacity", "utilization", "expected"),
    [
        (7_000, 1_000, 0.7, 10),  # 7000 / (1000 * 0.7) = 10 exactly -> 10
        (21, 3, 0.7, 10),  # 21 / (3 * 0.7) = 10.000000000000002 in floats; a naive ceil says 11
        (7_000.7, 1_000, 0.7, 11),  # 7000.7 / 700 = 10.001 -> 11: a real excess still rounds up
        (0, 1_000, 0.7, 0),  # no demand -> 0 units
    ],
)
def test_exactly_at_threshold_does_not_round_up(rps: float, capacity: float, utilization: float, expected: int) -> None:
    assert units_for_rps(rps, capacity, utilization) == expected
    target = _ecs(min_units=0, unit_capacity_rps=capacity, target_utilization=utilization)
    decision = decide(target, _signals(0, samples=_flat(rps)), NOW)
    assert decision.reactive_units == expected
    assert decision.desired_units == expected


# ----------------------------------------------------------------------------------- missing and stale data


def test_stale_alb_datapoint_gives_no_reactive_and_no_scale_in() -> None:
    # Newest sample ended 301 s ago > metric_max_age_seconds 300: stale, so no demand at all.
    decision = decide(_ecs(), _signals(10, samples=_flat(100, newest_end=NOW - _seconds(301))), NOW)
    assert decision.reactive_units is None
    assert decision.demand_rps is None
    assert decision.demand_source is None
    assert (decision.action, decision.reason, decision.desired_units) == (Action.STEADY, Reason.SIGNAL_MISSING, 10)
    assert decision.explanation == "holding 10 units: no fresh request metric"


def test_stale_high_demand_does_not_scale_out() -> None:
    # 7000 rps would need 100 units, but the datapoint is 301 s old; the floor is min_units 1 <= current 10.
    decision = decide(_ecs(), _signals(10, samples=_flat(7_000, newest_end=NOW - _seconds(301))), NOW)
    assert (decision.action, decision.desired_units, decision.reactive_units) == (Action.STEADY, 10, None)


def test_datapoint_exactly_max_age_old_is_still_fresh() -> None:
    # Ended 300 s ago, max age 300 -> fresh: 140 rps / 70 = 2 units.
    decision = decide(_ecs(), _signals(10, samples=_flat(140, newest_end=NOW - _seconds(300))), NOW)
    assert decision.reactive_units == 2
    assert decision.demand_rps == 140


def test_metric_error_is_explained_and_holds_capacity() -> None:
    decision = decide(_ecs(), _signals(10, metric_error="Throttling"), NOW)
    assert (decision.reason, decision.desired_units) == (Reason.SIGNAL_MISSING, 10)
    assert decision.explanation == "holding 10 units: no fresh request metric (Throttling)"


def test_gap_in_samples_over_the_cooldown_window_blocks_scale_in() -> None:
    # Ten one-minute samples at 100 rps ending at NOW, but [NOW-180 s, NOW-120 s) is missing.
    samples = [s for s in _flat(100) if s.start != NOW - _seconds(180)]
    assert len(samples) == 9
    decision = decide(_ecs(), _signals(10, samples=samples), NOW)
    assert decision.reactive_units == 2  # 100 / 70 = 1.43 -> 2: the latest sample is fresh
    assert (decision.action, decision.reason, decision.desired_units) == (Action.STEADY, Reason.SIGNAL_GAP, 10)
    assert decision.explanation == ("holding 10 units: the request metric does not cover the last 300 s without a gap")


def test_samples_not_reaching_back_to_the_window_start_block_scale_in() -> None:
    # Four minutes of samples cover [NOW-240 s, NOW), not the whole 300 s cooldown window.
    decision = decide(_ecs(), _signals(10, samples=_flat(100, minutes=4)), NOW)
    assert (decision.reason, decision.desired_units) == (Reason.SIGNAL_GAP, 10)


def test_one_second_of_jitter_between_samples_is_not_a_gap() -> None:
    # Each sample starts 1 s after the previous one ended (tolerated); 100 rps -> 2 units; 10 - 10 step -> 2.
    samples = [
        RateSample(start=NOW - _seconds(61 * (k + 1)), period_seconds=60, requests=6_000) for k in reversed(range(8))
    ]
    decision = decide(_ecs(), _signals(10, samples=samples), NOW - _seconds(1))
    assert (decision.action, decision.desired_units) == (Action.SCALE_IN, 2)


def test_two_seconds_between_samples_is_a_gap() -> None:
    samples = [
        RateSample(start=NOW - _seconds(62 * (k + 1)), period_seconds=60, requests=6_000) for k in reversed(range(8))
    ]
    decision = decide(_ecs(), _signals(10, samples=samples), NOW - _seconds(2))
    assert (decision.reason, decision.desired_units) == (Reason.SIGNAL_GAP, 10)


def test_store_error_blocks_scale_in() -> None:
    # 100 rps needs 2 units, the window is covered, but holds and calendar are unknown: keep 30.
    decision = decide(_ecs(), _signals(30, samples=_flat(100), store_error="DynamoDB timeout"), NOW)
    assert (decision.action, decision.reason, decision.desired_units) == (Action.STEADY, Reason.SIGNAL_MISSING, 30)
    assert decision.explanation == ("holding 30 units: push holds and calendar could not be read (DynamoDB timeout)")


def test_store_error_does_not_block_scale_out() -> None:
    # 3000 rps / 70 = 42.86 -> 43.
    decision = decide(_ecs(), _signals(30, samples=_flat(3_000), store_error="DynamoDB timeout"), NOW)
    assert (decision.action, decision.desired_units) == (Action.SCALE_OUT, 43)


def test_capacity_unknown_changes_nothing() -> None:
    decision = decide(_ecs(), _signals(None, samples=_flat(3_000)), NOW)
    assert decision.desired_units is None
    assert decision.current_desired_units is None
    assert (decision.action, decision.reason, decision.winner) == (
        Action.STEADY,
        Reason.CAPACITY_UNKNOWN,
        Signal.CURRENT,
    )
    assert decision.reactive_units == 43  # still reported: 3000 / 70 = 42.86 -> 43
    assert decision.changes_desired is False
    assert decision.next_state == TargetState()
    assert route_for([decision]) is Route.STEADY


def test_a_target_whose_service_does_not_exist_is_unavailable_and_changes_nothing() -> None:
    signals = _signals(None, samples=_flat(3_000)).model_copy(update={"unavailable": "ecs:DescribeServices: MISSING"})
    decision = decide(_ecs(), signals, NOW)
    assert (decision.action, decision.reason, decision.desired_units) == (
        Action.STEADY,
        Reason.TARGET_UNAVAILABLE,
        None,
    )
    assert decision.explanation == "target unavailable (ecs:DescribeServices: MISSING); nothing changes"
    assert route_for([decision]) is Route.STEADY


# ------------------------------------------------------------------------------------ high resolution


def _high(rps: float, *, newest_end: datetime, count: int = 30, period: int = 10) -> list[RateSample]:
    return _series(*([rps] * count), newest_end=newest_end, period=period)


def test_fresher_high_resolution_metric_wins_when_larger() -> None:
    # ALB 1000 rps (ended 60 s ago) vs high-res 3000 rps (ended 5 s ago): 3000 / 70 = 42.86 -> 43.
    signals = _signals(
        10, samples=_flat(1_000, newest_end=NOW - _seconds(60)), high=_high(3_000, newest_end=NOW - _seconds(5))
    )
    decision = decide(_ecs(), signals, NOW)
    assert decision.demand_source == "high_resolution"
    assert decision.demand_rps == 3_000
    assert (decision.action, decision.desired_units) == (Action.SCALE_OUT, 43)


def test_smaller_high_resolution_metric_does_not_lower_demand() -> None:
    # The larger of the two: ALB 1000 rps -> 1000 / 70 = 14.29 -> 15.
    signals = _signals(
        10, samples=_flat(1_000, newest_end=NOW - _seconds(60)), high=_high(500, newest_end=NOW - _seconds(5))
    )
    decision = decide(_ecs(), signals, NOW)
    assert (decision.demand_source, decision.demand_rps, decision.desired_units) == ("alb_request_count", 1_000, 15)


def test_stale_high_resolution_metric_is_ignored() -> None:
    # Period 10 s -> stale after max(30, 3 * 10) = 30 s; ended 31 s ago, so the ALB's 1000 rps -> 15 units.
    signals = _signals(
        10, samples=_flat(1_000, newest_end=NOW - _seconds(60)), high=_high(3_000, newest_end=NOW - _seconds(31))
    )
    decision = decide(_ecs(), signals, NOW)
    assert (decision.demand_source, decision.desired_units) == ("alb_request_count", 15)


def test_high_resolution_staleness_scales_with_its_period() -> None:
    # Period 20 s -> stale after 3 * 20 = 60 s; ended 45 s ago is fresh: 3000 rps -> 43 units.
    signals = _signals(10, high=_high(3_000, newest_end=NOW - _seconds(45), period=20))
    decision = decide(_ecs(), signals, NOW)
    assert (decision.demand_source, decision.desired_units) == ("high_resolution", 43)


def test_high_resolution_alone_can_cover_the_window_for_scale_in() -> None:
    # 30 x 10 s samples at 100 rps cover exactly the 300 s window; 100 / 70 -> 2; 10 - 10 -> 2.
    decision = decide(_ecs(), _signals(10, high=_high(100, newest_end=NOW)), NOW)
    assert (decision.action, decision.desired_units, decision.demand_source) == (
        Action.SCALE_IN,
        2,
        "high_resolution",
    )


# ----------------------------------------------------------------------------------------------- scale-in


def test_scale_in_is_limited_to_the_step() -> None:
    # 100 rps / 70 = 1.43 -> 2 units needed; 40 - max_scale_in_step_units 10 = 30 > 2 -> 30.
    decision = decide(_ecs(), _signals(40, samples=_flat(100)), NOW)
    assert (decision.action, decision.reason, decision.winner) == (Action.SCALE_IN, Reason.SCALE_IN, Signal.REACTIVE)
    assert decision.desired_units == 30
    assert decision.explanation == (
        "scale in 40 -> 30: peak 100 rps over the last 300 s needs 2 units (step of at most 10)"
    )
    assert decision.next_state == TargetState(last_scale_in_at=NOW)
    assert route_for([decision]) is Route.SCALE_IN


def test_scale_in_step_is_configurable() -> None:
    # Same 2 units needed; 40 - 3 = 37.
    decision = decide(_ecs(max_scale_in_step_units=3), _signals(40, samples=_flat(100)), NOW)
    assert decision.desired_units == 37


def test_last_scale_in_step_reaches_the_target() -> None:
    # 11 - 10 = 1 < 2 needed -> 2.
    decision = decide(_ecs(), _signals(11, samples=_flat(100)), NOW)
    assert (decision.action, decision.desired_units, decision.winner) == (Action.SCALE_IN, 2, Signal.REACTIVE)
    assert "step of at most" not in decision.explanation


def test_scale_in_stops_at_min_units() -> None:
    # No demand (0 rps -> 0 units); min_units 4; 8 - 10 < 4 -> 4, set by the minimum.
    decision = decide(_ecs(min_units=4), _signals(8, samples=_flat(0)), NOW)
    assert (decision.action, decision.desired_units, decision.winner) == (Action.SCALE_IN, 4, Signal.MIN)


def test_window_peak_decides_how_far_to_scale_in() -> None:
    # Latest 100 rps needs 2, but 1400 rps three minutes ago (inside the 300 s window) needs 1400 / 70 = 20.
    # From 25: max(20, 25 - 10 = 15) = 20.
    samples = _series(100, 100, 100, 100, 100, 100, 100, 1_400, 100, 100)
    decision = decide(_ecs(), _signals(25, samples=samples), NOW)
    assert decision.reactive_units == 2
    assert (decision.action, decision.desired_units) == (Action.SCALE_IN, 20)
    assert decision.explanation == "scale in 25 -> 20: peak 1400 rps over the last 300 s needs 20 units"


def test_window_peak_that_still_needs_current_holds() -> None:
    # Peak 1400 rps -> 20 units = current 20: nothing to shed yet.
    samples = _series(100, 100, 100, 100, 100, 100, 100, 1_400, 100, 100)
    decision = decide(_ecs(), _signals(20, samples=samples), NOW)
    assert (decision.action, decision.reason, decision.desired_units) == (Action.STEADY, Reason.AT_TARGET, 20)


def test_peak_before_the_window_is_forgotten() -> None:
    # The 1400 rps sample is [NOW-360 s, NOW-300 s): it ends at the window start, so it is outside.
    samples = _series(100, 100, 100, 100, 1_400, 100, 100, 100, 100, 100)
    assert samples[4].end == NOW - _seconds(300)
    decision = decide(_ecs(), _signals(11, samples=samples), NOW)
    assert (decision.action, decision.desired_units) == (Action.SCALE_IN, 2)


def test_cooldown_after_last_scale_out_blocks_scale_in() -> None:
    # Scaled out 100 s ago, cooldown 300 s -> allowed at NOW + 200 s.
    state = TargetState(last_scale_out_at=NOW - _seconds(100))
    decision = decide(_ecs(), _signals(40, samples=_flat(100), state=state), NOW)
    assert (decision.action, decision.reason, decision.desired_units) == (Action.STEADY, Reason.COOLDOWN, 40)
    assert decision.scale_in_allowed_at == NOW + _seconds(200)
    assert decision.next_state == state


def test_cooldown_ends_exactly_after_cooldown_seconds() -> None:
    state = TargetState(last_scale_out_at=NOW - _seconds(300))
    decision = decide(_ecs(), _signals(40, samples=_flat(100), state=state), NOW)
    assert (decision.action, decision.desired_units) == (Action.SCALE_IN, 30)
    assert decision.next_state == TargetState(last_scale_out_at=NOW - _seconds(300), last_scale_in_at=NOW)


def test_step_interval_separates_scale_in_steps() -> None:
    # Last step 30 s ago, interval 60 s -> next step at NOW + 30 s.
    state = TargetState(last_scale_in_at=NOW - _seconds(30))
    decision = decide(_ecs(), _signals(30, samples=_flat(100), state=state), NOW)
    assert (decision.action, decision.reason, decision.desired_units) == (Action.STEADY, Reason.STEP_INTERVAL, 30)
    assert decision.scale_in_allowed_at == NOW + _seconds(30)


def test_next_step_after_the_step_interval() -> None:
    # Last step exactly 60 s ago: 30 - 10 = 20.
    state = TargetState(last_scale_in_at=NOW - _seconds(60))
    decision = decide(_ecs(), _signals(30, samples=_flat(100), state=state), NOW)
    assert (decision.action, decision.desired_units) == (Action.SCALE_IN, 20)
    assert decision.next_state.last_scale_in_at == NOW


def test_above_max_is_lowered_to_max_at_once_even_during_a_hold() -> None:
    # current 120 > max_units 100 -> 100 (not stepped by 10, not blocked by the hold or missing metrics).
    decision = decide(_ecs(), _signals(120, holds=[_hold(units=150)]), NOW)
    assert (decision.action, decision.reason, decision.winner) == (Action.SCALE_IN, Reason.ABOVE_MAX, Signal.MAX)
    assert decision.desired_units == 100
    assert decision.explanation == "current 120 is above max_units 100; lowering to the maximum"
    assert decision.next_state == TargetState(last_scale_in_at=NOW)
    assert route_for([decision]) is Route.SCALE_IN


def test_zero_cooldown_allows_scale_in_with_complete_fresh_data() -> None:
    # Ten contiguous samples at 100 rps ending exactly at NOW; 100 / 70 -> 2; 10 - 10 -> 2.
    decision = decide(_ecs(scale_in_cooldown_seconds=0), _signals(10, samples=_flat(100)), NOW)
    assert (decision.action, decision.desired_units) == (Action.SCALE_IN, 2)


# ------------------------------------------------------------------------------------------------- holds


def test_active_hold_blocks_scale_in() -> None:
    # target = max(min 1, hold 20, reactive 2) = 20 < current 30, but a hold is active: keep 30.
    decision = decide(_ecs(), _signals(30, samples=_flat(100), holds=[_hold()]), NOW)
    assert (decision.action, decision.reason, decision.winner) == (Action.STEADY, Reason.HOLD_ACTIVE, Signal.PUSH)
    assert decision.desired_units == 30
    assert decision.push_floor_units == 20
    assert decision.active_holds == ["push-1"]
    assert decision.explanation == "holding 30 units: push hold push-1 is active (its response has not passed its peak)"


def test_active_hold_sets_a_floor() -> None:
    # 100 rps needs 2, the hold asks for 20: 5 -> 20.
    decision = decide(_ecs(), _signals(5, samples=_flat(100), holds=[_hold(audience=250_000)]), NOW)
    assert (decision.action, decision.desired_units, decision.winner) == (Action.SCALE_OUT, 20, Signal.PUSH)
    assert decision.explanation == "scale out 5 -> 20: push hold push-1 (250,000 notified)"
    assert route_for([decision]) is Route.SCALE_OUT


@pytest.mark.parametrize(
    ("hold", "samples", "active"),
    [
        # Before min_until the hold lasts, even with no demand at all.
        (_hold(min_until=60, max_until=600), _flat(0), True),
        # Between min and max: released once the window peak < 0.5 * 1000 = 500 rps.
        (_hold(min_until=-60, max_until=600), _flat(499), False),
        # ... and kept while the peak is 500 rps (not below half).
        (_hold(min_until=-60, max_until=600), _flat(500), True),
        # ... one 500 rps minute inside the window is enough to keep it.
        (_hold(min_until=-60, max_until=600), _series(100, 100, 100, 100, 100, 100, 100, 500, 100, 100), True),
        # At min_until exactly the release rule already applies: 100 rps < 500.
        (_hold(min_until=0, max_until=600), _flat(100), False),
        # No evidence (no samples) between min and max: keep holding.
        (_hold(min_until=-60, max_until=600), [], True),
        # A gappy window is no evidence either.
        (_hold(min_until=-60, max_until=600), _flat(100)[:5] + _flat(100)[6:], True),
        # After max_until the hold is over, whatever the demand.
        (_hold(started=-1_800, min_until=-600, max_until=-1), _flat(5_000), False),
        # At max_until exactly it is over.
        (_hold(started=-1_800, min_until=-600, max_until=0), _flat(5_000), False),
        # Not started yet.
        (_hold(started=60, min_until=120, max_until=600), _flat(0), False),
    ],
    ids=[
        "before-min",
        "between-quiet",
        "between-at-half",
        "between-peak-in-window",
        "at-min",
        "between-no-evidence",
        "between-gap",
        "after-max",
        "at-max",
        "not-started",
    ],
)
def test_hold_release_rules(hold: Hold, samples: list[RateSample], active: bool) -> None:
    decision = decide(_ecs(), _signals(5, samples=samples, holds=[hold]), NOW)
    assert decision.active_holds == (["push-1"] if active else [])
    assert decision.push_floor_units == (20 if active else 0)


def test_hold_is_active_boundaries() -> None:
    hold = _hold(sized_for_rps=1_000, min_until=-60, max_until=600)
    assert hold_is_active(hold, NOW, 500.0) is True  # 500 >= 0.5 * 1000
    assert hold_is_active(hold, NOW, 499.999) is False
    assert hold_is_active(hold, NOW, None) is True
    assert hold_is_active(hold, NOW + _seconds(600), 10_000.0) is False


def test_released_hold_lets_scale_in_proceed() -> None:
    # Hold past min_until, peak 100 < 500: released; 100 rps -> 2; 30 - 10 = 20.
    decision = decide(_ecs(), _signals(30, samples=_flat(100), holds=[_hold(min_until=-60)]), NOW)
    assert (decision.action, decision.desired_units, decision.active_holds) == (Action.SCALE_IN, 20, [])


# ------------------------------------------------------------------------------------------------ calendar

EVENT_START = NOW + _seconds(3_600)


def _timeline_event() -> CalendarEvent:
    # Active from start - 600 s to end + 900 s; then 4 ramp-down steps of 300 s each.
    return _event(EVENT_START, units=50, lead_seconds=600, hold_after_seconds=900, ramp_down_steps=4)


@pytest.mark.parametrize(
    ("offset", "floor", "active"),
    [
        (-601, 0, False),  # before start - lead
        (-600, 50, True),  # start - 600 s lead: floor on
        (0, 50, True),
        (3_600 + 899, 50, True),  # end + hold_after - 1 s
        (3_600 + 900, 40, False),  # ramp step 1 of 4: ceil(50 * 4/5) = 40
        (3_600 + 900 + 299, 40, False),
        (3_600 + 900 + 300, 30, False),  # step 2: ceil(50 * 3/5) = 30
        (3_600 + 900 + 600, 20, False),  # step 3: ceil(50 * 2/5) = 20
        (3_600 + 900 + 900, 10, False),  # step 4: ceil(50 * 1/5) = 10
        (3_600 + 900 + 1_200, 0, False),  # step 5 > 4: over
    ],
)
def test_calendar_floor_timeline(offset: int, floor: int, active: bool) -> None:
    now = EVENT_START + _seconds(offset)
    event = _timeline_event()
    assert event_floor_units(event, now) == floor
    decision = decide(_ecs(), _signals(1, calendar=[event]), now)
    assert decision.calendar_floor_units == floor
    assert decision.active_events == (["launch"] if active else [])
    # From 1 unit (and no metric): the floor, if above min_units 1, is where it scales out to.
    assert decision.desired_units == max(1, floor)


def test_ramp_down_rounds_up() -> None:
    # 7 units, 2 steps: ceil(7 * 2/3 = 4.67) = 5, then ceil(7 * 1/3 = 2.33) = 3, then 0.
    event = _event(NOW, units=7, duration=60, lead_seconds=0, ramp_down_steps=2, ramp_down_step_seconds=100)
    end = NOW + _seconds(60)
    assert [event_floor_units(event, end + _seconds(s)) for s in (0, 99, 100, 199, 200)] == [5, 5, 3, 3, 0]


def test_calendar_event_scale_out_routes_as_calendar() -> None:
    # 10 minutes before the start (lead 600 s): floor 50 > current 5 and reactive 2.
    decision = decide(_ecs(), _signals(5, samples=_flat(100), calendar=[_event(NOW + _seconds(600))]), NOW)
    assert (decision.action, decision.desired_units, decision.winner) == (Action.SCALE_OUT, 50, Signal.CALENDAR)
    assert decision.explanation == "scale out 5 -> 50: calendar event launch"
    assert route_for([decision]) is Route.CALENDAR


def test_active_event_blocks_scale_in() -> None:
    # Event running (floor 50), current 60, 100 rps needs 2: target 50 < 60 but the event is active.
    decision = decide(_ecs(), _signals(60, samples=_flat(100), calendar=[_event(NOW - _seconds(60))]), NOW)
    assert (decision.action, decision.reason, decision.winner) == (
        Action.STEADY,
        Reason.EVENT_ACTIVE,
        Signal.CALENDAR,
    )
    assert decision.desired_units == 60
    assert decision.active_events == ["launch"]


def test_ramp_down_scale_in_is_not_routed_as_calendar() -> None:
    # 4500 s after the start: ramp step 1 -> floor 40; from 50: max(40, 50 - 10) = 40, set by the calendar.
    now = EVENT_START + _seconds(4_500)
    state = TargetState(last_scale_out_at=EVENT_START - _seconds(600))
    decision = decide(
        _ecs(), _signals(50, samples=_flat(100, newest_end=now), calendar=[_timeline_event()], state=state), now
    )
    assert (decision.action, decision.desired_units, decision.winner) == (Action.SCALE_IN, 40, Signal.CALENDAR)
    assert decision.active_events == []
    assert route_for([decision]) is Route.SCALE_IN


# --------------------------------------------------------------------------------------- Auto Scaling groups

OWN_LIMITS = GroupLimits(min_units=2, max_units=20)


def test_asg_event_raises_group_min_and_max() -> None:
    # Event floor 40 > own max 20: desired 40, MinSize = max(2, min(40, 40)) = 40, MaxSize = max(20, 40) = 40.
    signals = _signals(10, target_id="web", limits=OWN_LIMITS, calendar=[_event(NOW + _seconds(300), units=40)])
    decision = decide(_asg(), signals, NOW)
    assert (decision.action, decision.desired_units, decision.winner) == (Action.SCALE_OUT, 40, Signal.CALENDAR)
    assert decision.group_limits == GroupLimits(min_units=40, max_units=40)
    assert decision.next_state.saved_group_limits == OWN_LIMITS
    assert decision.next_state.last_scale_out_at == NOW
    assert decision.kind is TargetKind.ASG
    assert route_for([decision]) is Route.CALENDAR


def test_asg_event_within_own_max_raises_only_the_min() -> None:
    # Event floor 15 <= own max 20: MinSize 15, MaxSize stays 20.
    signals = _signals(10, target_id="web", limits=OWN_LIMITS, calendar=[_event(NOW + _seconds(300), units=15)])
    decision = decide(_asg(), signals, NOW)
    assert decision.desired_units == 15
    assert decision.group_limits == GroupLimits(min_units=15, max_units=20)
    assert decision.next_state.saved_group_limits == OWN_LIMITS


def test_asg_during_event_keeps_the_saved_limits() -> None:
    # Already at 40 with limits (40, 40): nothing to set, the saved (2, 20) is still remembered.
    signals = _signals(
        40,
        target_id="web",
        limits=GroupLimits(min_units=40, max_units=40),
        calendar=[_event(NOW - _seconds(60), units=40)],
        state=TargetState(last_scale_out_at=NOW - _seconds(660), saved_group_limits=OWN_LIMITS),
        samples=_flat(100),
    )
    decision = decide(_asg(), signals, NOW)
    assert (decision.action, decision.reason, decision.desired_units) == (Action.STEADY, Reason.AT_TARGET, 40)
    assert decision.group_limits is None
    assert decision.next_state.saved_group_limits == OWN_LIMITS
    assert route_for([decision]) is Route.STEADY


def test_asg_limits_are_restored_after_the_event() -> None:
    # Event over 60 s ago; 1000 rps / 70 = 14.29 -> 15 = current: steady, but MinSize goes back to 2.
    state = TargetState(last_scale_out_at=NOW - _seconds(4_000), saved_group_limits=OWN_LIMITS)
    signals = _signals(
        15,
        target_id="web",
        limits=GroupLimits(min_units=15, max_units=20),
        calendar=[_event(NOW - _seconds(3_660), units=15)],
        state=state,
        samples=_flat(1_000),
    )
    decision = decide(_asg(), signals, NOW)
    assert (decision.action, decision.reason, decision.desired_units) == (Action.STEADY, Reason.LIMITS_ONLY, 15)
    assert decision.group_limits == OWN_LIMITS
    assert decision.next_state.saved_group_limits is None
    assert route_for([decision]) is Route.CALENDAR


def test_asg_reactive_scale_out_above_own_max_raises_max() -> None:
    # 2000 rps / 70 = 28.57 -> 29 > own max 20: MaxSize 29, the own limits are saved.
    decision = decide(_asg(), _signals(10, target_id="web", limits=OWN_LIMITS, samples=_flat(2_000)), NOW)
    assert decision.desired_units == 29
    assert decision.group_limits == GroupLimits(min_units=2, max_units=29)
    assert decision.next_state.saved_group_limits == OWN_LIMITS
    assert route_for([decision]) is Route.CALENDAR


def test_asg_own_min_size_is_a_floor() -> None:
    # 100 rps needs 2, the group's MinSize is 5: from 8 -> max(5, 8 - 10) = 5.
    limits = GroupLimits(min_units=5, max_units=20)
    decision = decide(_asg(), _signals(8, target_id="web", limits=limits, samples=_flat(100)), NOW)
    assert (decision.action, decision.desired_units, decision.winner) == (Action.SCALE_IN, 5, Signal.GROUP_MIN)
    assert decision.group_limits is None


def test_asg_without_known_limits_never_sets_limits() -> None:
    decision = decide(_asg(), _signals(10, target_id="web", calendar=[_event(NOW, units=40)]), NOW)
    assert decision.desired_units == 40
    assert decision.group_limits is None


def _asg_scale_in_restoring_limits() -> Decision:
    # Event (40 units, own limits 2..20) ended 60 s ago; last scale-out at its start - 600 s.
    state = TargetState(last_scale_out_at=NOW - _seconds(4_260), saved_group_limits=OWN_LIMITS)
    signals = _signals(
        40,
        target_id="web",
        limits=GroupLimits(min_units=40, max_units=40),
        calendar=[_event(NOW - _seconds(3_660), units=40)],
        state=state,
        samples=_flat(100),
    )
    return decide(_asg(), signals, NOW)


def test_asg_scale_in_after_event_lowers_limits_with_it_on_the_scale_in_route() -> None:
    # 100 rps -> 2 units; 40 - 10 = 30 > own max 20, so MaxSize comes down with it: limits (2, 30), own still saved.
    # It must take the scale-in route: the calendar route applies with allow_scale_in=false and would skip it
    # forever (route_for sent every limit change to CALENDAR before commit cc9307b).
    decision = _asg_scale_in_restoring_limits()
    assert (decision.action, decision.reason, decision.desired_units) == (Action.SCALE_IN, Reason.SCALE_IN, 30)
    assert decision.group_limits == GroupLimits(min_units=2, max_units=30)
    assert decision.next_state.saved_group_limits == OWN_LIMITS
    assert route_for([decision]) is Route.SCALE_IN


def test_asg_last_scale_in_step_restores_the_own_limits() -> None:
    # From 22 with limits (2, 30): max(2, 22 - 10) = 12 <= own max 20 -> limits back to (2, 20), nothing saved.
    state = TargetState(saved_group_limits=OWN_LIMITS)
    signals = _signals(
        22, target_id="web", limits=GroupLimits(min_units=2, max_units=30), state=state, samples=_flat(100)
    )
    decision = decide(_asg(), signals, NOW)
    assert (decision.action, decision.desired_units) == (Action.SCALE_IN, 12)
    assert decision.group_limits == OWN_LIMITS
    assert decision.next_state.saved_group_limits is None
    assert route_for([decision]) is Route.SCALE_IN


# --------------------------------------------------------------------------------------------- route_for


def _scale_out() -> Decision:
    return decide(_ecs(), _signals(4, samples=_flat(2_000)), NOW)


def _calendar_scale_out() -> Decision:
    return decide(_ecs(), _signals(5, calendar=[_event(NOW + _seconds(600))]), NOW)


def _scale_in() -> Decision:
    return decide(_ecs(), _signals(40, samples=_flat(100)), NOW)


def _ramp_down_scale_in() -> Decision:
    now = EVENT_START + _seconds(4_500)
    return decide(_ecs(), _signals(50, samples=_flat(100, newest_end=now), calendar=[_timeline_event()]), now)


def _steady() -> Decision:
    return decide(_ecs(), _signals(2, samples=_flat(100)), NOW)


def _limits_only() -> Decision:
    state = TargetState(saved_group_limits=OWN_LIMITS)
    signals = _signals(
        15, target_id="web", limits=GroupLimits(min_units=15, max_units=20), state=state, samples=_flat(1_000)
    )
    return decide(_asg(), signals, NOW)


def _unknown() -> Decision:
    return decide(_ecs(), _signals(None, samples=_flat(2_000)), NOW)


def test_route_fixture_decisions_are_what_their_names_say() -> None:
    assert (_scale_out().action, _scale_out().winner) == (Action.SCALE_OUT, Signal.REACTIVE)
    assert (_calendar_scale_out().action, _calendar_scale_out().winner) == (Action.SCALE_OUT, Signal.CALENDAR)
    assert (_scale_in().action, _scale_in().desired_units) == (Action.SCALE_IN, 30)
    assert (_ramp_down_scale_in().action, _ramp_down_scale_in().winner) == (Action.SCALE_IN, Signal.CALENDAR)
    assert (_steady().action, _steady().reason) == (Action.STEADY, Reason.AT_TARGET)
    assert (_limits_only().reason, _limits_only().group_limits) == (Reason.LIMITS_ONLY, OWN_LIMITS)
    assert _unknown().desired_units is None


@pytest.mark.parametrize(
    ("names", "route"),
    [
        ((), Route.STEADY),
        (("steady",), Route.STEADY),
        (("unknown",), Route.STEADY),
        (("steady", "unknown"), Route.STEADY),
        (("scale_in",), Route.SCALE_IN),
        (("steady", "scale_in"), Route.SCALE_IN),
        (("ramp_down_scale_in",), Route.SCALE_IN),
        (("scale_out",), Route.SCALE_OUT),
        (("scale_in", "scale_out"), Route.SCALE_OUT),
        (("ramp_down_scale_in", "scale_out", "steady"), Route.SCALE_OUT),
        (("calendar_scale_out",), Route.CALENDAR),
        (("scale_out", "calendar_scale_out", "scale_in"), Route.CALENDAR),
        (("limits_only",), Route.CALENDAR),
        (("scale_in", "limits_only"), Route.CALENDAR),
        (("ramp_down_scale_in", "scale_in"), Route.SCALE_IN),
        (("asg_scale_in_with_limits",), Route.SCALE_IN),
        (("asg_scale_in_with_limits", "steady", "unknown"), Route.SCALE_IN),
        (("asg_scale_in_with_limits", "scale_out"), Route.SCALE_OUT),
        (("asg_scale_in_with_limits", "limits_only"), Route.CALENDAR),
        (("asg_scale_in_with_limits", "calendar_scale_out"), Route.CALENDAR),
    ],
)
def test_route_precedence(names: tuple[str, ...], route: Route) -> None:
    makers = {
        "scale_out": _scale_out,
        "calendar_scale_out": _calendar_scale_out,
        "scale_in": _scale_in,
        "ramp_down_scale_in": _ramp_down_scale_in,
        "steady": _steady,
        "limits_only": _limits_only,
        "unknown": _unknown,
        "asg_scale_in_with_limits": _asg_scale_in_restoring_limits,
    }
    decisions = [makers[name]() for name in names]
    assert route_for(decisions) is route
    assert route_for(list(reversed(decisions))) is route
    plan = make_plan(decisions)
    assert (plan.route, plan.decisions) == (route, decisions)


def test_a_small_demand_driven_scale_in_is_noise_not_a_trend() -> None:
    # Tolerance 10 %: from 16 units, a demand-driven target must be <= 14.4 (so 14) before Surge scales in.
    # Peak 750 rps / (100 rps x 0.5) = 15 units: within tolerance -> hold 16.
    target = _ecs_target_for_tolerance()
    signals = _steady_signals(current_units=16, rps=750.0)
    decision = decide(target, signals, _TOLERANCE_NOW)
    assert (decision.action, decision.reason, decision.desired_units) == (Action.STEADY, Reason.WITHIN_TOLERANCE, 16)
    # Peak 700 rps -> 14 units, a drop of 12.5 %: scale in.
    decision = decide(target, _steady_signals(current_units=16, rps=700.0), _TOLERANCE_NOW)
    assert (decision.action, decision.desired_units) == (Action.SCALE_IN, 14)


def test_the_tolerance_never_keeps_capacity_above_a_floor_it_could_reach() -> None:
    # From 21 to min_units 20 is under 10 %, but the target is the floor (min), not demand: scale in.
    target = _ecs_target_for_tolerance(min_units=20)
    decision = decide(target, _steady_signals(current_units=21, rps=50.0), _TOLERANCE_NOW)
    assert (decision.action, decision.desired_units) == (Action.SCALE_IN, 20)


_TOLERANCE_NOW = datetime(2026, 1, 21, 12, 0, tzinfo=UTC)


def _ecs_target_for_tolerance(min_units: int = 2) -> TargetConfig:
    return TargetConfig(
        id="api",
        kind=TargetKind.ECS,
        ecs=EcsService(cluster="prod", service="api"),
        scaling=ScalingConfig(
            min_units=min_units, max_units=50, unit_capacity_rps=100, target_utilization=0.5, scale_in_tolerance=0.1
        ),
    )


def _steady_signals(current_units: int, rps: float) -> TargetSignals:
    samples = [
        RateSample(start=_TOLERANCE_NOW - timedelta(minutes=minute), period_seconds=60, requests=rps * 60)
        for minute in range(2, 12)
    ]
    return TargetSignals(
        target_id="api",
        request_samples=samples,
        capacity=CurrentCapacity(desired_units=current_units, in_service_units=current_units),
    )
