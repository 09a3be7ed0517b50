"""Push signals: the event a push server sends, the hold it buys, and self-calibration from past pushes."""

from __future__ import annotations

import calendar
import math
import re
from datetime import datetime, timedelta, timezone
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema

from surge.core.config import TargetConfig
from surge.core.errors import describe_validation_error
from surge.core.signals import Hold, RateSample, UtcDatetime, units_for_rps

MAX_AUDIENCE = 10**10
"""More people than exist: an audience above this is a bug in the sender, not a push."""
MAX_DETAIL_BYTES = 4_096
"""A PushSent detail is a few hundred bytes; anything over this is rejected before parsing."""
CALIBRATION_WINDOW = 5
"""How many past pushes the moving average of requests per audience member keeps."""

# `$(?!\n)`: the end of the text and nothing after it. A bare `$` also matches before a trailing newline in
# Python's `re` (which JSON Schema validators written in Python use), so "post-1\n" would pass the schema.
_END = r"$(?!\n)"
PushId = Annotated[str, Field(min_length=1, max_length=128, pattern=rf"^[A-Za-z0-9][A-Za-z0-9_.:-]*{_END}")]


def _whole_number(value: object) -> object:
    """JSON has one number type: 3000000, 3000000.0 and 3e6 are the same integer (JSON Schema's `integer`), and
    senders in Python (`float(n)`) or JavaScript send the latter. A fraction, a string or a boolean is not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number (a JSON number without a fraction)")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError("must be a whole number (a JSON number without a fraction)")
        return int(value)
    return value


Audience = Annotated[int, Field(ge=1, le=MAX_AUDIENCE, description="people notified"), BeforeValidator(_whole_number)]

_RFC3339 = re.compile(
    r"(\d{4})-(0[1-9]|1[0-2])-(\d{2})T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(\.\d+)?(Z|([+-])([01]\d|2[0-3]):([0-5]\d))",
    re.ASCII,
)
RFC3339_HINT = "must be an RFC 3339 date-time string with an offset, e.g. 2026-01-21T11:00:00Z"


def _rfc3339(value: object) -> object:
    """JSON Schema's `date-time` (RFC 3339 section 5.6, as `rfc3339-validator` checks it for the schema: `T` and
    `Z` in either case, no leap second, no year 0), kept in its own offset: year 1 at +01:00 is a valid date-time
    that has no UTC equivalent in Python's range."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(RFC3339_HINT)
        return value
    if not isinstance(value, str):
        raise ValueError(RFC3339_HINT)
    found = _RFC3339.fullmatch(value.upper())
    if found is None:
        raise ValueError(RFC3339_HINT)
    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    if year == 0 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise ValueError(RFC3339_HINT)
    fraction = found.group(7)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    offset = timedelta(0)
    if found.group(8) != "Z":
        offset = timedelta(hours=int(found.group(10)), minutes=int(found.group(11)))
        offset = -offset if found.group(9) == "-" else offset
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone(offset))


SentAt = Annotated[
    datetime,
    BeforeValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": rf"^[^\n]*{_END}"}),
]


class PushSent(BaseModel):
    """The `detail` of a `PushSent` event (JSON Schema: `events/push-sent.schema.json`, generated from this model
    and checked against it case by case in tests/test_push_contract.py)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        regex_engine="python-re",
        json_schema_extra={
            "description": "detail of a PushSent event (detail-type PushSent) put on the Surge bus by the push server"
        },
    )

    push_id: PushId
    audience: Audience
    target_id: str | None = Field(default=None, min_length=1, max_length=64, description="default: every target")
    sent_at: SentAt | None = Field(default=None, description="when the push went out (advisory: not used to scale)")


SCALING_FIELDS = frozenset({"audience", "target_id"})
"""What a push needs to scale. If these are valid the spike is never dropped for the rest of the detail: a
malformed optional field or an unknown one is left out and reported, a malformed push id is replaced."""


def salvage_push(detail: object, event_id: str | None) -> tuple[PushSent, str | None]:
    """The push in `detail`, and one line naming every field left out (None: the detail was valid).

    Raises ValidationError when a field needed to scale (SCALING_FIELDS) is bad or missing, when the detail is not
    an object, or when the push id is bad and there is no event id to stand in for it (`event-<EventBridge id>`:
    EventBridge keeps an event's id across its own delivery retries, so a redelivery is still one push)."""
    try:
        return PushSent.model_validate(detail), None
    except ValidationError as error:
        problems = error.errors(include_url=False)
        fields = {str(p["loc"][0]) for p in problems if p["loc"]}
        if not isinstance(detail, dict) or any(not p["loc"] for p in problems) or fields & SCALING_FIELDS:
            raise
        kept = {key: value for key, value in detail.items() if key not in fields}
        if "push_id" in fields:
            if not event_id:
                raise
            kept["push_id"] = f"event-{event_id}"
        push = PushSent.model_validate(kept)
        note = describe_validation_error(error, prefix="detail", model=PushSent)
        replaced = f"; push_id replaced by {push.push_id!r}" if "push_id" in fields else ""
        return push, f"ignored {note}{replaced}"


class PushRejection(BaseModel):
    """A PushSent event the fast path refused, kept a day by its EventBridge event id (the id PutEvents returned
    to the sender), so that the sender can learn why (`surge push --wait`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(min_length=1, max_length=128)
    push_id: str | None = Field(default=None, description="the detail's push_id, when it could be read")
    reason: str = Field(description="the field at fault and what is allowed, as the fast path's log says it")
    rejected_at: UtcDatetime


class Calibration(BaseModel):
    """Observed requests per second per audience member of a target's recent pushes (newest last)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    observations: list[float] = Field(default_factory=list, max_length=CALIBRATION_WINDOW)

    def rps_per_audience(self, prior: float) -> float:
        """The moving average of past pushes; the operator's prior until there is history."""
        if not self.observations:
            return prior
        return sum(self.observations) / len(self.observations)

    def sizing_rps_per_audience(self, prior: float, safety_factor: float, quantile: float) -> float:
        """The rate a push is sized for: for the uncertainty, not the mean.

        No history: the operator's prior x `safety_factor` (a guess needs a margin). With n observed pushes: the
        larger of their `quantile` (linear interpolation; a target whose pushes vary widely gets more headroom
        than a steady one) and their mean x (1 + (safety_factor - 1) / sqrt(n)) (the margin shrinks as the
        evidence grows, like the standard error of a mean).
        """
        if not self.observations:
            return prior * safety_factor
        n = len(self.observations)
        mean = sum(self.observations) / n
        return max(upper_quantile(self.observations, quantile), mean * (1 + (safety_factor - 1) / math.sqrt(n)))

    def with_observation(self, value: float) -> Calibration:
        kept = [*self.observations, max(0.0, value)][-CALIBRATION_WINDOW:]
        return Calibration(observations=kept)


def upper_quantile(values: list[float], quantile: float) -> float:
    """The `quantile` of `values` by linear interpolation between order statistics (numpy's default)."""
    ordered = sorted(values)
    position = quantile * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def size_push_hold(
    push: PushSent,
    target: TargetConfig,
    *,
    demand_rps: float | None,
    current_desired_units: int,
    rps_per_audience: float,
    now: datetime,
) -> Hold:
    """The hold a push buys: enough units for current demand plus the audience's expected requests.

    units = ceil((demand + audience x rps_per_audience) / (unit capacity x utilization)), never lower than the
    current desired count, clamped to [min_units, max_units].
    """
    scaling = target.scaling
    baseline_rps = demand_rps or 0.0
    expected_rps = baseline_rps + push.audience * rps_per_audience
    needed = units_for_rps(expected_rps, scaling.unit_capacity_rps, scaling.target_utilization)
    units = max(scaling.min_units, min(scaling.max_units, max(needed, current_desired_units)))
    return Hold(
        push_id=push.push_id,
        units=units,
        sized_for_rps=expected_rps,
        baseline_rps=baseline_rps,
        started_at=now,
        min_until=now + timedelta(seconds=scaling.push_min_hold_seconds),
        max_until=now + timedelta(seconds=scaling.push_hold_seconds),
        audience=push.audience,
    )


def observed_rps_per_audience(hold: Hold, samples: list[RateSample]) -> float | None:
    """What the push really brought: (peak rate during the hold - baseline) / audience; None without data."""
    during = [s for s in samples if s.end > hold.started_at and s.start < hold.max_until]
    if not during or hold.audience <= 0:
        return None
    peak = max(s.rps for s in during)
    return max(0.0, peak - hold.baseline_rps) / hold.audience
