"""What the whole stack bills in a month, at list prices (us-east-1), from usage measured on the real state machine.

`loop_cost` (kpis.py) prices the loop's own work (Step Functions, Lambda, GetMetricData) for the replay tables.
This prices everything the stack bills, for the fleet bench's N targets: the loop's work, the logs it writes
(the Express log groups at level ALL with execution data, and the functions' own lines and EMF metrics), DynamoDB
requests, the per-target gauges and the loop's counters as custom metrics, the alarms, the dashboard, the KMS
key, the SSM parameter's tier and X-Ray traces. Usage is measured over a short run and scaled to a month; the
fixed items come from the template.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from surge_cli.replay.kpis import (
    EXPRESS_MEMORY_GB,
    EXPRESS_ROUNDING_SECONDS,
    EXPRESS_USD_PER_GB_SECOND,
    EXPRESS_USD_PER_REQUEST,
    GET_METRIC_DATA_USD_PER_METRIC,
    LAMBDA_USD_PER_GB_SECOND,
    LAMBDA_USD_PER_REQUEST,
    MONTH_SECONDS,
)

# https://aws.amazon.com/cloudwatch/pricing/ (us-east-1, standard log class; custom metrics first 10,000 tier)
LOGS_USD_PER_GB_INGESTED = 0.50
LOGS_USD_PER_GB_MONTH_STORED = 0.03
CUSTOM_METRIC_USD_PER_MONTH = 0.30
STANDARD_ALARM_USD_PER_MONTH = 0.10
DASHBOARD_USD_PER_MONTH = 3.00
# https://aws.amazon.com/dynamodb/pricing/on-demand/
DYNAMODB_USD_PER_READ_UNIT = 0.125 / 1_000_000
DYNAMODB_USD_PER_WRITE_UNIT = 0.625 / 1_000_000
# https://aws.amazon.com/kms/pricing/ : a customer managed key
KMS_KEY_USD_PER_MONTH = 1.00
# https://aws.amazon.com/systems-manager/pricing/ : an Advanced tier parameter (the config document's tier)
SSM_ADVANCED_PARAMETER_USD_PER_MONTH = 0.05
# https://aws.amazon.com/xray/pricing/ : traces recorded
XRAY_USD_PER_TRACE = 5.00 / 1_000_000
LAMBDA_PLATFORM_LOG_BYTES = 380
"""The START, END and REPORT lines Lambda writes per invocation (with an X-Ray trace id), measured from their
documented format: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html"""
LOOP_COUNTER_METRICS = 10
"""The loop's own EMF counters per stack (LoopIterations, SignalReadErrors, ...), at most this many."""
GAUGES_PER_TARGET = 5
"""DesiredUnits, RunningUnits, DemandRps, PushFloorUnits, CalendarFloorUnits (observability.publish_target_gauges)."""
GB = 1024**3
COST_LINES = {
    "step_functions": "Step Functions (Express)",
    "lambda": "Lambda (GB-s of simulated handler time)",
    "get_metric_data": "GetMetricData",
    "logs_state_machine": "CloudWatch Logs: scaler executions (level ALL, no execution data: the default)",
    "logs_functions": "CloudWatch Logs: functions (log lines, EMF, START/END/REPORT)",
    "logs_storage": "CloudWatch Logs: storage for the retention (upper bound)",
    "dynamodb": "DynamoDB requests (on-demand)",
    "custom_metrics": "custom metrics (5 gauges per target, the loop's counters)",
    "alarms": "alarms",
    "dashboard": "dashboard",
    "kms_key": "KMS key",
    "ssm_parameter": "SSM parameter (Advanced tier)",
    "xray": "X-Ray traces",
}
"""Every line `monthly_stack_cost` prices, with its label in the tables."""


@dataclass(frozen=True)
class StackUsage:
    """What the stack did over `duration_seconds` of simulated time."""

    duration_seconds: float
    targets: int
    executions: int
    execution_seconds: list[float]
    lambda_invocations: int
    lambda_gb_seconds: float
    metric_requests: int
    state_log_bytes: int
    function_log_bytes: int
    dynamodb_read_units: float
    dynamodb_write_units: float
    alarms: int
    log_retention_days: int


def monthly_stack_cost(usage: StackUsage) -> dict[str, float]:
    """Every line the stack bills in a month, in USD, and the total."""
    scale = MONTH_SECONDS / usage.duration_seconds
    billed = [
        math.ceil(s / EXPRESS_ROUNDING_SECONDS - 1e-9) * EXPRESS_ROUNDING_SECONDS for s in usage.execution_seconds
    ]
    lambda_logs_bytes = usage.function_log_bytes + usage.lambda_invocations * LAMBDA_PLATFORM_LOG_BYTES
    ingested_gb = (usage.state_log_bytes + lambda_logs_bytes) * scale / GB
    lines = {
        "step_functions": (
            usage.executions * EXPRESS_USD_PER_REQUEST
            + sum(s * EXPRESS_MEMORY_GB * EXPRESS_USD_PER_GB_SECOND for s in billed)
        )
        * scale,
        "lambda": (
            usage.lambda_invocations * LAMBDA_USD_PER_REQUEST + usage.lambda_gb_seconds * LAMBDA_USD_PER_GB_SECOND
        )
        * scale,
        "get_metric_data": usage.metric_requests * GET_METRIC_DATA_USD_PER_METRIC * scale,
        "logs_state_machine": usage.state_log_bytes * scale / GB * LOGS_USD_PER_GB_INGESTED,
        "logs_functions": lambda_logs_bytes * scale / GB * LOGS_USD_PER_GB_INGESTED,
        # stored uncompressed for the retention period: an upper bound (CloudWatch bills the compressed size)
        "logs_storage": ingested_gb * min(usage.log_retention_days / 30, 1.0) * LOGS_USD_PER_GB_MONTH_STORED,
        "dynamodb": (
            usage.dynamodb_read_units * DYNAMODB_USD_PER_READ_UNIT
            + usage.dynamodb_write_units * DYNAMODB_USD_PER_WRITE_UNIT
        )
        * scale,
        "custom_metrics": (LOOP_COUNTER_METRICS + GAUGES_PER_TARGET * usage.targets) * CUSTOM_METRIC_USD_PER_MONTH,
        "alarms": usage.alarms * STANDARD_ALARM_USD_PER_MONTH,
        "dashboard": DASHBOARD_USD_PER_MONTH,
        "kms_key": KMS_KEY_USD_PER_MONTH,
        "ssm_parameter": SSM_ADVANCED_PARAMETER_USD_PER_MONTH,
        "xray": usage.executions * scale * XRAY_USD_PER_TRACE,
    }
    rounded = {name: round(usd, 2) for name, usd in lines.items()}
    return {**rounded, "total": round(sum(lines.values()), 2)}
