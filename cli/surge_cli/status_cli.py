"""`surge status`: what Surge thinks right now, per target, from the same signals and the same core the loop uses.

    surge status [--stack S] [--target T] [--json] [--watch SECONDS]

Each target's signals are read as ReadSignals reads them (request metrics, capacity, holds, calendar, pause) and
decided by `surge.core.decision.decide` at the command's clock: the line says what the loop would decide now and
why, even when that is "no change". It changes nothing (read-only calls only).

The loop's health: its last iteration (the newest DecideCapacity exit in the scaler's log group over the last
LAST_ITERATION_WINDOW_SECONDS: the loop runs DecideCapacity once an iteration; the lease item is written once
per execution, not per iteration, so it cannot say when the loop last decided), and the executions failed in the
last hour (AWS/States ExecutionsFailed from CloudWatch; when that metric has no datapoint, as on moto where
nothing publishes it, the ExecutionFailed/TimedOut/Aborted records of the log group, and the source says which).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import boto3
import click
import typer

from surge.adapters import capacity, store
from surge.adapters.metrics_reader import read_request_metrics
from surge.core.config import SurgeConfig, TargetConfig
from surge.core.decision import decide, event_is_active, hold_is_active, window_peak_rps
from surge.core.errors import InvalidInputError
from surge.core.response import response_lookback_start
from surge.core.signals import CalendarEvent, RateSample, TargetSignals
from surge.steps import RESPONSE_LOOKBACK_SECONDS, target_signals
from surge_cli.control_cli import (
    JsonOption,
    ParameterOption,
    StackOption,
    TableOption,
    TargetOption,
    deployed_targets,
    sizing_text,
)
from surge_cli.deployed import one_line_aws_errors, stack_outputs, utc_text
from surge_cli.execution_logs import (
    ExecutionLogsError,
    describe_logging,
    event_time,
    failed_executions,
    require_level,
    task_exits,
)

LAST_ITERATION_WINDOW_SECONDS = 600
FAILED_WINDOW_SECONDS = 3_600
_sleep = time.sleep  # tests replace it: `--watch` waits between two redraws


def _utc(moment: datetime | None) -> str | None:
    return None if moment is None else utc_text(moment)


def _local(moment: datetime, time_zone: str) -> str:
    return moment.astimezone(ZoneInfo(time_zone)).strftime(f"%Y-%m-%d %H:%M {time_zone}")


def _newest_end(samples: list[RateSample]) -> datetime | None:
    return max((s.end for s in samples), default=None)


def _event_row(event: CalendarEvent) -> dict[str, Any]:
    return {
        "entry_id": event.entry_id,
        "name": event.name,
        "units": event.units,
        "start": _local(event.start_at, event.time_zone),
        "end": _local(event.end_at, event.time_zone),
        "start_utc": _utc(event.start_at),
        "end_utc": _utc(event.end_at),
        "prescale_from_utc": _utc(event.active_from),
    }


def target_status(
    target: TargetConfig, signals: TargetSignals, now: datetime, calibration: list[float], capacity_error: str | None
) -> dict[str, Any]:
    """One target's status: the decision the loop would make now, and the signals behind it."""
    decision = decide(target, signals, now)
    cooldown_start = now - timedelta(seconds=target.scaling.scale_in_cooldown_seconds)
    peak = window_peak_rps(signals, target.scaling, cooldown_start, now)
    samples = signals.high_resolution_samples or signals.request_samples
    newest = _newest_end(samples)
    upcoming = sorted((e for e in signals.calendar if now < e.active_from), key=lambda e: e.active_from)
    found = signals.capacity
    return {
        "target_id": target.id,
        "kind": target.kind.value,
        "desired_units": found.desired_units if found is not None else None,
        "running_units": found.in_service_units if found is not None else None,
        "surge_wants_units": decision.desired_units,
        "action": decision.action.value,
        "reason": decision.reason.value,
        "winner": decision.winner.value,
        "explanation": decision.explanation,
        "demand_rps": decision.demand_rps,
        "demand_source": decision.demand_source,
        "demand_age_seconds": None if newest is None else round((now - newest).total_seconds()),
        "signal_problems": {
            key: value
            for key, value in (
                ("metrics", signals.metric_error),
                ("table", signals.store_error),
                ("capacity", capacity_error),
            )
            if value is not None
        },
        "holds": [
            {
                "push_id": hold.push_id,
                "units": hold.units,
                "min_until": _utc(hold.min_until),
                "max_until": _utc(hold.max_until),
                "sizing": sizing_text(hold),
            }
            for hold in signals.holds
            if hold_is_active(hold, now, peak)
        ],
        "calendar_active": [_event_row(e) for e in signals.calendar if event_is_active(e, now)],
        "calendar_next": _event_row(upcoming[0]) if upcoming else None,
        "scale_in_allowed_at": _utc(decision.scale_in_allowed_at),
        "paused": None
        if signals.pause is None
        else {"since": _utc(signals.pause.paused_at), "by": signals.pause.paused_by, "reason": signals.pause.reason},
        "dry_run": target.scaling.dry_run,
        "dry_run_shadow_units": signals.state.shadow.desired_units if signals.state.shadow is not None else None,
        "calibration_rps_per_audience": calibration,
    }


def read_status(table: str, config: SurgeConfig, now: datetime) -> dict[str, Any]:
    """Every target's status and the loop's lease, read with the loop's own adapters (read-only)."""
    items = {t.id: store.read_target_items(table, t.id) for t in config.targets}
    since = response_lookback_start([h for i in items.values() for h in i.holds], now, RESPONSE_LOOKBACK_SECONDS)
    readings = read_request_metrics(config, now, since=since)
    current = capacity.read_capacity(config)
    targets = []
    for target in config.targets:
        found = items[target.id]
        # Every entry, not only those within the loop's horizon: status shows the next event too.
        signals = target_signals(target, readings, current, found, found.calendar, dry_run=target.scaling.dry_run)
        observations = store.read_calibration(table, target.id).observations if found.error is None else []
        targets.append(target_status(target, signals, now, list(observations), current.errors.get(target.id)))
    return {"at": _utc(now), "loop": {"lease_owner": store.lease_owner(table)}, "targets": targets}


def executions_failed(
    cloudwatch: Any, logs: Any, machine_arn: str, log_group: str | None, now: datetime
) -> dict[str, Any]:
    """Executions failed over the last hour: the AWS/States ExecutionsFailed sum, or the log group's records."""
    start = now - timedelta(seconds=FAILED_WINDOW_SECONDS)
    metric = {
        "Namespace": "AWS/States",
        "MetricName": "ExecutionsFailed",
        "Dimensions": [{"Name": "StateMachineArn", "Value": machine_arn}],
    }
    results = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "failed", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}],
        StartTime=start,
        EndTime=now,
    )["MetricDataResults"]
    values = [value for result in results for value in result.get("Values", [])]
    if values:
        return {"count": round(sum(values)), "source": "AWS/States ExecutionsFailed"}
    if log_group is None:
        return {"count": None, "source": "none (no ExecutionsFailed datapoint and no log group)"}
    failed = failed_executions(logs, log_group, start=start, end=now)
    return {
        "count": len({r["execution_arn"] for r in failed}),
        "source": f"log group {log_group} (no AWS/States datapoint)",
    }


def loop_health(stack: str, now: datetime) -> dict[str, Any]:
    """The loop's last iteration and its failed executions (see the module's docstring); what cannot be read is
    said in `problem` instead of failing the whole status."""
    try:
        machine_arn = stack_outputs(stack, ("ScalerStateMachineArn",))["ScalerStateMachineArn"]
    except InvalidInputError as error:
        return {"problem": str(error)}
    machine = describe_logging(machine_arn, boto3.client("stepfunctions"))
    logs = boto3.client("logs")
    health: dict[str, Any] = {
        "last_iteration_at": None,
        "last_iteration_age_seconds": None,
        "last_iteration_execution": None,
    }
    try:
        require_level(machine, "ALL", "the last iteration")
        assert machine.log_group is not None
        start = now - timedelta(seconds=LAST_ITERATION_WINDOW_SECONDS)
        newest = max(task_exits(logs, machine.log_group, "DecideCapacity", start=start), key=event_time, default=None)
        if newest is not None:
            health["last_iteration_at"] = _utc(event_time(newest))
            health["last_iteration_age_seconds"] = round((now - event_time(newest)).total_seconds())
            health["last_iteration_execution"] = newest["execution_arn"]
    except ExecutionLogsError as error:
        health["problem"] = str(error)
    health["executions_failed_last_hour"] = executions_failed(
        boto3.client("cloudwatch"), logs, machine_arn, machine.log_group, now
    )
    return health


def _loop_lines(loop: dict[str, Any]) -> list[str]:
    if "last_iteration_at" not in loop:
        return [f"loop health unknown: {loop.get('problem')}"] if loop.get("problem") else []
    window = LAST_ITERATION_WINDOW_SECONDS // 60
    last = (
        f"last iteration {loop['last_iteration_at']} ({loop['last_iteration_age_seconds']} s ago)"
        if loop["last_iteration_at"] is not None
        else f"no iteration logged in the last {window} minutes"
    )
    failed = loop["executions_failed_last_hour"]
    lines = [f"loop: {last}; executions failed in the last hour: {failed['count']} (from {failed['source']})"]
    if loop.get("problem"):
        lines.append(f"  {loop['problem']}")
    return lines


def _text(status: dict[str, Any]) -> list[str]:
    lines = [f"at {status['at']}; loop lease held by {status['loop']['lease_owner'] or 'nobody (no loop running)'}"]
    lines.extend(_loop_lines(status["loop"]))
    for row in status["targets"]:
        demand = (
            "demand unknown"
            if row["demand_rps"] is None
            else f"demand {row['demand_rps']:,.0f} rps ({row['demand_source']}, {row['demand_age_seconds']} s old)"
        )
        flags = [flag for flag, on in (("PAUSED", row["paused"] is not None), ("dry-run", row["dry_run"])) if on]
        lines.append(
            f"{row['target_id']} ({row['kind']}{', ' + ', '.join(flags) if flags else ''}): "
            f"desired {row['desired_units']}, running {row['running_units']}; Surge wants {row['surge_wants_units']} "
            f"[{row['reason']}, {row['winner']}]; {demand}"
        )
        lines.append(f"  why: {row['explanation']}")
        for hold in row["holds"]:
            lines.append(
                f"  hold {hold['push_id']}: {hold['units']} units until at least {hold['min_until']}, "
                f"at most {hold['max_until']} ({hold['sizing']})"
            )
        for event in row["calendar_active"]:
            lines.append(f"  event now: {event['name']} {event['start']} - {event['end']} ({event['units']} units)")
        if row["calendar_next"] is not None:
            event = row["calendar_next"]
            lines.append(
                f"  next event: {event['name']} {event['start']} ({event['start_utc']}), pre-scale from "
                f"{event['prescale_from_utc']}, {event['units']} units"
            )
        if row["scale_in_allowed_at"] is not None:
            lines.append(f"  scale-in allowed from {row['scale_in_allowed_at']}")
        for source, problem in row["signal_problems"].items():
            lines.append(f"  {source} unreadable: {problem}")
    return lines


def status_command(
    target: TargetOption = None,
    stack: StackOption = "surge",
    table: TableOption = None,
    config_parameter: ParameterOption = None,
    as_json: JsonOption = False,
    watch: Annotated[
        int | None,
        typer.Option("--watch", metavar="SECONDS", min=1, max=3600, help="redraw every SECONDS (1-3600) until Ctrl-C"),
    ] = None,
    watch_count: Annotated[int | None, typer.Option("--watch-count", hidden=True, min=1)] = None,
) -> None:
    """What Surge thinks right now, per target: capacity, what the loop would decide now and why, holds, events;
    the loop's last iteration and its failed executions."""
    drawn = 0
    try:
        while True:
            if watch is not None and drawn and sys.stdout.isatty():
                click.clear()
            _draw(target, stack, table, config_parameter, as_json)
            drawn += 1
            if watch is None or (watch_count is not None and drawn >= watch_count):
                return
            if not sys.stdout.isatty():
                typer.echo("")
            _sleep(watch)
    except KeyboardInterrupt:
        return


def _draw(target: str | None, stack: str, table: str | None, config_parameter: str | None, as_json: bool) -> None:
    now = datetime.now(UTC)
    with one_line_aws_errors():
        where_table, targets = deployed_targets(stack, table, config_parameter, target)
        status = read_status(where_table, SurgeConfig.model_construct(targets=targets), now)
        status["loop"] |= loop_health(stack, now)
    if as_json:
        typer.echo(json.dumps(status, indent=2))
        return
    for line in _text(status):
        typer.echo(line)
