"""Push signals: the event a push server sends, the hold it buys, and self-calibration from past pushes."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from surge.core.config import TargetConfig
from surge.core.signals import Hold, RateSample, UtcDatetime, units_for_rps

MAX_AUDIENCE = 10**10
"""More people than exist: an audience above this is a bug in the sender, not a push."""
MAX_DETAIL_BYTES = 4_096
"""A PushSent detail is a few hundred bytes; anything over this is rejected before parsing."""
CALIBRATION_WINDOW = 5
"""How many past pushes the moving average of requests per audience member keeps."""

PushId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]


class PushSent(BaseModel):
    """The `detail` of a `PushSent` event (JSON Schema: `events/push-sent.schema.json`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    push_id: PushId
    audience: StrictInt = Field(ge=1, le=MAX_AUDIENCE, description="people notified")
    target_id: str | None = Field(default=None, min_length=1, max_length=64, description="default: every target")
    sent_at: UtcDatetime | None = None


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
