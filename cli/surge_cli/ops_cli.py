"""Operator commands against a deployed stack: `surge push` and `surge journal`."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated, NoReturn

import boto3
import typer
from rich.console import Console
from rich.table import Table

from surge.adapters import store
from surge.adapters.config_source import EffectiveConfig, load_effective_config
from surge.adapters.errors import ConfigInvalidError
from surge.core.errors import InvalidInputError
from surge.core.plan import AppliedChange
from surge_cli.deployed import AWS_EXIT_CODE, one_line_aws_errors, stack_outputs
from surge_cli.push_client import push_detail, send_push
from surge_cli.push_outcome import before_sending, wait_for_outcome
from surge_cli.redrive import redrive_pushes

INVALID_INPUT_EXIT_CODE = 2
FILE_WIDTH = 10_000
"""Columns of a table written to a file or a pipe: wide enough that rich never cuts or wraps a cell."""
CONFIG_OUTPUTS = ("ConfigParameterName", "OperatorConfigParameterName", "SurgeTableName")
MIN_WAIT_SECONDS, DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS = 1, 30, 600


def output_console() -> Console:
    """stdout: the terminal's width on a terminal; elsewhere (`surge journal > file`) every column in full."""
    return Console(width=None if sys.stdout.isatty() else FILE_WIDTH)


def stack_config(outputs: dict[str, str]) -> EffectiveConfig:
    """The configuration the stack's loop uses (its two documents, merged), or one line and exit 1."""
    try:
        return load_effective_config(
            outputs["ConfigParameterName"], outputs["OperatorConfigParameterName"], table=outputs["SurgeTableName"]
        )
    except ConfigInvalidError as error:
        Console(stderr=True).print(
            f"error: {error} (the loop stops with CannotStartLoop until it is fixed)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(AWS_EXIT_CODE) from error


def check_target(target: str, known: list[str]) -> None:
    if target not in known:
        raise InvalidInputError(f"--target: unknown target {target!r}; known targets: {', '.join(known) or 'none'}")


DURATION = re.compile(r"^(\d+)([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_since(value: str, now: datetime) -> datetime:
    """`90m`, `2h`, `1d` ago, or an aware ISO 8601 instant."""
    match = DURATION.match(value)
    if match:
        return now - timedelta(seconds=int(match.group(1)) * UNIT_SECONDS[match.group(2)])
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"--since: {value!r} is neither a duration (30m, 2h, 1d) nor ISO 8601") from None
    if moment.tzinfo is None:
        raise InvalidInputError(f"--since: {value!r} needs a UTC offset (e.g. 2026-01-21T11:00:00+09:00)")
    return moment.astimezone(UTC)


push_app = typer.Typer(
    no_args_is_help=False, invoke_without_command=True, help="Put a PushSent event on the bus; `redrive` the parked."
)


@push_app.callback()
def push_command(
    ctx: typer.Context,
    audience: Annotated[int | None, typer.Option(help="people notified")] = None,
    push_id: Annotated[
        str | None, typer.Option("--id", help="the push's unique id (a duplicate changes nothing)")
    ] = None,
    target: Annotated[str | None, typer.Option(help="target id (default: every target)")] = None,
    stack: Annotated[
        str, typer.Option(help="deployed stack name: its bus, its PushEventSource and its targets are used")
    ] = "surge",
    wait: Annotated[
        bool, typer.Option("--wait", help="then wait for the fast path's outcome: scaled, already handled, rejected")
    ] = False,
    wait_seconds: Annotated[
        int, typer.Option(help=f"with --wait: give up after this long ({MIN_WAIT_SECONDS}..{MAX_WAIT_SECONDS})")
    ] = DEFAULT_WAIT_SECONDS,
) -> None:
    """Put a PushSent event on the Surge bus, as a push server does (`surge push redrive --help` for the other)."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        if audience is None or push_id is None:
            raise InvalidInputError("--audience and --id are required to send a push")
        if not MIN_WAIT_SECONDS <= wait_seconds <= MAX_WAIT_SECONDS:
            raise InvalidInputError(
                f"--wait-seconds: {wait_seconds} is outside {MIN_WAIT_SECONDS}..{MAX_WAIT_SECONDS} (seconds)"
            )
        push_detail(audience=audience, push_id=push_id, target_id=target)  # bad input: nothing asked of AWS
        with one_line_aws_errors():
            configured = target is not None or wait
            needed = ("SurgeBusName", "PushEventSource", *(CONFIG_OUTPUTS if configured else ()))
            if wait:
                needed += ("SurgeTableName",)
            outputs = stack_outputs(stack, needed)
            targets = stack_config(outputs).config.targets if configured else []
            if target is not None:
                # The fast path rejects a push for a target its configuration does not list: say so here.
                check_target(target, [t.id for t in targets])
                targets = [t for t in targets if t.id == target]
            # A hold already there makes this delivery a duplicate: read before sending, or it would be ours.
            before = before_sending(outputs["SurgeTableName"], push_id, targets) if wait else None
            bus_name = outputs["SurgeBusName"]
            sent_at = datetime.now(UTC)
            event_id = send_push(
                audience=audience,
                push_id=push_id,
                bus_name=bus_name,
                source=outputs["PushEventSource"],
                target_id=target,
            )
            typer.echo(f"PushSent {push_id} ({audience:,} notified) put on {bus_name}: event {event_id}")
            if before is None:
                return
            outcome = wait_for_outcome(
                table=outputs["SurgeTableName"],
                event_id=event_id,
                push_id=push_id,
                targets=targets,
                before=before,
                sent_at=sent_at,
                wait_seconds=wait_seconds,
            )
    except InvalidInputError as error:
        _fail(error)
    if outcome is None:
        typer.echo(
            f"error: push {push_id}: no outcome recorded within {wait_seconds} s (no hold, no rejection yet): "
            "see the PushFastPath log group and the push dead-letter queue",
            err=True,
        )
        raise typer.Exit(AWS_EXIT_CODE)
    typer.echo(outcome.line)
    if not outcome.ok:
        raise typer.Exit(AWS_EXIT_CODE)


@push_app.command("redrive")
def redrive_command(
    stack: Annotated[str, typer.Option(help="deployed stack name (its bus and dead-letter queue are used)")] = "surge",
    max_age: Annotated[str, typer.Option(help="leave pushes older than this (their spike is over): 30m, 2h")] = "30m",
) -> None:
    """Put the pushes parked in the push dead-letter queue back on the bus (rejected events stay)."""
    now = datetime.now(UTC)
    with one_line_aws_errors():
        try:
            age = now - parse_since(max_age, now)
            outputs = stack_outputs(stack, ("SurgeBusName", "PushDeadLetterQueueUrl"))
        except InvalidInputError as error:
            _fail(error)
        report = redrive_pushes(
            queue_url=outputs["PushDeadLetterQueueUrl"],
            bus_name=outputs["SurgeBusName"],
            now=now,
            max_age=age,
            sqs=boto3.client("sqs"),
            events=boto3.client("events"),
        )
    typer.echo(f"redriven: {len(report.redriven)} ({', '.join(report.redriven) or 'none'})")
    if report.too_old_left:
        typer.echo(f"left, older than {max_age}: {len(report.too_old_left)} ({', '.join(report.too_old_left)})")
    if report.rejected_left or report.unreadable_left:
        typer.echo(
            f"left: {report.rejected_left} rejected (see each message's reason), {report.unreadable_left} unreadable"
        )


def _fail(error: InvalidInputError) -> NoReturn:
    Console(stderr=True).print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(INVALID_INPUT_EXIT_CODE) from error


def journal_table(entries: list[AppliedChange]) -> Table:
    table = Table(title="Surge journal")
    for column in ("time (UTC)", "target", "change", "action", "reason", "signal", "dry run", "explanation"):
        table.add_column(column)
    for entry in entries:
        decision = entry.decision
        table.add_row(
            entry.applied_at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.target_id,
            f"{entry.from_units} -> {entry.to_units}",
            decision.action.value,
            decision.reason.value,
            decision.winner.value,
            "yes" if entry.dry_run else "",
            decision.explanation,
        )
    return table


def journal_command(
    since: Annotated[str, typer.Option(help="how far back: 30m, 2h, 1d, or an aware ISO 8601 instant")] = "1d",
    stack: Annotated[str, typer.Option(help="deployed stack name")] = "surge",
    target: Annotated[str | None, typer.Option(help="only this target's changes")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON Lines: one JSON object per change, oldest first (no table)")
    ] = False,
) -> None:
    """List every change Surge applied (or, in dry-run, would have applied), oldest first."""
    now = datetime.now(UTC)
    try:
        start = parse_since(since, now)
    except InvalidInputError as error:
        _fail(error)
    with one_line_aws_errors():
        try:
            outputs = stack_outputs(stack, ("SurgeTableName", *(CONFIG_OUTPUTS if target is not None else ())))
        except InvalidInputError as error:
            _fail(error)
        entries = store.read_journal(outputs["SurgeTableName"], start, now)
        if target is not None:
            # Known: every target configured now, and any the journal names (a target removed since).
            configured = [t.id for t in stack_config(outputs).config.targets]
            known = configured + sorted({e.target_id for e in entries} - set(configured))
            try:
                check_target(target, known)
            except InvalidInputError as error:
                _fail(error)
            entries = [e for e in entries if e.target_id == target]
    if as_json:
        sys.stdout.write("".join(entry.model_dump_json() + "\n" for entry in entries))
    else:
        output_console().print(journal_table(entries))
