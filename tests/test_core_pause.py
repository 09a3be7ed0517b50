"""A paused target and a released hold in the decision core, on hand-computed examples.

Same conventions as test_core_decision: min_units 1, max_units 100, one unit per 70 rps (100 rps at 70 %),
cooldown 300 s, step interval 60 s, step 10 units.
"""

from __future__ import annotations

from datetime import timedelta

from surge.core.decision import Action, Reason, Signal, decide, hold_is_active, hold_released
from surge.core.plan import Route, make_plan, route_for
from surge.core.reconcile import Outcome, reconcile
from surge.core.signals import GroupLimits, Pause, TargetState
from test_core_decision import NOW, _asg, _ecs, _event, _flat, _hold, _seconds, _signals
from test_core_reconcile import NOW as RECONCILE_NOW
from test_core_reconcile import _decision, _fresh, _target
from test_core_reconcile import _hold as _pushed

PAUSE = Pause(paused_at=NOW - _seconds(600), paused_by="arn:aws:iam::123456789012:user/ops", reason="deploy")
SINCE = "paused by an operator since 2024-06-01T11:50:00Z (deploy)"


def test_a_paused_target_that_would_scale_out_keeps_its_count_and_says_what_it_would_do() -> None:
    # 2,000 rps / 70 = 28.6 -> 29 units wanted; current 20.
    unpaused = decide(_ecs(), _signals(20, samples=_flat(2_000)), NOW)
    assert (unpaused.action, unpaused.desired_units) == (Action.SCALE_OUT, 29)

    paused = decide(_ecs(), _signals(20, samples=_flat(2_000)).model_copy(update={"pause": PAUSE}), NOW)
    assert (paused.action, paused.reason, paused.winner, paused.desired_units) == (
        Action.STEADY,
        Reason.PAUSED,
        Signal.CURRENT,
        20,
    )
    assert paused.explanation == (
        f"{SINCE}: would scale out 20 -> 29, changing nothing (demand 2,000 rps from alb_request_count, 0 s old)"
    )
    assert not paused.changes_desired
    assert not paused.changes_limits
    # The same reading of the signals as unpaused: the journal and the logs show what the loop saw.
    assert (paused.demand_rps, paused.reactive_units) == (unpaused.demand_rps, unpaused.reactive_units)
    assert paused.next_state == TargetState()
    assert route_for([paused]) is Route.STEADY


def test_a_paused_target_keeps_a_push_holds_floor_in_view_and_changes_nothing() -> None:
    signals = _signals(5, samples=_flat(100), holds=[_hold(audience=250_000)]).model_copy(update={"pause": PAUSE})
    decision = decide(_ecs(), signals, NOW)
    assert (decision.reason, decision.desired_units) == (Reason.PAUSED, 5)
    assert decision.active_holds == ["push-1"]
    assert decision.push_floor_units == 20
    assert (
        decision.explanation
        == f"{SINCE}: would scale out 5 -> 20, changing nothing (push hold push-1 (250,000 notified))"
    )
    assert decision.next_state.last_scale_out_at is None


def test_a_paused_target_that_would_scale_in_keeps_its_count() -> None:
    # 100 rps -> 2 units; 30 - 10 = 20 unpaused.
    signals = _signals(30, samples=_flat(100), state=TargetState(version=7))
    assert decide(_ecs(), signals, NOW).desired_units == 20
    decision = decide(_ecs(), signals.model_copy(update={"pause": PAUSE}), NOW)
    assert (decision.action, decision.reason, decision.desired_units) == (Action.STEADY, Reason.PAUSED, 30)
    assert decision.explanation.startswith(f"{SINCE}: would scale in 30 -> 20, changing nothing (peak 100 rps")
    assert decision.next_state == TargetState(version=7)
    assert decision.next_state.last_scale_in_at is None


def test_a_paused_group_keeps_its_limits_during_a_calendar_event() -> None:
    own = GroupLimits(min_units=2, max_units=20)
    signals = _signals(10, target_id="web", limits=own, calendar=[_event(NOW + _seconds(300), units=40)])
    unpaused = decide(_asg(), signals, NOW)
    assert unpaused.group_limits == GroupLimits(min_units=40, max_units=40)

    decision = decide(_asg(), signals.model_copy(update={"pause": PAUSE}), NOW)
    assert (decision.reason, decision.desired_units, decision.group_limits) == (Reason.PAUSED, 10, None)
    assert decision.next_state.saved_group_limits is None
    assert decision.active_events == ["launch"]
    assert decision.explanation == f"{SINCE}: would scale out 10 -> 40, changing nothing (calendar event launch)"
    assert make_plan([decision]).route is Route.STEADY


def test_a_paused_group_does_not_restore_its_limits_after_an_event_either() -> None:
    own = GroupLimits(min_units=2, max_units=20)
    state = TargetState(last_scale_out_at=NOW - _seconds(4_000), saved_group_limits=own)
    signals = _signals(
        15,
        target_id="web",
        limits=GroupLimits(min_units=15, max_units=20),
        calendar=[_event(NOW - _seconds(3_660), units=15)],
        state=state,
        samples=_flat(1_000),
    )
    assert decide(_asg(), signals, NOW).reason is Reason.LIMITS_ONLY
    decision = decide(_asg(), signals.model_copy(update={"pause": PAUSE}), NOW)
    assert (decision.reason, decision.desired_units, decision.group_limits) == (Reason.PAUSED, 15, None)
    assert decision.next_state.saved_group_limits == own, "the group's own limits are still remembered"
    assert decision.explanation.startswith(f"{SINCE}: would set the group's limits to min 2, max 20, changing nothing")


def test_a_paused_target_outside_its_limits_gets_no_desired_count_at_all() -> None:
    # Above max (an operator set 120 by hand while paused): unpaused Surge would lower it to 100 at once.
    above = decide(_ecs(), _signals(120, samples=_flat(100)).model_copy(update={"pause": PAUSE}), NOW)
    assert (above.reason, above.desired_units) == (Reason.PAUSED, None)
    assert above.explanation == f"{SINCE}: would lower 120 -> 100 (above max_units), changing nothing"
    below = decide(_ecs(min_units=5), _signals(3, samples=_flat(100)).model_copy(update={"pause": PAUSE}), NOW)
    assert (below.reason, below.desired_units) == (Reason.PAUSED, None)
    assert below.explanation == f"{SINCE}: would scale out 3 -> 5, changing nothing (raised to the minimum)"
    unknown = decide(_ecs(), _signals(None).model_copy(update={"pause": PAUSE}), NOW)
    assert (unknown.reason, unknown.desired_units) == (Reason.PAUSED, None)
    assert unknown.explanation == f"{SINCE}: current capacity could not be read; changing nothing"


def test_a_paused_target_at_target_says_it_would_keep_its_count() -> None:
    pause = Pause(paused_at=NOW - timedelta(hours=1), paused_by="arn:aws:sts::123456789012:assumed-role/ops/ana")
    decision = decide(_ecs(), _signals(2, samples=_flat(100)).model_copy(update={"pause": pause}), NOW)
    assert decision.explanation == (
        "paused by an operator since 2024-06-01T11:00:00Z: would keep 2 units, changing nothing "
        "(at target 2 units (demand 100 rps from alb_request_count, 0 s old))"
    )


# ------------------------------------------------------------------------------------------ released holds


def test_a_released_hold_is_not_active_even_before_its_minimum() -> None:
    hold = _hold(min_until=540).model_copy(update={"released_at": NOW - _seconds(1), "released_by": "ops"})
    assert hold_released(hold)
    assert hold_is_active(hold, NOW, None) is False
    assert hold_is_active(_hold(min_until=540), NOW, None) is True


def test_once_released_a_hold_gives_its_units_back_in_steps_after_the_cooldown() -> None:
    # 40 units for a hold sized way too high; demand 100 rps needs 2.
    hold = _hold(units=40, min_until=540)
    scaled_out = TargetState(last_scale_out_at=NOW - _seconds(120))
    held = decide(_ecs(), _signals(40, samples=_flat(100), holds=[hold], state=scaled_out), NOW)
    assert (held.reason, held.desired_units, held.push_floor_units) == (Reason.AT_TARGET, 40, 40)

    released = hold.model_copy(update={"released_at": NOW - _seconds(1), "released_by": "ops"})
    within_cooldown = decide(_ecs(), _signals(40, samples=_flat(100), holds=[released], state=scaled_out), NOW)
    assert (within_cooldown.reason, within_cooldown.desired_units) == (Reason.COOLDOWN, 40)
    assert (within_cooldown.active_holds, within_cooldown.push_floor_units) == ([], 0)

    after_cooldown = TargetState(last_scale_out_at=NOW - _seconds(300))
    step = decide(_ecs(), _signals(40, samples=_flat(100), holds=[released], state=after_cooldown), NOW)
    assert (step.action, step.desired_units) == (Action.SCALE_IN, 30), "one step of at most 10, not 40 -> 2"


def test_a_released_hold_counts_for_nothing() -> None:
    released = _hold(units=40).model_copy(update={"released_at": NOW, "released_by": "ops"})
    signals = _signals(10, samples=_flat(700))
    assert decide(_ecs(), signals.model_copy(update={"holds": [released]}), NOW) == decide(_ecs(), signals, NOW)


# ------------------------------------------------------------------------- reconcile (ApplyCapacity's re-read)


def test_a_pause_found_by_the_reread_stops_a_change_decided_before_it() -> None:
    for decision in (_decision(rps=300, current=2), _decision(rps=50, current=20)):  # a scale-out, a scale-in
        assert decision.changes_desired
        pause = Pause(paused_at=RECONCILE_NOW, paused_by="ops")
        result = reconcile(decision, _target().scaling, _fresh(2).model_copy(update={"pause": pause}), RECONCILE_NOW)
        assert (result.outcome, result.desired_units, result.acts) == (Outcome.PAUSED, None, False)
        assert result.explanation == "the target was paused by an operator after this decision"


def test_a_released_hold_is_no_floor_in_the_reread() -> None:
    decision = _decision(rps=300, current=2)  # 300 / 50 -> 6
    new_push = _pushed(26)
    raised = reconcile(decision, _target().scaling, _fresh(2, holds=[new_push]), RECONCILE_NOW)
    assert (raised.outcome, raised.desired_units) == (Outcome.RAISED_TO_NEW_FLOOR, 26)
    released = new_push.model_copy(update={"released_at": RECONCILE_NOW, "released_by": "ops"})
    kept = reconcile(decision, _target().scaling, _fresh(2, holds=[released]), RECONCILE_NOW)
    assert (kept.outcome, kept.desired_units) == (Outcome.AS_DECIDED, 6)
