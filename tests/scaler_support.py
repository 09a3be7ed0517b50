"""Shared set-up for the tests that run the real scaler state machine on moto with a simulated clock."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from surge.adapters import clients
from surge.adapters.settings import settings
from surge.core.config import SurgeConfig, TargetConfig
from surge_cli import world
from surge_cli.localaws import LocalAws
from surge_cli.localaws.latency import ProfileName
from surge_cli.stack import LocalStack, deploy_locally

START = datetime(2026, 1, 21, 11, 0, tzinfo=UTC)
LOAD_BALANCER = "app/api-alb/50dc6c495c0c9188"
PUBLICATION_DELAY = timedelta(seconds=30)
"""An ALB minute's RequestCount appears this long after the minute closes."""


def ecs_target(target_id: str = "api", *, load_balancer: str = LOAD_BALANCER, **scaling: Any) -> TargetConfig:
    return TargetConfig.model_validate(
        {
            "id": target_id,
            "kind": "ecs",
            "ecs": {"cluster": "prod", "service": target_id},
            "load_balancer": {"load_balancer": load_balancer},
            "scaling": _scaling(scaling),
        }
    )


def asg_target(target_id: str = "web", *, load_balancer: str = LOAD_BALANCER, **scaling: Any) -> TargetConfig:
    return TargetConfig.model_validate(
        {
            "id": target_id,
            "kind": "asg",
            "asg": {"group_name": target_id},
            "load_balancer": {"load_balancer": load_balancer},
            "scaling": _scaling(scaling),
        }
    )


def _scaling(overrides: dict[str, Any]) -> dict[str, Any]:
    # 100 rps per unit at 50 % utilization: a unit per 50 rps, so the arithmetic in tests is easy to check.
    # These tests check mechanics (paths, retries, races, journals, notifications) on exact unit counts, so by
    # default a push is sized for the guess itself (safety factor 1) and the reactive rule is the plain one (no
    # trend headroom); both defaults are checked on the real state machine in test_scaler_statemachine
    # (`test_a_rising_demand_gets_the_trend_headroom_...`) and test_push_path (`test_by_default_a_push_...`).
    return {
        "push_safety_factor": 1.0,
        "trend_max_extra_fraction": 0.0,
        "min_units": 2,
        "max_units": 50,
        "unit_capacity_rps": 100,
        "target_utilization": 0.5,
        "loop_interval_seconds": 5,
        "scale_in_cooldown_seconds": 120,
        "scale_in_step_interval_seconds": 30,
        "max_scale_in_step_units": 5,
        **overrides,
    }


@dataclass
class Loop:
    """A deployed local stack, an ALB whose traffic the test shapes, and a record of capacity over time."""

    aws: LocalAws
    stack: LocalStack
    rps_by_minute: Callable[[datetime], float]
    load_balancer: str = LOAD_BALANCER
    samples: list[tuple[datetime, dict[str, int]]] = field(default_factory=list)
    executions: list[str] = field(default_factory=list)
    read: Callable[[], dict[str, int]] = dict

    def publish_history(self, minutes: int = 15) -> None:
        """The ALB datapoints that already exist when the test starts."""
        now = self.aws.now()
        minute = (now - timedelta(minutes=minutes)).replace(second=0, microsecond=0)
        while minute + timedelta(seconds=60) + PUBLICATION_DELAY <= now:
            world.publish_request_count(self.aws, self.load_balancer, minute, self.rps_by_minute(minute) * 60)
            minute += timedelta(minutes=1)

    def start(self, *, schedule: bool = True, record_every_seconds: int = 1) -> None:
        self.publish_history()
        first_unpublished = self.aws.now().replace(second=0, microsecond=0) - timedelta(minutes=1)

        def publish() -> None:
            minute = (self.aws.now() - PUBLICATION_DELAY).replace(second=0, microsecond=0) - timedelta(minutes=1)
            world.publish_request_count(self.aws, self.load_balancer, minute, self.rps_by_minute(minute) * 60)

        self.aws.every(60, publish, first=first_unpublished + timedelta(seconds=60) + PUBLICATION_DELAY)
        if schedule:
            self.aws.every(60, self.start_execution, first=self.aws.now())
        self.aws.every(record_every_seconds, self.record, first=self.aws.now())

    def start_execution(self) -> None:
        self.executions.append(self.aws.start_execution(self.stack.scaler_arn, {"budget_seconds": 55}))

    def record(self) -> None:
        self.samples.append((self.aws.now(), self.read()))

    def series(self, name: str) -> list[tuple[datetime, int]]:
        return [(when, values[name]) for when, values in self.samples]

    def first_time(self, name: str, predicate: Callable[[int], bool]) -> datetime | None:
        return next((when for when, value in self.series(name) if predicate(value)), None)

    def value_at(self, name: str, when: datetime) -> int:
        last = None
        for moment, value in self.series(name):
            if moment > when:
                break
            last = value
        assert last is not None, f"no sample of {name} at or before {when}"
        return last


@contextmanager
def process_state_reset() -> Iterator[None]:
    """Forget cached boto3 clients and settings around a test (each test has its own moto world)."""
    clients.reset()
    settings.cache_clear()
    try:
        yield
    finally:
        clients.reset()
        settings.cache_clear()


@contextmanager
def local_aws(start: datetime = START, *, latency: ProfileName = "none", seed: int = 0) -> Iterator[LocalAws]:
    """A fresh moto world on a simulated clock starting at `start` (idealised latency unless asked)."""
    with process_state_reset(), LocalAws(start=start, latency=latency, seed=seed) as aws:
        yield aws


def deploy(
    aws: LocalAws, *targets: TargetConfig, parameters: dict[str, str] | None = None, express_logs: bool = False
) -> LocalStack:
    """The template on local AWS; `express_logs` puts each EXPRESS execution's events into its log group."""
    return deploy_locally(aws, SurgeConfig(targets=list(targets)), parameters=parameters, express_logs=express_logs)


REPO = Path(__file__).resolve().parents[1]


def bench_module(name: str) -> ModuleType:
    """`bench/<name>.py` loaded as a module (the bench is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their string annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def plant_cpu_target_tracking(application_autoscaling: Any, cluster: str, service: str) -> None:
    """What an ECS service often has before Surge: Application Auto Scaling target tracking on CPU."""
    where = {
        "ServiceNamespace": "ecs",
        "ResourceId": f"service/{cluster}/{service}",
        "ScalableDimension": "ecs:service:DesiredCount",
    }
    application_autoscaling.register_scalable_target(**where, MinCapacity=2, MaxCapacity=50)
    application_autoscaling.put_scaling_policy(
        **where,
        PolicyName="cpu-tracking",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        },
    )
