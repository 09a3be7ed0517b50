"""Notifications (one message per burst, none for no change) and dry-run (same decisions, zero capacity calls)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from moto.sns.models import sns_backends

from scaler_support import START, Loop, deploy, ecs_target, local_aws
from surge.adapters import clients, store
from surge.core.config import TargetKind
from surge.core.decision import Action, Decision, Reason, Signal
from surge.core.notify import compose
from surge.core.plan import AppliedChange
from surge.core.signals import TargetState
from surge_cli import world
from surge_cli.localaws import LocalAws

AT = datetime(2026, 1, 21, 11, 0, 5, tzinfo=UTC)


def change(
    from_units: int,
    to_units: int,
    *,
    at: datetime = AT,
    target: str = "api",
    winner: Signal = Signal.REACTIVE,
    holds: list[str] | None = None,
    dry_run: bool = False,
) -> AppliedChange:
    action = Action.SCALE_OUT if to_units > from_units else Action.SCALE_IN if to_units < from_units else Action.STEADY
    decision = Decision(
        target_id=target,
        kind=TargetKind.ECS,
        action=action,
        reason=Reason.SCALE_OUT if action is Action.SCALE_OUT else Reason.SCALE_IN,
        winner=winner,
        explanation=f"scale {from_units} -> {to_units}",
        current_desired_units=from_units,
        desired_units=to_units,
        demand_rps=23_456.0,
        demand_source="alb_request_count",
        reactive_units=to_units,
        push_floor_units=130 if holds else 0,
        calendar_floor_units=0,
        active_holds=holds or [],
        active_events=[],
        scale_in_allowed_at=at + timedelta(seconds=300) if action is Action.SCALE_OUT else None,
        next_state=TargetState(),
        dry_run=dry_run,
    )
    return AppliedChange(
        target_id=target,
        from_units=from_units,
        to_units=to_units,
        group_limits_set=False,
        api_calls=[] if dry_run else ["ecs:UpdateService"],
        dry_run=dry_run,
        applied_at=at,
        decision=decision,
    )


def test_one_change_one_message_saying_old_new_why_and_when_scale_in_is_allowed() -> None:
    message = compose([change(20, 47)])
    assert message is not None
    assert message.subject == "Surge: api 20 -> 47 units"
    assert message.text == (
        "api: 20 -> 47 units (scale out) at 11:00:05 UTC. Demand 23,456 rps (alb_request_count)."
        " Scale-in allowed from 11:05:05 UTC."
    )


def test_a_push_change_names_the_push_and_waits_for_the_hold() -> None:
    message = compose([change(20, 130, winner=Signal.PUSH, holds=["post-8812"])])
    assert message is not None
    assert message.text == (
        "api: 20 -> 130 units (scale out) at 11:00:05 UTC. Push post-8812 (hold 130 units)."
        " Scale-in waits for the push hold to end."
    )


def test_no_change_no_message() -> None:
    assert compose([]) is None
    assert compose([change(20, 20)]) is None


def test_a_burst_collapses_into_one_message_per_batch() -> None:
    burst = [
        change(20, 47, at=AT),
        change(47, 130, at=AT + timedelta(seconds=20), winner=Signal.PUSH, holds=["post-8812"]),
        change(4, 9, at=AT + timedelta(seconds=30), target="web"),
        change(130, 131, at=AT + timedelta(seconds=40)),
    ]
    message = compose(burst)
    assert message is not None
    assert message.subject == "Surge: 2 targets changed"
    lines = message.text.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("api: 20 -> 131 units in 3 steps (scale out) at 11:00:45 UTC.")
    assert lines[1].startswith("web: 4 -> 9 units (scale out) at 11:00:35 UTC.")
    assert message.changes == 4


def test_dry_run_messages_are_marked() -> None:
    message = compose([change(20, 47, dry_run=True)])
    assert message is not None
    assert message.subject.startswith("[dry run] ")
    assert message.text.startswith("[dry run] api: 20 -> 47")


# ------------------------------------------------------------------------------- through the real stack


def spike(minute: datetime) -> float:
    return 1000.0 if minute >= START else 100.0  # 2 units, then 20 from 11:01:30


def run_spike(aws: LocalAws, dry_run: bool) -> tuple[Loop, list[str]]:
    stack = deploy(aws, ecs_target(), parameters={"DryRun": "true" if dry_run else "false"})
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    calls: list[str] = []
    for operation in ("UpdateService",):
        clients.ecs().meta.events.register(f"before-call.ecs.{operation}", lambda **_: calls.append("ecs"))
    for operation in ("SetDesiredCapacity", "UpdateAutoScalingGroup"):
        clients.autoscaling().meta.events.register(
            f"before-call.autoscaling.{operation}", lambda **_: calls.append("asg")
        )
    loop = Loop(aws, stack, spike)
    loop.read = lambda: {"api": world.ecs_desired(aws, "prod", "api")}
    loop.start(record_every_seconds=5)
    aws.run_until(START + timedelta(minutes=3))
    return loop, calls


def sent_messages(stack_topic: str) -> list[str]:
    topic = sns_backends["123456789012"]["us-east-1"].topics[stack_topic]
    return [message for _, message, *_ in topic.sent_notifications]


@pytest.mark.statemachine
def test_a_scale_out_notifies_once_and_a_quiet_minute_not_at_all(aws: LocalAws) -> None:
    loop, _ = run_spike(aws, dry_run=False)
    responses = loop.stack.deliver_notifications()
    topic = aws.client("sns").list_topics()["Topics"][0]["TopicArn"]
    messages = sent_messages(topic)
    assert len(responses) == 1
    assert len(messages) == 1
    assert messages[0].startswith("api: 2 -> 20 units (scale out) at 11:01:30 UTC. Demand 1,000 rps")
    # Another quiet minute: no ScalingDecision, no message.
    aws.run_until(START + timedelta(minutes=4))
    assert loop.stack.deliver_notifications() == []
    assert len(sent_messages(topic)) == 1


@pytest.mark.statemachine
def test_dry_run_makes_no_capacity_call_and_journals_what_a_live_run_does() -> None:
    journals = {}
    for dry_run in (False, True):
        with local_aws() as aws:
            loop, calls = run_spike(aws, dry_run=dry_run)
            entries = store.read_journal(loop.stack.table_name, START, aws.now())
            journals[dry_run] = [(e.target_id, e.from_units, e.to_units, e.decision.reason) for e in entries]
            assert all(e.dry_run is dry_run for e in entries)
            if dry_run:
                assert calls == []
                assert {units for _, units in loop.series("api")} == {2}, "dry run never touched the service"
            else:
                assert calls == ["ecs"]
    assert journals[False] == [("api", 2, 20, Reason.SCALE_OUT)]
    assert journals[True] == journals[False]


@pytest.mark.statemachine
def test_an_undeliverable_scaling_decision_event_never_undoes_or_fails_the_change(
    aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    from botocore.exceptions import ClientError

    def refuse(**_: object) -> None:
        raise ClientError({"Error": {"Code": "InternalException", "Message": "injected"}}, "PutEvents")

    clients.events().meta.events.register("before-call.eventbridge.PutEvents", refuse)
    loop, _ = run_spike(aws, dry_run=False)

    assert loop.value_at("api", START + timedelta(minutes=2)) == 20, "the scale-out stands"
    entries = store.read_journal(loop.stack.table_name, START, aws.now())
    assert [(e.from_units, e.to_units) for e in entries] == [(2, 20)], "and is journaled"
    for execution in loop.executions:
        states = [
            e["stateEnteredEventDetails"]["name"] for e in aws.history(execution) if "stateEnteredEventDetails" in e
        ]
        assert "CountFailedIteration" not in states
    assert '"DecisionEventsNotDelivered"' in capsys.readouterr().out


def test_the_same_change_delivered_twice_is_said_once() -> None:
    # Two overlapping loops (or an at-least-once delivery) can announce the same 20 -> 47 twice.
    message = compose([change(20, 47), change(20, 47, at=AT + timedelta(seconds=1))])
    assert message is not None
    assert message.text.startswith("api: 20 -> 47 units (scale out)")
    assert "steps" not in message.text
    assert message.changes == 1
