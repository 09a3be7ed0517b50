"""Calendar entries as operators write them (local times in an IANA time zone), resolved to UTC events.

Overlap rule: entries may overlap freely; at any instant the highest floor of all entries wins (the decision
core takes the max), and scale-in waits until no entry is active.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from surge.core.config import TargetConfig
from surge.core.errors import InvalidInputError
from surge.core.signals import CalendarEvent, units_for_rps

MAX_LEAD_SECONDS = 86_400


class CalendarEntry(BaseModel):
    """One pre-announced event. `start`/`end` are aware ISO 8601, or naive local times in `time_zone`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=256)
    target_id: str = Field(min_length=1, max_length=64)
    time_zone: str = Field(default="UTC", description="IANA name, e.g. Asia/Seoul or America/New_York")
    start: datetime
    end: datetime
    units: int | None = Field(default=None, ge=1, le=10_000)
    expected_rps: float | None = Field(default=None, gt=0, validate_default=True)
    lead_seconds: int = Field(default=600, ge=0, le=MAX_LEAD_SECONDS)
    hold_after_seconds: int = Field(default=0, ge=0, le=86_400)
    ramp_down_steps: int = Field(default=0, ge=0, le=100)
    ramp_down_step_seconds: int = Field(default=300, ge=1, le=86_400)
    entry_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")

    # Field validators (not a model validator) so that every error is located at the field it is about.

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Asia/Seoul', 'America/New_York')") from None
        return value

    @field_validator("start")
    @classmethod
    def _start_exists(cls, value: datetime, info: ValidationInfo) -> datetime:
        if "time_zone" in info.data:
            to_utc(value, info.data["time_zone"], "start")
        return value

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        zone = info.data.get("time_zone")
        if zone is None:
            return value
        end = to_utc(value, zone, "end")
        start = info.data.get("start")
        if start is not None and end <= to_utc(start, zone, "start"):
            raise ValueError(f"end ({value.isoformat()}) must be after start ({start.isoformat()})")
        return value

    @field_validator("expected_rps")
    @classmethod
    def _one_size(cls, value: float | None, info: ValidationInfo) -> float | None:
        if (info.data.get("units") is None) == (value is None):
            raise ValueError("give exactly one of units or expected_rps")
        return value

    @property
    def start_utc(self) -> datetime:
        return to_utc(self.start, self.time_zone, "start")

    @property
    def end_utc(self) -> datetime:
        return to_utc(self.end, self.time_zone, "end")

    @property
    def resolved_id(self) -> str:
        if self.entry_id is not None:
            return self.entry_id
        digest = hashlib.sha256(f"{self.target_id}|{self.name}|{self.start_utc.isoformat()}".encode()).hexdigest()
        return f"cal-{digest[:16]}"


def to_utc(moment: datetime, time_zone: str, field: str) -> datetime:
    """An aware datetime as is; a naive one as wall-clock time in `time_zone` (DST-correct).

    A wall-clock time that does not exist (skipped by a spring-forward change) is an error; one that occurs
    twice (fall-back) means its first occurrence.
    """
    if moment.tzinfo is not None and moment.utcoffset() is not None:
        if isinstance(moment.tzinfo, ZoneInfo):  # a wall-clock time in a named zone: check it exists
            return to_utc(moment.replace(tzinfo=None), moment.tzinfo.key, field)
        return moment.astimezone(UTC)
    zone = ZoneInfo(time_zone)
    local = moment.replace(tzinfo=zone, fold=0)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise ValueError(
            f"{field} {moment.isoformat()} does not exist in {time_zone} (a daylight-saving gap: clocks skip it)"
        )
    return local.astimezone(UTC)


def resolve_entry(entry: CalendarEntry, target: TargetConfig) -> CalendarEvent:
    """The UTC event the decision core uses; units above the target's max are an error, nothing is stored."""
    scaling = target.scaling
    units = entry.units
    if units is None:
        assert entry.expected_rps is not None  # the model guarantees one of the two
        units = units_for_rps(entry.expected_rps, scaling.unit_capacity_rps, scaling.target_utilization)
    if units > scaling.max_units:
        source = "units" if entry.units is not None else "expected_rps"
        raise InvalidInputError(
            f"{source}: needs {units} units, above target {target.id!r} max_units ({scaling.max_units})"
        )
    return CalendarEvent(
        entry_id=entry.resolved_id,
        name=entry.name,
        start_at=entry.start_utc,
        end_at=entry.end_utc,
        units=units,
        lead_seconds=entry.lead_seconds,
        hold_after_seconds=entry.hold_after_seconds,
        ramp_down_steps=entry.ramp_down_steps,
        ramp_down_step_seconds=entry.ramp_down_step_seconds,
        time_zone=entry.time_zone,
    )


def floor_ends_at(event: CalendarEvent) -> datetime:
    """When the event's floor reaches 0: the end of its hold and then of its ramp-down steps
    (`surge.core.decision.event_floor_units`)."""
    return event.active_until + timedelta(seconds=event.ramp_down_steps * event.ramp_down_step_seconds)


def events_that_can_matter(events: list[CalendarEvent], now: datetime, until: datetime) -> list[CalendarEvent]:
    """The events that can be active or have a floor at some instant of [now, until]: the only ones a decision made
    in that window looks at. The others (next month's launch, last week's show) stay in the table, out of the
    state machine's payload (Step Functions caps it at 256 KB), and are read again by the next ReadSignals."""
    return [event for event in events if event.active_from <= until and floor_ends_at(event) > now]
