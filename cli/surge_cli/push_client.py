"""The push server's side: put a PushSent event on the Surge bus the moment a notification goes out.

    from surge_cli.push_client import send_push
    send_push(audience=3_000_000, push_id="post-8812", bus_name="surge-bus", source="com.example.push")

Only boto3 and the event model are needed; the detail is validated before it is sent, so a bad audience fails
in the push server (with the field named) instead of in the dead-letter queue.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from pydantic import ValidationError

from surge.core.errors import InvalidInputError, describe_validation_error
from surge.core.push import PushSent

DETAIL_TYPE = "PushSent"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "events" / "push-sent.schema.json"


def push_sent_schema() -> dict[str, Any]:
    """The JSON Schema of a PushSent detail, generated from the model the fast path validates with."""
    return {
        **PushSent.model_json_schema(),
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/surge/events/push-sent.schema.json",
    }


def write_push_sent_schema(path: Path = SCHEMA_PATH) -> None:
    path.write_text(json.dumps(push_sent_schema(), indent=2) + "\n")


def push_detail(
    *, audience: int, push_id: str, target_id: str | None = None, sent_at: datetime | None = None
) -> PushSent:
    """The PushSent detail, validated by the model the fast path uses (InvalidInputError names the field)."""
    try:
        return PushSent(push_id=push_id, audience=audience, target_id=target_id, sent_at=sent_at or datetime.now(UTC))
    except ValidationError as error:
        raise InvalidInputError(describe_validation_error(error, model=PushSent)) from error


def push_event_entry(
    *,
    audience: int,
    push_id: str,
    bus_name: str,
    source: str,
    target_id: str | None = None,
    sent_at: datetime | None = None,
) -> dict[str, Any]:
    """The PutEvents entry for one push (validated)."""
    detail = push_detail(audience=audience, push_id=push_id, target_id=target_id, sent_at=sent_at)
    return {
        "Source": source,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(detail.model_dump(mode="json", exclude_none=True)),
        "EventBusName": bus_name,
    }


def send_push(
    *,
    audience: int,
    push_id: str,
    bus_name: str,
    source: str,
    target_id: str | None = None,
    client: Any = None,
) -> str:
    """Put the event; returns its EventBridge event id. Raises on a rejected entry."""
    entry = push_event_entry(audience=audience, push_id=push_id, bus_name=bus_name, source=source, target_id=target_id)
    events = client or boto3.client("events")
    response = events.put_events(Entries=[entry])
    result = response["Entries"][0]
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"PutEvents rejected the push: {result.get('ErrorCode')}: {result.get('ErrorMessage')}")
    return str(result["EventId"])
