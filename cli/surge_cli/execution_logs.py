"""Executions read back from a state machine's CloudWatch Logs group (the only history an EXPRESS one has).

Step Functions writes one JSON record per history event to the group its LoggingConfiguration names
(https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html): ``id``, ``type``, ``details`` (the event's
``*EventDetails`` body), ``previous_event_id``, ``event_timestamp`` (epoch ms), ``execution_arn``,
``redrive_count``. Records are read with FilterLogEvents, page by page, narrowed on the server by a JSON filter
pattern (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html) and checked again
here (moto ignores JSON patterns and returns every event). Delivery is best-effort and a few seconds late, so
the newest events may be missing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import botocore.session

TERMINAL_TYPES = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")
FAILED_TYPES = ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")


class ExecutionLogsError(Exception):
    """The logs cannot answer: logging off or below the level needed, or the execution is not in the group."""


@dataclass(frozen=True)
class MachineLogging:
    """A state machine's type and where and how it logs (DescribeStateMachine)."""

    arn: str
    name: str
    machine_type: str
    definition: dict[str, Any]
    level: str
    include_execution_data: bool
    log_group: str | None

    @property
    def where(self) -> str:
        return self.log_group or "no log group"


def describe_logging(state_machine_arn: str, stepfunctions: Any) -> MachineLogging:
    described = stepfunctions.describe_state_machine(stateMachineArn=state_machine_arn)
    logging = described.get("loggingConfiguration") or {}
    destinations = logging.get("destinations") or []
    group_arn = destinations[0].get("cloudWatchLogsLogGroup", {}).get("logGroupArn") if destinations else None
    return MachineLogging(
        arn=state_machine_arn,
        name=str(described.get("name", "")),
        machine_type=str(described.get("type", "STANDARD")),
        definition=json.loads(described["definition"]),
        level=str(logging.get("level", "OFF")),
        include_execution_data=bool(logging.get("includeExecutionData", False)),
        log_group=log_group_name(group_arn) if group_arn else None,
    )


def log_group_name(log_group_arn: str) -> str:
    """``arn:aws:logs:<region>:<account>:log-group:<name>[:*]`` -> ``<name>``."""
    name = log_group_arn.split(":log-group:", 1)[-1]
    return name.removesuffix(":*")


def state_machine_arn_of(execution_arn: str) -> str:
    """The state machine of a STANDARD (``:execution:``) or EXPRESS (``:express:``) execution ARN."""
    parts = execution_arn.split(":")
    if len(parts) < 8 or parts[:3] != ["arn", "aws", "states"] or parts[5] not in ("execution", "express"):
        raise ValueError(
            f"--execution: {execution_arn!r} is not an execution ARN "
            "(arn:aws:states:REGION:ACCOUNT:execution|express:MACHINE:NAME...)"
        )
    return ":".join([*parts[:5], "stateMachine", parts[6]])


def require_level(machine: MachineLogging, needed: str, what: str) -> None:
    """Refuse when the state machine does not log what `what` needs (ALL: every state event; ERROR: failures)."""
    if machine.log_group is None or machine.level == "OFF":
        raise ExecutionLogsError(
            f"{machine.name} logs nothing (Logging level OFF or no log group): {what} needs its CloudWatch Logs "
            "(set Logging Level ALL)"
        )
    if needed == "ALL" and machine.level != "ALL":
        raise ExecutionLogsError(
            f"{machine.name} logs at level {machine.level}: its log group {machine.log_group} has no state events, "
            f"which {what} needs (set Logging Level ALL)"
        )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def read_records(
    logs: Any,
    log_group: str,
    *,
    start: datetime | None,
    end: datetime | None = None,
    pattern: str | None = None,
    keep: Callable[[Mapping[str, Any]], bool] = lambda record: True,
) -> Iterator[dict[str, Any]]:
    """Every Step Functions record of the group in [start, end] that `keep` accepts, oldest page first."""
    for record, _ in read_json_events(logs, log_group, start=start, end=end, pattern=pattern):
        if "type" in record and "execution_arn" in record and keep(record):
            yield record


def read_json_events(
    logs: Any, log_group: str, *, start: datetime | None, end: datetime | None = None, pattern: str | None = None
) -> Iterator[tuple[dict[str, Any], int]]:
    """Every JSON-object event of the group in [start, end] with its timestamp (ms), oldest page first; the
    pattern narrows what AWS returns (moto ignores JSON patterns: callers check the records themselves).

    FilterLogEvents may return an empty page with a nextToken while it searches: paging goes on until there is
    no token (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html)."""
    arguments: dict[str, Any] = {"logGroupName": log_group}
    if start is not None:
        arguments["startTime"] = _ms(start)
    if end is not None:
        arguments["endTime"] = _ms(end)
    if pattern is not None:
        arguments["filterPattern"] = pattern
    for page in logs.get_paginator("filter_log_events").paginate(**arguments):
        for event in page.get("events", []):
            try:
                record = json.loads(event["message"])
            except (ValueError, TypeError):
                continue
            if isinstance(record, dict):
                yield record, int(event["timestamp"])


def retention_start(logs: Any, log_group: str, now: datetime) -> datetime | None:
    """The oldest instant the group can still hold (its retention), or None when it keeps events forever."""
    groups = logs.describe_log_groups(logGroupNamePrefix=log_group).get("logGroups", [])
    days = next((g.get("retentionInDays") for g in groups if g.get("logGroupName") == log_group), None)
    return None if days is None else now - timedelta(days=int(days))


def execution_records(logs: Any, machine: MachineLogging, execution_arn: str, now: datetime) -> list[dict[str, Any]]:
    """The records of one execution, searched over the group's retention; none found is an error saying why."""
    assert machine.log_group is not None
    start = retention_start(logs, machine.log_group, now)
    pattern = f'{{ $.execution_arn = "{execution_arn}" }}'
    records = list(
        read_records(
            logs, machine.log_group, start=start, pattern=pattern, keep=lambda r: r["execution_arn"] == execution_arn
        )
    )
    if records:
        return records
    window = "its whole history" if start is None else f"its retention, since {start:%Y-%m-%dT%H:%M:%SZ}"
    streams = logs.describe_log_streams(logGroupName=machine.log_group, limit=1).get("logStreams", [])
    if not streams:
        raise ExecutionLogsError(
            f"no logs in {machine.log_group} yet: Step Functions delivers them best-effort, seconds after each "
            "event; try again in a minute"
        )
    raise ExecutionLogsError(
        f"{execution_arn} not found in {machine.log_group} ({window}): logs arrive seconds late, so a "
        "new execution may not be there yet; an older one has expired, or it ran on another state machine"
    )


@cache
def _details_members() -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("stepfunctions")
    return frozenset(name for name in model.shape_for("HistoryEvent").members if name.endswith("EventDetails"))


def details_key(event_type: str) -> str | None:
    """The ``*EventDetails`` member GetExecutionHistory puts an event type's details in (botocore's model)."""
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    key = event_type[:1].lower() + event_type[1:] + "EventDetails"
    return key if key in _details_members() else None


def history_from_records(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``get_execution_history`` events these log records stand for (what `surge graph` draws)."""
    events: dict[int, dict[str, Any]] = {}
    for record in records:
        event_type = str(record["type"])
        event: dict[str, Any] = {
            "id": int(record["id"]),
            "previousEventId": int(record.get("previous_event_id", 0)),
            "type": event_type,
            "timestamp": datetime.fromtimestamp(int(record["event_timestamp"]) / 1000, tz=UTC),
        }
        key = details_key(event_type)
        details = record.get("details")
        if key is not None and isinstance(details, Mapping) and details:
            event[key] = dict(details)
        events[event["id"]] = event  # a record delivered twice is one event
    return [events[key] for key in sorted(events)]


def ended(records: Sequence[Mapping[str, Any]]) -> bool:
    return any(record.get("type") in TERMINAL_TYPES for record in records)


def event_time(record: Mapping[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(record["event_timestamp"]) / 1000, tz=UTC)


def task_exits(
    logs: Any, log_group: str, state: str, *, start: datetime, end: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """The TaskStateExited records of one Task state (its output in ``details.output`` with execution data)."""
    pattern = f'{{ ($.type = "TaskStateExited") && ($.details.name = "{state}") }}'

    def keep(record: Mapping[str, Any]) -> bool:
        details = record.get("details")
        return record["type"] == "TaskStateExited" and isinstance(details, Mapping) and details.get("name") == state

    return read_records(logs, log_group, start=start, end=end, pattern=pattern, keep=keep)


def failed_executions(logs: Any, log_group: str, *, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The ExecutionFailed / TimedOut / Aborted records in [start, end]."""
    pattern = " || ".join(f'($.type = "{t}")' for t in FAILED_TYPES)
    return list(
        read_records(
            logs, log_group, start=start, end=end, pattern=f"{{ {pattern} }}", keep=lambda r: r["type"] in FAILED_TYPES
        )
    )
