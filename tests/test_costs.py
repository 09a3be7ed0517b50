"""The whole stack's monthly cost (`surge_cli.replay.costs`) and the fleet bench that measures it (bench/fleet.py)."""

from __future__ import annotations

from types import ModuleType

import pytest

from scaler_support import bench_module
from surge_cli.replay.costs import COST_LINES, GB, StackUsage, monthly_stack_cost
from surge_cli.replay.kpis import MONTH_SECONDS


def _usage(**changes: object) -> StackUsage:
    values: dict[str, object] = {
        "duration_seconds": 120.0,
        "targets": 1,
        "executions": 2,
        "execution_seconds": [55.0, 55.0],
        "lambda_invocations": 50,
        "lambda_gb_seconds": 1.5,
        "metric_requests": 24,
        "state_log_bytes": 100_000,
        "function_log_bytes": 20_000,
        "dynamodb_read_units": 100.0,
        "dynamodb_write_units": 10.0,
        "alarms": 5,
        "log_retention_days": 30,
    }
    return StackUsage(**{**values, **changes})  # type: ignore[arg-type]


def test_every_line_is_priced_and_the_total_is_their_sum() -> None:
    cost = monthly_stack_cost(_usage())
    assert set(cost) == {*COST_LINES, "total"}
    assert cost["total"] == pytest.approx(sum(cost[line] for line in COST_LINES), abs=0.01 * len(COST_LINES))
    assert all(cost[line] >= 0 for line in COST_LINES)


def test_usage_is_scaled_from_the_run_to_a_month() -> None:
    cost = monthly_stack_cost(_usage())
    month = MONTH_SECONDS / 120
    assert cost["get_metric_data"] == round(24 * 0.01 / 1_000 * month, 2)
    assert cost["logs_state_machine"] == round(100_000 * month / GB * 0.50, 2)
    assert cost["dynamodb"] == round((100 * 0.125 + 10 * 0.625) / 1_000_000 * month, 2)
    doubled = monthly_stack_cost(_usage(state_log_bytes=200_000))
    assert doubled["logs_state_machine"] == pytest.approx(2 * cost["logs_state_machine"], abs=0.02)


def test_fixed_lines_follow_the_template_and_the_fleet_not_the_run() -> None:
    one, hundred = monthly_stack_cost(_usage()), monthly_stack_cost(_usage(targets=100))
    assert hundred["custom_metrics"] - one["custom_metrics"] == pytest.approx(99 * 5 * 0.30)
    for line in ("alarms", "dashboard", "kms_key", "ssm_parameter"):
        assert monthly_stack_cost(_usage(duration_seconds=60.0))[line] == one[line]
    assert one["alarms"] == 0.50


def _fleet() -> ModuleType:
    return bench_module("fleet")


def test_a_fleet_beyond_the_configs_limit_is_reported_in_one_line_not_run() -> None:
    row = _fleet().run_fleet(501, 0, 1)
    assert row["outcome"].startswith("config refused: targets:")
    assert "\n" not in row["outcome"]
    assert "iterations" not in row


def test_the_fleet_bench_measures_a_real_loop() -> None:
    """Two targets, one calendar entry each, one scheduled execution on the real state machine (typical latency)."""
    row = _fleet().run_fleet(2, 1, 1)
    assert row["outcome"] == "1 SUCCEEDED"
    assert row["iterations"] >= 5
    assert 0 < row["max_state_bytes"] < 262_144
    assert row["iteration_work_seconds_p50"] > 0  # the latency model: ReadSignals to WaitInterval takes time
    cost = row["monthly_cost_usd"]
    assert cost["get_metric_data"] > 0
    assert cost["dynamodb"] > 0
    assert cost["logs_functions"] > 0
    assert row["logs_with_execution_data_usd"] > cost["logs_state_machine"] > 0
