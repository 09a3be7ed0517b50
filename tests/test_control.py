"""Pause, resume and hold release on the real state machines (moto's interpreter, the real handlers, the
simulated clock): a paused target is read and decided and never scaled, by the loop, the push fast path or the
calendar; a pause written while a flow is between its read and its write is honoured and survives; a released
hold stops counting and the loop gives its units back under its usual scale-in rules.

World as in test_scaler_statemachine: one unit per 50 rps, min 2, max 50, 5 s loop, 120 s scale-in cooldown,
steps of at most 5 units at least 30 s apart; ALB minutes appear 30 s after they close.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from scaler_support import LOAD_BALANCER, START, Loop, asg_target, deploy, ecs_target, local_aws
from surge.adapters import clients, store
from surge.core.signals import CalendarEvent, Hold, Pause
from surge_cli import world
from surge_cli.localaws import LocalAws
from surge_cli.push_client import push_event_entry
from surge_cli.stack import LocalStack, Template
from test_races import slow_loop_decisions

pytestmark = pytest.mark.statemachine
SOURCE = Template.load().parameter_defaults()["PushEventSource"]
OTHER_LB = "app/web-alb/73e2d6bc24d8a067"
HIGH_RPS = 1_000.0  # -> 20 units
LOW_RPS = 100.0  # -> 2 units
OPERATOR = "arn:aws:iam::123456789012:user/ops"


def pause(stack: LocalStack, target_id: str, at: datetime) -> None:
    assert store.put_pause(stack.table_name, target_id, Pause(paused_at=at, paused_by=OPERATOR, reason="drill")) is None


@dataclass
class Seen:
    """What the handlers said (decision log lines with the simulated time), the capacity calls they made, and
    the EMF metrics they printed."""

    aws: LocalAws
    decisions: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)
    messages: list[tuple[datetime, str]] = field(default_factory=list)
    calls: list[tuple[datetime, str, int]] = field(default_factory=list)

    def reasons(self, target_id: str, since: datetime, until: datetime) -> set[str]:
        return {d["reason"] for when, d in self.decisions if d["target_id"] == target_id and since <= when < until}

    def calls_for(self, name: str) -> list[tuple[datetime, int]]:
        return [(when, units) for when, target, units in self.calls if target == name]


class _Recorder(logging.Handler):
    def __init__(self, seen: Seen) -> None:
        super().__init__(logging.DEBUG)
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        now = self.seen.aws.now()
        decision = getattr(record, "decision", None)
        if isinstance(decision, dict):
            self.seen.decisions.append((now, decision))
        self.seen.messages.append((now, record.getMessage()))


@pytest.fixture
def seen(aws: LocalAws) -> Iterator[Seen]:
    found = Seen(aws)
    recorder = _Recorder(found)
    logging.getLogger("surge").addHandler(recorder)

    def ecs_call(params: dict[str, Any], **_: Any) -> None:
        found.calls.append((aws.now(), params["service"], params["desiredCount"]))

    def asg_call(params: dict[str, Any], **_: Any) -> None:
        found.calls.append((aws.now(), params["AutoScalingGroupName"], params.get("DesiredCapacity", -1)))

    clients.ecs().meta.events.register("provide-client-params.ecs.UpdateService", ecs_call)
    clients.autoscaling().meta.events.register("provide-client-params.auto-scaling.SetDesiredCapacity", asg_call)
    clients.autoscaling().meta.events.register("provide-client-params.auto-scaling.UpdateAutoScalingGroup", asg_call)
    try:
        yield found
    finally:
        logging.getLogger("surge").removeHandler(recorder)


def emf_values(stdout: str, name: str) -> list[float]:
    """Every value of the metric `name` in the EMF documents Powertools printed (one JSON object per line; a
    metric added more than once before a flush is a list)."""
    values: list[float] = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            value = json.loads(line).get(name)
            if value is not None:
                values.extend(value if isinstance(value, list) else [value])
    return values


def test_a_paused_target_is_decided_but_never_scaled_while_another_scales_then_acts_after_resume(
    aws: LocalAws, seen: Seen, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deploy(aws, ecs_target("api"), ecs_target("web", load_balancer=OTHER_LB))
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    world.create_ecs_service(aws, "prod", "web", desired_units=2)
    api = Loop(aws, stack, lambda minute: HIGH_RPS)
    web = Loop(aws, stack, lambda minute: HIGH_RPS, load_balancer=OTHER_LB)
    api.read = lambda: {"api": world.ecs_desired(aws, "prod", "api"), "web": world.ecs_desired(aws, "prod", "web")}
    pause(stack, "api", START - timedelta(minutes=1))
    resumed_at = START + timedelta(minutes=3)
    aws.at(resumed_at, lambda: store.delete_pause(stack.table_name, "api"))
    web.start(schedule=False, record_every_seconds=3600)
    api.start()
    aws.run_until(START + timedelta(minutes=4))
    printed = capsys.readouterr().out

    # Both need 20 units from the first iteration on (15 minutes of 1,000 rps already published).
    assert api.value_at("web", START + timedelta(seconds=5)) == 20
    assert {units for when, units in api.series("api") if when < resumed_at} == {2}
    assert [units for when, units in seen.calls_for("api") if when < resumed_at] == []
    # Decided every iteration while paused, with the reason and what it would have done.
    assert seen.reasons("api", START, resumed_at) == {"paused"}
    first = next(d for _, d in seen.decisions if d["target_id"] == "api")
    assert first["explanation"] == (
        "paused by an operator since 2026-01-21T10:59:00Z (drill): would scale out 2 -> 20, changing nothing "
        "(demand 1,000 rps from alb_request_count, 60 s old)"
    )
    assert (first["desired_units"], first["reactive_units"]) == (2, 20)
    # The metric and the log line an operator (or an alarm) watches, every iteration while paused.
    paused_counts = emf_values(printed, "TargetsPaused")
    iterations = emf_values(printed, "LoopIterations")
    assert set(paused_counts) == {1.0}
    paused_decisions = [d for _, d in seen.decisions if d["reason"] == "paused"]
    assert len(paused_counts) == len(paused_decisions) == 3 * 11  # 3 executions x 11 iterations of 5 s
    assert len(iterations) > len(paused_counts)
    assert any(message.startswith("targets paused by an operator") for _, message in seen.messages)
    # Resumed: it acts at the next iteration (one loop interval).
    scaled = api.first_time("api", lambda units: units == 20)
    assert scaled is not None
    assert resumed_at <= scaled <= resumed_at + timedelta(seconds=5)
    assert "paused" not in seen.reasons("api", resumed_at + timedelta(seconds=1), aws.now())


@pytest.fixture
def one_service(aws: LocalAws) -> LocalStack:
    stack = deploy(aws, ecs_target())
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    for minutes_ago in range(2, 12):
        world.publish_request_count(aws, LOAD_BALANCER, START - timedelta(minutes=minutes_ago), LOW_RPS * 60)
    return stack


def test_a_push_to_a_paused_target_records_its_hold_and_changes_nothing_until_resumed(
    aws: LocalAws, one_service: LocalStack, seen: Seen
) -> None:
    stack = one_service
    pause(stack, "api", START)
    entry = push_event_entry(audience=100_000, push_id="post-1", bus_name=stack.bus_name, source=SOURCE)
    aws.client("events").put_events(Entries=[entry])
    (execution,) = stack.deliver_events()
    result = aws.wait_for(execution, timeout_sim_seconds=30)

    assert result["status"] == "SUCCEEDED", "a paused target is not a failed push (no alarm)"
    states = [e["stateEnteredEventDetails"]["name"] for e in aws.history(execution) if "stateEnteredEventDetails" in e]
    assert states[:3] == ["RecordPushHold", "IsNewPush", "ScaleOutAndRecordTheOtherShards"]
    assert [s for s in states if s in ("DecideCapacity", "ScaleOutForPush")] == ["DecideCapacity", "ScaleOutForPush"]
    # (100 rps + 100,000 x 0.01 rps) / 50 = 22 units: recorded, not applied.
    (hold,) = store.read_target_items(stack.table_name, "api").holds
    assert (hold.push_id, hold.units) == ("post-1", 22)
    assert world.ecs_desired(aws, "prod", "api") == 2
    assert seen.calls == []
    assert [d["reason"] for _, d in seen.decisions] == ["paused"]
    assert store.read_journal(stack.table_name, START - timedelta(hours=1), aws.now()) == []

    # Resumed: the next loop iteration honours the hold that was recorded while paused.
    store.delete_pause(stack.table_name, "api")
    loop = aws.start_execution(stack.scaler_arn, {"budget_seconds": 5})
    assert aws.wait_for(loop, timeout_sim_seconds=60)["status"] == "SUCCEEDED"
    assert world.ecs_desired(aws, "prod", "api") == 22
    assert [units for _, units in seen.calls_for("api")] == [22]


def test_a_paused_group_keeps_desired_and_limits_through_a_calendar_event_then_resume_applies_it(
    aws: LocalAws, seen: Seen
) -> None:
    stack = deploy(aws, asg_target(max_units=40))
    world.create_auto_scaling_group(aws, "web", min_units=2, max_units=10, desired_units=2)
    loop = Loop(aws, stack, lambda minute: LOW_RPS)

    def read() -> dict[str, int]:
        group = world.auto_scaling_group(aws, "web")
        return {"desired": group["DesiredCapacity"], "min": group["MinSize"], "max": group["MaxSize"]}

    loop.read = read
    event = CalendarEvent(
        entry_id="live-1",
        name="live show",
        start_at=START + timedelta(minutes=1),
        end_at=START + timedelta(minutes=30),
        units=25,
        lead_seconds=120,
    )
    store.put_calendar_event(stack.table_name, "web", event)
    pause(stack, "web", START)
    resumed_at = START + timedelta(minutes=3)
    aws.at(resumed_at, lambda: store.delete_pause(stack.table_name, "web"))
    loop.start(record_every_seconds=1)
    aws.run_until(START + timedelta(minutes=4))

    before = [values for when, values in loop.samples if when < resumed_at]
    assert before
    assert all((v["desired"], v["min"], v["max"]) == (2, 2, 10) for v in before), "the event changed nothing"
    assert [c for c in seen.calls if c[0] < resumed_at] == []
    assert seen.reasons("web", START, resumed_at) == {"paused"}
    # Resumed: the event's floor, MinSize and MaxSize at the next iteration.
    raised = loop.first_time("min", lambda units: units == 25)
    assert raised is not None
    assert resumed_at <= raised <= resumed_at + timedelta(seconds=5)
    assert (loop.value_at("desired", aws.now()), loop.value_at("max", aws.now())) == (25, 25)


def rising(minute: datetime) -> float:
    return HIGH_RPS if minute < START + timedelta(minutes=1) else 2 * HIGH_RPS


def test_a_pause_between_the_loops_read_and_its_apply_is_honoured_and_survives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow_loop_decisions(monkeypatch)  # the loop's DecideCapacity takes 3 simulated seconds
    with local_aws() as aws:
        stack = deploy(aws, ecs_target())
        world.create_ecs_service(aws, "prod", "api", desired_units=2)
        for minutes_ago in range(1, 12):
            world.publish_request_count(aws, LOAD_BALANCER, START - timedelta(minutes=minutes_ago), HIGH_RPS * 60)
        calls: list[int] = []
        clients.ecs().meta.events.register(
            "provide-client-params.ecs.UpdateService", lambda params, **_: calls.append(params["desiredCount"])
        )
        # ReadSignals reads at 0 s (unpaused); the pause lands at 1 s; ApplyCapacity re-reads at 3 s.
        aws.at(START + timedelta(seconds=1), lambda: pause(stack, "api", aws.now()))
        execution = aws.start_execution(stack.scaler_arn, {"budget_seconds": 20})
        assert aws.wait_for(execution, timeout_sim_seconds=60)["status"] == "SUCCEEDED"
        items = store.read_target_items(stack.table_name, "api")
        desired = world.ecs_desired(aws, "prod", "api")

    assert calls == [], "the change decided before the pause was not applied after it"
    assert desired == 2
    assert items.pause is not None, "the pause survived every state write of the loop"
    assert items.pause.paused_at == START + timedelta(seconds=1)


def test_a_pause_between_the_capacity_call_and_the_state_write_survives_and_stops_the_next_change(
    aws: LocalAws,
) -> None:
    stack = deploy(aws, ecs_target())
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    loop = Loop(aws, stack, rising)
    loop.read = lambda: {"api": world.ecs_desired(aws, "prod", "api")}
    written: list[int] = []

    def pause_right_after_the_first_call(**_: Any) -> None:
        if not written:
            written.append(1)
            pause(stack, "api", aws.now())  # lands after UpdateService, before ApplyCapacity's state write

    clients.ecs().meta.events.register("after-call.ecs.UpdateService", pause_right_after_the_first_call)
    loop.start()
    aws.run_until(START + timedelta(minutes=4))
    items = store.read_target_items(stack.table_name, "api")

    # 11:00's 1,000 rps -> 20 units (the call that was already on its way), then 2,000 rps from 11:02:30 would
    # need 40: paused, nothing more.
    assert loop.value_at("api", START + timedelta(minutes=1)) == 20
    assert loop.value_at("api", START + timedelta(minutes=4)) == 20
    assert items.pause is not None, "the loop's state write after its call did not drop the pause"
    assert items.state.last_scale_out_at is not None, "and the call that landed is remembered"


def test_a_released_hold_stops_counting_and_the_loop_gives_its_units_back_in_steps_after_the_cooldown(
    aws: LocalAws, seen: Seen
) -> None:
    stack = deploy(aws, ecs_target())
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    loop = Loop(aws, stack, lambda minute: LOW_RPS)  # 2 units needed
    loop.read = lambda: {"api": world.ecs_desired(aws, "prod", "api")}
    hold = Hold(
        push_id="post-oversized",
        units=40,
        sized_for_rps=2_000.0,
        started_at=START,
        min_until=START + timedelta(minutes=10),
        max_until=START + timedelta(minutes=30),
        audience=200_000,
    )
    store.put_hold(stack.table_name, "api", hold)
    released_at = START + timedelta(seconds=60)

    def release() -> None:
        read = store.read_hold(stack.table_name, "api", "post-oversized")
        assert read is not None
        store.release_hold(stack.table_name, "api", read[0], read[1], aws.now(), OPERATOR)

    aws.at(released_at, release)
    loop.start()
    aws.run_until(START + timedelta(minutes=8))

    scaled_out = loop.first_time("api", lambda units: units == 40)
    assert scaled_out is not None
    assert scaled_out <= START + timedelta(seconds=5)
    # The hold stops counting at the first decision after the release ...
    after = [d for when, d in seen.decisions if when > released_at + timedelta(seconds=5)]
    assert after
    assert all(d["active_holds"] == [] and d["push_floor_units"] == 0 for d in after)
    assert all(d["active_holds"] == ["post-oversized"] for when, d in seen.decisions if when < released_at)
    # ... and the units go back under the usual rules: not within the 120 s cooldown after the scale-out, then
    # at most 5 units per step, at least 30 s apart, down to what 100 rps needs (2), never below.
    changes = [(when, units) for when, units in seen.calls_for("api") if when > scaled_out]
    assert changes, "the loop scaled in once the hold was released (it was held until 11:10 otherwise)"
    assert changes[0][0] >= scaled_out + timedelta(seconds=120)
    levels = [40] + [units for _, units in changes]
    assert levels == [40, 35, 30, 25, 20, 15, 10, 5, 2]
    for (earlier, _), (later, _) in itertools.pairwise(changes):
        assert later - earlier >= timedelta(seconds=30)
    assert loop.value_at("api", aws.now()) == 2
    (stored,) = store.read_target_items(stack.table_name, "api").holds
    assert (stored.released_at, stored.released_by) == (released_at, OPERATOR)
