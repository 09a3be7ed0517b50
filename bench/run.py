"""`make bench`: every bundled scenario under every policy, the guess sensitivity, the latency worlds, the
first-response distribution and the replay speed. Every figure comes from replays run now, in this process.

Usage: python bench/run.py [--scenarios DIR] [--json FILE] [--seeds N] [--quick]

Tables (all under each scenario's own latency profile, `typical` unless it says otherwise):
1. every bundled scenario x every policy that applies to it, and for the ECS-on-EC2 scenarios (`target.instances`)
   Surge vs the baseline vs the oracle: served %, task-seconds pending for lack of an instance, instance-hours and
   those against the oracle's;
2. sensitivity: served % and unit-hours with the operator's `push_rps_per_audience` at 0.5x, 1x and 2x of the
   truth (the pushes' `true_rps_per_audience`), on artist-post and overlapping-pushes, every policy;
3. latency worlds: surge on artist-post with latency `none` (idealised), `typical` and `pessimistic`;
4. first response over every bundled push scenario and `--seeds` seeds (latency jitter and interleaving):
   p50 / p99 / max of PutEvents -> first capacity call, and of PutEvents -> 90 % of the peak need covered;
5. the push safety factor's trade-off: surge's served % and unit-hours against an oracle at the target
   utilization, for factors 1.0, the default and 2.0, at each guess, ALB minutes only (the replays of this
   table run in parallel, one process per core);
6. the fleet: one loop over 1, 10, 50, 100 and 500 targets (bench/fleet.py): state bytes against the 256 KiB
   quota, the work of one iteration under the latency model, and the whole stack's monthly cost;
7. where the wall time of the noisy-flat hour goes (bench/breakdown.py): the AWS calls the handlers make, the
   handlers' own code, the AWS calls outside handlers, and the rest (moto's ASL interpreter, harness, world).
Speed is simulated hours replayed per wall-clock minute, per policy (surge runs the real state machine).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from breakdown import breakdown, print_breakdown  # bench/breakdown.py, beside this file
from fleet import fleet_bench  # bench/fleet.py, beside this file
from rich.console import Console
from rich.table import Table

from surge.core.config import DEFAULT_PUSH_SAFETY_FACTOR
from surge_cli.replay.output import KPI_COLUMNS, goal_text, kpi_cells, seconds_text
from surge_cli.replay.policies import applicable_policies
from surge_cli.replay.run import replay
from surge_cli.replay.scenario import LoadedScenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SENSITIVITY_SCENARIOS = ("artist-post", "overlapping-pushes")
GUESS_FACTORS = (0.5, 1.0, 2.0)
LATENCY_WORLDS = ("none", "typical", "pessimistic")
RESPONSE_TAIL_SECONDS = 300
"""The first-response sweep replays each push scenario only up to its last push plus this."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", type=Path, default=ROOT / "scenarios")
    parser.add_argument("--json", type=Path, default=None, help="also write every result as JSON")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per push scenario in the first-response sweep")
    parser.add_argument("--quick", action="store_true", help="only the main table")
    args = parser.parse_args(argv)
    console = Console(width=170)
    loaded_all = {path.stem: load_scenario(path) for path in sorted(args.scenarios.glob("*.json"))}
    report: dict[str, Any] = {"machine": machine_reference()}
    report["scenarios"] = main_table(console, loaded_all)
    report["ecs_on_ec2"] = ecs_on_ec2_table(console, report["scenarios"])
    if not args.quick:
        report["sensitivity"] = sensitivity(console, loaded_all, report["scenarios"])
        report["goals"] = goals(console, loaded_all, report["scenarios"], report["sensitivity"])
        report["latency_worlds"] = latency_worlds(console, loaded_all["artist-post"])
        report["first_response"] = first_response_sweep(console, loaded_all, args.seeds)
        report["safety_factor"] = safety_factor_tradeoff(console, loaded_all, report["sensitivity"])
        report["fleet"] = fleet_bench(console)
        report["hour_breakdown"] = breakdown(loaded_all["noisy-flat"])
        print_breakdown(console, report["hour_breakdown"])
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


REFERENCE_LOOP_ITERATIONS = 20_000_000


def machine_reference(repeats: int = 3) -> dict[str, Any]:
    """How fast this machine runs plain Python now (best of `repeats` timings of an empty loop), printed beside the
    replay speeds: the replays are CPU-bound Python, so their wall time moves with it from one machine (or one
    busy minute) to another."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(REFERENCE_LOOP_ITERATIONS):
            pass
        timings.append(time.perf_counter() - started)
    return {
        "reference_loop_iterations": REFERENCE_LOOP_ITERATIONS,
        "reference_loop_seconds": round(min(timings), 3),
        "cpus": os.cpu_count(),
    }


def _speed(loaded: LoadedScenario, result: dict[str, Any]) -> float:
    hours = loaded.scenario.duration_seconds / 3600
    wall = result["replay_wall_seconds"]
    return hours / (wall / 60) if wall > 0 else math.inf


def main_table(console: Console, loaded_all: dict[str, LoadedScenario]) -> list[dict[str, Any]]:
    table = Table(title="Surge replay bench: every bundled scenario (latency: each scenario's own, typical by default)")
    for column in ("scenario", *KPI_COLUMNS, "loop $/month E/S", "sim h per wall min"):
        table.add_column(column, justify="left" if column in ("scenario", "policy") else "right")
    everything: list[dict[str, Any]] = []
    for name, loaded in loaded_all.items():
        _, results = replay(loaded, applicable_policies(loaded))
        for result in results:
            speed = _speed(loaded, result)
            cost = result.get("monthly_loop_cost_usd")
            table.add_row(
                name,
                *kpi_cells(result),
                f"{cost['EXPRESS']:.2f} / {cost['STANDARD']:.2f}" if cost else "",
                "inf" if speed == math.inf else f"{speed:,.1f}",
            )
            everything.append(
                {
                    "scenario": name,
                    "latency": loaded.scenario.config.latency,
                    **{k: v for k, v in result.items() if k != "details"},
                    "sim_hours_per_wall_minute": speed,
                }
            )
        console.print(f"replayed {name}", style="dim")
    console.print(table)
    return everything


ECS_ON_EC2_POLICIES = ("surge", "target-tracking", "oracle")
"""Surge, the baseline (target tracking on the service + the capacity provider's managed scaling), the oracle."""
ECS_ON_EC2_KEYS = (
    "served_fraction",
    "task_seconds_pending",
    "instance_hours",
    "instance_hours_vs_oracle",
    "max_instances",
    "unit_hours",
)


def ecs_on_ec2_table(console: Console, main_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every ECS-on-EC2 scenario (`target.instances`): Surge vs the baseline vs the oracle side by side, from the
    main table's own replays."""
    rows = [
        {"scenario": r["scenario"], "policy": r["policy"], **{k: r[k] for k in ECS_ON_EC2_KEYS}}
        for r in main_results
        if "instance_hours" in r and r["policy"] in ECS_ON_EC2_POLICIES
    ]
    rows.sort(key=lambda r: (r["scenario"], ECS_ON_EC2_POLICIES.index(r["policy"])))
    table = Table(title="ECS on EC2: tasks on instances (baseline: target tracking + managed scaling)")
    for column in ("scenario", "policy", "served %", "task-s pending", "instance-h", "vs oracle inst-h", "max inst"):
        table.add_column(column, justify="left" if column in ("scenario", "policy") else "right")
    for r in rows:
        ratio = r["instance_hours_vs_oracle"]
        table.add_row(
            r["scenario"],
            r["policy"],
            f"{100 * r['served_fraction']:.2f}",
            f"{r['task_seconds_pending']:,}",
            f"{r['instance_hours']:.1f}",
            "-" if ratio is None else f"{ratio:.2f}x",
            str(r["max_instances"]),
        )
    console.print(table)
    return rows


def truth_of(loaded: LoadedScenario) -> float | None:
    """The scenario's true requests per second per audience member (mean over its pushes that state one)."""
    truths = [p.true_rps_per_audience for p in loaded.scenario.distinct_pushes() if p.true_rps_per_audience]
    return sum(truths) / len(truths) if truths else None


def sensitivity(
    console: Console, loaded_all: dict[str, LoadedScenario], main_results: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    table = Table(title="Sensitivity to the operator's guess (push_rps_per_audience as a multiple of the truth)")
    table.add_column("scenario")
    table.add_column("policy")
    for factor in GUESS_FACTORS:
        table.add_column(f"{factor:g}x: served %", justify="right")
        table.add_column(f"{factor:g}x: unit-h", justify="right")
    rows: list[dict[str, Any]] = []
    for name in SENSITIVITY_SCENARIOS:
        base = loaded_all.get(name)
        truth = truth_of(base) if base is not None else None
        if base is None or truth is None:
            console.print(f"sensitivity: {name} missing or states no true_rps_per_audience; skipped", style="yellow")
            continue
        by_policy: dict[str, dict[str, Any]] = {}
        for factor in GUESS_FACTORS:
            guess = round(truth * factor, 6)
            variant = base.with_config(push_rps_per_audience=guess)
            if math.isclose(guess, base.scenario.config.push_rps_per_audience):
                results = [r for r in main_results if r["scenario"] == name]
            else:
                _, results = replay(variant, applicable_policies(variant))
            for result in results:
                by_policy.setdefault(result["policy"], {})[f"{factor:g}x"] = {
                    "guess_rps_per_audience": guess,
                    "served_fraction": result["served_fraction"],
                    "unit_hours": result["unit_hours"],
                    "unit_hours_vs_oracle_at_target": result["unit_hours_vs_oracle_at_target"],
                }
            console.print(f"sensitivity: {name} at {factor:g}x ({guess:g})", style="dim")
        for policy, cells in by_policy.items():
            row = [name, policy]
            for factor in GUESS_FACTORS:
                cell = cells[f"{factor:g}x"]
                row += [f"{100 * cell['served_fraction']:.2f}", f"{cell['unit_hours']:.1f}"]
            table.add_row(*row)
            rows.append({"scenario": name, "truth_rps_per_audience": truth, "policy": policy, **cells})
    console.print(table)
    return rows


HIGH_RESOLUTION_PERIOD_SECONDS = 10
GOAL_SERVED_HR = 0.99
GOAL_RATIO_HR = 1.3
GOAL_SERVED_ALB = {"0.5x": 0.975, "1x": 0.99, "2x": 0.99}
GOAL_RATIO_ALB = 1.4
GOAL_ORGANIC_RAMP_HR = 0.995
GOAL_NOISY_FLAT_ACTIONS_PER_HOUR = 3


def goals(
    console: Console,
    loaded_all: dict[str, LoadedScenario],
    main_results: list[dict[str, Any]],
    sensitivity_rows: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Surge's figures beside the goals (issue 10): every push scenario x guess (0.5x, 1x, 2x of the truth) x
    {ALB minutes only, a 10 s high-resolution metric}; never below fast-autoscaler; organic ramp with a
    high-resolution metric; noisy flat's actions per hour."""
    checks: list[dict[str, Any]] = []

    def check(name: str, figure: float, goal: float, at_least: bool, text: str) -> None:
        met = figure >= goal - 1e-12 if at_least else figure <= goal + 1e-12
        checks.append({"check": name, "figure": figure, "goal": goal, "at_least": at_least, "met": met, "text": text})

    by = {(r["scenario"], r["policy"]): r for r in sensitivity_rows}
    for name in SENSITIVITY_SCENARIOS:
        base = loaded_all.get(name)
        truth = truth_of(base) if base is not None else None
        if base is None or truth is None or (name, "surge") not in by:
            continue
        fast = by[(name, "fast-autoscaler")]
        for factor in GUESS_FACTORS:
            key = f"{factor:g}x"
            alb = by[(name, "surge")][key]
            variant = base.with_config(
                push_rps_per_audience=round(truth * factor, 6),
                high_resolution_metric_period_seconds=HIGH_RESOLUTION_PERIOD_SECONDS,
            )
            _, (hr,) = replay(variant, ["surge"])
            console.print(f"goals: {name} at {key} with a {HIGH_RESOLUTION_PERIOD_SECONDS} s metric", style="dim")
            label = f"{name} {key}"
            check(f"{label} ALB: served", alb["served_fraction"], GOAL_SERVED_ALB[key], True, "served %")
            check(f"{label} ALB: vs oracle@target", alb["unit_hours_vs_oracle_at_target"], GOAL_RATIO_ALB, False, "x")
            check(f"{label} HR10: served", hr["served_fraction"], GOAL_SERVED_HR, True, "served %")
            check(f"{label} HR10: vs oracle@target", hr["unit_hours_vs_oracle_at_target"], GOAL_RATIO_HR, False, "x")
            fast_served = fast[key]["served_fraction"]
            check(f"{label} ALB: served - fast-autoscaler's", alb["served_fraction"] - fast_served, 0.0, True, "pp")
    by_main = {(r["scenario"], r["policy"]): r for r in main_results}
    for scenario in sorted({r["scenario"] for r in main_results}):
        surge, fast = by_main.get((scenario, "surge")), by_main.get((scenario, "fast-autoscaler"))
        if surge is not None and fast is not None:
            gap = surge["served_fraction"] - fast["served_fraction"]
            check(f"{scenario}: served - fast-autoscaler's", gap, 0.0, True, "pp")
    ramp = loaded_all.get("organic-ramp")
    if ramp is not None:
        _, (hr,) = replay(ramp.with_config(high_resolution_metric_period_seconds=10), ["surge"])
        check("organic-ramp HR10: served", hr["served_fraction"], GOAL_ORGANIC_RAMP_HR, True, "served %")
    noisy = by_main.get(("noisy-flat", "surge"))
    if noisy is not None:
        hours = loaded_all["noisy-flat"].scenario.duration_seconds / 3600
        per_hour = noisy["scaling_actions"] / hours
        check("noisy-flat: scaling actions per hour", per_hour, GOAL_NOISY_FLAT_ACTIONS_PER_HOUR, False, "per h")
    table = Table(title="Goals: surge's figure beside each goal (typical latency)")
    for column in ("check", "figure", "goal", "met"):
        table.add_column(column, justify="left" if column == "check" else "right")
    for c in checks:
        sign = ">= " if c["at_least"] else "<= "
        table.add_row(
            c["check"], goal_text(c, c["figure"]), sign + goal_text(c, c["goal"]), "yes" if c["met"] else "NO"
        )
    console.print(table)
    return checks


def latency_worlds(console: Console, loaded: LoadedScenario) -> list[dict[str, Any]]:
    table = Table(title=f"The latency world: surge on {loaded.scenario.name} under each profile")
    for column in ("latency", *KPI_COLUMNS[1:]):
        table.add_column(column, justify="left" if column == "latency" else "right")
    rows = []
    for world in LATENCY_WORLDS:
        variant = loaded.with_config(latency=world)
        _, (result,) = replay(variant, ["surge"])
        table.add_row(world, *kpi_cells(result)[1:])
        rows.append({"latency": world, **{k: v for k, v in result.items() if k != "details"}})
    console.print(table)
    return rows


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in (0, 1])."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def first_response_sweep(console: Console, loaded_all: dict[str, LoadedScenario], seeds: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"first_call_seconds": [], "covered_seconds": []}
    never: dict[str, int] = {"first_call_seconds": 0, "covered_seconds": 0}
    per_scenario: list[dict[str, Any]] = []
    started = time.perf_counter()
    for name, loaded in loaded_all.items():
        pushes = loaded.scenario.distinct_pushes()
        if not pushes:
            continue
        cut = loaded.truncated(max(p.at_seconds for p in pushes) + RESPONSE_TAIL_SECONDS)
        for seed in range(seeds):
            _, (result,) = replay(cut.with_config(seed=seed), ["surge"])
            for push_id, response in result["first_response"].items():
                per_scenario.append({"scenario": name, "seed": seed, "push": push_id, **response})
                for key in samples:
                    value = response[key]
                    if value is None:
                        never[key] += 1
                    else:
                        samples[key].append(float(value))
        console.print(f"first response: {name} x {seeds} seeds", style="dim")
    table = Table(title=f"First response over every bundled push scenario x {seeds} seeds (typical latency)")
    for column in ("from the push server's PutEvents to", "n", "p50", "p99", "max", "never"):
        table.add_column(column, justify="left" if column.startswith("from") else "right")
    summary: dict[str, Any] = {"seeds": seeds, "samples": per_scenario, "wall_seconds": time.perf_counter() - started}
    labels = {"first_call_seconds": "the first capacity API call", "covered_seconds": "90 % of the peak need covered"}
    for key, values in samples.items():
        stats = {"n": len(values), "never": never[key]}
        if values:
            stats |= {"p50": percentile(values, 0.5), "p99": percentile(values, 0.99), "max": max(values)}
        summary[key] = stats
        table.add_row(
            labels[key],
            str(len(values)),
            *(seconds_text(stats.get(q)) if values else "-" for q in ("p50", "p99", "max")),
            str(never[key]),
        )
    console.print(table)
    return summary


SAFETY_FACTORS = (1.0, DEFAULT_PUSH_SAFETY_FACTOR, 2.0)


def _surge_with(job: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    path, config = job
    _, (result,) = replay(load_scenario(Path(path)).with_config(**config), ["surge"])
    return {k: result[k] for k in ("served_fraction", "unit_hours", "unit_hours_vs_oracle_at_target")}


def safety_factor_tradeoff(
    console: Console, loaded_all: dict[str, LoadedScenario], sensitivity_rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Served % against unit-hours (vs an oracle at the target utilization) for each push safety factor and guess:
    the table the default factor was chosen from. The default's cells are the sensitivity table's own runs."""
    by = {(r["scenario"], r["policy"]): r for r in sensitivity_rows}
    jobs: dict[tuple[str, str, float], tuple[str, dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    for name in SENSITIVITY_SCENARIOS:
        base = loaded_all.get(name)
        truth = truth_of(base) if base is not None else None
        if base is None or truth is None or (name, "surge") not in by or base.path is None:
            continue
        for guess in GUESS_FACTORS:
            for factor in SAFETY_FACTORS:
                if not math.isclose(factor, DEFAULT_PUSH_SAFETY_FACTOR):
                    config = {"push_rps_per_audience": round(truth * guess, 6), "push_safety_factor": factor}
                    jobs[(name, f"{guess:g}x", factor)] = (str(base.path), config)
    with ProcessPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        done = dict(zip(jobs, pool.map(_surge_with, jobs.values()), strict=True))
    table = Table(title="Push safety factor: surge's served % / unit-hours vs oracle at target (ALB minutes only)")
    table.add_column("scenario")
    table.add_column("guess")
    for factor in SAFETY_FACTORS:
        label = f"{factor:g}" + (" (default)" if math.isclose(factor, DEFAULT_PUSH_SAFETY_FACTOR) else "")
        table.add_column(f"factor {label}", justify="right")
    for name in SENSITIVITY_SCENARIOS:
        if (name, "surge") not in by:
            continue
        for guess in GUESS_FACTORS:
            key = f"{guess:g}x"
            cells: dict[str, dict[str, Any]] = {}
            for factor in SAFETY_FACTORS:
                found = done.get((name, key, factor))
                cells[f"{factor:g}"] = found if found is not None else by[(name, "surge")][key]
            rows.append({"scenario": name, "guess": key, "default_factor": DEFAULT_PUSH_SAFETY_FACTOR, **cells})
            table.add_row(
                name,
                key,
                *(
                    f"{100 * c['served_fraction']:.2f} % / {c['unit_hours_vs_oracle_at_target']:.2f}x"
                    for c in cells.values()
                ),
            )
    console.print(table)
    return rows


if __name__ == "__main__":
    sys.exit(main())
