"""What the loop knows about one target at one instant: load, holds, calendar events, capacity, history."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from surge.core.instances import LinkedReading


def _as_aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must be an aware datetime (with a UTC offset or time zone)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_aware_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateSample(_Model):
    """A request count summed over one period, starting at `start`."""

    start: UtcDatetime
    period_seconds: int = Field(ge=1, le=3_600)
    requests: float = Field(ge=0, allow_inf_nan=False)

    @property
    def rps(self) -> float:
        return self.requests / self.period_seconds

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.period_seconds)


class Hold(_Model):
    """A push hold: the loop keeps at least `units` while it lasts (see `hold_is_active`)."""

    push_id: str = Field(min_length=1, max_length=128)
    units: int = Field(ge=0)
    sized_for_rps: float = Field(ge=0, description="the demand this hold was sized for")
    baseline_rps: float = Field(default=0.0, ge=0, description="the demand already there when the push went out")
    started_at: UtcDatetime
    min_until: UtcDatetime
    max_until: UtcDatetime
    audience: int = Field(default=0, ge=0)
    calibrated: bool = Field(default=False, description="its observed demand has fed the calibration")
    released_at: UtcDatetime | None = Field(
        default=None, description="an operator released it (`surge hold release`): it stops counting from then"
    )
    released_by: str | None = Field(default=None, max_length=2_048, description="who released it")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.started_at <= self.min_until <= self.max_until:
            raise ValueError("hold times must satisfy started_at <= min_until <= max_until")
        return self


class CalendarEvent(_Model):
    """A pre-announced event, already resolved to UTC instants."""

    entry_id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=256)
    start_at: UtcDatetime
    end_at: UtcDatetime
    units: int = Field(ge=0)
    lead_seconds: int = Field(default=600, ge=0, le=86_400)
    hold_after_seconds: int = Field(default=0, ge=0, le=86_400)
    ramp_down_steps: int = Field(default=0, ge=0, le=100)
    ramp_down_step_seconds: int = Field(default=300, ge=1, le=86_400)
    time_zone: str = Field(default="UTC", description="where the operator wrote it (for display)")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_at <= self.start_at:
            raise ValueError(f"end ({self.end_at.isoformat()}) must be after start ({self.start_at.isoformat()})")
        return self

    @property
    def active_from(self) -> datetime:
        return self.start_at - timedelta(seconds=self.lead_seconds)

    @property
    def active_until(self) -> datetime:
        return self.end_at + timedelta(seconds=self.hold_after_seconds)


class GroupLimits(_Model):
    """An Auto Scaling group's MinSize and MaxSize."""

    min_units: int = Field(ge=0)
    max_units: int = Field(ge=0)


class CurrentCapacity(_Model):
    desired_units: int = Field(ge=0)
    in_service_units: int = Field(ge=0)
    group_limits: GroupLimits | None = Field(default=None, description="Auto Scaling groups only")
    linked: LinkedReading | None = Field(default=None, description="ECS on EC2: the linked group, as read")


class ShadowCapacity(_Model):
    """Dry-run only: the capacity Surge would have set, used as the current capacity on the next iteration."""

    desired_units: int = Field(ge=0)
    group_limits: GroupLimits | None = None


class TargetState(_Model):
    """What Surge remembers about a target between executions (one table item)."""

    last_scale_out_at: UtcDatetime | None = None
    last_scale_in_at: UtcDatetime | None = None
    saved_group_limits: GroupLimits | None = Field(
        default=None, description="the group's own min/max, saved before Surge raised them"
    )
    shadow: ShadowCapacity | None = Field(default=None, description="dry-run: what Surge would have set")
    version: int = Field(
        default=0, ge=0, description="bumped by every write; writes are conditional on the version read"
    )


class Pause(_Model):
    """An operator paused the target (`surge pause`): it is still read and decided, and nothing changes it (the
    loop, the push fast path, the calendar) until `surge resume`. Its own table item, written only by the CLI."""

    paused_at: UtcDatetime
    paused_by: str = Field(min_length=1, max_length=2_048, description="who paused it (the caller's ARN)")
    reason: str | None = Field(default=None, min_length=1, max_length=512)


class TargetSignals(_Model):
    """Everything ReadSignals learned about one target in one iteration."""

    target_id: str
    request_samples: list[RateSample] = Field(default_factory=list, description="ALB RequestCount, 60 s sums")
    high_resolution_samples: list[RateSample] = Field(default_factory=list)
    metric_error: str | None = Field(default=None, description="why the metrics could not be read, if so")
    holds: list[Hold] = Field(default_factory=list)
    store_error: str | None = Field(default=None, description="why holds and calendar could not be read, if so")
    calendar: list[CalendarEvent] = Field(default_factory=list)
    capacity: CurrentCapacity | None = Field(default=None, description="None when it could not be read")
    unavailable: str | None = Field(
        default=None,
        description="why the service or group cannot be used: it does not exist, is not active, or is refused",
    )
    state: TargetState = Field(default_factory=TargetState)
    pause: Pause | None = Field(default=None, description="set while an operator has paused the target")


MAX_COMPUTED_UNITS = 10**9
"""Far above any max_units; keeps an absurd rate from overflowing (the caller clamps to max_units)."""


def units_for_rps(rps: float, unit_capacity_rps: float, target_utilization: float) -> int:
    """Units needed to serve `rps` with each unit at `target_utilization` of its capacity."""
    exact = rps / (unit_capacity_rps * target_utilization)
    if not math.isfinite(exact) or exact >= MAX_COMPUTED_UNITS:
        return MAX_COMPUTED_UNITS
    # Tolerate float noise so that exactly 70 % of 10 units asks for 10, not 11.
    return max(0, math.ceil(exact - 1e-9))


def latest_fresh(samples: list[RateSample], now: datetime, max_age_seconds: float) -> RateSample | None:
    """The newest sample that ended no more than `max_age_seconds` ago (future samples are ignored)."""
    usable = [s for s in samples if s.end <= now + timedelta(seconds=1)]
    if not usable:
        return None
    newest = max(usable, key=lambda s: s.start)
    if (now - newest.end).total_seconds() > max_age_seconds:
        return None
    return newest
