"""`surge push redrive`: put the pushes that wait in the push dead-letter queue back on the bus.

The fast path parks a push there when the table could not record its hold (it scaled out without it: capacity
first, bookkeeping after) or when it failed for a reason that is not the event's fault. Redriving puts the push
as received on the bus again; the fast path records its hold (a duplicate push id changes nothing) and never
lowers capacity. Rejected events (the field is named in the message) are left where they are: sent again they
would be rejected again. A push older than `max_age` is left too: its spike is over, and a redrive would size a
new hold from now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

WRAPPER_KEYS = ("failure", "record_error", "dlq_error", "rejection", "error")
"""What the fast path's Catches add beside the event's own fields."""


@dataclass
class RedriveReport:
    redriven: list[str] = field(default_factory=list)
    rejected_left: int = 0
    too_old_left: list[str] = field(default_factory=list)
    unreadable_left: int = 0


def parked_event(body: str) -> tuple[str, dict[str, Any] | None]:
    """('redrive', event) for a push to redrive, ('rejected', None) or ('unreadable', None)."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError:
        return "unreadable", None
    if not isinstance(message, dict):
        return "unreadable", None
    if "rejection" in message:
        return "rejected", None
    event = message.get("redrive_event", message)
    if not isinstance(event, dict) or "detail-type" not in event or not isinstance(event.get("detail"), dict):
        return "unreadable", None
    return "redrive", {k: v for k, v in event.items() if k not in WRAPPER_KEYS}


def _pushed_at(event: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(event["time"]))
    except (KeyError, ValueError):
        return None


def redrive_pushes(
    *, queue_url: str, bus_name: str, now: datetime, max_age: timedelta, sqs: Any, events: Any
) -> RedriveReport:
    """Redrive every push in the queue that can be; delete each one once PutEvents took it."""
    report = RedriveReport()
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        )
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            return report
        for message in fresh:
            seen.add(message["MessageId"])
            kind, event = parked_event(message["Body"])
            if kind == "rejected":
                report.rejected_left += 1
                continue
            if event is None:
                report.unreadable_left += 1
                continue
            push_id = str(event["detail"].get("push_id", event.get("id", "?")))
            pushed_at = _pushed_at(event)
            if pushed_at is None or now - pushed_at > max_age:
                report.too_old_left.append(push_id)
                continue
            entry = {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "EventBusName": bus_name,
            }
            response = events.put_events(Entries=[entry])
            if response.get("FailedEntryCount"):
                continue  # left in the queue: the next redrive tries again
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            report.redriven.append(push_id)
