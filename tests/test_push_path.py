"""The push fast path end to end on moto: PushSent on the Surge bus -> the template's rule -> PushFastPath
(the real ASL) -> RecordPushHold / DecideCapacity / ApplyCapacity (the real handlers)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scaler_support import LOAD_BALANCER, START, deploy, ecs_target, local_aws
from surge.adapters import clients, store
from surge.core.signals import CalendarEvent
from surge_cli import world
from surge_cli.localaws import LocalAws
from surge_cli.push_client import push_event_entry
from surge_cli.redrive import parked_event, redrive_pushes
from surge_cli.stack import LocalStack, Template, resolve_pattern

pytestmark = pytest.mark.statemachine
EVENTS = Path(__file__).resolve().parents[1] / "events"
SOURCE = Template.load().parameter_defaults()["PushEventSource"]
BASELINE_RPS = 100.0  # -> 2 units at 50 rps per unit


@pytest.fixture
def stack(aws: LocalAws) -> LocalStack:
    deployed = deploy(aws, ecs_target())
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    for minutes_ago in range(2, 12):
        minute = START - timedelta(minutes=minutes_ago)
        world.publish_request_count(aws, LOAD_BALANCER, minute, BASELINE_RPS * 60)
    return deployed


def put(aws: LocalAws, stack: LocalStack, entry: dict[str, Any]) -> list[str]:
    aws.client("events").put_events(Entries=[entry])
    return stack.deliver_events()


def push(aws: LocalAws, stack: LocalStack, audience: int, push_id: str) -> list[str]:
    entry = push_event_entry(audience=audience, push_id=push_id, bus_name=stack.bus_name, source=SOURCE)
    return put(aws, stack, entry)


def redrive(aws: LocalAws, stack: LocalStack, push_ids: list[str]) -> list[str]:
    """`surge push redrive` of the stack's dead-letter queue (pushes up to 30 minutes old): it redrives exactly
    `push_ids`; the fast-path executions the bus then starts."""
    report = redrive_pushes(
        queue_url=stack.dead_letter_queue_url,
        bus_name=stack.bus_name,
        now=aws.now(),
        max_age=timedelta(minutes=30),
        sqs=aws.client("sqs"),
        events=aws.client("events"),
    )
    assert report.redriven == push_ids, report
    return stack.deliver_events()


def fleet(aws: LocalAws, ids: list[str]) -> LocalStack:
    """ECS targets `ids`, two per shard, each with 2 units behind the load balancer and ten minutes of requests."""
    stack = deploy(aws, *(ecs_target(i) for i in ids), parameters={"TargetsPerShard": "2"})
    for target_id in ids:
        world.create_ecs_service(aws, "prod", target_id, desired_units=2)
    for minutes_ago in range(2, 12):
        world.publish_request_count(aws, LOAD_BALANCER, START - timedelta(minutes=minutes_ago), BASELINE_RPS * 60)
    return stack


def sample_event(name: str, stack: LocalStack) -> dict[str, Any]:
    event = json.loads((EVENTS / name).read_text())
    return {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "EventBusName": stack.bus_name,
    }


def desired(aws: LocalAws) -> int:
    return world.ecs_desired(aws, "prod", "api")


def test_a_push_scales_out_in_one_fast_path_execution(aws: LocalAws, stack: LocalStack) -> None:
    sent = aws.now()
    executions = push(aws, stack, audience=100_000, push_id="post-1")
    assert len(executions) == 1
    result = aws.wait_for(executions[0], timeout_sim_seconds=30)

    assert result["status"] == "SUCCEEDED"
    # (100 rps now + 100,000 x 0.01 rps) / (100 rps x 0.5) = 1,100 / 50 = 22 units
    assert desired(aws) == 22
    items = store.read_target_items(stack.table_name, "api")
    assert [(h.push_id, h.units, h.audience) for h in items.holds] == [("post-1", 22, 100_000)]
    assert items.holds[0].min_until == sent + timedelta(seconds=600)
    assert items.holds[0].max_until == sent + timedelta(seconds=1800)


def test_by_default_a_push_is_sized_for_the_safety_factor_over_the_guess(aws: LocalAws) -> None:
    from surge.core.config import DEFAULT_PUSH_SAFETY_FACTOR

    # The shared test config sizes for the guess itself; here the target keeps the default safety factor.
    stack = deploy(aws, ecs_target(push_safety_factor=DEFAULT_PUSH_SAFETY_FACTOR))
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    for minutes_ago in range(2, 12):
        world.publish_request_count(aws, LOAD_BALANCER, START - timedelta(minutes=minutes_ago), BASELINE_RPS * 60)
    result = aws.wait_for(push(aws, stack, audience=100_000, push_id="post-1")[0], timeout_sim_seconds=30)
    assert result["status"] == "SUCCEEDED"
    # No calibration history: 100 rps now + 100,000 x 0.01 x the factor, at 50 rps per unit
    expected = -(-(BASELINE_RPS + 100_000 * 0.01 * DEFAULT_PUSH_SAFETY_FACTOR) // 50)
    assert desired(aws) == expected > 22
    hold = store.read_target_items(stack.table_name, "api").holds[0]
    assert (hold.units, hold.baseline_rps) == (expected, BASELINE_RPS)  # the baseline the loop corrects from


PUSH_TO_CAPACITY_BOUND = timedelta(seconds=5)
"""PutEvents -> the capacity call has landed, typical latencies, every function of the path cold: EventBridge
~0.5 s, Express start ~0.05 s, three cold invocations (~1 s init each), ~10 AWS calls (~0.6 s)."""


def test_a_push_reaches_the_capacity_api_within_five_seconds_under_typical_latency_even_cold() -> None:
    with local_aws(latency="typical") as aws:
        deployed = deploy(aws, ecs_target())
        world.create_ecs_service(aws, "prod", "api", desired_units=2)
        for minutes_ago in range(2, 12):
            world.publish_request_count(aws, LOAD_BALANCER, START - timedelta(minutes=minutes_ago), BASELINE_RPS * 60)
        landed: list[timedelta] = []
        clients.ecs().meta.events.register("after-call.ecs.UpdateService", lambda **_: landed.append(aws.now() - START))
        entry = push_event_entry(audience=100_000, push_id="post-1", bus_name=deployed.bus_name, source=SOURCE)
        aws.client("events").put_events(Entries=[entry])
        (delay,) = deployed.deliver_events_later()
        aws.run_until(START + timedelta(seconds=30))
        cold = {i.function_name.removeprefix("surge-"): i.cold_start for i in aws.invocations}

    assert 0.3 < delay < 0.7  # EventBridge's delivery, 0.5 s +- 30 %
    assert cold == {"RecordPushFunction": True, "DecideCapacityFunction": True, "ApplyCapacityFunction": True}
    assert len(landed) == 1
    # Idealised, this was 0 s; here every step of the path takes its time, and a slow handler shows.
    assert timedelta(seconds=2) < landed[0] <= PUSH_TO_CAPACITY_BOUND


def test_a_duplicate_delivery_changes_nothing(aws: LocalAws, stack: LocalStack) -> None:
    first = push(aws, stack, audience=100_000, push_id="post-1")
    aws.wait_for(first[0], timeout_sim_seconds=30)
    calls: list[str] = []  # every UpdateService from here on
    aws.client("ecs").meta.events.register("before-call.ecs.UpdateService", lambda **_: calls.append("x"))

    again = push(aws, stack, audience=100_000, push_id="post-1")
    result = aws.wait_for(again[0], timeout_sim_seconds=30)

    assert result["status"] == "SUCCEEDED"
    states = [e["stateEnteredEventDetails"]["name"] for e in aws.history(again[0]) if "stateEnteredEventDetails" in e]
    assert states == ["RecordPushHold", "IsNewPush", "AlreadyHandled"]
    assert desired(aws) == 22
    assert calls == []
    assert len(store.read_target_items(stack.table_name, "api").holds) == 1


def test_two_close_pushes_combine_the_larger_requirement_wins(aws: LocalAws, stack: LocalStack) -> None:
    aws.wait_for(push(aws, stack, audience=100_000, push_id="post-1")[0], timeout_sim_seconds=30)
    aws.run_until(aws.now() + timedelta(seconds=20))
    aws.wait_for(push(aws, stack, audience=50_000, push_id="post-2")[0], timeout_sim_seconds=30)

    holds = {h.push_id: h for h in store.read_target_items(stack.table_name, "api").holds}
    # The second push is sized never lower than the current desired count (22), and the later hold lasts longer.
    assert holds["post-2"].units == 22
    assert holds["post-2"].max_until > holds["post-1"].max_until
    assert desired(aws) == 22


@pytest.mark.parametrize(
    ("sample", "field"),
    [
        ("push-sent-bad-audience.json", "detail.audience"),
        ("push-sent-absurd-audience.json", "detail.audience"),
        ("push-sent-missing-audience.json", "detail.audience"),
    ],
)
def test_a_malformed_push_goes_to_the_dead_letter_queue_and_changes_nothing(
    aws: LocalAws, stack: LocalStack, sample: str, field: str
) -> None:
    executions = put(aws, stack, sample_event(sample, stack))
    assert len(executions) == 1
    result = aws.wait_for(executions[0], timeout_sim_seconds=30)

    assert result["status"] == "FAILED"
    assert result["error"] == "PushRejected"
    assert desired(aws) == 2
    assert store.read_target_items(stack.table_name, "api").holds == []
    messages = aws.client("sqs").receive_message(QueueUrl=stack.dead_letter_queue_url).get("Messages", [])
    assert len(messages) == 1
    parked = json.loads(messages[0]["Body"])
    assert parked["rejection"]["Error"] == "PushRejectedError"
    assert field in json.loads(parked["rejection"]["Cause"])["errorMessage"]


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {getattr(record, 'reason', '')}")


@pytest.fixture
def logged() -> Iterator[list[str]]:
    """The surge logger's records (Powertools writes to the stdout it found first; a handler sees every record)."""
    recorder = _Recorder()
    logging.getLogger("surge").addHandler(recorder)
    yield recorder.lines
    logging.getLogger("surge").removeHandler(recorder)


def test_a_push_as_other_senders_write_it_scales_out_and_reports_what_it_left_out(
    aws: LocalAws, stack: LocalStack, capsys: pytest.CaptureFixture[str], logged: list[str]
) -> None:
    # A JavaScript sender's number (1e5), a Unix-seconds sent_at and an unknown field: the audience is valid, so
    # the spike scales; the rest is left out, logged and counted, and nothing goes to the dead-letter queue.
    detail = '{"push_id": "js-1", "audience": 1e5, "sent_at": 1768993200, "channel": "ios"}'
    entry = {"Source": SOURCE, "DetailType": "PushSent", "Detail": detail, "EventBusName": stack.bus_name}
    result = aws.wait_for(put(aws, stack, entry)[0], timeout_sim_seconds=30)
    assert result["status"] == "SUCCEEDED"
    assert desired(aws) == 22  # (100 rps + 100,000 x 0.01) / 50, as for the integer audience
    assert [h.push_id for h in store.read_target_items(stack.table_name, "api").holds] == ["js-1"]
    (line,) = [line for line in logged if line.startswith("push fields ignored")]
    assert "detail.sent_at" in line
    assert "detail.channel" in line
    assert '"PushFieldsIgnored"' in capsys.readouterr().out
    assert aws.client("sqs").receive_message(QueueUrl=stack.dead_letter_queue_url).get("Messages", []) == []


def _table_error(code: str = "InternalServerError") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, "PutItem")


def _failing_hold_writes(times: int) -> tuple[list[int], Callable[..., None]]:
    """A before-call hook failing the first `times` hold writes (PutItem of a HOLD# item)."""
    failed = [0]

    def hook(params: dict[str, Any], **_: Any) -> None:
        if params.get("Item", {}).get("sk", {}).get("S", "").startswith("HOLD#") and failed[0] < times:
            failed[0] += 1
            raise _table_error()

    return failed, hook


def test_a_transient_table_error_recording_the_hold_is_retried_then_applied(aws: LocalAws, stack: LocalStack) -> None:
    failed, hook = _failing_hold_writes(times=1)
    clients.dynamodb().meta.events.register("before-parameter-build.dynamodb.PutItem", hook)
    try:
        result = aws.wait_for(push(aws, stack, audience=100_000, push_id="post-1")[0], timeout_sim_seconds=30)
    finally:
        clients.dynamodb().meta.events.unregister("before-parameter-build.dynamodb.PutItem", hook)
    assert result["status"] == "SUCCEEDED"
    assert failed == [1]
    history = aws.history(result["executionArn"])
    retried = [e for e in history if e["type"] == "LambdaFunctionFailed" or e["type"] == "TaskFailed"]
    assert len(retried) == 1
    # retried by class name, not parked as a bad event
    assert "SurgeTransientError" in json.dumps(retried[0], default=str)
    assert desired(aws) == 22
    assert [h.push_id for h in store.read_target_items(stack.table_name, "api").holds] == ["post-1"]
    assert aws.client("sqs").receive_message(QueueUrl=stack.dead_letter_queue_url).get("Messages", []) == []


def test_when_the_table_cannot_record_the_hold_capacity_is_raised_anyway_and_a_redrive_records_it(
    aws: LocalAws, stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # The whole table fails (every call), through RecordPushHold's retries: capacity first, bookkeeping after.
    def down(**_: Any) -> None:
        raise _table_error()

    table_calls = ("PutItem", "GetItem", "Query", "UpdateItem")
    for operation in table_calls:
        clients.dynamodb().meta.events.register(f"before-call.dynamodb.{operation}", down)
    try:
        result = aws.wait_for(push(aws, stack, audience=100_000, push_id="post-1")[0], timeout_sim_seconds=60)
    finally:
        for operation in table_calls:
            clients.dynamodb().meta.events.unregister(f"before-call.dynamodb.{operation}", down)
    assert result["status"] == "FAILED"
    assert result["error"] == "PushNotRecorded"  # the PushFastPath ExecutionsFailed alarm sees it
    assert desired(aws) == 22  # sized from the prior (the calibration was unreadable too) and applied
    assert store.read_target_items(stack.table_name, "api").holds == []
    assert '"PushHoldsNotRecorded"' in capsys.readouterr().out
    (parked,) = aws.client("sqs").receive_message(QueueUrl=stack.dead_letter_queue_url, VisibilityTimeout=0)["Messages"]
    body = json.loads(parked["Body"])
    assert body["redrive_event"]["detail"]["push_id"] == "post-1"

    # The table is back: `surge push redrive` puts the push on the bus again; the fast path records its hold
    # and changes no capacity (already there).
    (execution,) = redrive(aws, stack, ["post-1"])
    assert aws.wait_for(execution, timeout_sim_seconds=30)["status"] == "SUCCEEDED"
    assert [h.push_id for h in store.read_target_items(stack.table_name, "api").holds] == ["post-1"]
    assert desired(aws) == 22
    assert aws.client("sqs").receive_message(QueueUrl=stack.dead_letter_queue_url).get("Messages", []) == []


def test_redrive_leaves_rejected_old_and_unreadable_messages_in_the_queue(aws: LocalAws, stack: LocalStack) -> None:
    sqs, queue = aws.client("sqs"), stack.dead_letter_queue_url
    event = json.loads((EVENTS / "push-sent.json").read_text())
    old = {**event, "time": (aws.now() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    bodies = [
        json.dumps({**event, "rejection": {"Error": "PushRejectedError", "Cause": "detail.audience: ..."}}),
        json.dumps({**old, "failure": {"Error": "SurgeTransientError", "Cause": "..."}}),
        "not json",
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    assert [parked_event(b)[0] for b in bodies] == ["rejected", "redrive", "unreadable"]
    report = redrive_pushes(
        queue_url=queue,
        bus_name=stack.bus_name,
        now=aws.now(),
        max_age=timedelta(minutes=30),
        sqs=sqs,
        events=aws.client("events"),
    )
    assert (report.redriven, report.rejected_left, report.too_old_left, report.unreadable_left) == (
        [],
        1,
        [event["detail"]["push_id"]],
        1,
    )
    assert stack.deliver_events() == []  # nothing was put on the bus
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    waiting = int(attributes["ApproximateNumberOfMessagesNotVisible"]) + int(attributes["ApproximateNumberOfMessages"])
    assert waiting == 3


def test_an_unknown_target_is_rejected_by_name(aws: LocalAws, stack: LocalStack) -> None:
    entry = push_event_entry(audience=1_000, push_id="post-9", bus_name=stack.bus_name, source=SOURCE, target_id="nope")
    result = aws.wait_for(put(aws, stack, entry)[0], timeout_sim_seconds=30)
    assert result["status"] == "FAILED"
    messages = aws.client("sqs").receive_message(QueueUrl=stack.dead_letter_queue_url)["Messages"]
    assert "target_id: unknown target 'nope'" in messages[0]["Body"]
    assert desired(aws) == 2


def test_the_rule_pattern_from_the_template_matches_samples_and_rejects_near_misses(
    aws: LocalAws, stack: LocalStack
) -> None:
    assert put(aws, stack, sample_event("push-sent.json", stack)) != []
    assert put(aws, stack, sample_event("push-sent-one-target.json", stack)) != []
    # Near misses, judged by moto's own pattern matching of the template's rule:
    assert put(aws, stack, sample_event("push-sent-other-source.json", stack)) == []
    near = sample_event("push-sent.json", stack)
    assert put(aws, stack, {**near, "DetailType": "PushScheduled"}) == []
    assert put(aws, stack, {**near, "Source": SOURCE.upper()}) == []
    assert put(aws, stack, {**near, "EventBusName": "default"}) == []


def test_the_template_rule_is_the_one_put_on_the_bus(aws: LocalAws, stack: LocalStack) -> None:
    machine = Template.load().state_machine("PushFastPathStateMachine")
    (rule,) = machine.rules
    name = f"{stack.stack_name}-PushFastPathStateMachine-{rule.name}"
    stored = aws.client("events").describe_rule(Name=name, EventBusName=stack.bus_name)
    assert json.loads(stored["EventPattern"]) == {"source": [SOURCE], "detail-type": ["PushSent"]}
    assert resolve_pattern({"source": [{"Ref": "PushEventSource"}]}, lambda value: SOURCE) == {"source": [SOURCE]}


def test_a_second_push_is_sized_from_what_the_first_really_brought(aws: LocalAws) -> None:
    stack = deploy(aws, ecs_target(max_units=100, push_min_hold_seconds=60, push_hold_seconds=300))
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    for minutes_ago in range(2, 12):
        world.publish_request_count(aws, LOAD_BALANCER, START - timedelta(minutes=minutes_ago), BASELINE_RPS * 60)
    # The operator's prior says 0.01 rps per person notified; this audience really brings 0.03.
    true_rps_per_audience = 0.03
    audience = 100_000
    spike_rps = BASELINE_RPS + audience * true_rps_per_audience  # 3,100 rps -> 62 units really needed
    first = push(aws, stack, audience=audience, push_id="post-1")
    aws.wait_for(first[0], timeout_sim_seconds=30)
    for minute in range(10):
        rps = spike_rps if minute < 5 else BASELINE_RPS
        world.publish_request_count(aws, LOAD_BALANCER, START + timedelta(minutes=minute), rps * 60)
    aws.run_until(START + timedelta(minutes=12))

    second = push(aws, stack, audience=audience, push_id="post-2")
    aws.wait_for(second[0], timeout_sim_seconds=30)

    holds = {h.push_id: h for h in store.read_target_items(stack.table_name, "api").holds}
    # First push, from the prior: (100 + 100,000 x 0.01) / 50 = 22 units (62 were needed).
    assert holds["post-1"].units == 22
    # Second push, calibrated: (3,100 - 100) / 100,000 = 0.03 -> (100 + 3,000) / 50 = 62 units.
    assert holds["post-2"].units == 62
    assert abs(holds["post-2"].units - 62) < abs(holds["post-1"].units - 62)
    assert holds["post-1"].calibrated
    assert store.read_calibration(stack.table_name, "api").observations == [pytest.approx(0.03)]
    assert world.ecs_desired(aws, "prod", "api") == 62


def test_the_sample_event_invokes_record_push_directly_as_sam_local_invoke_would(
    aws: LocalAws, stack: LocalStack
) -> None:
    event = json.loads((EVENTS / "push-sent.json").read_text())
    response = aws.client("lambda").invoke(
        FunctionName=stack.function_arns["RecordPushFunction"], Payload=json.dumps(event)
    )
    output = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, output
    # (100 rps + 3,000,000 x 0.01) / 50 = 602 units, clamped to max_units 50.
    assert (output["push_id"], output["duplicate"], output["holds"][0]["units"]) == ("post-8812", False, 50)
    assert output["loop"]["execution_id"] == "direct-invoke"


def test_a_push_covering_more_targets_than_a_shard_scales_one_shard_now_and_the_loop_the_others(
    aws: LocalAws,
) -> None:
    """What flows through the fast path stays one shard's size whatever the push covers: a push naming no target
    on a fleet scales the first TargetsPerShard targets itself and records every hold; the loop applies the rest."""
    ids = ["api", "web", "jobs"]
    stack = fleet(aws, ids)

    # Two entries: one in force now, one next week (only the first can matter to this decision).
    store.put_calendar_events(
        stack.table_name,
        "api",
        [
            CalendarEvent(entry_id=entry_id, name=entry_id, start_at=start, end_at=start + timedelta(hours=1), units=5)
            for entry_id, start in (("now", START - timedelta(minutes=5)), ("next-week", START + timedelta(days=7)))
        ],
    )

    (execution,) = push(aws, stack, audience=100_000, push_id="post-1")
    assert aws.wait_for(execution, timeout_sim_seconds=30)["status"] == "SUCCEEDED"

    recorded = next(
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in aws.history(execution)
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "RecordPushHold"
    )
    assert [s["target_id"] for s in recorded["signals"]] == ["api", "web"]
    assert [t["id"] for t in recorded["config"]["targets"]] == ["api", "web"]
    assert recorded["left_to_the_loop"] == 1
    assert [c["entry_id"] for c in recorded["signals"][0]["calendar"]] == ["now"]
    assert {i: world.ecs_desired(aws, "prod", i) for i in ids} == {"api": 22, "web": 22, "jobs": 2}
    assert [h.units for h in store.read_target_items(stack.table_name, "jobs").holds] == [22], "recorded all the same"

    aws.start_execution(stack.scaler_arn, {"budget_seconds": 10})
    aws.run_until(aws.now() + timedelta(seconds=15))
    assert world.ecs_desired(aws, "prod", "jobs") == 22, "the loop applied the recorded hold"


def _fleet_push(aws: LocalAws, target_count: int) -> tuple[LocalStack, list[str], datetime, str]:
    """`fleet` of `target_count` targets; a push naming no target."""
    ids = [f"svc{i:02d}" for i in range(target_count)]
    stack = fleet(aws, ids)
    pushed_at = aws.now()
    (execution,) = push(aws, stack, audience=100_000, push_id="post-1")
    return stack, ids, pushed_at, execution


def _first_scale_out_seconds(target_count: int) -> float:
    with local_aws(latency="typical") as aws:
        updates: list[datetime] = []
        clients.ecs().meta.events.register("after-call.ecs.UpdateService", lambda **_: updates.append(aws.now()))
        stack, ids, pushed_at, execution = _fleet_push(aws, target_count)
        assert aws.wait_for(execution, timeout_sim_seconds=60)["status"] == "SUCCEEDED"
        assert [len(store.read_target_items(stack.table_name, i).holds) for i in ids] == [1] * target_count
        return (min(updates) - pushed_at).total_seconds()


def test_a_push_on_a_fleet_scales_its_first_shard_without_waiting_for_the_other_shards_holds() -> None:
    """The other shards' holds are recorded beside the first shard's scale-out (RecordEveryOtherShard, one
    invocation per shard), not before it: under the typical latency, the first UpdateService of a push covering
    24 targets comes at the same simulated instant as one covering 2 (before: about 30 ms later per target, 19 s
    at 500 targets, near the function's 20 s timeout), and every covered target's hold is in the table."""
    assert _first_scale_out_seconds(24) == _first_scale_out_seconds(2)


def test_a_shard_whose_holds_fail_is_parked_and_a_redrive_records_them_without_touching_the_others(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One other shard's table writes keep failing: its push is parked in the dead-letter queue, the first shard
    still scales out and every other shard's holds are recorded; the execution fails with `PushNotRecorded` once
    every shard is done (its alarm). Redriven, the push is a duplicate for what is recorded (nothing applied
    again) and records the missing shard's holds."""
    from surge import push_steps

    real_put = push_steps._put_hold_if_new
    failing = {"svc04", "svc05"}  # shard 2

    def put_unless_failing(table: str, target_id: str, hold: Any) -> bool:
        if target_id in failing:
            raise push_steps.SurgeTransientError("dynamodb:PutItem (push hold): throttled")
        return bool(real_put(table, target_id, hold))

    monkeypatch.setattr(push_steps, "_put_hold_if_new", put_unless_failing)
    stack, ids, _, execution = _fleet_push(aws, 8)
    result = aws.wait_for(execution, timeout_sim_seconds=60)
    assert (result["status"], result.get("error")) == ("FAILED", "PushNotRecorded")
    holds = {i: len(store.read_target_items(stack.table_name, i).holds) for i in ids}
    assert holds == {i: 0 if i in failing else 1 for i in ids}
    assert {i: world.ecs_desired(aws, "prod", i) for i in ids[:2]} == {"svc00": 22, "svc01": 22}
    (parked,) = aws.client("sqs").receive_message(QueueUrl=stack.dead_letter_queue_url, VisibilityTimeout=0)["Messages"]
    assert json.loads(parked["Body"])["shard"] == 2

    failing.clear()
    (again,) = redrive(aws, stack, ["post-1"])
    assert aws.wait_for(again, timeout_sim_seconds=60)["status"] == "SUCCEEDED"
    assert {i: len(store.read_target_items(stack.table_name, i).holds) for i in ids} == dict.fromkeys(ids, 1)
    entered = [e["stateEnteredEventDetails"]["name"] for e in aws.history(again) if "stateEnteredEventDetails" in e]
    assert "ThisShardAlreadyHandled" in entered
    assert "DecideCapacity" not in entered


def test_a_push_whose_scale_out_fails_leaves_its_recorded_hold_to_the_loop(
    aws: LocalAws, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ScaleOutForPush fails (past its retries): the hold is in the table, so the execution fails with
    `PushNotApplied` (its alarm) and the loop applies the hold at its next iteration."""
    from surge import steps

    def refused(*_: Any) -> None:
        raise RuntimeError("UpdateService refused")

    monkeypatch.setattr(steps, "apply_capacity", refused)
    (execution,) = push(aws, stack, audience=100_000, push_id="post-1")
    result = aws.wait_for(execution, timeout_sim_seconds=60)

    assert (result["status"], result.get("error")) == ("FAILED", "PushNotApplied")
    entered = [e["stateEnteredEventDetails"]["name"] for e in aws.history(execution) if "stateEnteredEventDetails" in e]
    assert entered[-3:] == ["WasThisShardApplied", "CanTheLoopApplyIt", "LeaveItToTheLoop"]
    assert [h.units for h in store.read_target_items(stack.table_name, "api").holds] == [22]
    assert desired(aws) == 2
