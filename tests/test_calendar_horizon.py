"""ReadSignals carries only the calendar events a decision before the next read can look at (the payload stays
small whatever the calendar holds), and leaving the others out never changes a decision."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from scaler_support import START, deploy, ecs_target
from surge.adapters import store
from surge.core.calendar import events_that_can_matter
from surge.core.decision import decide
from surge.core.signals import CalendarEvent
from surge_cli import world
from surge_cli.localaws import LocalAws
from test_core_properties import PROPERTY_SETTINGS, Case, cases, draw_event


@PROPERTY_SETTINGS
@given(cases(), st.integers(0, 120), st.integers(0, 120), st.data())
def test_a_decision_within_the_window_is_the_same_without_the_events_left_out(
    case: Case, window_seconds: int, later_seconds: int, data: st.DataObject
) -> None:
    scaling = case.target.scaling
    more = [draw_event(data.draw, case.now, f"more-{i}", scaling.max_units) for i in range(3)]
    signals = case.signals.model_copy(update={"calendar": [*case.signals.calendar, *more]})
    until = case.now + timedelta(seconds=window_seconds)
    kept = signals.model_copy(update={"calendar": events_that_can_matter(signals.calendar, case.now, until)})
    decided_at = case.now + timedelta(seconds=min(later_seconds, window_seconds))

    assert decide(case.target, kept, decided_at) == decide(case.target, signals, decided_at)


def _event(entry_id: str, start_minutes: int, end_minutes: int, **fields: int) -> CalendarEvent:
    return CalendarEvent(
        entry_id=entry_id,
        name=entry_id,
        start_at=START + timedelta(minutes=start_minutes),
        end_at=START + timedelta(minutes=end_minutes),
        units=30,
        **fields,
    )


def test_read_signals_carries_only_the_events_that_can_matter_before_the_next_read(aws: LocalAws) -> None:
    stack = deploy(aws, ecs_target())
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    upcoming = [_event(f"launch-{day}", day * 1440, day * 1440 + 60) for day in range(1, 201)]
    relevant = [
        _event("on-now", -10, 10),
        _event("starts-within-its-lead", 10, 40, lead_seconds=600),
        _event("ramping-down", -60, -20, ramp_down_steps=3, ramp_down_step_seconds=900),
    ]
    ended = [_event("ended", -60, -20, ramp_down_steps=1, ramp_down_step_seconds=600)]
    for event in [*upcoming, *relevant, *ended]:
        store.put_calendar_event(stack.table_name, "api", event)
    execution = aws.start_execution(stack.scaler_arn, {"budget_seconds": 5})
    assert aws.wait_for(execution, timeout_sim_seconds=60)["status"] == "SUCCEEDED"

    outputs = [
        json.loads(event["stateExitedEventDetails"]["output"])
        for event in aws.history(execution)
        if event["type"] == "TaskStateExited" and event["stateExitedEventDetails"]["name"] == "ReadSignals"
    ]
    carried = [e["entry_id"] for output in outputs for signal in output["signals"] for e in signal["calendar"]]
    assert carried, "the loop read its signals"
    assert set(carried) == {e.entry_id for e in relevant}
    assert max(len(json.dumps(output)) for output in outputs) < 20_000, "200 upcoming launches stay in the table"
