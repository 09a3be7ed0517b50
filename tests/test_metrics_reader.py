"""GetMetricData within the API's limits: at most 500 metrics per call, a target's metrics in one call, and a failed
call costing only its own targets their readings (on moto's CloudWatch)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scaler_support import START, ecs_target
from surge.adapters import clients, metrics_reader
from surge.adapters.metrics_reader import build_queries, read_request_metrics
from surge.core.config import SurgeConfig, TargetConfig
from surge_cli import world
from surge_cli.localaws import LocalAws

NOW = START + timedelta(minutes=5)


def _target(index: int) -> TargetConfig:
    document = ecs_target(f"svc{index}", load_balancer=f"app/alb{index}/{index:016x}").model_dump(mode="json")
    document["high_resolution_metric"] = {
        "namespace": "App",
        "metric_name": "Requests",
        "dimensions": {"Service": f"svc{index}"},
        "period_seconds": 10,
    }
    return TargetConfig.model_validate(document)


def _config(count: int) -> SurgeConfig:
    # model_construct: more targets than SurgeConfig allows today (50), as the batching must hold for any count.
    return SurgeConfig.model_construct(targets=[_target(i) for i in range(count)])


def _calls(aws: LocalAws) -> list[list[str]]:
    seen: list[list[str]] = []

    def record(params: dict[str, Any], **_: object) -> None:
        if "NextToken" not in params:
            seen.append([q["Label"] for q in params["MetricDataQueries"]])

    clients.cloudwatch().meta.events.register("before-parameter-build.cloudwatch.GetMetricData", record)
    return seen


def _publish(aws: LocalAws, config: SurgeConfig) -> None:
    for index, target in enumerate(config.targets):
        assert target.load_balancer is not None
        for minute in range(4):
            world.publish_request_count(
                aws, target.load_balancer.load_balancer, START + timedelta(minutes=minute), 60.0 * (index + 1)
            )


def _five_targets_in_calls_of_four(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> tuple[SurgeConfig, list[list[str]]]:
    """Five targets with two metrics each, four minutes published, calls limited to 4 metrics (and recorded)."""
    monkeypatch.setattr(metrics_reader, "MAX_QUERIES_PER_CALL", 4)
    config = _config(5)
    _publish(aws, config)
    aws.run_until(NOW)
    return config, _calls(aws)


def test_a_call_never_carries_more_than_500_metrics_nor_splits_a_target() -> None:
    queries = build_queries(_config(251))  # 502 metrics: an ALB and a high-resolution one per target
    batches = metrics_reader._batches(queries)
    assert [len(batch) for batch in batches] == [500, 2]
    assert [query for batch in batches for query in batch] == queries
    labels = [{q["Label"] for q in batch} for batch in batches]
    assert not labels[0] & labels[1], "a target's two metrics travel in one call"


def test_more_metrics_than_one_call_takes_are_read_in_several_calls(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, calls = _five_targets_in_calls_of_four(aws, monkeypatch)

    readings = read_request_metrics(config, NOW)

    assert [len(call) for call in calls] == [4, 4, 2]
    assert readings.errors == {}
    for index, target in enumerate(config.targets):
        assert [s.requests for s in readings.request_samples[target.id]] == [60.0 * (index + 1)] * 4


def test_a_failed_call_costs_only_its_own_targets_their_readings(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, calls = _five_targets_in_calls_of_four(aws, monkeypatch)

    def fail_the_second_call(**_: object) -> None:
        if len(calls) == 2:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "GetMetricData")

    clients.cloudwatch().meta.events.register("before-call.monitoring.GetMetricData", fail_the_second_call)

    readings = read_request_metrics(config, NOW)

    assert set(readings.errors) == {"svc2", "svc3"}
    assert all("Throttling" in message for message in readings.errors.values())
    for target_id in ("svc0", "svc1", "svc4"):
        assert len(readings.request_samples[target_id]) == 4
    for target_id in ("svc2", "svc3"):
        assert readings.request_samples.get(target_id, []) == []
