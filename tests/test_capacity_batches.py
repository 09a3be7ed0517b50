"""Capacity reads within the APIs' limits (on moto): ECS DescribeServices at most 10 services of one cluster per call
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html), DescribeAutoScalingGroups
at most 50 names per call; a service that does not exist is reported for its own target only."""

from __future__ import annotations

from typing import Any

from scaler_support import asg_target, ecs_target
from surge.adapters import capacity, clients
from surge.core.config import SurgeConfig, TargetConfig
from surge_cli import world
from surge_cli.localaws import LocalAws


def _ecs(index: int, cluster: str) -> TargetConfig:
    target = ecs_target(f"{cluster}-svc{index:02d}")
    assert target.ecs is not None
    return target.model_copy(update={"ecs": target.ecs.model_copy(update={"cluster": cluster})})


def _record(aws: LocalAws, service: str, operation: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    getter = clients.ecs if service == "ecs" else clients.autoscaling
    event = f"before-parameter-build.{service}.{operation}"
    getter().meta.events.register(event, lambda params, **_: seen.append(params))
    return seen


def test_describe_services_takes_at_most_10_services_of_one_cluster_per_call(aws: LocalAws) -> None:
    targets = [_ecs(i, "blue") for i in range(23)] + [_ecs(i, "green") for i in range(4)]
    for target in targets:
        assert target.ecs is not None
        world.create_ecs_service(aws, target.ecs.cluster, target.ecs.service, desired_units=3)
    calls = _record(aws, "ecs", "DescribeServices")
    missing = _ecs(99, "blue")

    readings = capacity.read_capacity(SurgeConfig(targets=[*targets, missing]))

    assert sorted((c["cluster"], len(c["services"])) for c in calls) == [
        ("blue", 4),
        ("blue", 10),
        ("blue", 10),
        ("green", 4),
    ]
    assert {t.id for t in targets} == set(readings.capacity)
    assert all(found.desired_units == 3 for found in readings.capacity.values())
    assert set(readings.errors) == {missing.id}, "the missing service costs only its own target"
    assert readings.unavailable == {missing.id}, "reported as unavailable, not as a passing read failure"


def test_describe_auto_scaling_groups_takes_at_most_50_names_per_call(aws: LocalAws) -> None:
    targets = [asg_target(f"web{i:03d}") for i in range(120)]
    for target in targets:
        assert target.asg is not None
        world.create_auto_scaling_group(aws, target.asg.group_name, min_units=1, max_units=5, desired_units=2)
    calls = _record(aws, "autoscaling", "DescribeAutoScalingGroups")

    readings = capacity.read_capacity(SurgeConfig(targets=targets))

    assert sorted(len(c["AutoScalingGroupNames"]) for c in calls) == [20, 50, 50]
    assert all(c["MaxRecords"] == len(c["AutoScalingGroupNames"]) for c in calls)
    assert len(readings.capacity) == 120
    assert not readings.errors
