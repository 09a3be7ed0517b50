"""The numbers a replay is judged by, per policy.

Fleet KPIs come from the per-second timeline (world.py): every second of the scenario counts `demand_rps`
requests, of which min(demand, in-service capacity) are served. Loop cost KPIs (surge only) come from the
executed Step Functions history and the harness's Lambda invocations, priced at the list prices in the brief
and extrapolated to a 30-day month of the same loop.
"""

from __future__ import annotations

import math
from typing import Any

from surge_cli.replay.policies.baselines import run_oracle
from surge_cli.replay.policies.common import PolicyRun, units_at_full_load
from surge_cli.replay.scenario import LoadedScenario, Scenario
from surge_cli.replay.world import Second

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
    kpis: dict[str, Any] = {
        "policy": run.policy,
        "served_fraction": served / demanded if demanded > 0 else 1.0,
        "dropped_requests": demanded - served,
        "seconds_under_capacity": sum(1 for s in seconds if s.demand_rps > s.capacity_rps),
        "max_units": max((s.desired_units for s in seconds), default=scenario.spec.initial_units),
        "unit_hours": sum(s.desired_units for s in seconds) / 3600,
        "scaling_actions": len(run.changes),
    }
    if scenario.spec.instances is not None:
        kpis.update(linked_kpis(run, scenario))
    return kpis


def linked_kpis(run: PolicyRun, scenario: Scenario) -> dict[str, Any]:
    """ECS on EC2: task-seconds a desired task waited for a free slot on an instance in service (PROVISIONING),
    instance-hours (every instance launched counts from its launch until it is terminated: EC2 bills the
    instance while it boots) and the most instances at once."""
    instances = scenario.spec.instances
    initial = instances.initial_units if instances is not None else 0
    return {
        "task_seconds_pending": sum(s.pending_units for s in run.seconds),
        "instance_hours": instance_hours(run),
        "max_instances": max((s.instances or 0 for s in run.seconds), default=initial),
    }


def instance_hours(run: PolicyRun) -> float:
    return sum(s.instances or 0 for s in run.seconds) / 3600


COVERED_SHARE_OF_PEAK_NEED = 0.9
"""First response (b): desired units cover this share of what the oracle needs at the peak of the response."""


def first_responses(run: PolicyRun, loaded: LoadedScenario) -> dict[str, dict[str, float | None]]:
    """Per push (each id once, from its first delivery), seconds from the push server's PutEvents until

    * `first_call_seconds`: the first capacity API call at or after it (any call: a raise, or the same count);
    * `covered_seconds`: the first moment the desired units cover at least 90 % of the units the oracle needs
      at the peak of this push's response (the peak need over [push, next push or push + push_hold_seconds)).
      0 if they already did when the push went out.

    None when it never happened within the scenario.
    """
    scenario = loaded.scenario
    distinct = scenario.distinct_pushes()
    starts = sorted({p.at_seconds for p in distinct})
    calls = sorted(run.call_instants)
    changes = sorted(run.change_instants)
    found: dict[str, dict[str, float | None]] = {}
    for push in distinct:
        later_starts = [s for s in starts if s > push.at_seconds]
        window_end = min(
            [scenario.duration_seconds, push.at_seconds + scenario.config.push_hold_seconds, *later_starts[:1]]
        )
        need = peak_need_units(loaded, push.at_seconds, window_end)
        first_call = next((t for t in calls if t >= push.at_seconds), None)
        covered = _first_covering(
            changes, scenario.spec.initial_units, push.at_seconds, COVERED_SHARE_OF_PEAK_NEED * need
        )
        found[push.id] = {
            "first_call_seconds": None if first_call is None else round(first_call - push.at_seconds, 3),
            "covered_seconds": None if covered is None else round(covered - push.at_seconds, 3),
            "peak_need_units": need,
        }
    return found


def peak_need_units(loaded: LoadedScenario, start_seconds: int, end_seconds: int) -> int:
    """The oracle's need at the peak of [start, end): ceil(demand / unit capacity), clamped to [min, max]."""
    target = loaded.scenario.spec
    window = loaded.demand_rps[start_seconds : max(end_seconds, start_seconds + 1)]
    needed = max((units_at_full_load(rps, target.unit_capacity_rps) for rps in window), default=0)
    return max(target.min_units, min(target.max_units, needed))


def _first_covering(
    changes: list[tuple[float, int]], initial_units: int, from_seconds: float, units_needed: float
) -> float | None:
    desired = initial_units
    for t, units in changes:
        if t > from_seconds:
            break
        desired = units
    if desired >= units_needed - 1e-9:
        return from_seconds
    for t, units in changes:
        if t > from_seconds and units >= units_needed - 1e-9:
            return t
    return None


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
        "max_state_bytes": loop.get("max_state_bytes", 0),
        "state_bytes": loop.get("state_bytes", 0),
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


def oracle_at_target_unit_hours(loaded: LoadedScenario) -> float:
    """Unit-hours of an oracle that runs exactly ceil(demand / (unit capacity x target utilization)) units each
    second, clamped to [min, max] and never below a calendar entry's declared units while the entry is active
    (start - lead to end): the capacity a perfect policy at the operator's own target utilization would pay for."""
    scenario = loaded.scenario
    target = scenario.spec
    per_unit_rps = target.unit_capacity_rps * scenario.config.target_utilization
    floors = [
        (
            (entry.start_utc - scenario.start_utc).total_seconds() - entry.lead_seconds,
            (entry.end_utc - scenario.start_utc).total_seconds(),
            entry.units,
        )
        for entry in scenario.calendar
    ]
    unit_seconds = 0
    for t, rps in enumerate(loaded.demand_rps):
        units = units_at_full_load(rps, per_unit_rps)
        units = max([units, *(u for start, end, u in floors if start <= t < end)])
        unit_seconds += max(target.min_units, min(target.max_units, units))
    return unit_seconds / 3600


def oracle_instance_hours(loaded: LoadedScenario) -> float:
    """ECS on EC2: the instance-hours of the `oracle` policy (instances asked for exactly as early as the
    instances' and the tasks' start-ups require, sized from the true demand)."""
    return instance_hours(run_oracle(loaded))


def policy_result(run: PolicyRun, loaded: LoadedScenario) -> dict[str, Any]:
    """A policy's KPIs; with `targets`, the aggregate over the targets plus each target's own (`targets_result`)."""
    if run.targets is not None:
        return targets_result(run, loaded)
    result = fleet_kpis(run, loaded.scenario)
    at_target = oracle_at_target_unit_hours(loaded)
    result["oracle_at_target_unit_hours"] = at_target
    result["unit_hours_vs_oracle_at_target"] = result["unit_hours"] / at_target if at_target > 0 else None
    if loaded.scenario.spec.instances is not None:
        oracle = instance_hours(run) if run.policy == "oracle" else oracle_instance_hours(loaded)
        result["oracle_instance_hours"] = oracle
        result["instance_hours_vs_oracle"] = result["instance_hours"] / oracle if oracle > 0 else None
    result["first_response"] = first_responses(run, loaded)
    if run.loop is not None:
        result.update(loop_cost(run.loop, loaded.scenario.duration_seconds))
    result["replay_wall_seconds"] = round(run.wall_seconds, 3)
    return result


def targets_result(run: PolicyRun, loaded: LoadedScenario) -> dict[str, Any]:
    """A scenario with `targets`: the KPIs of every target (as a single-target scenario's, by id, under
    `targets`), their aggregate at the top level (`aggregate_kpis`), and the loop's usage and cost once (one loop
    scales every target: `max_state_bytes` is its largest state)."""
    runs = run.targets or {}
    per_target: dict[str, dict[str, Any]] = {}
    for target_id, view in loaded.targets().items():
        one = policy_result(runs[target_id], view)
        one.pop("replay_wall_seconds", None)  # the run's, not a target's
        per_target[target_id] = one
    result: dict[str, Any] = {"policy": run.policy, **aggregate_kpis(per_target, runs), "targets": per_target}
    if run.loop is not None:
        result.update(loop_cost(run.loop, loaded.scenario.duration_seconds))
    result["replay_wall_seconds"] = round(run.wall_seconds, 3)
    return result


def aggregate_kpis(per_target: dict[str, dict[str, Any]], runs: dict[str, PolicyRun]) -> dict[str, Any]:
    """The fleet's KPIs from its targets': requests, dropped requests, unit-hours, the oracle's unit-hours and
    scaling actions are sums; the served fraction and the unit-hours ratio are those of the sums; seconds under
    capacity are the seconds any target was; max units is the most units desired at once over all targets; a
    push's first response is its slowest among the targets it reached (never if any never did), its peak need
    the sum of theirs."""
    seconds = [run.seconds for run in runs.values()]
    demanded = sum(s.demand_rps for rows in seconds for s in rows)
    dropped = sum(result["dropped_requests"] for result in per_target.values())
    unit_hours = sum(result["unit_hours"] for result in per_target.values())
    at_target = sum(result["oracle_at_target_unit_hours"] for result in per_target.values())
    return {
        "served_fraction": (demanded - dropped) / demanded if demanded > 0 else 1.0,
        "dropped_requests": dropped,
        "seconds_under_capacity": sum(1 for row in zip(*seconds, strict=True) if any(_short(s) for s in row)),
        "max_units": max((sum(s.desired_units for s in row) for row in zip(*seconds, strict=True)), default=0),
        "unit_hours": unit_hours,
        "scaling_actions": sum(result["scaling_actions"] for result in per_target.values()),
        "oracle_at_target_unit_hours": at_target,
        "unit_hours_vs_oracle_at_target": unit_hours / at_target if at_target > 0 else None,
        "first_response": aggregate_first_responses([result["first_response"] for result in per_target.values()]),
    }


def _short(second: Second) -> bool:
    return second.demand_rps > second.capacity_rps


def aggregate_first_responses(
    responses: list[dict[str, dict[str, float | None]]],
) -> dict[str, dict[str, float | None]]:
    """Each push over the targets it reached: the slowest first call and cover (None if any target's is None),
    the summed peak need."""
    merged: dict[str, list[dict[str, float | None]]] = {}
    for target_responses in responses:
        for push_id, response in target_responses.items():
            merged.setdefault(push_id, []).append(response)
    return {
        push_id: {
            "first_call_seconds": _slowest([r["first_call_seconds"] for r in reached]),
            "covered_seconds": _slowest([r["covered_seconds"] for r in reached]),
            "peak_need_units": sum(r["peak_need_units"] or 0 for r in reached),
        }
        for push_id, reached in merged.items()
    }


def _slowest(values: list[float | None]) -> float | None:
    if any(value is None for value in values):
        return None
    return max(value for value in values if value is not None)
