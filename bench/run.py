"""`make bench`: every bundled scenario under every policy, one table, and the replay speed.

Usage: python bench/run.py [--scenarios DIR] [--json FILE]
Speed is simulated hours replayed per wall-clock minute, per policy (surge runs the real state machine).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from surge_cli.replay.output import KPI_COLUMNS, kpi_cells
from surge_cli.replay.policies import POLICIES
from surge_cli.replay.run import replay
from surge_cli.replay.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", type=Path, default=ROOT / "scenarios")
    parser.add_argument("--json", type=Path, default=None, help="also write every result as JSON")
    args = parser.parse_args(argv)
    console = Console(width=160)
    table = Table(title="Surge replay bench")
    for column in ("scenario", *KPI_COLUMNS, "loop $/month E/S", "sim h per wall min"):
        table.add_column(column, justify="left" if column in ("scenario", "policy") else "right")
    everything: list[dict[str, Any]] = []
    for path in sorted(args.scenarios.glob("*.json")):
        loaded = load_scenario(path)
        _, results = replay(loaded, list(POLICIES))
        hours = loaded.scenario.duration_seconds / 3600
        for result in results:
            speed = hours / (result["replay_wall_seconds"] / 60) if result["replay_wall_seconds"] > 0 else float("inf")
            table.add_row(*_row(loaded.scenario.name, result, speed))
            everything.append({"scenario": loaded.scenario.name, **result, "sim_hours_per_wall_minute": speed})
        console.print(f"replayed {path.name}", style="dim")
    console.print(table)
    if args.json is not None:
        args.json.write_text(json.dumps(everything, indent=2) + "\n")
    return 0


def _row(scenario: str, result: dict[str, Any], speed: float) -> list[str]:
    cost = result.get("monthly_loop_cost_usd")
    return [
        scenario,
        *kpi_cells(result),
        f"{cost['EXPRESS']:.2f} / {cost['STANDARD']:.2f}" if cost else "",
        "inf" if speed == float("inf") else f"{speed:,.1f}",
    ]


if __name__ == "__main__":
    sys.exit(main())
