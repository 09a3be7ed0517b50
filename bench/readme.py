"""Rewrite the README's figures from a bench run: `python bench/readme.py out/bench.json [README.md]`.

Every block between `<!-- figures:NAME -->` and `<!-- /figures:NAME -->` is regenerated; nothing else is
touched. `make figures` runs the bench, then this. The latency table comes from the latency profiles
themselves (`surge_cli.localaws.latency`), so it cannot drift from what the replay uses.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from surge_cli.localaws.latency import PROFILES, SOURCES
from surge_cli.replay.costs import COST_LINES
from surge_cli.replay.output import goal_text, ratio_text, response_cell, seconds_text

ROOT = Path(__file__).resolve().parents[1]
DEMO_SCENARIO = "artist-post"
POLICY_ORDER = ("surge", "target-tracking", "target-tracking+scheduled", "fast-autoscaler", "static", "oracle")


def _policy_name(policy: str) -> str:
    return {"surge": "**surge**", "oracle": "oracle (physical limit)"}.get(policy, policy)


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: POLICY_ORDER.index(r["policy"]) if r["policy"] in POLICY_ORDER else 99)


def demo_table(report: dict[str, Any]) -> str:
    rows = _ordered([r for r in report["scenarios"] if r["scenario"] == DEMO_SCENARIO])
    lines = [
        "| policy | served % | dropped requests | s under capacity | max units | unit-hours | vs oracle at target "
        "| actions | push -> first capacity call | push -> 90 % of peak need |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {_policy_name(r['policy'])} | {100 * r['served_fraction']:.2f} | {r['dropped_requests']:,.0f} "
            f"| {r['seconds_under_capacity']} | {r['max_units']} | {r['unit_hours']:.1f} "
            f"| {ratio_text(r.get('unit_hours_vs_oracle_at_target'))} | {r['scaling_actions']} "
            f"| {response_cell(r['first_response'], 'first_call_seconds')} "
            f"| {response_cell(r['first_response'], 'covered_seconds')} |"
        )
    return "\n".join(lines)


def idealised_sentence(report: dict[str, Any]) -> str:
    worlds = {r["latency"]: r for r in report.get("latency_worlds", [])}
    if not {"none", "typical", "pessimistic"} <= worlds.keys():
        return "(run the full bench for the latency worlds)"
    none, typical, bad = worlds["none"], worlds["typical"], worlds["pessimistic"]

    def fig(r: dict[str, Any]) -> str:
        call = response_cell(r["first_response"], "first_call_seconds")
        return f"{100 * r['served_fraction']:.2f} % served, {r['dropped_requests']:,.0f} dropped, first call {call}"

    return (
        f"The same replay in the idealised world (`latency: none`: every AWS step instantaneous, as this README "
        f"claimed before the latency model existed) would say {fig(none)}; under `typical` it is {fig(typical)}, "
        f"under `pessimistic` {fig(bad)}."
    )


def latency_table() -> str:
    typical, bad = PROFILES["typical"], PROFILES["pessimistic"]
    rows = [
        ("PutEvents -> rule target started", "eventbridge_delivery_seconds"),
        ("EventBridge Scheduler tick -> StartExecution", "scheduler_delivery_seconds"),
        ("StartExecution -> first state, EXPRESS", "express_start_seconds"),
        ("StartExecution -> first state, STANDARD", "standard_start_seconds"),
        ("lambda:invoke overhead, warm environment", "lambda_invoke_seconds"),
        ("cold start (init), added when no warm environment is free", "lambda_cold_start_seconds"),
        ("idle environment reclaimed after", "lambda_idle_seconds"),
        ("handler's own compute per invocation", "handler_compute_seconds"),
    ]
    lines = ["| step | typical | pessimistic | source |", "|---|---|---|---|"]
    for label, key in rows:
        lines.append(
            f"| {label} | {getattr(typical, key):g} s | {getattr(bad, key):g} s | {SOURCES.get(key, 'estimate')} |"
        )
    for key in sorted(typical.api_call_seconds):
        source = SOURCES.get(f"api_call_seconds.{key.split('.')[0]}", SOURCES["api_call_seconds"])
        lines.append(
            f"| AWS call `{key}` from a handler | {typical.api_call_seconds[key]:g} s "
            f"| {bad.api_call_seconds[key]:g} s | {source} |"
        )
    lines.append(
        f"| any other AWS call from a handler | {typical.default_api_call_seconds:g} s "
        f"| {bad.default_api_call_seconds:g} s | estimate |"
    )
    lines.append(
        f"| jitter on every figure (uniform, seeded per step) | +-{typical.jitter:.0%} | +-{bad.jitter:.0%} "
        "| keeps replays deterministic per `config.seed` |"
    )
    return "\n".join(lines)


def bench_table(report: dict[str, Any]) -> str:
    scenarios = sorted({r["scenario"] for r in report["scenarios"]})
    lines = [
        "| scenario | policy | served % | s under capacity | unit-hours | vs oracle at target | push -> first call "
        "| push -> 90 % of need |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in scenarios:
        for r in _ordered([r for r in report["scenarios"] if r["scenario"] == name]):
            if r["policy"] == "static":
                continue
            lines.append(
                f"| {name} | {_policy_name(r['policy'])} | {100 * r['served_fraction']:.2f} "
                f"| {r['seconds_under_capacity']} | {r['unit_hours']:.1f} "
                f"| {ratio_text(r.get('unit_hours_vs_oracle_at_target'))} "
                f"| {response_cell(r['first_response'], 'first_call_seconds')} "
                f"| {response_cell(r['first_response'], 'covered_seconds')} |"
            )
    return "\n".join(lines)


ECS_ON_EC2_LABELS = {
    "surge": "**surge**",
    "target-tracking": "target tracking + managed scaling",
    "oracle": "oracle (physical limit)",
}


def ecs_on_ec2_table(report: dict[str, Any]) -> str:
    rows = report.get("ecs_on_ec2", [])
    if not rows:
        return "(run the bench for the ECS-on-EC2 table)"
    lines = [
        "| scenario | policy | served % | task-seconds pending for an instance | instance-hours | vs oracle "
        "| max instances | task-hours |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {ECS_ON_EC2_LABELS.get(r['policy'], r['policy'])} "
            f"| {100 * r['served_fraction']:.2f} | {r['task_seconds_pending']:,} | {r['instance_hours']:.1f} "
            f"| {ratio_text(r.get('instance_hours_vs_oracle'))} | {r['max_instances']} | {r['unit_hours']:.1f} |"
        )
    return "\n".join(lines)


def sensitivity_table(report: dict[str, Any]) -> str:
    rows = report.get("sensitivity", [])
    if not rows:
        return "(run the full bench for the sensitivity table)"
    lines = [
        "| scenario (truth) | policy | 0.5x: served % | unit-h | 1x: served % | unit-h | 2x: served % | unit-h |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["policy"] == "static":
            continue
        cells = []
        for factor in ("0.5x", "1x", "2x"):
            cells += [f"{100 * r[factor]['served_fraction']:.2f}", f"{r[factor]['unit_hours']:.1f}"]
        lines.append(
            f"| {r['scenario']} ({r['truth_rps_per_audience']:g}) | {_policy_name(r['policy'])} | {' | '.join(cells)} |"
        )
    return "\n".join(lines)


def goals_table(report: dict[str, Any]) -> str:
    checks = report.get("goals")
    if not checks:
        return "(run the full bench for the goals)"
    lines = ["| check | figure | goal | met |", "|---|---|---|---|"]
    for c in checks:
        sign = ">=" if c["at_least"] else "<="
        lines.append(
            f"| {c['check']} | {goal_text(c, c['figure'])} | {sign} {goal_text(c, c['goal'])} | "
            f"{'yes' if c['met'] else '**no**'} |"
        )
    return "\n".join(lines)


def safety_factor_table(report: dict[str, Any]) -> str:
    rows = report.get("safety_factor")
    if not rows:
        return "(run the full bench for the safety factor's trade-off)"
    factors = [k for k in rows[0] if k not in ("scenario", "guess", "default_factor")]
    default = rows[0]["default_factor"]
    header = " | ".join(f"factor {f}" + (" (default)" if float(f) == default else "") for f in factors)
    lines = [f"| scenario | guess | {header} |", "|---|---|" + "---|" * len(factors)]
    for r in rows:
        cells = " | ".join(
            f"{100 * r[f]['served_fraction']:.2f} % / {ratio_text(r[f]['unit_hours_vs_oracle_at_target'])}"
            for f in factors
        )
        lines.append(f"| {r['scenario']} | {r['guess']} | {cells} |")
    return "\n".join(lines)


def first_response_table(report: dict[str, Any]) -> str:
    summary = report.get("first_response")
    if not summary:
        return "(run the full bench for the first-response distribution)"
    lines = [
        f"| from the push server's PutEvents to ({summary['seeds']} seeds per push scenario) | n | p50 | p99 | max "
        "| never |",
        "|---|---|---|---|---|---|",
    ]
    labels = {"first_call_seconds": "the first capacity API call", "covered_seconds": "90 % of the peak need covered"}
    for key, label in labels.items():
        s = summary[key]
        figures = " | ".join(seconds_text(s.get(q)) if s["n"] else "-" for q in ("p50", "p99", "max"))
        lines.append(f"| {label} | {s['n']} | {figures} | {s['never']} |")
    return "\n".join(lines)


def costs_table(report: dict[str, Any]) -> str:
    (surge,) = [r for r in report["scenarios"] if r["scenario"] == DEMO_SCENARIO and r["policy"] == "surge"]
    b = surge["monthly_cost_breakdown_usd"]
    total = surge["monthly_loop_cost_usd"]
    return "\n".join(
        [
            f"Extrapolated from the executed history of the {DEMO_SCENARIO} replay ({surge['latency']} latency): "
            f"{surge['executions']} executions, {surge['state_transitions']:,} state transitions, "
            f"{surge['lambda_invocations']:,} Lambda invocations ({surge['lambda_gb_seconds']:g} GB-s of simulated "
            f"handler time), {surge['metric_requests']} metrics requested per hour.",
            "",
            "| | Express (default) | Standard |",
            "|---|---|---|",
            f"| Step Functions | ${b['step_functions_express']:.2f} | ${b['step_functions_standard']:.2f} |",
            f"| Lambda | ${b['lambda']:.2f} | ${b['lambda']:.2f} |",
            f"| GetMetricData | ${b['get_metric_data']:.2f} | ${b['get_metric_data']:.2f} |",
            f"| **total per month** | **${total['EXPRESS']:.2f}** | **${total['STANDARD']:.2f}** |",
        ]
    )


def _measured_fleets(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for row in report.get("fleet", []) if "iterations" in row]


def fleet_table(report: dict[str, Any]) -> str:
    rows = report.get("fleet", [])
    if not rows:
        return "(run the full bench for the fleet)"
    lines = [
        "| targets | per shard | executions | iterations | largest state | of the 256 KiB quota "
        "| state bytes per iteration | work per iteration p50 / max | Lambda GB-s per iteration "
        "| simulated s per wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "iterations" not in r:
            lines.append(f"| {r['targets']} | | {r['outcome']} | | | | | | | |")
            continue
        lines.append(
            f"| {r['targets']} | {r['targets_per_shard']} | {r['outcome']} | {r['iterations']} in {r['minutes']} min "
            f"| {r['max_state_bytes']:,} B | {r['max_state_bytes'] / 262_144:.0%} "
            f"| {r['state_bytes_per_iteration']:,} B "
            f"| {r['iteration_work_seconds_p50']} s / {r['iteration_work_seconds_max']} s "
            f"| {r['lambda_gb_seconds_per_iteration']} | {r['simulated_seconds_per_wall_second']} |"
        )
    sharded = [r for r in _measured_fleets(report) if r["targets_per_shard"] < r["targets"] or r["targets"] == 1]
    if len(sharded) >= 2:
        small, large = sharded[0], sharded[-1]
        lines += [
            "",
            f"The largest state: {small['max_state_bytes']:,} B at {small['targets']} target(s), "
            f"{large['max_state_bytes']:,} B at {large['targets']} targets: no state carries more than one shard's "
            "targets, so it no longer grows with the fleet.",
        ]
    hour = next(
        (r for r in report.get("scenarios", []) if r["scenario"] == "noisy-flat" and r["policy"] == "surge"), None
    )
    if hour is not None and hour["sim_hours_per_wall_minute"] > 0:
        speed = hour["sim_hours_per_wall_minute"]  # bench/run.py's, from the scenario's own duration
        lines += [
            "",
            "One simulated hour of one target at a 5 s loop (`noisy-flat`, `surge`: the real state machine, latency "
            f"typical) replays in {60 / speed:.1f} s of wall time, set-up included "
            f"({speed * 60:.0f} simulated s per wall s)" + _machine_text(report) + ".",
        ]
    split = report.get("hour_breakdown")
    if split is not None and split["wall_seconds"] > 0:
        lines += ["", _breakdown_text(split)]
    one_task = next((r for r in _measured_fleets(report) if r["targets_per_shard"] >= r["targets"] > 1), None)
    same = next((r for r in sharded if one_task is not None and r["targets"] == one_task["targets"]), None)
    if one_task is not None and same is not None:
        lines += [
            "",
            f"The fan-out, measured on {one_task['targets']} targets: in one shard (one ReadSignals, DecideCapacity "
            f"and ApplyCapacity for all of them, the single batched task) the largest state is "
            f"{one_task['max_state_bytes']:,} B and an iteration's work takes "
            f"{one_task['iteration_work_seconds_p50']} s (p50) / {one_task['iteration_work_seconds_max']} s (max), "
            f"{one_task['lambda_gb_seconds_per_iteration']} "
            f"GB-s; in shards of {same['targets_per_shard']}: {same['max_state_bytes']:,} B, "
            f"{same['iteration_work_seconds_p50']} s / {same['iteration_work_seconds_max']} s, "
            f"{same['lambda_gb_seconds_per_iteration']} GB-s.",
        ]
    return "\n".join(lines)


def _machine_text(report: dict[str, Any]) -> str:
    """The machine the speed figures come from (bench/run.py's reference loop), or nothing for an older report."""
    machine = report.get("machine")
    if not machine:
        return ""
    return (
        f", on a machine that runs {machine['reference_loop_iterations'] / 1e6:.0f} million empty Python loop "
        f"iterations in {machine['reference_loop_seconds']:.2f} s ({machine['cpus']} CPUs; the replay is CPU-bound "
        "Python, so its wall time moves with that figure from one machine to another)"
    )


def _breakdown_text(split: dict[str, Any]) -> str:
    """Where the hour replay's wall time goes (bench/breakdown.py: one more replay of it, timers on)."""
    wall = split["wall_seconds"]

    def part(key: str) -> str:
        return f"{split[key]:.1f} s ({100 * split[key] / wall:.0f} %)"

    return (
        f"Where that time goes (bench/breakdown.py, one more replay of the same hour with timers on: {wall:.1f} s): "
        f"{part('handler_aws_seconds')} in the {split['handler_aws_calls']:,} AWS calls the handlers make "
        f"({split['handler_aws_ms_per_call']:.1f} ms each through boto3 into moto, request and response included), "
        f"{part('handler_code_seconds')} in the handlers' own code ({split['handler_runs']:,} runs: Powertools, "
        f"pydantic, the decision core), {part('rest_seconds')} in the rest (moto's Step Functions interpreter "
        f"running the ASL over {split['state_transitions']:,} transitions, the harness's clock and threads, the "
        f"world) and {part('outside_aws_seconds')} in AWS calls outside handlers (set-up, the world's metrics). "
        f"With every AWS call free the hour would still take {split['wall_without_aws_calls_seconds']:.1f} s."
    )


def _priced_fleets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The cost table's columns: the fleets in shards of the default size (not the one-task comparison)."""
    rows = _measured_fleets(report)
    default = min((r["targets_per_shard"] for r in rows), default=0)
    return [r for r in rows if r["targets_per_shard"] == default]


def stack_costs_table(report: dict[str, Any]) -> str:
    rows = _priced_fleets(report)
    if not rows:
        return "(run the full bench for the stack's costs)"
    header = " | ".join(f"{r['targets']} target{'s' if r['targets'] != 1 else ''}" for r in rows)
    lines = [f"| per month | {header} |", "|---|" + "---|" * len(rows)]
    for key, label in COST_LINES.items():
        lines.append(f"| {label} | " + " | ".join(f"${r['monthly_cost_usd'][key]:,.2f}" for r in rows) + " |")
    lines.append("| **total** | " + " | ".join(f"**${r['monthly_cost_usd']['total']:,.2f}**" for r in rows) + " |")
    lines.append(
        "| (scaler logs with execution data instead: `ScalerExecutionData=true`) | "
        + " | ".join(f"${r['logs_with_execution_data_usd']:,.2f}" for r in rows)
        + " |"
    )
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[dict[str, Any]], str]] = {
    "demo": demo_table,
    "idealised": idealised_sentence,
    "latency": lambda report: latency_table(),
    "bench": bench_table,
    "ecs-on-ec2": ecs_on_ec2_table,
    "sensitivity": sensitivity_table,
    "first-response": first_response_table,
    "goals": goals_table,
    "safety-factor": safety_factor_table,
    "costs": costs_table,
    "fleet": fleet_table,
    "stack-costs": stack_costs_table,
}


def rewrite(readme: str, report: dict[str, Any]) -> str:
    for name, build in BLOCKS.items():
        pattern = re.compile(rf"(<!-- figures:{name} -->\n)(?:.*?\n)?(<!-- /figures:{name} -->)", re.DOTALL)
        if not pattern.search(readme):
            raise SystemExit(f"README has no <!-- figures:{name} --> block")
        text = build(report)
        readme = pattern.sub(lambda m, text=text: m.group(1) + text + "\n" + m.group(2), readme)
    return readme


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    import json

    report = json.loads(Path(argv[0]).read_text())
    path = Path(argv[1]) if len(argv) > 1 else ROOT / "README.md"
    path.write_text(rewrite(path.read_text(), report))
    print(f"rewrote {', '.join(BLOCKS)} in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
