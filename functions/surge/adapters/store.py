"""The Surge table (DynamoDB): the loop lease, each target's state, push holds and calendar events.

Keys: pk = "LOOP" / sk = "LEASE" for the lease; pk = "TARGET#<id>" with sk = "STATE", "HOLD#<push id>",
"CAL#<entry id>", "ALB" (the ALB minutes the loop read last, reused until a newer one can exist) or "PAUSE" (an
operator's pause, written and deleted only by `surge pause` / `surge resume`, never by a flow: no state write can
lose it) for a target's items; pk = "REJECTED#<event id>" / sk = "REJECTION" for a push the fast path refused
(kept a day); pk = "CONFIG#<version>" / sk = "CONFIG" for the configuration an execution runs on (zlib-compressed
JSON in `blob`: a 500-target document is far above what a state may carry, far below DynamoDB's 400 KB item);
pk = "OPERATOR_CONFIG" / sk = "DOCUMENT" for an operator's document too large for its SSM parameter (`surge config
apply` writes it there, zlib-compressed in `blob`, with a `version` counter and `modified_epoch`).
Each other item keeps its model as JSON in `doc` (validated on the way in and out) and an `expires_at` epoch for
DynamoDB TTL. A calendar item also keeps `from_epoch` / `until_epoch` (when it starts to matter and when its
ramp-down ends), so the loop's Query leaves out the entries far in the future or long past.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ValidationError

from surge.adapters import clients
from surge.core.calendar import floor_ends_at
from surge.core.config import SurgeConfig
from surge.core.plan import AppliedChange
from surge.core.push import Calibration, PushRejection
from surge.core.signals import CalendarEvent, Hold, Pause, RateSample, TargetState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

LEASE_KEY: dict[str, AttributeValueTypeDef] = {"pk": {"S": "LOOP"}, "sk": {"S": "LEASE"}}
STATE_SK = "STATE"
CALIBRATION_SK = "CALIBRATION"
JOURNAL_PREFIX = "JOURNAL#"
JOURNAL_DAYS = 30
HOLD_PREFIX = "HOLD#"
CALENDAR_PREFIX = "CAL#"
PAUSE_SK = "PAUSE"
REJECTION_PREFIX = "REJECTED#"
REJECTION_SK = "REJECTION"
REJECTION_DAYS = 1
ALB_SK = "ALB"
CONFIG_PREFIX = "CONFIG#"
CONFIG_SK = "CONFIG"
CONFIG_DAYS = 2
OPERATOR_CONFIG_KEY: dict[str, AttributeValueTypeDef] = {"pk": {"S": "OPERATOR_CONFIG"}, "sk": {"S": "DOCUMENT"}}
MAX_ITEM_BYTES = 400 * 1024
"""A DynamoDB item holds at most 400 KB, attribute names and values together:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"""
MAX_DOCUMENT_BLOB_BYTES = MAX_ITEM_BYTES - 1024
"""The compressed operator's document, leaving the item's keys and counters room."""
BATCH_WRITE_ITEMS = 25
"""BatchWriteItem takes at most 25 put or delete requests per call:
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html"""


def target_pk(target_id: str) -> str:
    return f"TARGET#{target_id}"


class StoreItemInvalidError(Exception):
    """An item in the table does not match its model (it was not written by Surge, or by an older version)."""


def _condition_failed(error: ClientError) -> bool:
    """A conditional write refused because its condition did not hold (not an infrastructure error)."""
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


# ---------------------------------------------------------------------------------------------- lease


def claim_lease(table: str, execution_id: str, started_at: datetime, now: datetime, lease_seconds: int) -> bool:
    """Claim the loop lease: the newest execution wins, so an overlapping older loop steps aside.

    True when this execution holds the lease. The schedule is at-least-once and may overlap a running loop;
    the condition lets an execution claim the lease if it is free, expired, already ours, or held by an
    execution that started earlier.
    """
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item={
                **LEASE_KEY,
                "owner": {"S": execution_id},
                "owner_started_epoch": {"N": f"{started_at.timestamp():.6f}"},
                "lease_expires_epoch": {"N": str(int((now + timedelta(seconds=lease_seconds)).timestamp()))},
                "expires_at": {"N": str(int((now + timedelta(days=1)).timestamp()))},
            },
            ConditionExpression=(
                "attribute_not_exists(pk) OR #owner = :me OR owner_started_epoch <= :started"
                " OR lease_expires_epoch < :now"
            ),
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={
                ":me": {"S": execution_id},
                ":started": {"N": f"{started_at.timestamp():.6f}"},
                ":now": {"N": str(int(now.timestamp()))},
            },
        )
    except ClientError as error:
        if _condition_failed(error):
            return False
        raise
    return True


def lease_owner(table: str) -> str | None:
    item = clients.dynamodb().get_item(TableName=table, Key=LEASE_KEY, ConsistentRead=True).get("Item")
    if item is None:
        return None
    return item["owner"]["S"]


# ------------------------------------------------------------------------------------- target items


@dataclass
class TargetItems:
    state: TargetState = field(default_factory=TargetState)
    holds: list[Hold] = field(default_factory=list)
    calendar: list[CalendarEvent] = field(default_factory=list)
    error: str | None = None
    pause: Pause | None = None
    alb_samples: list[RateSample] = field(default_factory=list)


class _AlbMinutes(BaseModel):
    samples: list[RateSample]


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], item: dict[str, AttributeValueTypeDef]) -> M:
    try:
        return model.model_validate_json(item["doc"]["S"])
    except (KeyError, ValidationError) as error:
        raise StoreItemInvalidError(f"table item {item.get('sk')} is not a valid {model.__name__}: {error}") from error


def read_target_items(
    table: str, target_id: str, calendar_between: tuple[datetime, datetime] | None = None
) -> TargetItems:
    """Every item of one target (state, holds, calendar, the ALB minutes read last) with one paginated Query.

    `calendar_between` (the loop's now and its horizon) leaves out the calendar entries that cannot matter in it
    (a filter: DynamoDB still reads them, the Lambda no longer receives and parses them; entries written before
    the epochs existed always come back). A read failure is reported in `error` (the decision core then holds
    capacity), never raised.
    """
    items = TargetItems()
    kwargs: dict[str, object] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": target_pk(target_id)}},
        "ConsistentRead": True,
    }
    if calendar_between is not None:
        now, horizon = calendar_between
        kwargs["FilterExpression"] = (
            "NOT begins_with(sk, :cal) OR attribute_not_exists(from_epoch)"
            " OR (from_epoch <= :horizon AND until_epoch >= :now)"
        )
        kwargs["ExpressionAttributeValues"] = {
            ":pk": {"S": target_pk(target_id)},
            ":cal": {"S": CALENDAR_PREFIX},
            ":horizon": {"N": str(int(horizon.timestamp()) + 1)},
            ":now": {"N": str(int(now.timestamp()) - 1)},
        }
    try:
        while True:
            response = clients.dynamodb().query(**kwargs)  # type: ignore[arg-type]
            for item in response.get("Items", []):
                sort_key = item["sk"]["S"]
                if sort_key == STATE_SK:
                    items.state = _parse(TargetState, item)
                elif sort_key.startswith(HOLD_PREFIX):
                    items.holds.append(_parse(Hold, item))
                elif sort_key.startswith(CALENDAR_PREFIX):
                    items.calendar.append(_parse(CalendarEvent, item))
                elif sort_key == PAUSE_SK:
                    items.pause = _parse(Pause, item)
                elif sort_key == ALB_SK:
                    items.alb_samples = _parse(_AlbMinutes, item).samples
            last = response.get("LastEvaluatedKey")
            if not last:
                return items
            kwargs["ExclusiveStartKey"] = last
    except (ClientError, BotoCoreError, StoreItemInvalidError) as error:
        return TargetItems(error=f"{type(error).__name__}: {error}")


class StateConflictError(Exception):
    """The target's state item changed since it was read (another flow wrote it): re-read and reconcile."""


def put_target_state(table: str, target_id: str, state: TargetState) -> TargetState:
    """Write the state if its version is still `state.version` (the version read); the stored copy carries the
    next version, which is returned. Raises StateConflictError if another writer got there first."""
    written = state.model_copy(update={"version": state.version + 1})
    condition = "attribute_not_exists(sk) OR #version = :read"
    values: dict[str, AttributeValueTypeDef] = {":read": {"N": str(state.version)}}
    if state.version == 0:  # items written before versions existed have none
        condition += " OR attribute_not_exists(#version)"
    item: dict[str, AttributeValueTypeDef] = {
        "pk": {"S": target_pk(target_id)},
        "sk": {"S": STATE_SK},
        "doc": {"S": written.model_dump_json()},
        "version": {"N": str(written.version)},
    }
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item=item,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#version": "version"},
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if _condition_failed(error):
            raise StateConflictError(
                f"the state of target {target_id!r} changed since version {state.version}"
            ) from error
        raise
    return written


def put_hold(table: str, target_id: str, hold: Hold) -> None:
    _put(table, target_pk(target_id), HOLD_PREFIX + hold.push_id, hold, expires_at=hold.max_until + timedelta(days=1))


def read_hold(table: str, target_id: str, push_id: str) -> tuple[Hold, str] | None:
    """One push hold and its stored document (for a conditional rewrite), or None if there is none."""
    item = (
        clients.dynamodb()
        .get_item(
            TableName=table,
            Key={"pk": {"S": target_pk(target_id)}, "sk": {"S": HOLD_PREFIX + push_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if item is None:
        return None
    return _parse(Hold, item), item["doc"]["S"]


class HoldChangedError(Exception):
    """The hold item changed (or went) since it was read: read it again."""


def release_hold(
    table: str, target_id: str, hold: Hold, read_doc: str, released_at: datetime, released_by: str
) -> Hold:
    """Mark a hold released (it stops counting at once), if its item is still the one read (`read_doc`): a
    condition on the whole document, so a rewrite in between (the fast path's calibration) is never lost
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html).

    The item is kept (with who released it and when) until it expires like any hold."""
    released = hold.model_copy(update={"released_at": released_at, "released_by": released_by})
    try:
        _put(
            table,
            target_pk(target_id),
            HOLD_PREFIX + hold.push_id,
            released,
            expires_at=hold.max_until + timedelta(days=1),
            condition="#doc = :read",
            values={":read": {"S": read_doc}},
            names={"#doc": "doc"},
        )
    except ClientError as error:
        if _condition_failed(error):
            raise HoldChangedError(f"hold {hold.push_id!r} of target {target_id!r} changed meanwhile") from error
        raise
    return released


def put_pause(table: str, target_id: str, pause: Pause) -> Pause | None:
    """Pause a target unless it is already paused: None when written, else the pause already there (unchanged).

    A conditional put (`attribute_not_exists`) never overwrites an item that exists:
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html"""
    key: dict[str, AttributeValueTypeDef] = {"pk": {"S": target_pk(target_id)}, "sk": {"S": PAUSE_SK}}
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item={**key, "doc": {"S": pause.model_dump_json()}},
            ConditionExpression="attribute_not_exists(sk)",
        )
    except ClientError as error:
        if not _condition_failed(error):
            raise
        item = clients.dynamodb().get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return pause if item is None else _parse(Pause, item)
    return None


def delete_pause(table: str, target_id: str) -> Pause | None:
    """Resume a target: the pause that was removed, or None if it was not paused (DeleteItem with ReturnValues
    ALL_OLD answers the item as it was, and nothing when there was none:
    https://docs.aws.amazon.com/goto/WebAPI/dynamodb/DeleteItem)."""
    response = clients.dynamodb().delete_item(
        TableName=table,
        Key={"pk": {"S": target_pk(target_id)}, "sk": {"S": PAUSE_SK}},
        ReturnValues="ALL_OLD",
    )
    old = response.get("Attributes")
    return None if old is None else _parse(Pause, old)


def put_hold_if_new(table: str, target_id: str, hold: Hold) -> bool:
    """Record a push hold once: False (and nothing written) if this push id was already recorded."""
    try:
        _put(
            table,
            target_pk(target_id),
            HOLD_PREFIX + hold.push_id,
            hold,
            expires_at=hold.max_until + timedelta(days=1),
            condition="attribute_not_exists(sk)",
        )
    except ClientError as error:
        if _condition_failed(error):
            return False
        raise
    return True


def put_push_rejection(table: str, rejection: PushRejection) -> None:
    """Keep a rejected push's reason for a day, under its event id (pk = "REJECTED#<event id>")."""
    _put(
        table,
        REJECTION_PREFIX + rejection.event_id,
        REJECTION_SK,
        rejection,
        expires_at=rejection.rejected_at + timedelta(days=REJECTION_DAYS),
    )


def read_push_rejection(table: str, event_id: str) -> PushRejection | None:
    item = (
        clients.dynamodb()
        .get_item(
            TableName=table,
            Key={"pk": {"S": REJECTION_PREFIX + event_id}, "sk": {"S": REJECTION_SK}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return None if item is None else _parse(PushRejection, item)


def read_calibration(table: str, target_id: str) -> Calibration:
    item = (
        clients.dynamodb()
        .get_item(
            TableName=table, Key={"pk": {"S": target_pk(target_id)}, "sk": {"S": CALIBRATION_SK}}, ConsistentRead=True
        )
        .get("Item")
    )
    return Calibration() if item is None else _parse(Calibration, item)


def put_calibration(table: str, target_id: str, calibration: Calibration) -> None:
    _put(table, target_pk(target_id), CALIBRATION_SK, calibration, expires_at=None)


def delete_calendar_event(table: str, target_id: str, entry_id: str) -> bool:
    """Remove an entry; False if there was none."""
    response = clients.dynamodb().delete_item(
        TableName=table,
        Key={"pk": {"S": target_pk(target_id)}, "sk": {"S": CALENDAR_PREFIX + entry_id}},
        ReturnValues="ALL_OLD",
    )
    return "Attributes" in response


def put_journal_entry(table: str, change: AppliedChange) -> None:
    """Every applied (or dry-run) change, kept 30 days, one partition per UTC day."""
    moment = change.applied_at
    _put(
        table,
        JOURNAL_PREFIX + moment.strftime("%Y-%m-%d"),
        f"{moment.isoformat()}#{change.target_id}",
        change,
        expires_at=moment + timedelta(days=JOURNAL_DAYS),
    )


def read_journal(table: str, since: datetime, until: datetime) -> list[AppliedChange]:
    """Journal entries from `since` to `until` (oldest first), one Query per day."""
    entries: list[AppliedChange] = []
    day = since.date()
    while day <= until.date():
        kwargs: dict[str, object] = {
            "TableName": table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": {"S": JOURNAL_PREFIX + day.isoformat()},
                ":low": {"S": since.isoformat()},
                ":high": {"S": until.isoformat() + "~"},
            },
        }
        while True:
            response = clients.dynamodb().query(**kwargs)  # type: ignore[arg-type]
            entries.extend(_parse(AppliedChange, item) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            kwargs["ExclusiveStartKey"] = last
        day += timedelta(days=1)
    return entries


def put_calendar_event(table: str, target_id: str, event: CalendarEvent) -> None:
    item = _calendar_item(target_id, event)
    clients.dynamodb().put_item(TableName=table, Item=item)


def put_calendar_events(table: str, target_id: str, events: list[CalendarEvent]) -> None:
    """Many entries of one target (a calendar import), 25 per BatchWriteItem call."""
    _batch_put(table, [_calendar_item(target_id, event) for event in events])


def _calendar_item(target_id: str, event: CalendarEvent) -> dict[str, AttributeValueTypeDef]:
    ends = floor_ends_at(event)
    return _model_item(
        target_pk(target_id),
        CALENDAR_PREFIX + event.entry_id,
        event,
        ends + timedelta(days=7),
        from_epoch={"N": str(int(event.active_from.timestamp()))},
        until_epoch={"N": str(int(ends.timestamp()))},
    )


class ItemsNotWrittenError(Exception):
    """DynamoDB left items of a BatchWriteItem unprocessed after every retry (throttled)."""


def _batch_put(table: str, items: list[dict[str, AttributeValueTypeDef]]) -> None:
    """Put the items, 25 per BatchWriteItem call; unprocessed items are sent again (at most three times)."""
    for start in range(0, len(items), BATCH_WRITE_ITEMS):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH_WRITE_ITEMS]]
        for _ in range(3):
            response = clients.dynamodb().batch_write_item(RequestItems={table: requests})  # type: ignore[dict-item]
            requests = list(response.get("UnprocessedItems", {}).get(table, []))  # type: ignore[arg-type]
            if not requests:
                break
        else:
            raise ItemsNotWrittenError(f"BatchWriteItem left {len(requests)} items unprocessed in {table}")


def put_alb_samples(table: str, samples_by_target: dict[str, list[RateSample]], now: datetime) -> None:
    """Remember the ALB minutes just read, per target. A failure (ClientError, BotoCoreError,
    ItemsNotWrittenError) only costs the next iteration a GetMetricData call: it is raised for the caller to log."""
    _batch_put(
        table,
        [
            _model_item(target_pk(target_id), ALB_SK, _AlbMinutes(samples=samples), now + timedelta(hours=1))
            for target_id, samples in sorted(samples_by_target.items())
        ],
    )


def config_version(config: SurgeConfig) -> str:
    """The configuration's version: a digest of its canonical JSON (the same document, the same version)."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:20]


def put_config(table: str, config: SurgeConfig, now: datetime) -> str:
    """Keep the configuration under its version (for the states that read it by version); returns the version.

    Written when the table does not have it or keeps it less than another day: every execution (one a minute)
    reads the item's `expires_at` (half a read unit per 4 KB) instead of writing it again (a write unit per KB)."""
    version = config_version(config)
    kept = (
        clients.dynamodb()
        .get_item(
            TableName=table,
            Key={"pk": {"S": CONFIG_PREFIX + version}, "sk": {"S": CONFIG_SK}},
            ProjectionExpression="expires_at",
        )
        .get("Item")
    )
    if kept is not None and int(kept["expires_at"]["N"]) >= (now + timedelta(days=CONFIG_DAYS - 1)).timestamp():
        return version
    clients.dynamodb().put_item(
        TableName=table,
        Item={
            "pk": {"S": CONFIG_PREFIX + version},
            "sk": {"S": CONFIG_SK},
            "blob": {"B": zlib.compress(config.model_dump_json().encode(), 6)},
            "expires_at": {"N": str(int((now + timedelta(days=CONFIG_DAYS)).timestamp()))},
        },
    )
    return version


def read_config(table: str, version: str) -> SurgeConfig | None:
    """The configuration kept under `version` (None if the table has no such version)."""
    item = (
        clients.dynamodb()
        .get_item(TableName=table, Key={"pk": {"S": CONFIG_PREFIX + version}, "sk": {"S": CONFIG_SK}})
        .get("Item")
    )
    if item is None:
        return None
    return SurgeConfig.model_validate_json(zlib.decompress(item["blob"]["B"]))


@dataclass(frozen=True)
class StoredDocument:
    """The operator's document as the table keeps it."""

    document: str
    version: int
    modified_at: datetime


def put_operator_config(table: str, document: str, now: datetime) -> StoredDocument:
    """Write the operator's document (compressed) and count its version up; raises ValueError when even
    compressed it is above what an item holds."""
    blob = zlib.compress(document.encode(), 9)
    if len(blob) > MAX_DOCUMENT_BLOB_BYTES:
        raise ValueError(
            f"(document): {len(blob):,} bytes compressed, above the {MAX_DOCUMENT_BLOB_BYTES:,} a table item holds"
        )
    written = clients.dynamodb().update_item(
        TableName=table,
        Key=OPERATOR_CONFIG_KEY,
        UpdateExpression="SET #blob = :blob, modified_epoch = :now ADD #version :one",
        ExpressionAttributeNames={"#blob": "blob", "#version": "version"},
        ExpressionAttributeValues={
            ":blob": {"B": blob},
            ":now": {"N": f"{now.timestamp():.6f}"},
            ":one": {"N": "1"},
        },
        ReturnValues="UPDATED_NEW",
    )
    return StoredDocument(document=document, version=int(written["Attributes"]["version"]["N"]), modified_at=now)


def read_operator_config(table: str) -> StoredDocument | None:
    """The operator's document kept in the table, if `surge config apply` put it there."""
    item = clients.dynamodb().get_item(TableName=table, Key=OPERATOR_CONFIG_KEY, ConsistentRead=True).get("Item")
    if item is None:
        return None
    return StoredDocument(
        document=zlib.decompress(item["blob"]["B"]).decode(),
        version=int(item["version"]["N"]),
        modified_at=datetime.fromtimestamp(float(item["modified_epoch"]["N"]), tz=UTC),
    )


def delete_operator_config(table: str) -> bool:
    """Remove the operator's document from the table; False when there was none."""
    removed = clients.dynamodb().delete_item(TableName=table, Key=OPERATOR_CONFIG_KEY, ReturnValues="ALL_OLD")
    return "Attributes" in removed


def _model_item(
    pk: str, sk: str, model: BaseModel, expires_at: datetime | None, **extra: AttributeValueTypeDef
) -> dict[str, AttributeValueTypeDef]:
    """An item keeping `model` as JSON in `doc`, its TTL in `expires_at`, and any `extra` attributes."""
    # A hold's unset optional fields (released_at, released_by) are left out, so a hold nobody released is stored
    # exactly as before they existed, and an earlier version of Surge still reads it (after a rollback).
    document = model.model_dump_json(exclude_none=isinstance(model, Hold))
    item: dict[str, AttributeValueTypeDef] = {"pk": {"S": pk}, "sk": {"S": sk}, "doc": {"S": document}}
    if expires_at is not None:
        item["expires_at"] = {"N": str(int(expires_at.timestamp()))}
    return {**item, **extra}


def _put(
    table: str,
    pk: str,
    sk: str,
    model: BaseModel,
    expires_at: datetime | None,
    condition: str | None = None,
    values: dict[str, AttributeValueTypeDef] | None = None,
    names: dict[str, str] | None = None,
) -> None:
    kwargs: dict[str, object] = {"TableName": table, "Item": _model_item(pk, sk, model, expires_at)}
    if condition is not None:
        kwargs["ConditionExpression"] = condition
    if values:
        kwargs["ExpressionAttributeValues"] = values
    if names:
        kwargs["ExpressionAttributeNames"] = names
    clients.dynamodb().put_item(**kwargs)  # type: ignore[arg-type]
