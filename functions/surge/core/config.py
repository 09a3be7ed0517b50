"""The configuration document: every scalable target Surge drives, and how.

One document (stored as an SSM parameter) lists every target. The same models validate the document
in the loop, in the `surge` command and in the replay scenarios, so a rule is stated exactly once.
Every error names the field and the allowed range (see `core.errors.describe_validation_error`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

TargetId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetKind(StrEnum):
    ECS = "ecs"
    ASG = "asg"


class EcsService(_Strict):
    cluster: str = Field(min_length=1, max_length=255)
    service: str = Field(min_length=1, max_length=255)


class AutoScalingGroup(_Strict):
    group_name: str = Field(min_length=1, max_length=255)


class LinkedInstances(_Strict):
    """The EC2 capacity an ECS service runs on (README "ECS on EC2"): the Auto Scaling group, given directly or
    found from the capacity provider, sized in the same decision as the tasks."""

    group_name: str | None = Field(default=None, min_length=1, max_length=255, description="the Auto Scaling group")
    capacity_provider: str | None = Field(
        default=None, min_length=1, max_length=255, description="or the capacity provider (group found from it)"
    )
    tasks_per_instance: int = Field(ge=1, le=1_000)
    spare_instances: int = Field(default=0, ge=0, le=10_000)
    min_instances: int = Field(
        ge=0, le=10_000, description="the floor Surge returns the group to (Surge may move the group's MinSize)"
    )
    instance_startup_seconds: int = Field(
        default=180, ge=0, le=3_600, description="the instances' own start-up (lookahead)"
    )

    @model_validator(mode="after")
    def _one_way_to_the_group(self) -> Self:
        if (self.group_name is None) == (self.capacity_provider is None):
            raise ValueError("instances needs exactly one of group_name or capacity_provider")
        return self


class LoadBalancerMetric(_Strict):
    """ALB RequestCount (Sum over 60 s), as CloudWatch's AWS/ApplicationELB dimensions name it."""

    load_balancer: str = Field(min_length=1, description="LoadBalancer dimension, e.g. app/my-alb/50dc6c495c0c9188")
    target_group: str | None = Field(
        default=None, min_length=1, description="TargetGroup dimension, e.g. targetgroup/api/73e2d6bc24d8a067"
    )


class HighResolutionMetric(_Strict):
    """An optional custom request-count metric published at StorageResolution=1 (a Sum per period)."""

    namespace: str = Field(min_length=1, max_length=255)
    metric_name: str = Field(min_length=1, max_length=255)
    dimensions: dict[str, str] = Field(default_factory=dict, max_length=30)
    period_seconds: Literal[1, 5, 10, 20, 30, 60] = 10


DEFAULT_PUSH_SAFETY_FACTOR = 1.4
"""Chosen from the sensitivity table (README, "The bench"): see the safety-factor trade-off there."""


class ScalingConfig(_Strict):
    """How one target scales. Units are ECS tasks or EC2 instances."""

    min_units: int = Field(ge=0, le=10_000)
    max_units: int = Field(ge=1, le=10_000)
    initial_units: int | None = Field(default=None, ge=0, le=10_000)
    unit_capacity_rps: float = Field(gt=0, le=1_000_000, description="requests per second one unit serves")
    target_utilization: float = Field(default=0.7, gt=0, le=1)
    loop_interval_seconds: int = Field(default=5, ge=1, le=60)
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=3_600)
    scale_in_step_interval_seconds: int = Field(default=60, ge=0, le=3_600)
    max_scale_in_step_units: int = Field(default=10, ge=1, le=10_000)
    scale_in_tolerance: float = Field(
        default=0.1, ge=0, le=0.5, description="demand-driven scale-in only when it removes at least this share"
    )
    metric_max_age_seconds: int = Field(
        default=300, ge=60, le=3_600, description="an ALB datapoint older than this is stale"
    )
    push_rps_per_audience: float = Field(default=0.01, ge=0, le=10)
    push_safety_factor: float = Field(
        default=DEFAULT_PUSH_SAFETY_FACTOR,
        ge=1,
        le=10,
        description="size a push for this multiple of the rate: in full with no history, shrinking as 1/sqrt(n)",
    )
    push_rate_quantile: float = Field(
        default=0.9, ge=0.5, le=1, description="with history, size for this quantile of the observed rates"
    )
    push_min_hold_seconds: int = Field(default=600, ge=0, le=86_400)
    push_hold_seconds: int = Field(default=1_800, ge=0, le=86_400)
    unit_startup_seconds: int = Field(
        default=60, ge=0, le=3_600, description="how long a new unit takes to serve (the trend's lookahead)"
    )
    trend_max_extra_fraction: float = Field(
        default=1.0, ge=0, le=5, description="the trend's headroom is at most this share of current demand (0: off)"
    )
    trend_min_rise_per_minute: float = Field(
        default=0.2, ge=0, le=10, description="a rise slower than this share of demand per minute is not a trend"
    )
    dry_run: bool = False

    @model_validator(mode="after")
    def _ranges_agree(self) -> Self:
        if self.min_units > self.max_units:
            raise ValueError(f"min_units ({self.min_units}) must be <= max_units ({self.max_units})")
        if self.initial_units is not None and not self.min_units <= self.initial_units <= self.max_units:
            raise ValueError(
                f"initial_units ({self.initial_units}) must be within "
                f"[min_units, max_units] = [{self.min_units}, {self.max_units}]"
            )
        if self.push_min_hold_seconds > self.push_hold_seconds:
            raise ValueError(
                f"push_min_hold_seconds ({self.push_min_hold_seconds}) must be <= "
                f"push_hold_seconds ({self.push_hold_seconds})"
            )
        return self


class TargetConfig(_Strict):
    id: TargetId
    kind: TargetKind
    ecs: EcsService | None = None
    asg: AutoScalingGroup | None = None
    load_balancer: LoadBalancerMetric | None = None
    high_resolution_metric: HighResolutionMetric | None = None
    instances: LinkedInstances | None = Field(
        default=None, description="kind 'ecs' on EC2: the instances the tasks run on, decided with them"
    )
    scaling: ScalingConfig

    @model_validator(mode="after")
    def _kind_matches_reference(self) -> Self:
        if self.kind is TargetKind.ECS and (self.ecs is None or self.asg is not None):
            raise ValueError("kind 'ecs' needs an 'ecs' block (cluster, service) and no 'asg' block")
        if self.kind is TargetKind.ASG and (self.asg is None or self.ecs is not None):
            raise ValueError("kind 'asg' needs an 'asg' block (group_name) and no 'ecs' block")
        if self.kind is not TargetKind.ECS and self.instances is not None:
            raise ValueError("instances: only a target of kind 'ecs' runs on linked instances")
        return self


MAX_TARGETS = 500
"""Targets one deployment scales (one loop, its shards)."""


class SurgeConfig(_Strict):
    """The whole configuration document."""

    version: Literal[1] = 1
    targets: list[TargetConfig] = Field(min_length=1, max_length=MAX_TARGETS)

    @model_validator(mode="after")
    def _ids_are_unique(self) -> Self:
        seen: set[str] = set()
        for target in self.targets:
            if target.id in seen:
                raise ValueError(f"targets: id {target.id!r} appears more than once; ids must be unique")
            seen.add(target.id)
        return self

    def target(self, target_id: str) -> TargetConfig:
        for target in self.targets:
            if target.id == target_id:
                return target
        known = ", ".join(t.id for t in self.targets)
        raise KeyError(f"unknown target {target_id!r}; known targets: {known}")
