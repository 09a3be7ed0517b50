"""The real scaler ASL on moto's Step Functions interpreter, with the real handlers, on a simulated clock.

The world: ALB RequestCount datapoints appear 30 s after their minute closes; config: one unit per 50 rps
(100 rps per unit at 50 % utilization), min 2, max 50, a 5 s loop, 120 s scale-in cooldown, steps of at most 5
units at least 30 s apart. The schedule starts an execution every minute; each loops for 55 s.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from scaler_support import LOAD_BALANCER, START, Loop, asg_target, deploy, ecs_target
from surge.adapters import clients, store
from surge.core.signals import CalendarEvent, Hold
from surge_cli import world
from surge_cli.localaws import LocalAws

pytestmark = pytest.mark.statemachine

HIGH_RPS = 1000.0  # -> 20 units
LOW_RPS = 100.0  # -> 2 units


def spike(minute: datetime) -> float:
    """100 rps, then 1000 rps for the minutes 11:00-11:04, then 100 rps again."""
    return HIGH_RPS if START <= minute < START + timedelta(minutes=5) else LOW_RPS


def ecs_loop(aws: LocalAws, rps=spike, **scaling: object) -> Loop:
    stack = deploy(aws, ecs_target(**scaling))
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    loop = Loop(aws, stack, rps)
    loop.read = lambda: {"api": world.ecs_desired(aws, "prod", "api")}
    return loop


def test_scale_out_within_one_iteration_then_stepwise_scale_in_after_cooldown(aws: LocalAws) -> None:
    loop = ecs_loop(aws)
    loop.start()
    aws.run_until(START + timedelta(minutes=12))

    # 11:00's 60,000 requests (1,000 rps) appear at 11:01:30: ceil(1000 / (100 * 0.5)) = 20 units.
    data_visible = START + timedelta(seconds=90)
    scaled_out = loop.first_time("api", lambda units: units == 20)
    assert scaled_out is not None
    assert data_visible <= scaled_out <= data_visible + timedelta(seconds=5), "one loop iteration at most"
    assert loop.value_at("api", data_visible - timedelta(seconds=1)) == 2

    # The last busy minute (11:04) leaves the 120 s window only at 11:07:00: no scale-in before that.
    first_lower = next((when for when, units in loop.series("api") if when > scaled_out and units < 20), None)
    assert first_lower is not None
    assert first_lower >= START + timedelta(minutes=7)
    # Then stepwise, at most 5 units per step and at least 30 s apart, down to min_units and never below.
    after = [(when, units) for when, units in loop.series("api") if when >= scaled_out]
    changes = [(when, units) for (when, units), (_, before) in zip(after[1:], after, strict=False) if units != before]
    assert [units for _, units in changes] == [15, 10, 5, 2]
    for (earlier, _), (later, _) in itertools.pairwise(changes):
        assert later - earlier >= timedelta(seconds=30)
    assert loop.value_at("api", START + timedelta(minutes=12)) == 2


def ramp(minute: datetime) -> float:
    """100 rps until 11:00, then +400 rps a minute: 500, 900, 1,300 ... (an unplanned surge, no push)."""
    return LOW_RPS if minute < START else LOW_RPS + 400.0 * (1 + (minute - START) // timedelta(minutes=1))


def test_a_rising_demand_gets_the_trend_headroom_for_the_rise_before_new_units_serve(aws: LocalAws) -> None:
    from surge.core.config import ScalingConfig

    default = ScalingConfig.model_fields["trend_max_extra_fraction"].default
    loop = ecs_loop(aws, ramp, trend_max_extra_fraction=default)
    loop.start()
    aws.run_until(START + timedelta(minutes=3))
    # 11:01's 900 rps appear at 11:02:30, after 11:00's 500: +400 rps in a minute (slope 6.67 rps/s, well above
    # the 20 %/min threshold). A new unit serves 60 s after it is asked for and the minute's middle is 60 s old
    # when it appears: 900 + min(6.67 x 120 = 800, 100 % of 900) = 1,700 rps -> 34 units, where the plain rule
    # says 18.
    # (At 11:01:30 the first step, 100 -> 500 rps, already asked for 500 + 500 = 1,000 rps: 20 units, not 10.)
    assert loop.value_at("api", START + timedelta(seconds=100)) == 20
    seen = START + timedelta(seconds=150)
    assert loop.value_at("api", seen - timedelta(seconds=1)) == 20
    first = loop.first_time("api", lambda units: units >= 34)
    assert first is not None
    assert seen <= first <= seen + timedelta(seconds=5)
    # The datapoint ages while no newer one appears, so the lookahead grows (by 11:02:45, 135 s x 6.67 = 900 rps)
    # until the cap: at most 100 % of the demand, 1,800 rps -> 36 units.
    assert loop.value_at("api", START + timedelta(minutes=3)) == 36


def test_an_active_push_hold_keeps_capacity_up(aws: LocalAws) -> None:
    loop = ecs_loop(aws)
    hold = Hold(
        push_id="p-1",
        units=20,
        sized_for_rps=HIGH_RPS,
        started_at=START,
        min_until=START + timedelta(minutes=10),
        max_until=START + timedelta(minutes=30),
        audience=100_000,
    )
    store.put_hold(loop.stack.table_name, "api", hold)
    loop.start()
    aws.run_until(START + timedelta(minutes=12, seconds=30))

    # The hold sets a floor of 20 at once and blocks scale-in until min_until (11:10); after that the
    # traffic (100 rps, under half of the 1,000 rps it was sized for) releases it and scale-in begins.
    assert loop.value_at("api", START + timedelta(seconds=5)) == 20
    assert (
        min(units for when, units in loop.series("api") if START + timedelta(seconds=5) <= when < hold.min_until) == 20
    )
    assert loop.value_at("api", START + timedelta(minutes=12, seconds=30)) < 20


def test_a_calendar_event_prescales_ahead_and_holds_through_its_end(aws: LocalAws) -> None:
    loop = ecs_loop(aws, rps=lambda minute: LOW_RPS)
    event = CalendarEvent(
        entry_id="sale-1",
        name="album sale",
        start_at=START + timedelta(minutes=10),
        end_at=START + timedelta(minutes=15),
        units=30,
        lead_seconds=300,
    )
    store.put_calendar_event(loop.stack.table_name, "api", event)
    loop.start()
    aws.run_until(START + timedelta(minutes=20))

    prescaled = loop.first_time("api", lambda units: units == 30)
    assert prescaled is not None
    assert START + timedelta(minutes=5) <= prescaled <= START + timedelta(minutes=5, seconds=5)
    held = [units for when, units in loop.series("api") if prescaled <= when < event.end_at]
    assert set(held) == {30}
    # After the end, scale-in starts (cooldown already satisfied by the quiet metric) in steps of 5.
    assert loop.value_at("api", START + timedelta(minutes=20)) < 30


def test_a_cloudwatch_failure_in_one_iteration_leaves_capacity_alone_and_the_loop_running(aws: LocalAws) -> None:
    loop = ecs_loop(aws, rps=lambda minute: HIGH_RPS)
    calls = {"n": 0}

    def fail_second_call(**_: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ClientError({"Error": {"Code": "InternalServiceError", "Message": "injected"}}, "GetMetricData")

    clients.cloudwatch().meta.events.register("before-call.monitoring.GetMetricData", fail_second_call)
    loop.start(schedule=False)
    loop.start_execution()
    result = aws.wait_for(loop.executions[0], timeout_sim_seconds=120)

    assert calls["n"] >= 5, "the loop went on after the failed read"
    assert result["status"] == "SUCCEEDED"
    assert {units for _, units in loop.series("api")} <= {2, 20}
    assert loop.value_at("api", aws.now()) == 20
    decided = [e for e in aws.history(loop.executions[0]) if e["type"] == "TaskStateExited"]
    assert decided, "history recorded the iterations"


def test_auto_scaling_group_limits_raised_for_an_event_and_restored_after(aws: LocalAws) -> None:
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
        start_at=START + timedelta(minutes=5),
        end_at=START + timedelta(minutes=8),
        units=25,
        lead_seconds=120,
    )
    store.put_calendar_event(stack.table_name, "web", event)
    loop.start(record_every_seconds=5)
    aws.run_until(START + timedelta(minutes=16))

    during = START + timedelta(minutes=6)
    # Min raised to the event's 25, max raised from 10 to 25 so that desired 25 is legal.
    assert (loop.value_at("desired", during), loop.value_at("min", during), loop.value_at("max", during)) == (
        25,
        25,
        25,
    )
    raised = loop.first_time("min", lambda units: units == 25)
    assert raised is not None
    assert raised <= START + timedelta(minutes=3, seconds=5)
    # After the event: the group's own min (2) is back, and the desired count steps down to min_units.
    end = START + timedelta(minutes=16)
    assert loop.value_at("min", end) == 2
    assert loop.value_at("desired", end) == 2
    assert loop.value_at("max", end) == 10
    for _, values in loop.samples:
        assert values["min"] <= values["desired"] <= values["max"] <= 40


def test_one_loop_scales_an_ecs_service_and_an_auto_scaling_group_side_by_side(aws: LocalAws) -> None:
    other_lb = "app/web-alb/73e2d6bc24d8a067"
    stack = deploy(aws, ecs_target(), asg_target(load_balancer=other_lb))
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    world.create_auto_scaling_group(aws, "web", min_units=2, max_units=50, desired_units=2)
    loop = Loop(aws, stack, spike)
    web = Loop(aws, stack, lambda minute: 400.0, load_balancer=other_lb)  # -> 8 units
    loop.read = lambda: {
        "api": world.ecs_desired(aws, "prod", "api"),
        "web": world.auto_scaling_group(aws, "web")["DesiredCapacity"],
    }
    web.start(schedule=False, record_every_seconds=3600)
    loop.start()
    aws.run_until(START + timedelta(minutes=3))

    assert loop.value_at("api", START + timedelta(minutes=3)) == 20
    assert loop.value_at("web", START + timedelta(minutes=3)) == 8
    # The same executions did both: every scale-out call came from one loop per minute.
    assert len(loop.executions) == 4


def test_demand_that_rises_during_the_settle_wait_cancels_the_scale_in(aws: LocalAws) -> None:
    # CloudWatch sums late-arriving datapoints into a minute already published: the newest ALB minute can first
    # show part of its requests and the rest seconds later. Here 11:00 first shows 100 rps (at 11:01:30) and its
    # other 900 rps arrive at 11:01:40, during the 20 s settle wait of the scale-in decided at 11:01:30.
    stack = deploy(aws, ecs_target())
    world.create_ecs_service(aws, "prod", "api", desired_units=20)
    loop = Loop(aws, stack, lambda minute: LOW_RPS)
    loop.read = lambda: {"api": world.ecs_desired(aws, "prod", "api")}
    aws.run_until(START + timedelta(seconds=90))
    for minutes_ago in range(15, -1, -1):
        world.publish_request_count(aws, LOAD_BALANCER, START - timedelta(minutes=minutes_ago), LOW_RPS * 60)
    aws.at(START + timedelta(seconds=100), lambda: world.publish_request_count(aws, LOAD_BALANCER, START, 900 * 60))
    aws.every(1, loop.record, first=aws.now())
    loop.executions.append(aws.start_execution(stack.scaler_arn, {"budget_seconds": 25, "settle_seconds": 20}))
    result = aws.wait_for(loop.executions[0], timeout_sim_seconds=60)

    assert result["status"] == "SUCCEEDED"
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in aws.history(loop.executions[0])
        if e["type"] == "TaskStateEntered"
    ]
    assert "ReReadSignals" in entered, "the first decision was a scale-in (100 rps needs 2 units)"
    # The second look read the minute again and found 1,000 rps: 20 units are needed, nothing is removed.
    assert {units for _, units in loop.series("api")} == {20}


def test_alb_minutes_are_read_once_a_minute_and_kept_in_the_table_between_iterations(aws: LocalAws) -> None:
    """The ALB publishes one RequestCount datapoint a minute: while no newer one can exist, ReadSignals reuses the
    minutes it kept beside the target's state (whichever Lambda container runs the next iteration), and writes them
    again only when they changed."""
    loop = ecs_loop(aws, rps=lambda minute: LOW_RPS)
    reads: list[datetime] = []
    writes: list[datetime] = []
    clients.cloudwatch().meta.events.register(
        "before-call.monitoring.GetMetricData", lambda **_: reads.append(aws.now())
    )
    clients.dynamodb().meta.events.register("before-call.dynamodb.BatchWriteItem", lambda **_: writes.append(aws.now()))
    loop.start()
    aws.run_until(START + timedelta(minutes=4))

    iterations = sum(
        1
        for arn in loop.executions
        for event in aws.history(arn)
        if event.get("stateEnteredEventDetails", {}).get("name") == "ReadSignals"
    )
    assert iterations >= 40
    # Minute M closes at M+60 and appears at M+90: from M+60 (a newer minute can exist) each iteration reads until it
    # does; from M+90 to M+120 none reads (7 reads of 12 a minute).
    assert len(reads) <= 0.7 * iterations, f"{len(reads)} GetMetricData calls in {iterations} iterations"
    # Written when they change: the new minute at M+90, the lookback window moving on at M+60 (twice a minute).
    assert len(writes) <= 10, f"the minutes written {len(writes)} times in 4 minutes"
    kept = store.read_target_items(loop.stack.table_name, "api").alb_samples
    assert kept, "the minutes are in the table"
    assert max(s.start for s in kept) >= START + timedelta(minutes=2)
