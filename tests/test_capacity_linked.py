"""Reading a linked group (ECS on EC2) on moto: the group, the capacity provider, the container instances, and every
way the configuration can fail to fit what is deployed (one line naming the field, nothing changes)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from ec2_support import CLUSTER, GROUP, Placement, create_linked_world, linked_target
from scaler_support import ecs_target
from surge.adapters import capacity, clients
from surge.core.config import SurgeConfig, TargetConfig
from surge.core.instances import LinkedReading
from surge_cli.localaws import LocalAws


def read(*targets: TargetConfig) -> capacity.CapacityReadings:
    return capacity.read_capacity(SurgeConfig(targets=list(targets)))


def linked_of(readings: capacity.CapacityReadings, target_id: str = "api") -> LinkedReading:
    found = readings.capacity[target_id].linked
    assert found is not None
    return found


def fail(client: Any, operation: str, code: str = "AccessDeniedException") -> None:
    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "refused"}}, operation)

    client.meta.events.register(f"before-call.{client.meta.service_model.service_name}.{operation}", refuse)


def test_a_group_given_directly_is_read_with_its_container_instances_and_their_tasks(aws: LocalAws) -> None:
    create_linked_world(aws, tasks=2, instances=3, managed=False)
    placement = Placement(aws, tasks_per_instance=4, follow_service=False)
    placement.register_new_instances()
    busy = sorted(placement.tasks)[0]
    placement.start_on(busy, 2)
    group_id = {arn: instance for instance, arn in placement.by_instance.items()}[busy]
    aws.client("autoscaling").set_instance_protection(
        AutoScalingGroupName=GROUP, InstanceIds=[sorted(placement.by_instance)[-1]], ProtectedFromScaleIn=True
    )

    found = linked_of(read(linked_target(ecs_target(), managed=False)))
    assert found.error is None
    assert found.invalid is None
    assert found.group is not None
    assert (found.group.desired_instances, found.group.min_size, found.group.max_size) == (3, 1, 20)
    assert found.group.managed_scaling is False
    instances = {i.instance_id: i for i in found.group.container_instances or []}
    assert len(instances) == 3
    assert instances[group_id].running_tasks == 2
    assert not instances[group_id].removable
    assert instances[sorted(placement.by_instance)[-1]].protected_from_scale_in


def test_a_capacity_provider_gives_the_group_and_managed_scaling_and_no_container_instance_read(
    aws: LocalAws,
) -> None:
    create_linked_world(aws, tasks=2, instances=2, managed=True)
    calls: list[str] = []
    clients.ecs().meta.events.register("before-call.ecs.*", lambda model, **_: calls.append(model.name))
    readings = read(linked_target(ecs_target(), managed=True))
    found = linked_of(readings)
    assert found.group is not None
    assert (found.group.group_name, found.group.managed_scaling) == (GROUP, True)
    assert found.group.container_instances is None, "managed scaling removes instances: no need to read them"
    assert calls == ["DescribeServices", "DescribeCapacityProviders"]


def test_linked_groups_are_described_in_one_call_with_the_auto_scaling_targets(aws: LocalAws) -> None:
    create_linked_world(aws, tasks=2, instances=1, managed=False)
    from surge_cli import world

    world.create_auto_scaling_group(aws, "web", min_units=1, max_units=5, desired_units=1)
    calls: list[list[str]] = []
    clients.autoscaling().meta.events.register(
        "provide-client-params.auto-scaling.DescribeAutoScalingGroups",
        lambda params, **_: calls.append(params["AutoScalingGroupNames"]),
    )
    web = TargetConfig.model_validate(
        {
            "id": "web",
            "kind": "asg",
            "asg": {"group_name": "web"},
            "scaling": {"min_units": 1, "max_units": 5, "unit_capacity_rps": 10},
        }
    )
    readings = read(linked_target(ecs_target(), managed=False), web)
    assert calls == [[GROUP, "web"]]
    assert readings.capacity["web"].desired_units == 1
    assert linked_of(readings).group is not None


@pytest.mark.parametrize(
    ("linked", "message"),
    [
        ({"group_name": "no-such-group"}, "instances.group_name: Auto Scaling group 'no-such-group' not found"),
        (
            {"capacity_provider": "no-such-provider"},
            "instances.capacity_provider: capacity provider 'no-such-provider' not found",
        ),
        ({"spare_instances": 21}, "instances.spare_instances: 21 is above the group's MaxSize (20); allowed: 0-20"),
    ],
    ids=["group-missing", "provider-missing", "spare-above-max"],
)
def test_a_configuration_that_does_not_fit_the_group_is_invalid_naming_the_field(
    aws: LocalAws, linked: dict[str, Any], message: str
) -> None:
    create_linked_world(aws, tasks=2, instances=1, managed=False)
    way = {} if {"group_name", "capacity_provider"} & set(linked) else {"group_name": GROUP}
    base = {
        **ecs_target().model_dump(mode="json"),
        "instances": {"tasks_per_instance": 4, "min_instances": 1, **way, **linked},
    }
    found = linked_of(read(TargetConfig.model_validate(base)))
    assert (found.invalid, found.group) == (message, None)


def test_a_fargate_service_declaring_instances_is_invalid(aws: LocalAws) -> None:
    create_linked_world(aws, tasks=2, instances=1, managed=False)
    ecs = aws.client("ecs")
    ecs.create_service(
        cluster=CLUSTER, serviceName="fargate-api", taskDefinition="api-task", desiredCount=2, launchType="FARGATE"
    )
    target = linked_target(ecs_target("fargate-api"), managed=False)
    found = linked_of(read(target), "fargate-api")
    assert found.invalid == (
        "instances: service 'fargate-api' runs on Fargate (launchType FARGATE); only a service on EC2 capacity can "
        "declare instances"
    )


@pytest.mark.parametrize(
    ("service", "operation"),
    [("autoscaling", "DescribeAutoScalingGroups"), ("ecs", "DescribeCapacityProviders")],
)
def test_a_failed_read_leaves_the_target_unreadable_not_invalid(aws: LocalAws, service: str, operation: str) -> None:
    create_linked_world(aws, tasks=2, instances=1, managed=True)
    fail(getattr(clients, service)(), operation)
    readings = read(linked_target(ecs_target(), managed=True))
    found = linked_of(readings)
    assert found.invalid is None
    assert found.group is None
    assert found.error is not None
    assert operation in found.error
    assert readings.capacity["api"].desired_units == 2, "the task side is still read"


def test_unreadable_container_instances_keep_the_group_so_it_can_still_grow(aws: LocalAws) -> None:
    create_linked_world(aws, tasks=2, instances=1, managed=False)
    fail(clients.ecs(), "ListContainerInstances")
    readings = read(linked_target(ecs_target(), managed=False))
    found = linked_of(readings)
    assert found.group is not None
    assert found.group.container_instances is None
    assert "ListContainerInstances" in readings.errors["api"]


def test_an_instance_that_got_a_task_after_the_decision_is_kept_and_set_back_to_active(aws: LocalAws) -> None:
    """remove_idle_instances drains, looks again, and terminates only what still runs no task."""
    from surge.core.config import LinkedInstances
    from surge.core.instances import plan_instances
    from surge_cli import world

    create_linked_world(aws, tasks=0, instances=3, managed=False)
    placement = Placement(aws, tasks_per_instance=4, follow_service=False)
    placement.register_new_instances()
    group = linked_of(read(linked_target(ecs_target(), managed=False))).group
    assert group is not None
    linked = LinkedInstances(group_name=GROUP, tasks_per_instance=4, min_instances=1)
    plan = plan_instances(linked, group, desired_tasks=0, running_tasks=0, target_tasks=0, allow_scale_in=True)
    assert len(plan.terminate) == 2
    late = plan.terminate[0]
    placement.start_on(late.arn, 1)  # a task lands on it between the decision and the removal

    calls = capacity.remove_idle_instances(plan, CLUSTER)

    assert calls.count("autoscaling:TerminateInstanceInAutoScalingGroup") == 1
    members = {i["InstanceId"] for i in world.auto_scaling_group(aws, GROUP)["Instances"]}
    assert late.instance_id in members
    assert plan.terminate[1].instance_id not in members
    status = aws.client("ecs").describe_container_instances(cluster=CLUSTER, containerInstances=[late.arn])
    assert status["containerInstances"][0]["status"] == "ACTIVE"
    assert world.auto_scaling_group(aws, GROUP)["DesiredCapacity"] == 2
