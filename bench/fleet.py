"""The fleet bench: one scaler loop over N targets, measured on the real state machine (issue 11's yardstick).

Usage: python bench/fleet.py [--targets 1,10,50,100,500] [--calendar-entries 20] [--minutes 2] [--no-one-task]
                            [--json FILE]

For each N: a local stack (moto, the template's real ASL and handlers, latency profile `typical`) with N ECS
targets, each behind its own ALB with 15 minutes of RequestCount history, steady traffic (nothing to scale: the
cost and the size of the loop itself), and `--calendar-entries` upcoming calendar entries per target spread over
the next 30 days (only those within the lead horizon can matter now). The loop runs `--minutes` scheduled
executions. Printed per N: whether the configuration is accepted at all, how the executions ended (moto's
Step Functions interpreter enforces the 256 KiB payload quota as AWS does: `States.DataLimitExceeded`), the
largest state input/output, the bytes of state data per iteration (what an Express log group at level ALL with
execution data ingests), the work part of one iteration in simulated seconds (ScaleEveryShard entered to
WaitInterval entered, under the latency model: what a 5 s loop interval must hold), Lambda GB-seconds and
metrics requested per iteration, and wall seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from surge.adapters import clients, store
from surge.core.config import SurgeConfig
from surge.core.errors import describe_validation_error
from surge.core.signals import CalendarEvent
from surge_cli import world
from surge_cli.localaws import LocalAws
from surge_cli.localaws.express_logs import log_events, log_records
from surge_cli.replay.costs import COST_LINES, LOGS_USD_PER_GB_INGESTED, StackUsage, monthly_stack_cost
from surge_cli.replay.kpis import MONTH_SECONDS
from surge_cli.replay.policies.surge import (
    LOOP_BUDGET_SECONDS,
    SCHEDULE_PERIOD_SECONDS,
    execution_events,
    history_instant,
    loop_usage,
    quiet_handlers,
)
from surge_cli.stack import Template, deploy_locally

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLUSTER = "fleet"
RPS_PER_TARGET = 1_350.0
"""10 units at 200 rps and 70 % utilization serve up to 1,400 rps: nothing to scale, in or out."""
HISTORY_MINUTES = 15
DEFAULT_TARGETS_PER_SHARD = int(Template.load().parameter_defaults()["TargetsPerShard"])
STATE_QUOTA_BYTES = 262_144
"""Step Functions' payload quota per state input/output (256 KiB, UTF-8):
https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"""


def target_document(index: int) -> dict[str, Any]:
    name = f"svc-{index:03d}"
    return {
        "id": name,
        "kind": "ecs",
        "ecs": {"cluster": CLUSTER, "service": name},
        "load_balancer": {"load_balancer": load_balancer(index)},
        "scaling": {"min_units": 2, "max_units": 200, "initial_units": 10, "unit_capacity_rps": 200},
    }


def load_balancer(index: int) -> str:
    return f"app/fleet-{index:03d}/{index:016x}"


def fleet_config(n_targets: int) -> SurgeConfig | str:
    """The configuration document for N targets, or the one line the model refuses it with."""
    try:
        return SurgeConfig.model_validate({"targets": [target_document(i) for i in range(n_targets)]})
    except ValidationError as error:
        return describe_validation_error(error)


def run_fleet(
    n_targets: int, calendar_entries: int, minutes: int, targets_per_shard: int = DEFAULT_TARGETS_PER_SHARD
) -> dict[str, Any]:
    config = fleet_config(n_targets)
    row: dict[str, Any] = {
        "targets": n_targets,
        "minutes": minutes,
        "calendar_entries_per_target": calendar_entries,
        "targets_per_shard": targets_per_shard,
    }
    if isinstance(config, str):
        return {**row, "outcome": f"config refused: {config}"}
    started = time.perf_counter()
    clients.reset()
    with (
        quiet_handlers(keep_logs=True) as sink,
        # 500 targets: 50 shards read and decide at nearly the same simulated instant (real time, not a deadlock)
        LocalAws(start=START, latency="typical", seed=0, interleave_seed=0, stall_timeout=900.0) as aws,
    ):
        stack = deploy_locally(aws, config, parameters={"TargetsPerShard": str(targets_per_shard)})
        for index, target in enumerate(config.targets):
            assert target.ecs is not None
            world.create_ecs_service(aws, CLUSTER, target.ecs.service, desired_units=10)
            _publish_history(aws, index)
        _add_calendar(stack.table_name, config, calendar_entries)
        aws.every(60, lambda: _publish_last_minute(aws, n_targets), first=START + timedelta(seconds=60))
        executions: list[str] = []
        for minute in range(minutes):
            aws.at(
                START + timedelta(seconds=minute * SCHEDULE_PERIOD_SECONDS),
                lambda: executions.append(
                    aws.start_execution(stack.scaler_arn, {"budget_seconds": LOOP_BUDGET_SECONDS})
                ),
            )
        counter = _RequestCounter()
        counter.install()
        setup_seconds = time.perf_counter() - started
        logged_before = sink.bytes_written
        simulated_seconds = minutes * SCHEDULE_PERIOD_SECONDS + 30
        run_started = time.perf_counter()
        aws.run_until(START + timedelta(seconds=simulated_seconds))
        run_wall_seconds = time.perf_counter() - run_started
        histories = {arn: execution_events(aws, arn) for arn in executions}
        usage = loop_usage(aws, executions, counter.metrics_requested, histories)
        row.update(_measure(aws, histories, usage, n_targets))
        with_data = sum(_log_record_bytes(events, arn, include_data=True) for arn, events in histories.items())
        month_scale = MONTH_SECONDS / (minutes * SCHEDULE_PERIOD_SECONDS)
        row["logs_with_execution_data_usd"] = round(with_data * month_scale / 1024**3 * LOGS_USD_PER_GB_INGESTED, 2)
        row["monthly_cost_usd"] = monthly_stack_cost(
            StackUsage(
                duration_seconds=minutes * SCHEDULE_PERIOD_SECONDS,
                targets=n_targets,
                executions=usage["executions"],
                execution_seconds=usage["execution_seconds"],
                lambda_invocations=usage["lambda_invocations"],
                lambda_gb_seconds=usage["lambda_gb_seconds"],
                metric_requests=usage["metric_requests"],
                state_log_bytes=sum(
                    _log_record_bytes(events, arn, include_data=False) for arn, events in histories.items()
                ),
                function_log_bytes=sink.bytes_written - logged_before,
                dynamodb_read_units=counter.read_units,
                dynamodb_write_units=counter.write_units,
                alarms=TEMPLATE_ALARMS,
                log_retention_days=int(Template.load().parameter_defaults()["LogRetentionDays"]),
            )
        )
    clients.reset()
    return {
        **row,
        "setup_wall_seconds": round(setup_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "run_wall_seconds": round(run_wall_seconds, 1),
        "simulated_seconds_per_wall_second": round(simulated_seconds / run_wall_seconds, 1),
    }


TEMPLATE_ALARMS = sum(
    1 for resource in Template.load().document["Resources"].values() if resource["Type"] == "AWS::CloudWatch::Alarm"
)


class _RequestCounter:
    """GetMetricData metrics requested and DynamoDB request units, seen on the handlers' own clients.

    DynamoDB on-demand bills a strongly consistent read per 4 KB read (a Query: of the items it returns) and a
    write per 1 KB written, a failed conditional write included (https://aws.amazon.com/dynamodb/pricing/on-demand/);
    sizes are the items' attribute-value JSON, close to DynamoDB's own item size."""

    def __init__(self) -> None:
        self.metrics_requested = 0
        self.read_units = 0.0
        self.write_units = 0.0

    def install(self) -> None:
        clients.cloudwatch().meta.events.register("before-parameter-build.cloudwatch.GetMetricData", self._metrics)
        dynamodb = clients.dynamodb()
        dynamodb.meta.events.register("before-parameter-build.dynamodb", self._write)
        dynamodb.meta.events.register("after-call.dynamodb", self._read)

    def _metrics(self, params: dict[str, Any], **_: Any) -> None:
        self.metrics_requested += len(params.get("MetricDataQueries", []))

    def _write(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.write_units += max(1, math.ceil(_item_bytes(params.get("Item") or params.get("Key") or {}) / 1024))
        elif model.name == "BatchWriteItem":
            for requests in params.get("RequestItems", {}).values():
                for request in requests:
                    item = request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get("Key")
                    self.write_units += max(1, math.ceil(_item_bytes(item or {}) / 1024))

    def _read(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "GetItem":
            self.read_units += max(1, math.ceil(_item_bytes(parsed.get("Item", {})) / 4096))
        elif model.name == "Query":
            # A Query's filter leaves items out of the answer, not out of the bill: it reads ScannedCount items.
            returned = parsed.get("Items", [])
            scale = parsed.get("ScannedCount", len(returned)) / max(len(returned), 1)
            self.read_units += max(1, math.ceil(_item_bytes(returned) * scale / 4096))


def _item_bytes(value: Any) -> int:
    """An item's size, about as DynamoDB counts it (binary attributes by their length)."""
    return len(json.dumps(value, default=lambda blob: "x" * len(blob)))


def _log_record_bytes(events: list[dict[str, Any]], execution_arn: str, *, include_data: bool) -> int:
    """The bytes an Express state machine's log group at level ALL ingests for one execution: the records Step
    Functions writes (`surge_cli.localaws.express_logs`, https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html)."""
    records = log_records(events, execution_arn, level="ALL", include_execution_data=include_data)
    return sum(len(event["message"].encode("utf-8")) for event in log_events(records))


def _publish_history(aws: LocalAws, index: int) -> None:
    for minutes_ago in range(HISTORY_MINUTES, 1, -1):
        minute = START - timedelta(minutes=minutes_ago)
        world.publish_request_count(aws, load_balancer(index), minute, RPS_PER_TARGET * 60)


def _publish_last_minute(aws: LocalAws, n_targets: int) -> None:
    minute = aws.now().replace(second=0, microsecond=0) - timedelta(minutes=2)
    for index in range(n_targets):
        world.publish_request_count(aws, load_balancer(index), minute, RPS_PER_TARGET * 60)


def _add_calendar(table: str, config: SurgeConfig, per_target: int) -> None:
    """`per_target` one-hour events of 50 units per target, spread over the next 30 days (none can matter now)."""
    for target in config.targets:
        events = []
        for k in range(per_target):
            start = START + timedelta(days=1 + 29 * k / max(per_target, 1), hours=2)
            end = start + timedelta(hours=1)
            events.append(
                CalendarEvent(entry_id=f"{target.id}-{k}", name=f"e{k}", start_at=start, end_at=end, units=50)
            )
        store.put_calendar_events(table, target.id, events)


def _measure(
    aws: LocalAws, histories: dict[str, list[dict[str, Any]]], usage: dict[str, Any], n_targets: int
) -> dict[str, Any]:
    """How the executions ended, and each iteration's work, from their histories (`usage`: `loop_usage`'s)."""
    sfn = aws.client("stepfunctions")
    outcomes: dict[str, int] = {}
    work_seconds: list[float] = []
    iterations = 0
    for arn, events in histories.items():
        status = sfn.describe_execution(executionArn=arn)["status"]
        error = next(
            (e["executionFailedEventDetails"].get("error") for e in events if "executionFailedEventDetails" in e), None
        )
        key = status if error is None else f"{status} ({error})"
        outcomes[key] = outcomes.get(key, 0) + 1
        entered_read: datetime | None = None
        for event in events:
            details = event.get("stateEnteredEventDetails")
            if details is None:
                continue
            if details["name"] == "ScaleEveryShard":
                entered_read = history_instant(event["timestamp"])
                iterations += 1
            elif details["name"] == "WaitInterval" and entered_read is not None:
                work_seconds.append((history_instant(event["timestamp"]) - entered_read).total_seconds())
                entered_read = None
    invocations = aws.invocations
    gb_seconds = sum(i.sim_seconds * i.memory_mb / 1024 for i in invocations)
    per_iteration = max(iterations, 1)
    return {
        "outcome": ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items())),
        "iterations": iterations,
        "max_state_bytes": usage["max_state_bytes"],
        "state_bytes_per_iteration": round(usage["state_bytes"] / per_iteration),
        "iteration_work_seconds_p50": round(statistics.median(work_seconds), 3) if work_seconds else None,
        "iteration_work_seconds_max": round(max(work_seconds), 3) if work_seconds else None,
        "lambda_gb_seconds_per_iteration": round(gb_seconds / per_iteration, 4),
        "state_bytes_per_target": round(usage["max_state_bytes"] / n_targets),
    }


def print_table(console: Console, rows: list[dict[str, Any]]) -> None:
    table = Table(title="Fleet bench: one loop over N targets (latency typical, steady traffic)")
    for column in (
        "targets",
        "per shard",
        "calendar/target",
        "executions",
        "iterations",
        "max state bytes",
        "of 256 KiB",
        "state bytes/iteration",
        "work s/iteration p50 / max",
        "Lambda GB-s/iteration",
        "sim s / wall s",
    ):
        table.add_column(column, justify="right")
    for row in rows:
        if "iterations" not in row:
            table.add_row(str(row["targets"]), "", str(row["calendar_entries_per_target"]), row["outcome"], *[""] * 7)
            continue
        table.add_row(
            str(row["targets"]),
            str(row["targets_per_shard"]),
            str(row["calendar_entries_per_target"]),
            row["outcome"],
            str(row["iterations"]),
            f"{row['max_state_bytes']:,}",
            f"{row['max_state_bytes'] / STATE_QUOTA_BYTES:.0%}",
            f"{row['state_bytes_per_iteration']:,}",
            f"{row['iteration_work_seconds_p50']} / {row['iteration_work_seconds_max']}",
            f"{row['lambda_gb_seconds_per_iteration']}",
            f"{row['simulated_seconds_per_wall_second']}",
        )
    console.print(table)


def print_costs(console: Console, rows: list[dict[str, Any]]) -> None:
    priced = [row for row in rows if "monthly_cost_usd" in row]
    table = Table(title="Monthly cost of the whole stack at list prices (us-east-1), per fleet size")
    table.add_column("line")
    for row in priced:
        table.add_column(f"{row['targets']} target{'s' if row['targets'] != 1 else ''}", justify="right")
    for key, label in (*COST_LINES.items(), ("total", "total")):
        table.add_row(label, *(f"${row['monthly_cost_usd'][key]:,.2f}" for row in priced))
    table.add_row(
        "(scaler logs with execution data instead)", *(f"${row['logs_with_execution_data_usd']:,.2f}" for row in priced)
    )
    console.print(table)


DEFAULT_FLEETS = (1, 10, 50, 100, 500)
DEFAULT_CALENDAR_ENTRIES = 20
LONG_RUN_MAX_TARGETS = 50
"""Fleets above this run one scheduled execution instead of `minutes` (the replay's wall time grows with the fleet);
the monthly figures scale each run to a month either way."""
ONE_TASK_COMPARISON = 50
"""The fan-out choice, measured: 50 targets in one shard (one ReadSignals, one DecideCapacity, one ApplyCapacity
for all of them: the single batched task) beside the same 50 in shards of the default size."""


def fleet_bench(
    console: Console,
    fleets: tuple[int, ...] = DEFAULT_FLEETS,
    calendar_entries: int = DEFAULT_CALENDAR_ENTRIES,
    minutes: int = 2,
    compare_one_task: bool = True,
) -> list[dict[str, Any]]:
    """Every fleet size, printed as two tables (the loop, then the monthly cost); the rows for `--json`."""
    rows = []
    runs = [(n, DEFAULT_TARGETS_PER_SHARD) for n in fleets]
    if compare_one_task:
        runs.append((ONE_TASK_COMPARISON, ONE_TASK_COMPARISON))
    for n, per_shard in runs:
        rows.append(run_fleet(n, calendar_entries, minutes if n <= LONG_RUN_MAX_TARGETS else 1, per_shard))
        console.print(f"fleet of {n} in shards of {per_shard}: {rows[-1]['outcome']}", style="dim")
    print_table(console, rows)
    print_costs(console, rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default=",".join(map(str, DEFAULT_FLEETS)), help="comma-separated target counts")
    parser.add_argument(
        "--calendar-entries", type=int, default=DEFAULT_CALENDAR_ENTRIES, help="upcoming calendar entries per target"
    )
    parser.add_argument("--minutes", type=int, default=2, help="scheduled executions to run")
    parser.add_argument("--no-one-task", action="store_true", help="skip the 50-targets-in-one-shard comparison")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    console = Console(width=170)
    fleets = tuple(int(part) for part in args.targets.split(","))
    rows = fleet_bench(console, fleets, args.calendar_entries, args.minutes, not args.no_one_task)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
