"""How long things take in AWS, as the replay world models it (test/replay support, never shipped).

A :class:`LatencyProfile` holds one figure per step that takes time in AWS; :class:`LatencyModel` draws from it
with seeded jitter, so a replay is deterministic for a given seed. Three profiles:

* ``none``: the idealised world (everything instantaneous), kept to show what a zero-latency world would claim;
* ``typical``: figures from AWS documentation and published measurements (the README's latency table cites
  each one; :data:`SOURCES` holds the same citations);
* ``pessimistic``: the slow tail of the same sources (a bad minute, not an outage).

Jitter is multiplicative and uniform in ``[1 - jitter, 1 + jitter]``. Each draw is keyed by what it is for
(the step, the function or the API operation) and by how many draws that key has had: the n-th UpdateService
call of the push path gets the same jitter whatever the loop did meanwhile, so a change to one flow (a slow
handler in a test) does not reshuffle the latencies of the others, and the same scenario and seed always give
the same timeline.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = [
    "PROFILES",
    "PROFILE_NAMES",
    "SOURCES",
    "LatencyModel",
    "LatencyProfile",
    "ProfileName",
]

ProfileName = Literal["typical", "pessimistic", "none"]
PROFILE_NAMES: tuple[ProfileName, ...] = ("typical", "pessimistic", "none")


def _frozen(values: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class LatencyProfile:
    """Seconds each step takes (before jitter). ``api_call_seconds`` is keyed ``service.Operation`` (most
    specific) or ``service`` (botocore service names: ``ecs``, ``autoscaling``, ``dynamodb``, ``cloudwatch``...);
    ``default_api_call_seconds`` covers any other call a handler makes."""

    name: ProfileName
    eventbridge_delivery_seconds: float
    """PutEvents accepted -> the rule's target (a state machine execution) is started."""
    scheduler_delivery_seconds: float
    """An EventBridge Scheduler tick -> StartExecution of its target."""
    express_start_seconds: float
    """StartExecution of an EXPRESS state machine -> its first state is entered."""
    standard_start_seconds: float
    """StartExecution of a STANDARD state machine -> its first state is entered."""
    lambda_invoke_seconds: float
    """A Task state's lambda:invoke on a warm execution environment, before the handler runs."""
    lambda_cold_start_seconds: float
    """Init of a new execution environment (runtime start, imports, clients) before the handler runs."""
    lambda_idle_seconds: float
    """An execution environment idle this long is reclaimed: the next invocation is a cold start."""
    handler_compute_seconds: float
    """The handler's own CPU time (parsing, deciding, logging), beyond the AWS calls it waits for."""
    api_call_seconds: Mapping[str, float] = field(default_factory=dict)
    default_api_call_seconds: float = 0.0
    jitter: float = 0.0

    @property
    def idealised(self) -> bool:
        return self.name == "none"


_TYPICAL_API = {
    "dynamodb": 0.008,
    "dynamodb.Query": 0.012,
    "cloudwatch.GetMetricData": 0.15,
    "ecs.DescribeServices": 0.08,
    "ecs.UpdateService": 0.25,
    "autoscaling.DescribeAutoScalingGroups": 0.1,
    "autoscaling.SetDesiredCapacity": 0.25,
    "autoscaling.UpdateAutoScalingGroup": 0.3,
    "ssm.GetParameter": 0.03,
    "ssm.GetParameters": 0.03,
    "events.PutEvents": 0.04,
    "sns.Publish": 0.04,
    "sqs": 0.02,
    "secretsmanager.GetSecretValue": 0.04,
}

PROFILES: Mapping[ProfileName, LatencyProfile] = MappingProxyType(
    {
        "none": LatencyProfile(
            name="none",
            eventbridge_delivery_seconds=0.0,
            scheduler_delivery_seconds=0.0,
            express_start_seconds=0.0,
            standard_start_seconds=0.0,
            lambda_invoke_seconds=0.0,
            lambda_cold_start_seconds=0.0,
            lambda_idle_seconds=float("inf"),
            handler_compute_seconds=0.0,
        ),
        "typical": LatencyProfile(
            name="typical",
            eventbridge_delivery_seconds=0.5,
            scheduler_delivery_seconds=1.0,
            express_start_seconds=0.05,
            standard_start_seconds=0.15,
            lambda_invoke_seconds=0.03,
            lambda_cold_start_seconds=1.0,
            lambda_idle_seconds=600.0,
            handler_compute_seconds=0.02,
            api_call_seconds=_frozen(_TYPICAL_API),
            default_api_call_seconds=0.05,
            jitter=0.3,
        ),
        "pessimistic": LatencyProfile(
            name="pessimistic",
            eventbridge_delivery_seconds=1.5,
            scheduler_delivery_seconds=5.0,
            express_start_seconds=0.2,
            standard_start_seconds=0.5,
            lambda_invoke_seconds=0.1,
            lambda_cold_start_seconds=2.5,
            lambda_idle_seconds=300.0,
            handler_compute_seconds=0.06,
            api_call_seconds=_frozen({key: 3 * value for key, value in _TYPICAL_API.items()}),
            default_api_call_seconds=0.15,
            jitter=0.5,
        ),
    }
)

SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "eventbridge_delivery_seconds": (
            "EventBridge's typical latency of about 500 ms from PutEvents to target invocation "
            "(https://github.com/davidkhala/aws-collection/wiki/EventBrige,-CloudWatch, quoting AWS; "
            "the EventBridge FAQ promises only 'near-real-time', https://aws.amazon.com/eventbridge/faqs/)"
        ),
        "scheduler_delivery_seconds": (
            "estimate: schedules fire at 1-minute precision with no flexible window; a second to reach the target"
        ),
        "express_start_seconds": "estimate from published end-to-end Express timings (tens of ms per state)",
        "standard_start_seconds": "estimate: Standard executions persist history before the first state",
        "lambda_invoke_seconds": "estimate: Step Functions lambda:invoke round trip on a warm environment",
        "lambda_cold_start_seconds": (
            "Python cold starts of 1-3 s with SDK and dependency imports "
            "(https://pythonz2h.com/chapter_12_cloud_devops_and_deployment/series_04_serverless_python/"
            "cold_starts_optimization); ~0.15-0.7 s with minimal dependencies; Surge imports boto3, Powertools "
            "(Tracer alone 0.22 s here) and pydantic"
        ),
        "lambda_idle_seconds": (
            "idle environments are recycled after 5-15 minutes, unspecified by AWS "
            "(https://www.kevinslin.com/notes/0a17223e-5fa4-43e8-aa4e-002427d58e06/)"
        ),
        "handler_compute_seconds": "measured here: a warm Surge handler's own work is 5-30 ms of CPU",
        "api_call_seconds.dynamodb": (
            "GetItem / PutItem average single-digit milliseconds "
            "(https://repost.aws/knowledge-center/dynamodb-high-latency)"
        ),
        "api_call_seconds": (
            "estimate for control-plane calls (CloudWatch GetMetricData, ECS, Auto Scaling, SSM): 30-300 ms, "
            "UpdateService / SetDesiredCapacity the slowest"
        ),
    }
)


class LatencyModel:
    """Draws step durations from a profile with seeded jitter (one generator: deterministic order)."""

    def __init__(self, profile: LatencyProfile, seed: int = 0) -> None:
        self.profile = profile
        self._seed = seed
        self._draws: dict[str, int] = {}

    def _draw(self, base_seconds: float, key: str) -> float:
        if base_seconds <= 0:
            return 0.0
        jitter = self.profile.jitter
        if jitter <= 0:
            return base_seconds
        n = self._draws[key] = self._draws.get(key, 0) + 1
        factor = 1.0 + random.Random(f"latency:{self._seed}:{key}:{n}").uniform(-jitter, jitter)
        return round(base_seconds * factor, 6)

    def eventbridge_delivery(self, rule: str = "") -> float:
        return self._draw(self.profile.eventbridge_delivery_seconds, f"eventbridge:{rule}")

    def scheduler_delivery(self) -> float:
        return self._draw(self.profile.scheduler_delivery_seconds, "scheduler")

    def execution_start(self, machine_type: str, machine: str = "") -> float:
        base = self.profile.express_start_seconds if machine_type == "EXPRESS" else self.profile.standard_start_seconds
        return self._draw(base, f"start:{machine}")

    def lambda_invoke(self, *, cold: bool, function: str = "") -> float:
        base = self.profile.lambda_invoke_seconds + (self.profile.lambda_cold_start_seconds if cold else 0.0)
        return self._draw(base, f"invoke:{function}")

    def handler_compute(self, function: str = "") -> float:
        return self._draw(self.profile.handler_compute_seconds, f"compute:{function}")

    def api_call(self, service: str, operation: str, caller: str = "") -> float:
        table = self.profile.api_call_seconds
        base = table.get(f"{service}.{operation}", table.get(service, self.profile.default_api_call_seconds))
        return self._draw(base, f"api:{caller}:{service}.{operation}")
