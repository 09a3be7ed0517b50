"""The numbers a replay is judged by, per policy.

Fleet KPIs come from the per-second timeline (world.py): every second of the scenario counts `demand_rps`
requests, of which min(demand, in-service capacity) are served. Loop cost KPIs (surge only) come from the
executed Step Functions history and the harness's Lambda invocations, priced at the list prices in the brief
and extrapolated to a 30-day month of the same loop.
"""

from __future__ import annotations

import math
from typing import Any

from surge_cli.replay.policies.common import PolicyRun
from surge_cli.replay.scenario import Scenario

MONTH_SECONDS = 30 * 86_400
STANDARD_USD_PER_TRANSITION = 0.025 / 1_000
EXPRESS_USD_PER_REQUEST = 1.0 / 1_000_000
EXPRESS_USD_PER_GB_SECOND = 0.00001667
EXPRESS_MEMORY_GB = 64 / 1024
EXPRESS_ROUNDING_SECONDS = 0.1
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_USD_PER_GB_SECOND = 0.0000166667
GET_METRIC_DATA_USD_PER_METRIC = 0.01 / 1_000


def fleet_kpis(run: PolicyRun, scenario: Scenario) -> dict[str, Any]:
    seconds = run.seconds
    demanded = sum(s.demand_rps for s in seconds)
    served = sum(s.served_rps for s in seconds)
    return {
        "policy": run.policy,
        "served_fraction": served / demanded if demanded > 0 else 1.0,
        "dropped_requests": demanded - served,
        "seconds_under_capacity": sum(1 for s in seconds if s.demand_rps > s.capacity_rps),
        "max_units": max((s.desired_units for s in seconds), default=scenario.target.initial_units),
        "unit_hours": sum(s.desired_units for s in seconds) / 3600,
        "scaling_actions": len(run.changes),
        "first_response_seconds": first_responses(run, scenario),
    }


def first_responses(run: PolicyRun, scenario: Scenario) -> dict[str, int | None]:
    """Per push: seconds from the push to the first desired-count increase at or after it (None if none)."""
    increases = []
    desired = scenario.target.initial_units
    for t_seconds, units in run.changes:
        if units > desired:
            increases.append(t_seconds)
        desired = units
    found: dict[str, int | None] = {}
    for push in scenario.pushes:
        later = [t for t in increases if t >= push.at_seconds]
        found[push.id] = later[0] - push.at_seconds if later else None
    return found


def loop_cost(loop: dict[str, Any], duration_seconds: int) -> dict[str, Any]:
    """The loop's own usage over the replay, and its monthly cost at list prices (EXPRESS and STANDARD)."""
    scale = MONTH_SECONDS / duration_seconds
    billed_seconds = [
        math.ceil(d / EXPRESS_ROUNDING_SECONDS - 1e-9) * EXPRESS_ROUNDING_SECONDS for d in loop["execution_seconds"]
    ]
    express_sfn = loop["executions"] * EXPRESS_USD_PER_REQUEST + sum(
        s * EXPRESS_MEMORY_GB * EXPRESS_USD_PER_GB_SECOND for s in billed_seconds
    )
    standard_sfn = loop["state_transitions"] * STANDARD_USD_PER_TRANSITION
    lambda_usd = (
        loop["lambda_invocations"] * LAMBDA_USD_PER_REQUEST + loop["lambda_gb_seconds"] * LAMBDA_USD_PER_GB_SECOND
    )
    metrics_usd = loop["metric_requests"] * GET_METRIC_DATA_USD_PER_METRIC
    shared = lambda_usd + metrics_usd
    return {
        "executions": loop["executions"],
        "state_transitions": loop["state_transitions"],
        "lambda_invocations": loop["lambda_invocations"],
        "lambda_gb_seconds": round(loop["lambda_gb_seconds"], 4),
        "metric_requests": loop["metric_requests"],
        "monthly_loop_cost_usd": {
            "EXPRESS": round((express_sfn + shared) * scale, 2),
            "STANDARD": round((standard_sfn + shared) * scale, 2),
        },
        "monthly_cost_breakdown_usd": {
            "step_functions_express": round(express_sfn * scale, 2),
            "step_functions_standard": round(standard_sfn * scale, 2),
            "lambda": round(lambda_usd * scale, 2),
            "get_metric_data": round(metrics_usd * scale, 2),
        },
    }


def policy_result(run: PolicyRun, scenario: Scenario) -> dict[str, Any]:
    result = fleet_kpis(run, scenario)
    if run.loop is not None:
        result.update(loop_cost(run.loop, scenario.duration_seconds))
    result["replay_wall_seconds"] = round(run.wall_seconds, 3)
    return result
