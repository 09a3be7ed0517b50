"""The `surge` command. Each sub-command is one function registered on `app`.

Add a command with `@app.command()` here (or `app.add_typer(...)` for a group); keep its logic in its own
module, as `replay` keeps its logic in `surge_cli.replay`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from surge_cli.calendar_cli import calendar_app
from surge_cli.config_cli import config_app
from surge_cli.control_cli import hold_app, pause_command, paused_command, resume_command
from surge_cli.decisions_cli import decisions_command
from surge_cli.doctor_cli import doctor_command
from surge_cli.graph import graph_command
from surge_cli.localaws.latency import PROFILE_NAMES
from surge_cli.ops_cli import journal_command, push_app
from surge_cli.replay.output import print_table, write_plot, write_timeline
from surge_cli.replay.policies import ProgressCallback
from surge_cli.replay.run import POLICY_CHOICES, policy_names, replay
from surge_cli.replay.scenario import ScenarioError, load_scenario
from surge_cli.sandbox_cli import sandbox_command
from surge_cli.scenario_cli import scenario_app
from surge_cli.status_cli import status_command

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Surge: sub-minute, event-driven autoscaling.")

INVALID_INPUT_EXIT_CODE = 2

PolicyChoice = StrEnum("PolicyChoice", {name: name for name in POLICY_CHOICES})  # type: ignore[misc]
DEFAULT_POLICY = PolicyChoice("all")
LatencyChoice = StrEnum("LatencyChoice", {name: name for name in PROFILE_NAMES})  # type: ignore[misc]


DISTRIBUTION = "surge-autoscaler"


def _print_version(requested: bool) -> None:
    if not requested:
        return
    try:
        installed = version(DISTRIBUTION)
    except PackageNotFoundError:
        installed = f"unknown (the {DISTRIBUTION} package is not installed: run make install)"
    typer.echo(f"surge {installed}")
    raise typer.Exit(0)


@app.callback()
def main(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="print the installed version and exit"),
    ] = False,
) -> None:
    """Surge: sub-minute, event-driven autoscaling for ECS services and EC2 Auto Scaling groups."""


@app.command("replay")
def replay_command(
    scenario_path: Annotated[Path, typer.Argument(metavar="SCENARIO.json", help="scenario file")],
    policy: Annotated[PolicyChoice, typer.Option(help="policy to replay, or all")] = DEFAULT_POLICY,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object instead of a table")] = False,
    timeline: Annotated[Path | None, typer.Option(help="write a per-second CSV timeline")] = None,
    plot: Annotated[Path | None, typer.Option(help="write a PNG plot")] = None,
    latency: Annotated[
        LatencyChoice | None,
        typer.Option(help="override the scenario's config.latency (none = the idealised world, for comparison)"),
    ] = None,
) -> None:
    """Replay a traffic scenario through Surge's real state machine and the baseline policies."""
    errors = Console(stderr=True)
    try:
        loaded = load_scenario(scenario_path)
        if latency is not None:
            loaded = loaded.with_config(latency=str(latency.value))
        names = policy_names(str(policy.value), loaded)
    except ScenarioError as error:
        errors.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(INVALID_INPUT_EXIT_CODE) from error
    for note in loaded.notes:
        errors.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    with _progress(errors, loaded.scenario.duration_seconds) as progress_for:
        runs, results = replay(loaded, names, progress_for)
    if timeline is not None:
        write_timeline(timeline, runs)
    if plot is not None:
        write_plot(plot, loaded, runs)
    if as_json:
        document = {"scenario": loaded.scenario.name, "latency": loaded.scenario.config.latency, "results": results}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        print_table(
            Console(width=None if sys.stdout.isatty() else 140),
            f"{loaded.scenario.name} ({loaded.scenario.duration_seconds} s)",
            results,
        )


def _no_progress(name: str) -> ProgressCallback | None:
    return None


@contextmanager
def _progress(console: Console, total_seconds: int) -> Iterator[Callable[[str], ProgressCallback | None]]:
    """A progress bar per policy on stderr (shown only on a terminal)."""
    if not console.is_terminal:
        yield _no_progress
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} s"))
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:

        def progress_for(name: str) -> ProgressCallback:
            task = progress.add_task(name, total=total_seconds)
            return lambda done: progress.update(task, completed=done)

        yield progress_for


app.add_typer(calendar_app, name="calendar", help="Pre-announced events: add, list, remove, import-ics.")
app.add_typer(
    scenario_app,
    name="scenario",
    help="Build a replay scenario from ALB access logs or CloudWatch get-metric-data output.",
)
app.add_typer(push_app, name="push")
app.add_typer(config_app, name="config")
app.command("journal")(journal_command)
app.command("graph")(graph_command)
app.command("pause")(pause_command)
app.command("resume")(resume_command)
app.command("paused")(paused_command)
app.add_typer(hold_app, name="hold")
app.command("status")(status_command)
app.command("decisions")(decisions_command)
app.command("doctor")(doctor_command)
app.command("sandbox")(sandbox_command)


if __name__ == "__main__":
    app()
