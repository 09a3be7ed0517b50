"""`surge push --wait`: what the fast path did with one push, learned from what it records.

The fast path is an Express state machine: on AWS, ListExecutions and DescribeExecution do not serve Express
executions (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html: "not supported
by EXPRESS state machines"), so the outcome is read from the table the fast path writes, never from the execution:

- rejected: the fast path keeps the reason a day under the event's EventBridge id (``REJECTED#<event id>``), the
  id PutEvents returned to the sender (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html:
  EventBridge assigns each event a unique ID, the event's ``id``);
- already handled: the push id's hold was already in the table before this delivery (the fast path records
  nothing for a duplicate and applies nothing);
- scaled: the hold is recorded and a journal entry names the push among its active holds (ScaleOutForPush, or the
  loop, applied it); or the hold is recorded and the desired count read before sending already covers it (no
  change); or the target is paused (recorded, honoured on resume).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from surge.adapters import capacity, store
from surge.core.config import SurgeConfig, TargetConfig
from surge.core.signals import Hold

JOURNAL_LOOKBACK = timedelta(minutes=5)
"""Journal entries this long before the send count too (the CLI's clock and Lambda's may differ a little)."""
POLL_SECONDS = 0.5


def _clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%SZ")


def _until(hold: Hold) -> str:
    return f"hold until {_clock(hold.min_until)}, at most {_clock(hold.max_until)}"


@dataclass(frozen=True)
class PushOutcome:
    line: str
    ok: bool
    """False: the push changed nothing it was meant to (rejected)."""


@dataclass(frozen=True)
class BeforeSending:
    """What the outcome is judged against, read before the push is sent."""

    holds: dict[str, Hold]
    """The holds this push id already has, by target: these make the push a duplicate."""
    desired_units: dict[str, int]
    """Each target's desired count: a recorded hold no larger changes nothing."""


def before_sending(table: str, push_id: str, targets: list[TargetConfig]) -> BeforeSending:
    holds = {}
    for target in targets:
        read = store.read_hold(table, target.id, push_id)
        if read is not None:
            holds[target.id] = read[0]
    found = capacity.read_capacity(SurgeConfig(targets=targets)).capacity if targets else {}
    return BeforeSending(holds=holds, desired_units={t: c.desired_units for t, c in found.items()})


def _target_outcome(
    table: str, push_id: str, target: TargetConfig, before: BeforeSending, sent_at: datetime, now: datetime
) -> str | None:
    items = store.read_target_items(table, target.id)
    hold = next((h for h in items.holds if h.push_id == push_id), None)
    if hold is None:
        return None
    for entry in reversed(store.read_journal(table, sent_at - JOURNAL_LOOKBACK, now)):
        if entry.target_id == target.id and push_id in entry.decision.active_holds:
            verb = "dry run: would scale" if entry.dry_run else "scaled"
            return f"{target.id} {verb} {entry.from_units} -> {entry.to_units} ({_until(hold)})"
    if items.pause is not None:
        return (
            f"{target.id} recorded a hold of {hold.units} units ({_until(hold)}); paused: nothing applied until resume"
        )
    desired = before.desired_units.get(target.id)
    if desired is not None and desired >= hold.units:
        return f"{target.id} recorded a hold of {hold.units} units ({_until(hold)}); desired was {desired}: no change"
    return None  # to be applied: the journal entry is still to come


def wait_for_outcome(
    *,
    table: str,
    event_id: str,
    push_id: str,
    targets: list[TargetConfig],
    before: BeforeSending,
    sent_at: datetime,
    wait_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> PushOutcome | None:
    """Poll the table until every target's outcome is known, the push is rejected, or `wait_seconds` pass (None)."""
    deadline = time.monotonic() + wait_seconds
    lines: dict[str, str] = {
        t: f"{t} already handled: push {push_id} was recorded at {_clock(h.started_at)} ({_until(h)}); nothing changed"
        for t, h in before.holds.items()
    }
    while True:
        rejection = store.read_push_rejection(table, event_id)
        if rejection is not None:
            return PushOutcome(f"push {push_id} rejected: {rejection.reason}", ok=False)
        now = datetime.now(UTC)
        for target in targets:
            if target.id not in lines:
                line = _target_outcome(table, push_id, target, before, sent_at, now)
                if line is not None:
                    lines[target.id] = line
        if len(lines) == len(targets):
            return PushOutcome(f"push {push_id}: " + "; ".join(lines[t.id] for t in targets), ok=True)
        if time.monotonic() >= deadline:
            return None
        sleep(POLL_SECONDS)
