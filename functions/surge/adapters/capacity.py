"""Reading and setting the capacity of ECS services and EC2 Auto Scaling groups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from surge.adapters import clients
from surge.adapters.errors import CapacityApiThrottledError, is_throttling
from surge.core.config import AutoScalingGroup, EcsService, SurgeConfig, TargetConfig, TargetKind
from surge.core.instances import ContainerInstance, InstancePlan, LinkedGroup, LinkedReading
from surge.core.signals import CurrentCapacity, GroupLimits

ECS_DESCRIBE_BATCH = 10
"""DescribeServices takes at most 10 services of one cluster per call:
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html"""
ASG_DESCRIBE_BATCH = 50
"""DescribeAutoScalingGroups takes up to 50 names by default (MaxRecords default 50, at most 100):
https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeAutoScalingGroups.html"""
CAPACITY_PROVIDER_DESCRIBE_BATCH = 100
"""DescribeCapacityProviders takes up to 100 capacity providers per call:
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeCapacityProviders.html"""
CONTAINER_INSTANCE_DESCRIBE_BATCH = 100
"""DescribeContainerInstances takes up to 100 container instances per call (ListContainerInstances pages of up to
100): https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeContainerInstances.html"""
CONTAINER_INSTANCE_STATE_BATCH = 10
"""UpdateContainerInstancesState takes up to 10 container instances per call, and only an ACTIVE one can be set to
DRAINING: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateContainerInstancesState.html"""
FARGATE_PROVIDERS = frozenset({"FARGATE", "FARGATE_SPOT"})


@dataclass
class CapacityReadings:
    capacity: dict[str, CurrentCapacity] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    unavailable: set[str] = field(default_factory=set)
    """The targets among `errors` whose service or group does not exist, is not active, or is refused to Surge
    (AccessDenied): not a passing failure, the target's configuration or its grant needs fixing."""
    api_calls: int = 0
    denied_groups: set[str] = field(default_factory=set)
    launch: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    """Per ECS target: its launchType and the capacity providers of its strategy (ECS on EC2 checks)."""


def read_capacity(config: SurgeConfig) -> CapacityReadings:
    """Current desired and in-service units of every target, and the linked group of every ECS target on EC2
    (batched per API: the linked groups are described with the Auto Scaling targets' groups)."""
    readings = CapacityReadings()
    ecs_by_cluster: dict[str, dict[str, str]] = defaultdict(dict)
    groups: dict[str, list[str]] = defaultdict(list)
    for target in config.targets:
        if target.kind is TargetKind.ECS and target.ecs is not None:
            ecs_by_cluster[target.ecs.cluster][target.ecs.service] = target.id
        elif target.asg is not None:
            groups[target.asg.group_name].append(target.id)
    for cluster, services in ecs_by_cluster.items():
        _read_ecs(cluster, services, readings)
    linked = [t for t in config.targets if t.instances is not None and t.id in readings.capacity]
    linked_groups = _linked_group_names(linked, readings)
    names = sorted(set(groups) | {name for name, _ in linked_groups.values()})
    found, failed = _describe_groups(names, readings) if names else ({}, {})
    for name, target_ids in groups.items():
        for target_id in target_ids:
            if name in failed:
                readings.errors[target_id] = failed[name]
                if name in readings.denied_groups:
                    readings.unavailable.add(target_id)
            elif name not in found:
                readings.errors[target_id] = f"Auto Scaling group {name!r} not found"
                readings.unavailable.add(target_id)
            else:
                group = found[name]
                readings.capacity[target_id] = CurrentCapacity(
                    desired_units=group["DesiredCapacity"],
                    in_service_units=_in_service(group),
                    group_limits=GroupLimits(min_units=group["MinSize"], max_units=group["MaxSize"]),
                )
    for target in linked:
        if target.id in linked_groups:
            _link(target, linked_groups[target.id], found, failed, readings)
    return readings


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _read_ecs(cluster: str, services: dict[str, str], readings: CapacityReadings) -> None:
    for names in _chunks(sorted(services), ECS_DESCRIBE_BATCH):
        readings.api_calls += 1
        try:
            response = clients.ecs().describe_services(cluster=cluster, services=names)
        except (ClientError, BotoCoreError) as error:
            for name in names:
                readings.errors[services[name]] = f"ecs:DescribeServices failed: {error}"
                if _access_denied(error):
                    readings.unavailable.add(services[name])
            continue
        for service in response.get("services", []):
            target_id = services.get(service.get("serviceName", ""))
            if target_id is None:
                continue
            if service.get("status") != "ACTIVE":
                readings.errors[target_id] = f"ECS service is {service.get('status')}"
                readings.unavailable.add(target_id)
                continue
            readings.capacity[target_id] = CurrentCapacity(
                desired_units=service.get("desiredCount", 0), in_service_units=service.get("runningCount", 0)
            )
            strategy = [item.get("capacityProvider", "") for item in service.get("capacityProviderStrategy", [])]
            readings.launch[target_id] = (service.get("launchType", ""), strategy)
        for failure in response.get("failures", []):
            name = failure.get("arn", "").rsplit("/", 1)[-1]
            if name in services:
                readings.errors[services[name]] = f"ecs:DescribeServices: {failure.get('reason', 'failure')}"
                if failure.get("reason") == "MISSING":
                    readings.unavailable.add(services[name])


def _access_denied(error: ClientError | BotoCoreError) -> bool:
    code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
    return code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")


def _in_service(group: Mapping[str, Any]) -> int:
    return sum(1 for i in group.get("Instances", []) if i.get("LifecycleState") == "InService")


def _describe_groups(
    names: list[str], readings: CapacityReadings
) -> tuple[dict[str, Mapping[str, Any]], dict[str, str]]:
    """Every named group found (by name), and the names whose call failed (with the error)."""
    found: dict[str, Mapping[str, Any]] = {}
    failed: dict[str, str] = {}
    for chunk in _chunks(names, ASG_DESCRIBE_BATCH):
        readings.api_calls += 1
        try:
            response = clients.autoscaling().describe_auto_scaling_groups(
                AutoScalingGroupNames=chunk, MaxRecords=len(chunk)
            )
        except (ClientError, BotoCoreError) as error:
            failed |= dict.fromkeys(chunk, f"autoscaling:DescribeAutoScalingGroups failed: {error}")
            if _access_denied(error):
                readings.denied_groups.update(chunk)
            continue
        for group in response.get("AutoScalingGroups", []):
            found[group["AutoScalingGroupName"]] = group
    return found, failed


# ------------------------------------------------------------------------------------- ECS on EC2: reading


def _invalid(readings: CapacityReadings, target: TargetConfig, message: str) -> None:
    capacity = readings.capacity[target.id]
    readings.capacity[target.id] = capacity.model_copy(update={"linked": LinkedReading(invalid=message)})
    readings.errors[target.id] = message


def _unreadable(readings: CapacityReadings, target: TargetConfig, message: str) -> None:
    capacity = readings.capacity[target.id]
    readings.capacity[target.id] = capacity.model_copy(update={"linked": LinkedReading(error=message)})
    readings.errors[target.id] = message


def _linked_group_names(linked: list[TargetConfig], readings: CapacityReadings) -> dict[str, tuple[str, bool]]:
    """Each linked target's group name and whether its capacity provider's managed scaling is ENABLED (a group
    given directly: False, Surge drives it). A Fargate service, or a provider that is missing or has no group, is
    invalid; a failed DescribeCapacityProviders call leaves the target unreadable."""
    result: dict[str, tuple[str, bool]] = {}
    providers: dict[str, list[TargetConfig]] = defaultdict(list)
    for target in linked:
        assert target.instances is not None
        assert target.ecs is not None
        launch_type, strategy = readings.launch.get(target.id, ("", []))
        fargate = sorted(FARGATE_PROVIDERS.intersection(strategy))
        if launch_type == "FARGATE" or fargate:
            how = f"launchType {launch_type}" if launch_type == "FARGATE" else f"capacity provider {fargate[0]}"
            _invalid(
                readings,
                target,
                f"instances: service {target.ecs.service!r} runs on Fargate ({how}); only a service on EC2 "
                "capacity can declare instances",
            )
        elif target.instances.group_name is not None:
            result[target.id] = (target.instances.group_name, False)
        elif target.instances.capacity_provider is not None:
            providers[target.instances.capacity_provider].append(target)
    # Managed scaling and managed termination protection, and the group behind the provider:
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/asg-capacity-providers-managed-scaling.html
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/managed-termination-protection.html
    for names in _chunks(sorted(providers), CAPACITY_PROVIDER_DESCRIBE_BATCH):
        readings.api_calls += 1
        try:
            response = clients.ecs().describe_capacity_providers(capacityProviders=names)
        except (ClientError, BotoCoreError) as error:
            for name in names:
                for target in providers[name]:
                    _unreadable(readings, target, f"ecs:DescribeCapacityProviders failed: {error}")
            continue
        described = {p.get("name", ""): p for p in response.get("capacityProviders", [])}
        for name in names:
            provider = described.get(name)
            group_provider = provider.get("autoScalingGroupProvider") if provider is not None else None
            for target in providers[name]:
                if provider is None:
                    _invalid(readings, target, f"instances.capacity_provider: capacity provider {name!r} not found")
                elif group_provider is None or not group_provider.get("autoScalingGroupArn"):
                    _invalid(readings, target, f"instances.capacity_provider: {name!r} has no Auto Scaling group")
                else:
                    # The ARN ends in ":autoScalingGroupName/<name>" (the API also accepts a bare name here).
                    group_name = group_provider["autoScalingGroupArn"].split("autoScalingGroupName/")[-1]
                    managed = group_provider.get("managedScaling", {}).get("status") == "ENABLED"
                    result[target.id] = (group_name, managed)
    return result


def _link(
    target: TargetConfig,
    group_and_managed: tuple[str, bool],
    found: dict[str, Mapping[str, Any]],
    failed: dict[str, str],
    readings: CapacityReadings,
) -> None:
    assert target.instances is not None
    assert target.ecs is not None
    name, managed = group_and_managed
    field_name = "group_name" if target.instances.group_name is not None else "capacity_provider"
    if name in failed:
        _unreadable(readings, target, failed[name])
        return
    group = found.get(name)
    if group is None:
        _invalid(readings, target, f"instances.{field_name}: Auto Scaling group {name!r} not found")
        return
    if target.instances.spare_instances > group["MaxSize"]:
        _invalid(
            readings,
            target,
            f"instances.spare_instances: {target.instances.spare_instances} is above the group's MaxSize "
            f"({group['MaxSize']}); allowed: 0-{group['MaxSize']}",
        )
        return
    container_instances = None
    if not managed:
        try:
            container_instances = _container_instances(target.ecs.cluster, group, readings)
        except (ClientError, BotoCoreError) as error:
            # Nothing is removed without them; the group can still grow.
            readings.errors[target.id] = f"ecs:ListContainerInstances/DescribeContainerInstances failed: {error}"
    linked = LinkedGroup(
        group_name=name,
        desired_instances=group["DesiredCapacity"],
        in_service_instances=_in_service(group),
        min_size=group["MinSize"],
        max_size=group["MaxSize"],
        managed_scaling=managed,
        container_instances=container_instances,
    )
    capacity = readings.capacity[target.id]
    readings.capacity[target.id] = capacity.model_copy(update={"linked": LinkedReading(group=linked)})


def _container_instances(
    cluster: str, group: Mapping[str, Any], readings: CapacityReadings | None = None
) -> list[ContainerInstance]:
    """The cluster's container instances on this group, with their task counts and the group's scale-in
    protection (ListContainerInstances, then DescribeContainerInstances 100 at a time)."""
    members = {i["InstanceId"]: bool(i.get("ProtectedFromScaleIn")) for i in group.get("Instances", [])}
    arns: list[str] = []
    for page in clients.ecs().get_paginator("list_container_instances").paginate(cluster=cluster):
        if readings is not None:
            readings.api_calls += 1
        arns.extend(page.get("containerInstanceArns", []))
    described: list[ContainerInstance] = []
    for chunk in _chunks(arns, CONTAINER_INSTANCE_DESCRIBE_BATCH):
        if readings is not None:
            readings.api_calls += 1
        response = clients.ecs().describe_container_instances(cluster=cluster, containerInstances=chunk)
        for item in response.get("containerInstances", []):
            instance_id = item.get("ec2InstanceId", "")
            if instance_id in members:
                described.append(
                    ContainerInstance(
                        instance_id=instance_id,
                        arn=item["containerInstanceArn"],
                        status=item.get("status", ""),
                        running_tasks=item.get("runningTasksCount", 0),
                        pending_tasks=item.get("pendingTasksCount", 0),
                        protected_from_scale_in=members[instance_id],
                    )
                )
    return described


def set_ecs_desired(service: EcsService, desired_units: int) -> str:
    """UpdateService desiredCount; returns the API call made."""
    _call(
        lambda: clients.ecs().update_service(
            cluster=service.cluster, service=service.service, desiredCount=desired_units
        )
    )
    return "ecs:UpdateService"


def set_asg_capacity(group: AutoScalingGroup, desired_units: int, limits: GroupLimits | None) -> str:
    """SetDesiredCapacity, or UpdateAutoScalingGroup when min/max change too; returns the API call made."""
    if limits is None:
        _call(
            lambda: clients.autoscaling().set_desired_capacity(
                AutoScalingGroupName=group.group_name, DesiredCapacity=desired_units, HonorCooldown=False
            )
        )
        return "autoscaling:SetDesiredCapacity"
    _call(
        lambda: clients.autoscaling().update_auto_scaling_group(
            AutoScalingGroupName=group.group_name,
            MinSize=limits.min_units,
            MaxSize=limits.max_units,
            DesiredCapacity=desired_units,
        )
    )
    return "autoscaling:UpdateAutoScalingGroup"


# ------------------------------------------------------------------------------------ ECS on EC2: applying


def set_linked_group(plan: InstancePlan, cluster: str) -> list[str]:
    """Apply the instance side of a decision to the linked group; returns the API calls made (none when nothing
    changes). Called before the service's UpdateService: the instances are asked for first.

    Managed scaling ENABLED: UpdateAutoScalingGroup MinSize (and DesiredCapacity when it rises); the desired count
    is never lowered (managed scaling removes idle instances itself). Off: SetDesiredCapacity up; down only by
    removing the plan's idle instances (`remove_idle_instances`)."""
    calls: list[str] = []
    group = plan.group_name
    if plan.managed_scaling:
        if plan.min_size != plan.current_min_size or plan.desired_instances > plan.current_instances:
            arguments: dict[str, Any] = {"AutoScalingGroupName": group, "MinSize": plan.min_size}
            if plan.desired_instances > plan.current_instances:
                arguments["DesiredCapacity"] = plan.desired_instances
            _call(lambda: clients.autoscaling().update_auto_scaling_group(**arguments))
            calls.append("autoscaling:UpdateAutoScalingGroup")
        return calls
    if plan.desired_instances > plan.current_instances:
        _call(
            lambda: clients.autoscaling().set_desired_capacity(
                AutoScalingGroupName=group, DesiredCapacity=plan.desired_instances, HonorCooldown=False
            )
        )
        calls.append("autoscaling:SetDesiredCapacity")
    if plan.terminate:
        calls.extend(remove_idle_instances(plan, cluster))
    return calls


def remove_idle_instances(plan: InstancePlan, cluster: str) -> list[str]:
    """Drain the plan's idle instances (no new task is placed on a DRAINING instance), look again, and terminate
    those that still run no task with the desired count decremented; one that got a task meanwhile is set back to
    ACTIVE and kept. A protected instance is never in the plan (surge.core.instances), and is checked again here.

    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateContainerInstancesState.html
    https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html
    (ShouldDecrementDesiredCapacity=True: no replacement is launched)."""
    calls: list[str] = []
    active = [i.arn for i in plan.terminate if i.status == "ACTIVE"]
    for chunk in _chunks(active, CONTAINER_INSTANCE_STATE_BATCH):
        _call(
            lambda chunk=chunk: clients.ecs().update_container_instances_state(  # type: ignore[misc]
                cluster=cluster, containerInstances=chunk, status="DRAINING"
            )
        )
        calls.append("ecs:UpdateContainerInstancesState")
    groups = clients.autoscaling().describe_auto_scaling_groups(AutoScalingGroupNames=[plan.group_name])
    now_seen = {i.instance_id: i for group in groups["AutoScalingGroups"] for i in _container_instances(cluster, group)}
    busy = []
    for instance in plan.terminate:
        seen = now_seen.get(instance.instance_id)
        if seen is None or not seen.removable:
            busy.append(instance.arn)
            continue
        _call(
            lambda instance_id=instance.instance_id: clients.autoscaling().terminate_instance_in_auto_scaling_group(  # type: ignore[misc]
                InstanceId=instance_id, ShouldDecrementDesiredCapacity=True
            )
        )
        calls.append("autoscaling:TerminateInstanceInAutoScalingGroup")
    for chunk in _chunks([arn for arn in busy if arn in active], CONTAINER_INSTANCE_STATE_BATCH):
        _call(
            lambda chunk=chunk: clients.ecs().update_container_instances_state(  # type: ignore[misc]
                cluster=cluster, containerInstances=chunk, status="ACTIVE"
            )
        )
        calls.append("ecs:UpdateContainerInstancesState")
    return calls


def _call(action: Callable[[], object]) -> None:
    try:
        action()
    except ClientError as error:
        if is_throttling(error):
            raise CapacityApiThrottledError(str(error)) from error
        raise
