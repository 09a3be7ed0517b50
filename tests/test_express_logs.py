"""The records the local stack writes for an EXPRESS execution, and their PutLogEvents batches (no AWS needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from surge_cli.execution_logs import history_from_records
from surge_cli.localaws.express_logs import MAX_BATCH_BYTES, batches, log_events, log_records

ARN = "arn:aws:states:us-east-1:123456789012:express:surge-scaler:x:1"
AT = datetime(2026, 1, 21, 11, 0, tzinfo=UTC)
HISTORY = [
    {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": AT,
     "executionStartedEventDetails": {"input": "{}", "inputDetails": {"truncated": False}, "roleArn": "r"}},
    {"id": 2, "previousEventId": 1, "type": "TaskStateEntered", "timestamp": AT + timedelta(seconds=1),
     "stateEnteredEventDetails": {"name": "ClaimLoop", "input": "{}"}},
    {"id": 3, "previousEventId": 2, "type": "TaskFailed", "timestamp": AT + timedelta(seconds=2),
     "taskFailedEventDetails": {"error": "Boom", "cause": "x"}},
    {"id": 4, "previousEventId": 3, "type": "ExecutionFailed", "timestamp": AT + timedelta(seconds=3),
     "executionFailedEventDetails": {"error": "Boom"}},
]  # fmt: skip


def test_records_have_step_functions_fields_and_read_back_as_the_history() -> None:
    records = log_records(HISTORY, ARN)
    assert records[1] == {
        "id": "2",
        "type": "TaskStateEntered",
        "details": {"name": "ClaimLoop", "input": "{}"},
        "previous_event_id": "1",
        "event_timestamp": "1768993201000",
        "execution_arn": ARN,
        "redrive_count": "0",
    }
    assert history_from_records(records) == HISTORY


def test_the_log_level_and_execution_data_filter_what_is_written() -> None:
    assert [r["type"] for r in log_records(HISTORY, ARN, level="ERROR")] == ["TaskFailed", "ExecutionFailed"]
    assert [r["type"] for r in log_records(HISTORY, ARN, level="FATAL")] == ["ExecutionFailed"]
    assert log_records(HISTORY, ARN, level="OFF") == []
    started = log_records(HISTORY, ARN, include_execution_data=False)[0]
    assert started["details"] == {"roleArn": "r"}, "input and its details left out"


def test_batches_keep_within_put_log_events_limits() -> None:
    many = [{"timestamp": 1, "message": "x"} for _ in range(10_001)]
    assert [len(b) for b in batches(many)] == [10_000, 1]
    big = [{"timestamp": i, "message": "y" * 300_000} for i in range(4)]
    sizes = [sum(len(e["message"]) + 26 for e in b) for b in batches(big)]
    assert sizes == [900_078, 300_026]
    assert max(sizes) <= MAX_BATCH_BYTES
    day = 24 * 3_600 * 1_000
    assert [len(b) for b in batches([{"timestamp": 0, "message": "a"}, {"timestamp": day + 1, "message": "b"}])] == [
        1,
        1,
    ]
    assert [e["timestamp"] for e in log_events(log_records(HISTORY, ARN))] == sorted(
        e["timestamp"] for e in log_events(log_records(HISTORY, ARN))
    )
