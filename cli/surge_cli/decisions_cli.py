"""`surge decisions`: every recent decision, the no-change ones too, with its reason ("why didn't it scale?").

    surge decisions [--stack S] [--target T] [--since 1h] [--json]

The journal keeps applied changes only. Every decision, changing or not, is in the output of the DecideCapacity
state that both state machines log at level ALL with execution data (the template's Logging): the loop's every
iteration and each push. So this reads the DecideCapacity TaskStateExited records of the scaler's and the push
fast path's log groups (`surge_cli.execution_logs`), and writes nothing anywhere: no extra DynamoDB write per
iteration for a record the logs already hold. Records arrive seconds late (best-effort delivery), and go with the
groups' retention (LogRetentionDays, 30 days by default).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import boto3
import typer

from surge.core.errors import InvalidInputError
from surge_cli.control_cli import JsonOption, StackOption, TargetOption, deployed
from surge_cli.deployed import AWS_EXIT_CODE, SETUP_EXIT_CODE, one_line_aws_errors, stack_outputs
from surge_cli.execution_logs import (
    ExecutionLogsError,
    MachineLogging,
    describe_logging,
    event_time,
    require_level,
    task_exits,
)
from surge_cli.ops_cli import check_target, parse_since

DECIDE_STATE = "DecideCapacity"
SOURCES = {"ScalerStateMachineArn": "loop", "PushFastPathStateMachineArn": "push"}


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plan(output: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The plan in DecideCapacity's state output: the loop's output is the plan's envelope, the push path keeps
    it under `decided` (its ResultPath)."""
    for holder in (output, output.get("decided"), output.get("Payload")):
        if isinstance(holder, Mapping) and isinstance(holder.get("plan"), Mapping):
            plan: Mapping[str, Any] = holder["plan"]
            return plan
    return None


def decisions_in(record: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    """The decisions of one DecideCapacity TaskStateExited record, one row each."""
    try:
        output = json.loads(record["details"]["output"])
    except (KeyError, TypeError, ValueError):
        return []
    plan = _plan(output) if isinstance(output, Mapping) else None
    if plan is None:
        return []
    at = _utc(event_time(record))
    return [
        {
            "at": at,
            "source": source,
            "execution_arn": record["execution_arn"],
            "target_id": decision.get("target_id"),
            "action": decision.get("action"),
            "reason": decision.get("reason"),
            "winner": decision.get("winner"),
            "current_desired_units": decision.get("current_desired_units"),
            "desired_units": decision.get("desired_units"),
            "demand_rps": decision.get("demand_rps"),
            "dry_run": decision.get("dry_run", False),
            "explanation": decision.get("explanation"),
        }
        for decision in plan.get("decisions", [])
        if isinstance(decision, Mapping)
    ]


def read_decisions(logs: Any, machines: list[tuple[str, MachineLogging]], start: datetime) -> list[dict[str, Any]]:
    """Every decision both state machines logged since `start`, oldest first."""
    rows: list[dict[str, Any]] = []
    for source, machine in machines:
        require_level(machine, "ALL", "surge decisions")
        if not machine.include_execution_data:
            raise ExecutionLogsError(
                f"{machine.name} logs without execution data (IncludeExecutionData false): its decisions are not "
                "in the log group (set IncludeExecutionData true)"
            )
        assert machine.log_group is not None
        for record in task_exits(logs, machine.log_group, DECIDE_STATE, start=start):
            rows.extend(decisions_in(record, source))
    return sorted(rows, key=lambda row: (row["at"], row["source"]))


def _line(row: Mapping[str, Any]) -> str:
    change = f"{row['current_desired_units']} -> {row['desired_units']}"
    flag = " [dry run]" if row["dry_run"] else ""
    head = f"{row['at']} {row['target_id']} {row['source']}: {row['action']} {change} [{row['reason']}]{flag}"
    return f"{head}: {row['explanation']}"


def decisions_command(
    target: TargetOption = None,
    stack: StackOption = "surge",
    since: Annotated[str, typer.Option(help="how far back: 30m, 2h, 1d, or an aware ISO 8601 instant")] = "1h",
    as_json: JsonOption = False,
) -> None:
    """Every recent decision of the loop and the push path, the no-change ones too, with its reason."""
    now = datetime.now(UTC)
    try:
        start = parse_since(since, now)
    except InvalidInputError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(SETUP_EXIT_CODE) from error
    with one_line_aws_errors():
        try:
            outputs = stack_outputs(stack, tuple(SOURCES))
            if target is not None:
                check_target(target, [t.id for t in deployed(stack, None, None).config.targets])
        except InvalidInputError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(SETUP_EXIT_CODE) from error
        stepfunctions, logs = boto3.client("stepfunctions"), boto3.client("logs")
        machines = [(source, describe_logging(outputs[key], stepfunctions)) for key, source in SOURCES.items()]
        try:
            rows = read_decisions(logs, machines, start)
        except ExecutionLogsError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(AWS_EXIT_CODE) from error
    rows = [row for row in rows if target is None or row["target_id"] == target]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    if not rows:
        typer.echo(f"no decision logged since {_utc(start)} (logs arrive seconds late)")
    for row in rows:
        typer.echo(_line(row))
