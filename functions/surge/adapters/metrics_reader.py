"""Every target's request metrics in as few CloudWatch GetMetricData calls as the API allows (one per 500 metrics)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from surge.adapters import clients
from surge.core.config import SurgeConfig
from surge.core.signals import RateSample

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDataQueryTypeDef

ALB_PERIOD_SECONDS = 60
LOOKBACK_MARGIN_SECONDS = 180
MAX_LOOKBACK_SECONDS = 3 * 3600
MAX_SINCE_SECONDS = 24 * 3600
MAX_QUERIES_PER_CALL = 500
"""GetMetricData retrieves at most 500 metrics per request (without a Metrics Insights query), 100,800 datapoints in
all, the rest by NextToken: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html"""


@dataclass
class MetricReadings:
    request_samples: dict[str, list[RateSample]] = field(default_factory=lambda: defaultdict(list))
    high_resolution_samples: dict[str, list[RateSample]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, str] = field(default_factory=dict)
    metrics_requested: int = 0


def lookback_seconds(config: SurgeConfig) -> int:
    """Enough history for every target's scale-in window, plus the ALB publication delay."""
    longest = max(t.scaling.scale_in_cooldown_seconds + t.scaling.metric_max_age_seconds for t in config.targets)
    return min(MAX_LOOKBACK_SECONDS, longest + LOOKBACK_MARGIN_SECONDS)


def build_queries(config: SurgeConfig) -> list[MetricDataQueryTypeDef]:
    queries: list[MetricDataQueryTypeDef] = []
    for index, target in enumerate(config.targets):
        if target.load_balancer is not None:
            dimensions: list[DimensionTypeDef] = [{"Name": "LoadBalancer", "Value": target.load_balancer.load_balancer}]
            if target.load_balancer.target_group is not None:
                dimensions.append({"Name": "TargetGroup", "Value": target.load_balancer.target_group})
            queries.append(
                {
                    "Id": f"alb{index}",
                    "Label": target.id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/ApplicationELB",
                            "MetricName": "RequestCount",
                            "Dimensions": dimensions,
                        },
                        "Period": ALB_PERIOD_SECONDS,
                        "Stat": "Sum",
                    },
                    "ReturnData": True,
                }
            )
        metric = target.high_resolution_metric
        if metric is not None:
            queries.append(
                {
                    "Id": f"hr{index}",
                    "Label": target.id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": metric.namespace,
                            "MetricName": metric.metric_name,
                            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(metric.dimensions.items())],
                        },
                        "Period": metric.period_seconds,
                        "Stat": "Sum",
                    },
                    "ReturnData": True,
                }
            )
    return queries


def _floor(moment: datetime, seconds: int) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=moment.tzinfo)


def read_request_metrics(config: SurgeConfig, now: datetime, since: datetime | None = None) -> MetricReadings:
    """Read every target's request metrics: one GetMetricData call per 500 metrics (each paginated).

    The window covers every target's scale-in window, or reaches back to `since` (at most a day) if earlier.

    Only whole periods are kept: a bucket still filling would understate demand. If a call fails, the targets of
    its metrics get the error and no samples (the decision core holds their capacity); the other calls' targets
    are read as usual. A target's metrics always travel in the same call, so a target is never half read.
    """
    readings = MetricReadings()
    queries = build_queries(config)
    readings.metrics_requested = len(queries)
    if not queries:
        return readings
    end = _floor(now, 1)
    earliest = end - timedelta(seconds=lookback_seconds(config))
    if since is not None:
        earliest = max(min(since, earliest), end - timedelta(seconds=MAX_SINCE_SECONDS))
    start = _floor(earliest, ALB_PERIOD_SECONDS)
    periods = {q["Id"]: q["MetricStat"]["Period"] for q in queries if "MetricStat" in q}
    targets_by_query = {q["Id"]: q["Label"] for q in queries if "Label" in q}
    results: list[dict[str, Any]] = []
    for batch in _batches(queries):
        try:
            results.extend(_fetch(batch, start, end))
        except (ClientError, BotoCoreError) as error:
            message = f"GetMetricData failed: {error}"
            for target_id in {targets_by_query[q["Id"]] for q in batch}:
                readings.errors[target_id] = message
    for result in results:
        query_id = result["Id"]
        period = periods[query_id]
        target_id = targets_by_query[query_id]
        samples = [
            RateSample(start=stamp, period_seconds=period, requests=float(value))
            for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
            if stamp + timedelta(seconds=period) <= end
        ]
        samples.sort(key=lambda s: s.start)
        bucket = readings.request_samples if query_id.startswith("alb") else readings.high_resolution_samples
        bucket[target_id].extend(samples)
        if result.get("StatusCode") == "InternalError":
            readings.errors[target_id] = f"GetMetricData returned InternalError for {query_id}"
    return readings


def _batches(queries: list[MetricDataQueryTypeDef]) -> list[list[MetricDataQueryTypeDef]]:
    """The queries in calls of at most MAX_QUERIES_PER_CALL, a target's queries never split across two calls."""
    by_target: dict[str, list[MetricDataQueryTypeDef]] = {}
    for query in queries:
        by_target.setdefault(query["Label"], []).append(query)
    batches: list[list[MetricDataQueryTypeDef]] = []
    for group in by_target.values():
        if not batches or len(batches[-1]) + len(group) > MAX_QUERIES_PER_CALL:
            batches.append([])
        batches[-1].extend(group)
    return batches


def _fetch(queries: list[MetricDataQueryTypeDef], start: datetime, end: datetime) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    while True:
        response = clients.cloudwatch().get_metric_data(**kwargs)
        for result in response.get("MetricDataResults", []):
            entry = merged.setdefault(
                result["Id"], {"Id": result["Id"], "Timestamps": [], "Values": [], "StatusCode": "Complete"}
            )
            entry["Timestamps"].extend(result.get("Timestamps", []))
            entry["Values"].extend(result.get("Values", []))
            if result.get("StatusCode") == "InternalError":
                entry["StatusCode"] = "InternalError"
        token = response.get("NextToken")
        if not token:
            return list(merged.values())
        kwargs["NextToken"] = token
