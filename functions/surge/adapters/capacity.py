"""Reading and setting the capacity of ECS services and EC2 Auto Scaling groups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from surge.adapters import clients
from surge.adapters.errors import CapacityApiThrottledError, is_throttling
from surge.core.config import AutoScalingGroup, EcsService, SurgeConfig, TargetKind
from surge.core.signals import CurrentCapacity, GroupLimits

ECS_DESCRIBE_BATCH = 10
"""DescribeServices takes at most 10 services of one cluster per call:
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html"""
ASG_DESCRIBE_BATCH = 50
"""DescribeAutoScalingGroups takes up to 50 names by default (MaxRecords default 50, at most 100):
https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeAutoScalingGroups.html"""


@dataclass
class CapacityReadings:
    capacity: dict[str, CurrentCapacity] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    api_calls: int = 0


def read_capacity(config: SurgeConfig) -> CapacityReadings:
    """Current desired and in-service units of every target (batched per API)."""
    readings = CapacityReadings()
    ecs_by_cluster: dict[str, dict[str, str]] = defaultdict(dict)
    asg_targets: dict[str, str] = {}
    for target in config.targets:
        if target.kind is TargetKind.ECS and target.ecs is not None:
            ecs_by_cluster[target.ecs.cluster][target.ecs.service] = target.id
        elif target.asg is not None:
            asg_targets[target.asg.group_name] = target.id
    for cluster, services in ecs_by_cluster.items():
        _read_ecs(cluster, services, readings)
    if asg_targets:
        _read_asgs(asg_targets, readings)
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
            continue
        for service in response.get("services", []):
            target_id = services.get(service.get("serviceName", ""))
            if target_id is None:
                continue
            if service.get("status") != "ACTIVE":
                readings.errors[target_id] = f"ECS service is {service.get('status')}"
                continue
            readings.capacity[target_id] = CurrentCapacity(
                desired_units=service.get("desiredCount", 0), in_service_units=service.get("runningCount", 0)
            )
        for failure in response.get("failures", []):
            name = failure.get("arn", "").rsplit("/", 1)[-1]
            if name in services:
                readings.errors[services[name]] = f"ecs:DescribeServices: {failure.get('reason', 'failure')}"


def _read_asgs(groups: dict[str, str], readings: CapacityReadings) -> None:
    for names in _chunks(sorted(groups), ASG_DESCRIBE_BATCH):
        readings.api_calls += 1
        try:
            response = clients.autoscaling().describe_auto_scaling_groups(
                AutoScalingGroupNames=names, MaxRecords=len(names)
            )
        except (ClientError, BotoCoreError) as error:
            for name in names:
                readings.errors[groups[name]] = f"autoscaling:DescribeAutoScalingGroups failed: {error}"
            continue
        found = set()
        for group in response.get("AutoScalingGroups", []):
            name = group["AutoScalingGroupName"]
            found.add(name)
            in_service = sum(1 for i in group.get("Instances", []) if i.get("LifecycleState") == "InService")
            readings.capacity[groups[name]] = CurrentCapacity(
                desired_units=group["DesiredCapacity"],
                in_service_units=in_service,
                group_limits=GroupLimits(min_units=group["MinSize"], max_units=group["MaxSize"]),
            )
        for name in set(names) - found:
            readings.errors[groups[name]] = f"Auto Scaling group {name!r} not found"


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


def _call(action: Callable[[], object]) -> None:
    try:
        action()
    except ClientError as error:
        if is_throttling(error):
            raise CapacityApiThrottledError(str(error)) from error
        raise
