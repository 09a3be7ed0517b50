"""`ScalingDecision` events on the Surge event bus: one per change of desired count or group limits."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from surge.adapters import clients

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

    from surge.core.plan import AppliedChange

DETAIL_TYPE = "ScalingDecision"
PUT_EVENTS_BATCH = 10


class EventsNotDeliveredError(Exception):
    """EventBridge rejected some ScalingDecision entries."""


def publish_decisions(bus_name: str, source: str, changes: list[AppliedChange]) -> int:
    """Put one event per change (batched by 10). Returns the number of events put."""
    entries: list[PutEventsRequestEntryTypeDef] = [
        {
            "Source": source,
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(change.model_dump(mode="json")),
            "EventBusName": bus_name,
            "Resources": [],
        }
        for change in changes
    ]
    for start in range(0, len(entries), PUT_EVENTS_BATCH):
        response = clients.events().put_events(Entries=entries[start : start + PUT_EVENTS_BATCH])
        if response.get("FailedEntryCount", 0):
            codes = {e.get("ErrorCode") for e in response.get("Entries", []) if e.get("ErrorCode")}
            raise EventsNotDeliveredError(f"PutEvents rejected {response['FailedEntryCount']} entries: {codes}")
    return len(entries)
