"""One target's failing capacity call never costs another target its change (the real scaler ASL on moto)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scaler_support import START, Loop, deploy, ecs_target
from surge.adapters import clients
from surge_cli import world
from surge_cli.graph import drawn_states
from surge_cli.localaws import LocalAws

pytestmark = pytest.mark.statemachine

OTHER_LB = "app/web-alb/73e2d6bc24d8a067"
DATA_VISIBLE = START + timedelta(seconds=90)
"""11:00's 1,000 rps (20 units) appear at 11:01:30 for both services."""


def _two_services(aws: LocalAws) -> Loop:
    stack = deploy(aws, ecs_target("api"), ecs_target("shop", load_balancer=OTHER_LB))
    for service in ("api", "shop"):
        world.create_ecs_service(aws, "prod", service, desired_units=2)
    busy = lambda minute: 1000.0 if minute >= START else 100.0  # noqa: E731
    loop = Loop(aws, stack, busy)
    shop = Loop(aws, stack, busy, load_balancer=OTHER_LB)
    loop.read = lambda: {name: world.ecs_desired(aws, "prod", name) for name in ("api", "shop")}
    shop.start(schedule=False, record_every_seconds=3600)
    return loop


def _refuse_api_updates(aws: LocalAws, code: str, until: datetime | None = None) -> list[datetime]:
    refused: list[datetime] = []

    def refuse(params: dict[str, Any], **_: object) -> None:
        if params.get("service") == "api" and (until is None or aws.now() < until):
            refused.append(aws.now())
            raise ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, "UpdateService")

    clients.ecs().meta.events.register("before-parameter-build.ecs.UpdateService", refuse)
    return refused


def _entered(aws: LocalAws, executions: list[str], state: str) -> int:
    return sum(
        1
        for arn in executions
        for event in aws.history(arn)
        if event["type"].endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] == state
    )


def _first(loop: Loop, name: str, units: int) -> datetime:
    when = loop.first_time(name, lambda value: value == units)
    assert when is not None, f"{name} never reached {units}"
    return when


def test_a_target_the_api_refuses_is_left_as_it_is_and_the_others_scale(aws: LocalAws) -> None:
    loop = _two_services(aws)
    refused = _refuse_api_updates(aws, "AccessDeniedException")
    loop.start()
    aws.run_until(START + timedelta(minutes=3))

    assert DATA_VISIBLE <= _first(loop, "shop", 20) <= DATA_VISIBLE + timedelta(seconds=5), "in the same iteration"
    assert {units for _, units in loop.series("api")} == {2}
    assert refused, "api's change was tried (and refused) every iteration"
    assert _entered(aws, loop.executions, "CountFailedIteration") == 0, "a refused target fails no iteration"


def test_a_target_throttled_for_20_s_recovers_while_the_others_scale_without_a_failed_iteration(
    aws: LocalAws,
) -> None:
    loop = _two_services(aws)
    throttled_until = DATA_VISIBLE + timedelta(seconds=20)
    throttled = _refuse_api_updates(aws, "ThrottlingException", until=throttled_until)
    loop.start()
    aws.run_until(START + timedelta(minutes=3))

    assert DATA_VISIBLE <= _first(loop, "shop", 20) <= DATA_VISIBLE + timedelta(seconds=5), "not held up by api"
    api_scaled = _first(loop, "api", 20)
    assert throttled_until <= api_scaled <= throttled_until + timedelta(seconds=10), "at the first try after it"
    assert len(throttled) > 4, "throttled beyond one Retry's attempts"
    assert _entered(aws, loop.executions, "ShardThrottled") >= 1
    assert _entered(aws, loop.executions, "ShardFailed") == 0, "throttling is not a failed shard"
    assert _entered(aws, loop.executions, "CountFailedIteration") == 0, "throttling is not a failed iteration"


def test_every_capacity_task_sends_a_throttle_outlasting_its_retry_to_the_next_iteration() -> None:
    definition: dict[str, Any] = json.loads(Path("statemachines/scaler.asl.json").read_text())
    states = {name: state for name, (state, _) in drawn_states(definition).items()}
    appliers = [
        name
        for name, state in states.items()
        if state["Type"] == "Task" and "ApplyCapacityFunctionArn" in json.dumps(state.get("Parameters", {}))
    ]
    assert sorted(appliers) == ["PreScaleForEvent", "ScaleIn", "ScaleOutNow"]
    for name in appliers:
        first = states[name]["Catch"][0]
        assert first["ErrorEquals"] == ["CapacityApiThrottledError"], name
        assert first["Next"] == "ShardThrottled", name


def test_a_target_whose_service_does_not_exist_is_reported_unavailable_while_the_other_scales(
    aws: LocalAws,
) -> None:
    stack = deploy(aws, ecs_target("api"), ecs_target("gone", load_balancer=OTHER_LB))
    world.create_ecs_service(aws, "prod", "api", desired_units=2)  # "gone" was never created (or was deleted)
    loop = Loop(aws, stack, lambda minute: 1000.0 if minute >= START else 100.0)
    loop.read = lambda: {"api": world.ecs_desired(aws, "prod", "api")}
    loop.start()
    aws.run_until(START + timedelta(minutes=2))

    assert DATA_VISIBLE <= _first(loop, "api", 20) <= DATA_VISIBLE + timedelta(seconds=5)
    reasons = {
        decision["target_id"]: decision["reason"]
        for arn in loop.executions
        for event in aws.history(arn)
        if event.get("stateExitedEventDetails", {}).get("name") == "DecideCapacity"
        for decision in json.loads(event["stateExitedEventDetails"]["output"])["plan"]["decisions"]
    }
    assert reasons["gone"] == "target_unavailable"
    assert _entered(aws, loop.executions, "ShardFailed") == 0
    assert _entered(aws, loop.executions, "CountFailedIteration") == 0
