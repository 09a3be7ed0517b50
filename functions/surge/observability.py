"""The one place that builds Powertools' Logger, Tracer and Metrics for every handler.

Every Surge metric goes to the namespace `Surge` with the dimensions `service=surge` and `Stack=<stack name>`:
two stacks in one account and region (say `surge-prod` and `surge-staging`) never merge, so one stack's
heartbeat cannot hide the other's outage. The template sets `POWERTOOLS_METRICS_NAMESPACE` and
`POWERTOOLS_SERVICE_NAME` (Powertools reads them itself when a Lambda starts,
https://docs.aws.amazon.com/powertools/python/latest/core/metrics/) to the same values as below, and
`SURGE_STACK_NAME` to the stack's name; `tests/test_dashboard.py` holds the template, the alarms and the
dashboard to what the handlers really print.

The per-target gauges (`publish_target_gauges`) carry `Target=<target id>` as well, in an EMF document of
their own, so the loop's counters keep their two dimensions.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

SERVICE = "surge"
NAMESPACE = "Surge"
STACK_DIMENSION = "Stack"
TARGET_DIMENSION = "Target"
STACK_ENVIRONMENT_VARIABLE = "SURGE_STACK_NAME"


def stack_name() -> str:
    """The stack these functions belong to, as the template sets it (read when a handler runs, not at import:
    the local harness and the replay import the handlers before they set a function's environment)."""
    return os.environ[STACK_ENVIRONMENT_VARIABLE]


class _StackMetrics(Metrics):
    """Powertools Metrics whose `log_metrics` adds the `Stack` dimension at the start of every invocation."""

    def log_metrics(
        self,
        lambda_handler: Callable[..., Any] | None = None,
        capture_cold_start_metric: bool = False,
        raise_on_empty_metrics: bool = False,
        default_dimensions: dict[str, str] | None = None,
        **kwargs: dict[str, Any],
    ) -> Callable[..., Any]:
        if lambda_handler is None:  # used as @metrics.log_metrics(...)

            def decorate(later: Callable[..., Any]) -> Callable[..., Any]:
                return self.log_metrics(
                    later,
                    capture_cold_start_metric=capture_cold_start_metric,
                    raise_on_empty_metrics=raise_on_empty_metrics,
                    default_dimensions=default_dimensions,
                    **kwargs,
                )

            return decorate
        handler = lambda_handler

        @functools.wraps(handler)
        def with_stack_dimension(event: Any, context: Any) -> Any:
            self.set_default_dimensions(**{STACK_DIMENSION: stack_name()})
            return handler(event, context)

        return super().log_metrics(
            with_stack_dimension,
            capture_cold_start_metric=capture_cold_start_metric,
            raise_on_empty_metrics=raise_on_empty_metrics,
            default_dimensions=default_dimensions,
            **kwargs,
        )


logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = _StackMetrics(namespace=NAMESPACE, service=SERVICE)

TARGET_GAUGES: Mapping[str, MetricUnit] = {
    "DesiredUnits": MetricUnit.Count,
    "RunningUnits": MetricUnit.Count,
    "DemandRps": MetricUnit.CountPerSecond,
    "PushFloorUnits": MetricUnit.Count,
    "CalendarFloorUnits": MetricUnit.Count,
}
"""The per-target gauges, 5 custom metrics per target (one per name, dimensions service, Stack, Target)."""
TARGET_CONDITIONS: Mapping[str, MetricUnit] = {"TargetUnavailable": MetricUnit.Count}
"""Per-target metrics printed only while the condition holds (`TargetUnavailable`: the target's service or group
does not exist, is not active, or is refused): never billed for a target that never had it; alarm on them."""


def publish_target_gauges(target_id: str, values: Mapping[str, float | None]) -> None:
    """Print one EMF document with the target's gauges (a value that is not known, None, is left out: a
    dashboard shows a gap, never a made-up 0)."""
    known = {name: value for name, value in values.items() if value is not None}
    if not known:
        return
    gauges = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    gauges.add_dimension(name=STACK_DIMENSION, value=stack_name())
    gauges.add_dimension(name=TARGET_DIMENSION, value=target_id)
    for name, value in known.items():
        gauges.add_metric(name=name, unit={**TARGET_GAUGES, **TARGET_CONDITIONS}[name], value=value)
    gauges.flush_metrics()
