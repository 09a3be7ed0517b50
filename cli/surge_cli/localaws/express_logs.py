"""An execution's history as the CloudWatch Logs events Step Functions writes for it, put into its log group.

Express workflows keep no history in Step Functions: GetExecutionHistory and DescribeExecution are "not supported
by EXPRESS state machines" (https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html),
and the only record of what an execution did is what its LoggingConfiguration sends to CloudWatch Logs
(https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html). moto 5.2.5 sends nothing (its backend starts
every execution without a logging session), so the local stack plays that part: when an execution ends, its
history events (the ``get_execution_history`` shape) become one log event each, in the record shape of that page::

    {"id": "3", "type": "TaskStateEntered", "details": {"name": "ReadSignals", "input": "...",
     "inputDetails": {"truncated": false}}, "previous_event_id": "2", "event_timestamp": "1768993200123",
     "execution_arn": "arn:aws:states:...", "redrive_count": "0"}

``details`` is the event's one ``*EventDetails`` body (``{}`` when it has none); without includeExecutionData its
``input``/``output`` (and their ``*Details``) and a Task's ``parameters`` are left out. The log level keeps the
event types of https://docs.aws.amazon.com/step-functions/latest/dg/cloudwatch-log-level.html. Everything is put with
PutLogEvents in chronological batches within its limits (10,000 events, 1,048,576 bytes counting 26 bytes per
event, 24 hours: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html).

The real service delivers these best-effort, seconds after each event; here they arrive all at once when the
execution ends (readers must not depend on either). Used by the local stack and the sandbox.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_BATCH_SPAN_MS = 24 * 3_600 * 1_000
DATA_FIELDS = ("input", "inputDetails", "output", "outputDetails", "parameters")
"""What "execution data" is: a state's input and output and a Task's `parameters` (TaskScheduled's resolved
input, the Lambda payload). "When set to false, data is excluded"
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_LoggingConfiguration.html); the page does
not list the fields, so every field that carries the execution's JSON is left out, not only input and output."""

FATAL_TYPES = frozenset({"ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"})
ERROR_TYPES = FATAL_TYPES | {
    "FailStateEntered",
    "LambdaFunctionFailed",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut",
    "MapStateAborted",
    "MapStateFailed",
    "MapIterationAborted",
    "MapIterationFailed",
    "MapRunAborted",
    "MapRunFailed",
    "ParallelStateAborted",
    "ParallelStateFailed",
    "TaskFailed",
    "TaskStartFailed",
    "TaskStateAborted",
    "TaskSubmitFailed",
    "TaskTimedOut",
    "WaitStateAborted",
}
LEVELS = ("ALL", "ERROR", "FATAL", "OFF")


def logged_at_level(event_type: str, level: str) -> bool:
    """Whether Step Functions logs an event of this type at this log level."""
    if level == "ALL":
        return True
    if level == "ERROR":
        return event_type in ERROR_TYPES
    if level == "FATAL":
        return event_type in FATAL_TYPES
    return False


def _epoch_ms(stamp: Any) -> int:
    moment = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(str(stamp))
    return int(moment.astimezone(UTC).timestamp() * 1000)


def _details(event: Mapping[str, Any], include_execution_data: bool) -> dict[str, Any]:
    bodies = [value for key, value in event.items() if key.endswith("EventDetails") and isinstance(value, Mapping)]
    body = dict(bodies[0]) if bodies else {}
    if not include_execution_data:
        for name in DATA_FIELDS:
            body.pop(name, None)
    return body


def log_records(
    history: Iterable[Mapping[str, Any]],
    execution_arn: str,
    *,
    level: str = "ALL",
    include_execution_data: bool = True,
    redrive_count: int = 0,
) -> list[dict[str, Any]]:
    """The log records Step Functions writes for these history events at this level, oldest first."""
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}: one of {', '.join(LEVELS)}")
    records = []
    for event in sorted(history, key=lambda e: int(e.get("id", 0))):
        event_type = str(getattr(event["type"], "value", event["type"]))  # moto's backend keeps an enum
        if not logged_at_level(event_type, level):
            continue
        records.append(
            {
                "id": str(event["id"]),
                "type": event_type,
                "details": _details(event, include_execution_data),
                "previous_event_id": str(event.get("previousEventId", 0)),
                "event_timestamp": str(_epoch_ms(event["timestamp"])),
                "execution_arn": execution_arn,
                "redrive_count": str(redrive_count),
            }
        )
    return records


def log_events(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """PutLogEvents' InputLogEvents: the record as the message, its event time as the timestamp."""
    return [
        {"timestamp": int(record["event_timestamp"]), "message": json.dumps(record, separators=(",", ":"))}
        for record in records
    ]


def batches(events: Sequence[Mapping[str, Any]]) -> Iterator[list[Mapping[str, Any]]]:
    """Chronological batches within PutLogEvents' limits (count, bytes, 24-hour span)."""
    batch: list[Mapping[str, Any]] = []
    size = 0
    for event in sorted(events, key=lambda e: int(e["timestamp"])):
        event_bytes = len(str(event["message"]).encode()) + EVENT_OVERHEAD_BYTES
        if batch and (
            len(batch) == MAX_BATCH_EVENTS
            or size + event_bytes > MAX_BATCH_BYTES
            or int(event["timestamp"]) - int(batch[0]["timestamp"]) > MAX_BATCH_SPAN_MS
        ):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += event_bytes
    if batch:
        yield batch


def log_stream_name(state_machine_name: str, started: datetime, execution_name: str) -> str:
    """A stream per execution, ``states/<machine>/<yyyy-mm-dd-hh-mm>/<execution>`` (readers filter by
    execution_arn and never depend on the stream's name)."""
    return f"states/{state_machine_name}/{started.astimezone(UTC):%Y-%m-%d-%H-%M}/{execution_name}"


def put_execution_logs(
    logs_client: Any,
    log_group: str,
    history: Sequence[Mapping[str, Any]],
    execution_arn: str,
    *,
    level: str = "ALL",
    include_execution_data: bool = True,
) -> int:
    """Put an execution's history into its log group as Step Functions would; returns the events put."""
    events = log_events(log_records(history, execution_arn, level=level, include_execution_data=include_execution_data))
    if not events:
        return 0
    parts = execution_arn.split(":")  # arn:aws:states:<region>:<account>:execution|express:<machine>:<name>[:<id>]
    started = datetime.fromtimestamp(min(int(e["timestamp"]) for e in events) / 1000, tz=UTC)
    stream = log_stream_name(parts[6], started, ":".join(parts[7:]).replace(":", "-"))
    with contextlib.suppress(logs_client.exceptions.ResourceAlreadyExistsException):
        logs_client.create_log_stream(logGroupName=log_group, logStreamName=stream)
    for batch in batches(events):
        logs_client.put_log_events(logGroupName=log_group, logStreamName=stream, logEvents=batch)
    return len(events)
