"""`surge decisions`: every recent decision, the no-change ones too, with its reason ("why didn't it scale?").

    surge decisions [--stack S] [--target T] [--since 1h] [--json]

The journal keeps applied changes only. Every decision, changing or not, is one line DecideCapacity logs (INFO,
Powertools JSON: the decision, the route and the execution it decided in) for both state machines: the loop's
every iteration and each push. So this reads the DecideCapacity function's log group (the stack output
`DecisionLogGroupName`) and writes nothing anywhere: no extra DynamoDB write per iteration, and it works with the
scaler's default `ScalerExecutionData=false` (the state machines' own logs then carry no state output). Lines
arrive seconds late (best-effort delivery), and go with the group's retention (LogRetentionDays, 30 days).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import boto3
import typer

from surge.core.errors import InvalidInputError
from surge_cli.control_cli import JsonOption, StackOption, TargetOption, deployed
from surge_cli.deployed import SETUP_EXIT_CODE, one_line_aws_errors, stack_outputs, utc_text
from surge_cli.execution_logs import read_json_events, state_machine_arn_of
from surge_cli.ops_cli import check_target, parse_since

LOG_GROUP_OUTPUT = "DecisionLogGroupName"
SOURCES = {"ScalerStateMachineArn": "loop", "PushFastPathStateMachineArn": "push"}
PATTERN = "{ $.decision.target_id = * }"


def _source(execution_id: object, machines: Mapping[str, str]) -> str:
    try:
        return machines.get(state_machine_arn_of(str(execution_id)), "other")
    except ValueError:
        return "other"  # a direct invocation (no execution)


def decision_row(line: Mapping[str, Any], timestamp_ms: int, machines: Mapping[str, str]) -> dict[str, Any] | None:
    """One DecideCapacity log line as a row, or None for any other line."""
    decision = line.get("decision")
    if not isinstance(decision, Mapping) or "target_id" not in decision:
        return None
    return {
        "at": utc_text(datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)),
        "source": _source(line.get("execution_id"), machines),
        "execution_arn": line.get("execution_id"),
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


def read_decisions(logs: Any, log_group: str, machines: Mapping[str, str], start: datetime) -> Iterator[dict[str, Any]]:
    """Every decision DecideCapacity logged since `start`, in log order."""
    for line, timestamp_ms in read_json_events(logs, log_group, start=start, pattern=PATTERN):
        row = decision_row(line, timestamp_ms, machines)
        if row is not None:
            yield row


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
            outputs = stack_outputs(stack, (*SOURCES, LOG_GROUP_OUTPUT))
            if target is not None:
                check_target(target, [t.id for t in deployed(stack, None, None).config.targets])
        except InvalidInputError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(SETUP_EXIT_CODE) from error
        machines = {outputs[key]: source for key, source in SOURCES.items()}
        found = read_decisions(boto3.client("logs"), outputs[LOG_GROUP_OUTPUT], machines, start)
        rows = sorted(found, key=lambda row: (row["at"], row["source"]))
    rows = [row for row in rows if target is None or row["target_id"] == target]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    if not rows:
        typer.echo(f"no decision logged since {utc_text(start)} (logs arrive seconds late)")
    for row in rows:
        typer.echo(_line(row))
