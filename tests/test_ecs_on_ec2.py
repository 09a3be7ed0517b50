"""ECS on EC2: the real scaler and push ASL on moto, with the real handlers, on a simulated clock.

A service `api` (one task per 50 rps) on the group `api-instances`, 4 tasks per instance. The group is linked
directly (Surge drives its desired count) or through the capacity provider `api-capacity` with managed scaling
on (Surge moves MinSize). `ec2_support.Placement` plays ECS's scheduler and agent on moto's own APIs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ec2_support import CLUSTER, GROUP, Placement, create_linked_world, linked_target
from scaler_support import LOAD_BALANCER, START, Loop, deploy, ecs_target
from surge.adapters import clients
from surge_cli import world
from surge_cli.localaws import LocalAws
from surge_cli.push_client import push_event_entry
from surge_cli.stack import Template

pytestmark = pytest.mark.statemachine

SOURCE = Template.load().parameter_defaults()["PushEventSource"]
BASELINE_RPS = 100.0  # -> 2 tasks


def record_capacity_calls(aws: LocalAws) -> list[tuple[datetime, str, dict[str, Any]]]:
    """Every capacity call the handlers make, in order, with its simulated instant (botocore before-call hooks on
    the cached clients the handlers use)."""
    calls: list[tuple[datetime, str, dict[str, Any]]] = []

    def recorder(name: str) -> Any:
        def record(params: dict[str, Any], **_: Any) -> None:
            calls.append((aws.now(), name, dict(params)))

        return record

    for operation in ("SetDesiredCapacity", "UpdateAutoScalingGroup", "TerminateInstanceInAutoScalingGroup"):
        clients.autoscaling().meta.events.register(
            f"provide-client-params.auto-scaling.{operation}", recorder(f"autoscaling:{operation}")
        )
    for operation in ("UpdateService", "UpdateContainerInstancesState"):
        clients.ecs().meta.events.register(f"provide-client-params.ecs.{operation}", recorder(f"ecs:{operation}"))
    return calls


def group(aws: LocalAws) -> dict[str, Any]:
    return world.auto_scaling_group(aws, GROUP)


@pytest.mark.parametrize("managed", [False, True], ids=["group-driven-by-surge", "managed-scaling"])
def test_a_push_raises_the_group_then_the_service_in_the_same_apply(aws: LocalAws, managed: bool) -> None:
    stack = deploy(aws, linked_target(ecs_target(), managed=managed))
    create_linked_world(aws, tasks=2, instances=1, managed=managed)
    for minutes_ago in range(2, 12):
        world.publish_request_count(aws, LOAD_BALANCER, START - timedelta(minutes=minutes_ago), BASELINE_RPS * 60)
    calls = record_capacity_calls(aws)

    entry = push_event_entry(audience=100_000, push_id="post-1", bus_name=stack.bus_name, source=SOURCE)
    aws.client("events").put_events(Entries=[entry])
    [execution] = stack.deliver_events()
    assert aws.wait_for(execution, timeout_sim_seconds=30)["status"] == "SUCCEEDED"

    # (100 rps + 100,000 x 0.01 rps) / 50 rps = 22 tasks; ceil(22 / 4) = 6 instances.
    assert world.ecs_desired(aws, CLUSTER, "api") == 22
    assert group(aws)["DesiredCapacity"] == 6
    names = [name for _, name, _ in calls]
    group_call = "autoscaling:UpdateAutoScalingGroup" if managed else "autoscaling:SetDesiredCapacity"
    assert names == [group_call, "ecs:UpdateService"], "the instances are asked for first"
    assert calls[0][0] == calls[1][0], "in the same ApplyCapacity, at the same instant"
    if managed:
        assert calls[0][2] == {"AutoScalingGroupName": GROUP, "MinSize": 6, "DesiredCapacity": 6}
        assert group(aws)["MinSize"] == 6
    else:
        assert calls[0][2]["DesiredCapacity"] == 6
        assert group(aws)["MinSize"] == 1, "Surge drives the desired count, not the floor"
    history = aws.client("stepfunctions").get_execution_history(executionArn=execution, maxResults=1000)["events"]
    applies = [
        e
        for e in history
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "ScaleOutForPush"
    ]
    assert len(applies) == 1


def spike(minute: datetime) -> float:
    """100 rps, then 1,000 rps (20 tasks, 5 instances) for 11:00-11:04, then 100 rps again."""
    return 1_000.0 if START <= minute < START + timedelta(minutes=5) else BASELINE_RPS


def linked_loop(aws: LocalAws, *, managed: bool, follow_service: bool = True) -> tuple[Loop, Placement]:
    stack = deploy(aws, linked_target(ecs_target(), managed=managed))
    create_linked_world(aws, tasks=2, instances=1, managed=managed)
    placement = Placement(aws, tasks_per_instance=4, follow_service=follow_service)
    placement.sync()
    loop = Loop(aws, stack, spike)

    def read() -> dict[str, int]:
        placement.sync()
        found = group(aws)
        return {
            "tasks": world.ecs_desired(aws, CLUSTER, "api"),
            "instances": found["DesiredCapacity"],
            "min_size": found["MinSize"],
            "running": placement.running_tasks(),
        }

    loop.read = read
    return loop, placement


def test_a_spike_raises_the_instances_first_and_scale_in_lowers_the_tasks_before_the_instances(aws: LocalAws) -> None:
    loop, _ = linked_loop(aws, managed=False)
    calls = record_capacity_calls(aws)
    loop.start()
    aws.run_until(START + timedelta(minutes=14))

    # Scale-out: 11:00's 1,000 rps appear at 11:01:30: 20 tasks and 5 instances in one ApplyCapacity, group first.
    first_up = next(i for i, (_, name, _) in enumerate(calls) if name == "autoscaling:SetDesiredCapacity")
    assert calls[first_up][2]["DesiredCapacity"] == 5
    assert calls[first_up + 1][1:] == ("ecs:UpdateService", calls[first_up + 1][2])
    assert calls[first_up + 1][2]["desiredCount"] == 20
    assert calls[first_up][0] == calls[first_up + 1][0]
    assert loop.value_at("running", START + timedelta(minutes=5)) == 20, "every task found a slot"

    # Scale-in: every instance removal comes after the task decrease that freed it, in a later iteration.
    lowered_tasks = [when for when, name, p in calls if name == "ecs:UpdateService" and p["desiredCount"] < 20]
    terminations = [(when, p) for when, name, p in calls if name == "autoscaling:TerminateInstanceInAutoScalingGroup"]
    assert lowered_tasks
    assert terminations, "the idle instances went in the end"
    assert min(lowered_tasks) < min(when for when, _ in terminations)
    for when, params in terminations:
        assert params["ShouldDecrementDesiredCapacity"] is True
        # Never in the same ApplyCapacity as a task decrease: the tasks stop first, the instances follow later.
        assert when not in lowered_tasks
    drained = [
        when for when, name, p in calls if name == "ecs:UpdateContainerInstancesState" and p["status"] == "DRAINING"
    ]
    assert drained
    assert min(drained) <= min(when for when, _ in terminations), "drained before terminated"
    # The instances never fall below what the running tasks need (Placement asserts no busy instance goes).
    for when, values in loop.samples:
        assert values["instances"] * 4 >= values["running"], when
    assert loop.value_at("tasks", START + timedelta(minutes=14)) == 2
    assert loop.value_at("instances", START + timedelta(minutes=14)) == 1


def test_an_instance_that_runs_tasks_is_never_terminated(aws: LocalAws) -> None:
    """The service's tasks go down, but every instance still runs a (standalone) task: none is removed."""
    loop, placement = linked_loop(aws, managed=False, follow_service=False)
    loop.start()
    aws.run_until(START + timedelta(minutes=3))
    assert group(aws)["DesiredCapacity"] == 5
    placement.register_new_instances()
    for arn in list(placement.tasks):
        placement.start_on(arn, 1)
    calls = record_capacity_calls(aws)
    aws.run_until(START + timedelta(minutes=14))

    assert world.ecs_desired(aws, CLUSTER, "api") == 2, "the tasks scaled in"
    assert [name for _, name, _ in calls if "Terminate" in name or "ContainerInstancesState" in name] == []
    assert group(aws)["DesiredCapacity"] == 5
    assert len(group(aws)["Instances"]) == 5


def test_with_managed_scaling_surge_lowers_min_size_after_the_tasks_and_never_the_desired_count(aws: LocalAws) -> None:
    loop, _ = linked_loop(aws, managed=True)
    calls = record_capacity_calls(aws)
    loop.start()
    aws.run_until(START + timedelta(minutes=14))

    raised = [
        (when, p) for when, name, p in calls if name == "autoscaling:UpdateAutoScalingGroup" and "DesiredCapacity" in p
    ]
    assert raised
    assert raised[0][1]["MinSize"] == raised[0][1]["DesiredCapacity"] == 5
    lowered = [
        (when, p)
        for when, name, p in calls
        if name == "autoscaling:UpdateAutoScalingGroup" and "DesiredCapacity" not in p
    ]
    lowered_tasks = [when for when, name, p in calls if name == "ecs:UpdateService" and p["desiredCount"] < 20]
    assert lowered
    assert min(lowered_tasks) < min(when for when, _ in lowered)
    assert all(when not in lowered_tasks for when, _ in lowered), "MinSize follows the tasks in a later iteration"
    assert [name for _, name, _ in calls if "Terminate" in name or name == "autoscaling:SetDesiredCapacity"] == []
    assert group(aws)["MinSize"] == 1, "back to min_instances"
    assert group(aws)["DesiredCapacity"] == 5, "the desired count is managed scaling's to lower"


def test_a_linked_group_that_does_not_exist_changes_nothing_and_the_other_targets_scale(aws: LocalAws) -> None:
    broken = linked_target(ecs_target(), managed=False, group_name="no-such-group")
    other = ecs_target("web")
    stack = deploy(aws, broken, other)
    world.create_ecs_service(aws, CLUSTER, "api", desired_units=2)
    world.create_ecs_service(aws, CLUSTER, "web", desired_units=2)
    loop = Loop(aws, stack, spike)
    loop.read = lambda: {"api": world.ecs_desired(aws, CLUSTER, "api"), "web": world.ecs_desired(aws, CLUSTER, "web")}
    loop.start()
    aws.run_until(START + timedelta(minutes=3))

    assert loop.value_at("web", START + timedelta(minutes=3)) == 20
    assert {units for _, units in loop.series("api")} == {2}
    statuses = {aws.client("stepfunctions").describe_execution(executionArn=arn)["status"] for arn in loop.executions}
    assert "FAILED" not in statuses


def test_a_push_never_removes_instances_even_when_the_group_has_more_than_its_tasks_need(aws: LocalAws) -> None:
    """Removing instances waits for the loop's confirmed scale-in branch: the push path (and any scale-out) only
    ever raises them, even when idle instances are there to remove."""
    stack = deploy(aws, linked_target(ecs_target(), managed=False))
    create_linked_world(aws, tasks=2, instances=10, managed=False)
    Placement(aws, tasks_per_instance=4, follow_service=False).register_new_instances()
    for minutes_ago in range(2, 12):
        world.publish_request_count(aws, LOAD_BALANCER, START - timedelta(minutes=minutes_ago), BASELINE_RPS * 60)
    calls = record_capacity_calls(aws)
    entry = push_event_entry(audience=100_000, push_id="post-1", bus_name=stack.bus_name, source=SOURCE)
    aws.client("events").put_events(Entries=[entry])
    [execution] = stack.deliver_events()
    assert aws.wait_for(execution, timeout_sim_seconds=30)["status"] == "SUCCEEDED"

    assert world.ecs_desired(aws, CLUSTER, "api") == 22
    assert [name for _, name, _ in calls] == ["ecs:UpdateService"], "6 instances needed, 10 there: none removed"
    assert group(aws)["DesiredCapacity"] == 10
