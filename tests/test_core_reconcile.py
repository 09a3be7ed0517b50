"""reconcile(): a decision applied after another flow may have acted (pure core; examples and properties)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surge.core.config import TargetConfig
from surge.core.decision import Action, Decision, decide
from surge.core.reconcile import FreshView, Outcome, reconcile
from surge.core.signals import CurrentCapacity, Hold, RateSample, TargetSignals, TargetState

NOW = datetime(2026, 1, 21, 11, 0, tzinfo=UTC)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


def _target(**scaling: object) -> TargetConfig:
    return TargetConfig.model_validate(
        {
            "id": "api",
            "kind": "ecs",
            "ecs": {"cluster": "prod", "service": "api"},
            "load_balancer": {"load_balancer": "app/a/1"},
            "scaling": {
                "min_units": 2,
                "max_units": 50,
                "unit_capacity_rps": 100,
                "target_utilization": 0.5,
                "scale_in_cooldown_seconds": 120,
                "scale_in_step_interval_seconds": 0,
                "max_scale_in_step_units": 50,
                **scaling,
            },
        }
    )


def _samples(rps: float, minutes: int = 10) -> list[RateSample]:
    newest = NOW - timedelta(seconds=60)
    return [
        RateSample(start=newest - timedelta(minutes=i), period_seconds=60, requests=rps * 60) for i in range(minutes)
    ]


def _decision(rps: float, current: int, version: int = 3) -> Decision:
    signals = TargetSignals(
        target_id="api",
        request_samples=_samples(rps),
        capacity=CurrentCapacity(desired_units=current, in_service_units=current),
        state=TargetState(version=version),
    )
    return decide(_target(), signals, NOW)


def _hold(units: int, *, started_seconds_ago: float = 1) -> Hold:
    started = NOW - timedelta(seconds=started_seconds_ago)
    return Hold(
        push_id="post-1",
        units=units,
        sized_for_rps=units * 50.0,
        started_at=started,
        min_until=started + timedelta(minutes=10),
        max_until=started + timedelta(minutes=30),
    )


def _fresh(current: int | None, *, version: int = 3, holds: list[Hold] | None = None) -> FreshView:
    return FreshView(state=TargetState(version=version), holds=holds or [], current_desired_units=current)


def test_a_scale_out_as_decided_when_nothing_moved() -> None:
    decision = _decision(rps=300, current=2)  # 300 / 50 -> 6
    assert (decision.action, decision.desired_units) == (Action.SCALE_OUT, 6)
    result = reconcile(decision, _target().scaling, _fresh(2), NOW)
    assert (result.outcome, result.desired_units) == (Outcome.AS_DECIDED, 6)
    assert result.next_state.version == 3
    assert result.next_state.last_scale_out_at == NOW


def test_a_stale_scale_out_never_lowers_what_a_push_already_set() -> None:
    decision = _decision(rps=300, current=2)
    result = reconcile(decision, _target().scaling, _fresh(26, version=4, holds=[_hold(26)]), NOW)
    assert (result.outcome, result.desired_units) == (Outcome.SUPERSEDED, None)


def test_a_scale_out_is_raised_to_a_push_hold_recorded_after_the_decision() -> None:
    decision = _decision(rps=300, current=2)
    result = reconcile(decision, _target().scaling, _fresh(2, version=4, holds=[_hold(26)]), NOW)
    assert (result.outcome, result.desired_units) == (Outcome.RAISED_TO_NEW_FLOOR, 26)


def test_a_scale_in_is_abandoned_when_the_target_moved_and_raised_by_a_new_hold() -> None:
    decision = _decision(rps=100, current=20)  # peak 100 rps -> 2 units wanted
    assert decision.action is Action.SCALE_IN
    moved = reconcile(decision, _target().scaling, _fresh(20, version=4), NOW)
    assert (moved.outcome, moved.desired_units) == (Outcome.SCALE_IN_ABANDONED, None)
    pushed = reconcile(decision, _target().scaling, _fresh(20, version=4, holds=[_hold(30)]), NOW)
    assert (pushed.outcome, pushed.desired_units) == (Outcome.RAISED_TO_NEW_FLOOR, 30)
    quiet = reconcile(decision, _target().scaling, _fresh(20), NOW)
    assert (quiet.outcome, quiet.desired_units) == (Outcome.AS_DECIDED, decision.desired_units)


def test_the_merged_state_keeps_the_later_timestamps_and_the_fresh_version() -> None:
    decision = _decision(rps=300, current=2)
    later = NOW + timedelta(seconds=5)
    fresh = FreshView(state=TargetState(last_scale_out_at=later, version=9), current_desired_units=2)
    result = reconcile(decision, _target().scaling, fresh, NOW)
    assert result.next_state.last_scale_out_at == later
    assert result.next_state.version == 9


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        reconcile(_decision(rps=300, current=2), _target().scaling, _fresh(2), NOW.replace(tzinfo=None))


@PROPERTY_SETTINGS
@given(
    rps=st.floats(min_value=0, max_value=5_000),
    current=st.integers(min_value=2, max_value=50),
    fresh_current=st.one_of(st.none(), st.integers(min_value=0, max_value=60)),
    moved=st.booleans(),
    hold_units=st.one_of(st.none(), st.integers(min_value=0, max_value=80)),
)
def test_reconciling_never_leaves_the_limits_never_lowers_a_binding_floor_and_never_undoes_a_newer_change(
    rps: float, current: int, fresh_current: int | None, moved: bool, hold_units: int | None
) -> None:
    scaling = _target().scaling
    decision = _decision(rps=rps, current=current)
    holds = [] if hold_units is None else [_hold(hold_units)]
    fresh = _fresh(fresh_current, version=4 if moved else 3, holds=holds)
    result = reconcile(decision, scaling, fresh, NOW)
    floor = max(scaling.min_units, min(scaling.max_units, hold_units or 0))
    if result.desired_units is not None:
        assert scaling.min_units <= result.desired_units <= scaling.max_units
        assert result.desired_units >= floor  # a push hold within its minimum is never undercut
        if fresh_current is not None and result.desired_units < fresh_current:
            # lowering only to bring a count above max back to max, or as a scale-in decided on this very
            # version of the target
            above_max = fresh_current > scaling.max_units and result.desired_units == scaling.max_units
            assert above_max or (decision.action is Action.SCALE_IN and not moved)
    if decision.action is Action.SCALE_OUT and fresh_current is not None and result.desired_units is None:
        assert fresh_current >= max(decision.desired_units or 0, floor)  # superseded: already there
    assert result.next_state.version == fresh.state.version
