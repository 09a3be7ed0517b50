"""Replay output: a rich table, one JSON object, a timeline CSV and a PNG plot."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from surge_cli.replay.policies.common import PolicyRun
from surge_cli.replay.scenario import LoadedScenario

TIMELINE_COLUMNS = ("policy", "t_seconds", "demand_rps", "desired_units", "in_service_units")


def comparison_table(title: str, results: list[dict[str, Any]]) -> Table:
    """One row per policy; ECS on EC2 scenarios (`target.instances`) add the instance columns."""
    linked = bool(results) and all("instance_hours" in result for result in results)
    table = Table(title=title)
    for column in (*KPI_COLUMNS, *(LINKED_COLUMNS if linked else ())):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for result in results:
        table.add_row(*kpi_cells(result), *(linked_cells(result) if linked else ()))
    return table


LINKED_COLUMNS = ("task-s pending", "max inst", "instance-h", "vs oracle inst-h")


def linked_cells(result: dict[str, Any]) -> list[str]:
    """ECS on EC2: task-seconds pending for lack of an instance, the most instances, instance-hours, and those
    against the oracle's."""
    return [
        f"{result['task_seconds_pending']:,}",
        str(result["max_instances"]),
        f"{result['instance_hours']:.1f}",
        ratio_text(result.get("instance_hours_vs_oracle")),
    ]


KPI_COLUMNS = (
    "policy",
    "served %",
    "dropped",
    "s under cap",
    "max units",
    "unit-hours",
    "vs oracle@target",
    "actions",
    "push -> 1st call",
    "push -> 90% of need",
)


def kpi_cells(result: dict[str, Any]) -> list[str]:
    """One policy's result as the cells of KPI_COLUMNS (shared by `surge replay` and `make bench`)."""
    responses = result["first_response"]
    return [
        result["policy"],
        f"{100 * result['served_fraction']:.2f}",
        f"{result['dropped_requests']:,.0f}",
        str(result["seconds_under_capacity"]),
        str(result["max_units"]),
        f"{result['unit_hours']:.1f}",
        ratio_text(result.get("unit_hours_vs_oracle_at_target")),
        str(result["scaling_actions"]),
        response_cell(responses, "first_call_seconds"),
        response_cell(responses, "covered_seconds"),
    ]


def goal_text(check: dict[str, Any], value: float) -> str:
    """A bench goal's figure in its unit (`text`: served %, pp, x, or a unit name)."""
    if check["text"] == "served %":
        return f"{100 * value:.2f} %"
    if check["text"] == "pp":
        return f"{100 * value:+.2f} pp"
    if check["text"] == "x":
        return f"{value:.2f}x"
    return f"{value:.1f} {check['text']}"


def ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def seconds_text(value: float | None) -> str:
    if value is None:
        return "never"
    return f"{value:.0f} s" if value >= 10 or value == 0 else f"{value:.1f} s"


def response_cell(responses: dict[str, dict[str, float | None]], key: str) -> str:
    """One push: its figure; several: `id: figure` each."""
    if not responses:
        return "-"
    if len(responses) == 1:
        return seconds_text(next(iter(responses.values()))[key])
    return ", ".join(f"{push_id}: {seconds_text(r[key])}" for push_id, r in responses.items())


def loop_cost_lines(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for result in results:
        if "monthly_loop_cost_usd" in result:
            cost = result["monthly_loop_cost_usd"]
            lines.append(
                f"{result['policy']} loop: {result['state_transitions']} state transitions, "
                f"{result['lambda_invocations']} Lambda invocations ({result['lambda_gb_seconds']} GB-s), "
                f"{result['metric_requests']} metrics requested -> per month: "
                f"EXPRESS ${cost['EXPRESS']:.2f}, STANDARD ${cost['STANDARD']:.2f}"
            )
    return lines


def print_table(console: Console, title: str, results: list[dict[str, Any]]) -> None:
    """The policies side by side (a scenario with `targets`: their aggregate over the targets, then a table per
    target), then the loop's usage and cost."""
    console.print(comparison_table(title, results))
    for target_id, per_policy in per_target_results(results).items():
        console.print(comparison_table(f"target {target_id}", per_policy))
    for line in loop_cost_lines(results):
        console.print(line)


def per_target_results(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A scenario with `targets`: each target's results of every policy, by target id (empty otherwise)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        for target_id, one in result.get("targets", {}).items():
            found.setdefault(target_id, []).append(one)
    return found


LINKED_TIMELINE_COLUMNS = ("pending_units", "instances", "instances_in_service", "group_desired")
"""ECS on EC2 only: tasks waiting for an instance, instances launched, in service, and the group's desired count."""


def write_timeline(path: Path, runs: list[PolicyRun]) -> None:
    """One row per policy and second; a scenario with `targets` adds a `target` column (one row per policy,
    target and second)."""
    if any(run.targets is not None for run in runs):
        _write_targets_timeline(path, runs)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    linked = any(second.instances is not None for run in runs for second in run.seconds[:1])
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow((*TIMELINE_COLUMNS, *(LINKED_TIMELINE_COLUMNS if linked else ())))
        for run in runs:
            for second in run.seconds:
                extra = (
                    (second.pending_units, second.instances, second.instances_in_service, second.group_desired)
                    if linked
                    else ()
                )
                writer.writerow(
                    (
                        run.policy,
                        second.t_seconds,
                        f"{second.demand_rps:g}",
                        second.desired_units,
                        second.in_service_units,
                        *extra,
                    )
                )


def _write_targets_timeline(path: Path, runs: list[PolicyRun]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("policy", "target", *TIMELINE_COLUMNS[1:]))
        for run in runs:
            for target_id, one in (run.targets or {}).items():
                for second in one.seconds:
                    writer.writerow(
                        (
                            run.policy,
                            target_id,
                            second.t_seconds,
                            f"{second.demand_rps:g}",
                            second.desired_units,
                            second.in_service_units,
                        )
                    )


def plotted_rps(run: PolicyRun, loaded: LoadedScenario) -> tuple[list[float], list[float]]:
    """Per second, the in-service capacity and the desired units as capacity (rps): with `targets`, summed over
    the targets (each target's units at its own `unit_capacity_rps`)."""
    if run.targets is None:
        unit_rps = loaded.scenario.spec.unit_capacity_rps
        return [s.capacity_rps for s in run.seconds], [s.desired_units * unit_rps for s in run.seconds]
    views = loaded.targets()
    capacity = [0.0] * loaded.scenario.duration_seconds
    desired = [0.0] * loaded.scenario.duration_seconds
    for target_id, one in run.targets.items():
        unit_rps = views[target_id].scenario.spec.unit_capacity_rps
        for second in one.seconds:
            capacity[second.t_seconds] += second.capacity_rps
            desired[second.t_seconds] += second.desired_units * unit_rps
    return capacity, desired


def write_plot(path: Path, loaded: LoadedScenario, runs: list[PolicyRun]) -> None:
    """One panel per policy: demand, in-service capacity and desired units on one scale (rps left, units right;
    a scenario with `targets`: the sums over its targets, on the rps scale only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenario = loaded.scenario
    minutes = [t / 60 for t in range(scenario.duration_seconds)]
    figure, axes = plt.subplots(len(runs), 1, figsize=(12, 2.8 * len(runs)), sharex=True, sharey=True, squeeze=False)
    plotted = [plotted_rps(run, loaded) for run in runs]
    top_rps = 1.05 * max(
        [
            *loaded.demand_rps,
            *(max(c, d) for capacity, desired in plotted for c, d in zip(capacity, desired, strict=True)),
        ],
        default=1.0,
    )
    for axis, run, (capacity, desired) in zip(axes[:, 0], runs, plotted, strict=True):
        axis.fill_between(minutes, loaded.demand_rps, color="tab:red", alpha=0.25, label="demand (rps)")
        axis.plot(minutes[: len(capacity)], capacity, color="tab:blue", label="in-service capacity (rps)")
        axis.step(
            minutes[: len(desired)],
            desired,
            where="post",
            color="tab:green",
            linestyle="--",
            label="desired units (as capacity)",
        )
        axis.set_ylabel("rps")
        axis.set_ylim(0, max(top_rps, 1.0))  # every panel shows every policy's highest count
        axis.set_title(run.policy, loc="left", fontsize=10)
        if not scenario.is_fleet:
            unit_rps = scenario.spec.unit_capacity_rps
            units_axis = axis.twinx()
            low, high = axis.get_ylim()
            units_axis.set_ylim(low / unit_rps, high / unit_rps)
            units_axis.set_ylabel("units")
        _mark_events(axis, loaded)
        axis.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("minutes since start")
    figure.suptitle(f"{scenario.name}: demand, capacity and desired units per policy")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _mark_events(axis: Any, loaded: LoadedScenario) -> None:
    scenario = loaded.scenario
    for push in scenario.pushes:
        axis.axvline(push.at_seconds / 60, color="tab:purple", linestyle="--", linewidth=1)
        axis.annotate(f"push {push.id}", (push.at_seconds / 60, 0.95), xycoords=("data", "axes fraction"), fontsize=7)
    for entry in scenario.calendar:
        start = (entry.start_utc - scenario.start_utc).total_seconds() / 60
        end = (entry.end_utc - scenario.start_utc).total_seconds() / 60
        axis.axvspan(start - entry.lead_seconds / 60, start, color="tab:orange", alpha=0.08)
        axis.axvspan(start, end, color="tab:orange", alpha=0.15)
        axis.annotate(entry.name, (max(start, 0), 0.85), xycoords=("data", "axes fraction"), fontsize=7)
