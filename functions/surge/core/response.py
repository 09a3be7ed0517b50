"""What the metrics say about the demand right now and about a push's response (pure; no clock reads).

Two readings feed the decision (surge.core.decision):

* **The trend** of the freshest request metric: its latest rate, its slope over the last minute, and how old
  it is. A new unit serves `unit_startup_seconds` after it is asked for and the metric is already `lag`
  seconds old, so when demand is rising the reactive rule sizes for the rate expected when new units would be
  in service: `rate + slope x (startup + lag)`, only for a real rise (faster than `trend_min_rise_per_minute`
  of the rate, and still rising in the newest datapoint), at most `trend_max_extra_fraction` of the rate.
* **A push's response**: the demand since the push minus the pre-push baseline the fast path recorded. The
  hold's floor is corrected upward as soon as the response says it will be bigger than what the hold was sized
  for, and follows the observed demand once the response's peak has passed (see `hold_floor`).

Extrapolating a push's ramp: a push response rises for a minute or two (people open the notification), then
plateaus and decays. While it is still rising in datapoints shorter than the ramp (a high-resolution metric;
an ALB minute seen a minute or two after it closed describes a ramp that is mostly over), the response
expected when new units would be in service is
the current response plus its expected further rise (`expected_rise_rps`: linear at the last step's pace over
startup + metric lag while the ramp is not slowing; the geometric remainder of its shrinking steps once it is),
capped at 1.5x the response observed so far, so one noisy datapoint cannot ask for the maximum. An S-shaped
ramp is steepest in its middle: the linear part overshoots a little there, the geometric part stops the
overshoot as the ramp flattens. A correction only ever raises the floor; the floor keeps it until the response
has shown its size (scale-in is forbidden before).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from surge.core.config import ScalingConfig
from surge.core.signals import Hold, RateSample, TargetSignals, latest_fresh, units_for_rps

TREND_WINDOW_SECONDS = 60
"""The slope is measured over the datapoints that end within this window (at least two datapoints)."""
PEAK_TOLERANCE = 0.05
"""Demand within 5 % of the observed peak still counts as the peak (a plateau is not a decline)."""
PROJECTION_CAP_FACTOR = 1.5
"""A push's projected response is at most this multiple of the response observed so far."""
RAMP_RESOLUTION_SECONDS = 60
"""A push's ramp lasts about a minute: only datapoints shorter than this show where it is heading."""
PEAK_SETTLE_SECONDS = 120
"""A response that has not grown past its peak (less the tolerance) for this long, and is not rising, has shown its
size: two ALB minutes, twelve 10 s datapoints."""


@dataclass(frozen=True)
class Trend:
    """The freshest metric's latest rate, its slope and how far ahead new capacity must look."""

    rps: float
    slope_rps_per_second: float
    lag_seconds: float
    source: str
    rising: bool

    def lookahead_seconds(self, scaling: ScalingConfig) -> float:
        return scaling.unit_startup_seconds + self.lag_seconds

    def headroom_rps(self, scaling: ScalingConfig) -> float:
        """Extra demand to size for: the rise expected before new units serve (0 unless really rising)."""
        if not self.rising or scaling.trend_max_extra_fraction <= 0:
            return 0.0
        extra = self.slope_rps_per_second * self.lookahead_seconds(scaling)
        return max(0.0, min(extra, scaling.trend_max_extra_fraction * self.rps))


def _fresh(samples: list[RateSample], now: datetime, max_age_seconds: float) -> list[RateSample]:
    """The samples up to now, oldest first, if the newest is fresh (the decision's own freshness rule)."""
    if latest_fresh(samples, now, max_age_seconds) is None:
        return []
    return sorted((s for s in samples if s.end <= now + timedelta(seconds=1)), key=lambda s: s.start)


def slope_rps_per_second(samples: list[RateSample]) -> float:
    """Least-squares slope of rate against time over `samples` (mid-period instants)."""
    if len(samples) < 2:
        return 0.0
    origin = samples[0].start
    xs = [(s.start - origin).total_seconds() + s.period_seconds / 2 for s in samples]
    ys = [s.rps for s in samples]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread <= 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def trend_of(
    samples: list[RateSample], now: datetime, max_age_seconds: float, source: str, scaling: ScalingConfig
) -> Trend | None:
    usable = _fresh(samples, now, max_age_seconds)
    if not usable:
        return None
    newest = usable[-1]
    window_start = newest.end - timedelta(seconds=max(TREND_WINDOW_SECONDS, 2 * newest.period_seconds))
    recent = [s for s in usable if s.end > window_start]
    slope = slope_rps_per_second(recent)
    lag = (now - newest.end).total_seconds() + newest.period_seconds / 2
    still_rising = len(recent) >= 2 and newest.rps > recent[-2].rps
    fast_enough = slope * 60 > scaling.trend_min_rise_per_minute * max(newest.rps, 1.0)
    return Trend(
        rps=newest.rps, slope_rps_per_second=slope, lag_seconds=lag, source=source, rising=still_rising and fast_enough
    )


def freshest_trend(
    signals: TargetSignals, scaling: ScalingConfig, now: datetime, high_resolution_max_age_seconds: float
) -> Trend | None:
    """The trend of the metric whose newest datapoint is the most recent (the high-resolution one if fresh)."""
    candidates = [
        trend_of(signals.request_samples, now, scaling.metric_max_age_seconds, "alb_request_count", scaling),
        trend_of(signals.high_resolution_samples, now, high_resolution_max_age_seconds, "high_resolution", scaling),
    ]
    found = [t for t in candidates if t is not None]
    if not found:
        return None
    return min(found, key=lambda t: t.lag_seconds)


# ---------------------------------------------------------------------------------------------- push response


@dataclass(frozen=True)
class PushResponse:
    """What the metrics say about one push so far (demand totals, including the pre-push baseline)."""

    push_id: str
    baseline_rps: float
    observed_peak_rps: float | None
    """The highest rate of a datapoint that began at or after the push (None: no evidence yet)."""
    peak_at: datetime | None
    projected_peak_rps: float | None
    """While rising: the rate expected when new units serve (see the module docstring); else the peak."""
    peak_passed: bool
    """Demand has stayed below the observed peak (less the tolerance) for one scale-in cooldown."""
    established: bool
    """The response reached its peak (within the tolerance) at least PEAK_SETTLE_SECONDS ago and is not rising:
    its size is known, the guess no longer matters."""
    covers_hold_start: bool
    """The samples reach back to the push: the observed peak is the response's true peak so far."""
    source: str | None
    superseded: bool = False
    """A later push went out: the demand since then is not this push's alone, so the evidence stops there and
    the later hold (sized on top of the demand at its push, and corrected from it) carries the response."""


def _response_samples(signals: TargetSignals, hold: Hold) -> tuple[list[RateSample], str | None]:
    """The evidence about a push: its own source's datapoints that began at or after the push (the high-resolution
    metric when the target has one; ALB minutes contain up to a minute from before the push)."""
    for samples, source in ((signals.high_resolution_samples, "high_resolution"), (signals.request_samples, "alb")):
        after = sorted((s for s in samples if s.end > hold.started_at), key=lambda s: s.start)
        if after:
            return after, source
    return [], None


def expected_rise_rps(samples: list[RateSample], lookahead_seconds: float) -> float:
    """How much more a rising ramp will climb before new capacity serves (`lookahead_seconds` from now).

    From its last two steps: a ramp whose last step is smaller than the one before is slowing towards its
    plateau, and what is left of its rise is the geometric series of its shrinking steps (step x r / (1 - r),
    r = last step / step before); a ramp that is not slowing is extrapolated linearly at its last step's pace
    over the lookahead. The caller caps either (PROJECTION_CAP_FACTOR)."""
    if len(samples) < 2:
        return 0.0
    last = samples[-1].rps - samples[-2].rps
    if last <= 0:
        return 0.0
    linear = last / samples[-1].period_seconds * lookahead_seconds
    if len(samples) >= 3:
        before = samples[-2].rps - samples[-3].rps
        if before > last:
            ratio = last / before
            return min(linear, last * ratio / (1 - ratio))
    return linear


def next_push_start(hold: Hold, holds: list[Hold]) -> datetime | None:
    """When the next push after `hold` went out (None: it is the latest)."""
    later = [h.started_at for h in holds if h.started_at > hold.started_at and h.push_id != hold.push_id]
    return min(later, default=None)


def push_response(
    hold: Hold,
    signals: TargetSignals,
    scaling: ScalingConfig,
    trend: Trend | None,
    now: datetime,
    next_start: datetime | None = None,
) -> PushResponse:
    samples, source = _response_samples(signals, hold)
    samples = [s for s in samples if s.end <= now + timedelta(seconds=1)]
    superseded = next_start is not None and next_start <= now
    if superseded:
        assert next_start is not None
        samples = [s for s in samples if s.start < next_start]
        trend = None  # the trend now is the later push's
    earliest = min((s.start for s in (*signals.high_resolution_samples, *signals.request_samples)), default=None)
    covers = earliest is not None and earliest <= hold.started_at
    if not samples:
        return PushResponse(hold.push_id, hold.baseline_rps, None, None, None, False, False, covers, source, superseded)
    peak = max(samples, key=lambda s: (s.rps, s.start))
    near_peak = [s for s in samples if s.rps >= (1 - PEAK_TOLERANCE) * peak.rps]
    first_near = min(near_peak, key=lambda s: s.end)  # when the response first reached its peak
    last_near = max(near_peak, key=lambda s: s.end)  # a plateau keeps the peak "now"
    newest = samples[-1]
    cooldown = timedelta(seconds=scaling.scale_in_cooldown_seconds)
    passed = newest.end - last_near.end >= cooldown and newest.rps < (1 - PEAK_TOLERANCE) * peak.rps
    rising = trend is not None and trend.rising
    established = not rising and newest.end - first_near.end >= timedelta(seconds=PEAK_SETTLE_SECONDS)
    projected = peak.rps
    # Extrapolate only from datapoints shorter than the ramp itself: an ALB minute that is seen 1-2 minutes
    # after it closed mostly describes a ramp that is already over (its slope would double the response).
    fine_grained = newest.period_seconds < RAMP_RESOLUTION_SECONDS
    if trend is not None and rising and not passed and fine_grained:
        response = max(0.0, trend.rps - hold.baseline_rps)
        rise = expected_rise_rps(samples, trend.lookahead_seconds(scaling))
        projected = max(peak.rps, hold.baseline_rps + response + min(rise, (PROJECTION_CAP_FACTOR - 1) * response))
    return PushResponse(
        hold.push_id,
        hold.baseline_rps,
        peak.rps,
        peak.start,
        projected,
        passed,
        established,
        covers,
        source,
        superseded,
    )


@dataclass(frozen=True)
class HoldFloor:
    units: int
    phase: str
    """'sized' (no evidence yet), 'corrected' (the response says more), 'rising' (as sized, response so far within
    it), 'established' (the response has shown its size: the observed peak's need, whatever the guess said),
    'following' (peak passed: the floor follows the observed demand). Only the last two allow scale-in."""
    explanation: str
    evidenced_units: int | None = None
    """What the response's observed peak needed (None: no evidence yet)."""


def hold_floor(
    hold: Hold,
    response: PushResponse,
    scaling: ScalingConfig,
    now: datetime,
    cooldown_peak_rps: float | None,
) -> HoldFloor:
    """The units a push hold guarantees now.

    While the response is rising (or there is no evidence yet): at least the sized units, raised to what the
    observed or projected response needs (a correction only ever raises). Once the response has shown its size
    (established: its peak reached PEAK_SETTLE_SECONDS ago, no longer rising): what the observed peak needs,
    whatever the guess was. Once the peak has passed: what the demand over the last cooldown needs (the reactive
    rule's own scale-in measure), and before `min_until` never below what the observed peak needed. If the
    metrics do not reach back to the push (a very long minimum hold), the sized units stay until `min_until`.
    """

    def need(rps: float) -> int:
        return units_for_rps(rps, scaling.unit_capacity_rps, scaling.target_utilization)

    if response.superseded:
        return _superseded_floor(hold, response, need, now, cooldown_peak_rps)
    if response.observed_peak_rps is None:
        return HoldFloor(hold.units, "sized", f"push {hold.push_id}: {hold.units} units as sized (no response yet)")
    peak_need = need(response.observed_peak_rps)
    if not response.peak_passed and response.established and response.covers_hold_start:
        return HoldFloor(
            peak_need,
            "established",
            f"push {hold.push_id}: response peaked at {response.observed_peak_rps:,.0f} rps ({response.source}); "
            f"{peak_need} units guaranteed (sized {hold.units})",
            peak_need,
        )
    if not response.peak_passed:
        projected_need = need(response.projected_peak_rps or response.observed_peak_rps)
        units = max(hold.units, peak_need, projected_need)
        if units > hold.units:
            return HoldFloor(
                units,
                "corrected",
                f"push {hold.push_id}: corrected {hold.units} -> {units} units (response "
                f"{response.observed_peak_rps:,.0f} rps so far, heading for {response.projected_peak_rps:,.0f} rps, "
                f"from {response.source})",
                peak_need,
            )
        return HoldFloor(units, "rising", f"push {hold.push_id}: {units} units as sized; response within it", peak_need)
    follow = need(cooldown_peak_rps) if cooldown_peak_rps is not None else hold.units
    if now < hold.min_until:
        guaranteed = peak_need if response.covers_hold_start else max(peak_need, hold.units)
        units = max(follow, guaranteed)
        return HoldFloor(
            units,
            "following",
            f"push {hold.push_id}: peak {response.observed_peak_rps:,.0f} rps passed; {units} units (the peak's need "
            f"until the minimum hold ends)",
            peak_need,
        )
    return HoldFloor(
        follow,
        "following",
        f"push {hold.push_id}: peak passed; the floor follows the demand ({follow} units)",
        peak_need,
    )


def _superseded_floor(
    hold: Hold,
    response: PushResponse,
    need: Callable[[float], int],
    now: datetime,
    cooldown_peak_rps: float | None,
) -> HoldFloor:
    """A hold whose push was followed by another: until its own minimum ends it keeps what its response needed up
    to the later push (its sized units too, if it had not shown its size by then); after that it follows the
    demand. It never forbids scale-in: the later hold does while its own response rises."""
    follow = need(cooldown_peak_rps) if cooldown_peak_rps is not None else hold.units
    evidenced = need(response.observed_peak_rps) if response.observed_peak_rps is not None else None
    if now >= hold.min_until:
        return HoldFloor(
            follow, "following", f"push {hold.push_id}: superseded; the floor follows the demand", evidenced
        )
    peak_need = evidenced if evidenced is not None else hold.units
    shown = response.established or response.peak_passed
    guaranteed = peak_need if shown and response.covers_hold_start else max(peak_need, hold.units)
    return HoldFloor(
        max(follow, guaranteed),
        "following",
        f"push {hold.push_id}: superseded by a later push; {max(follow, guaranteed)} units until its minimum hold ends",
        evidenced,
    )


def response_lookback_start(holds: list[Hold], now: datetime, max_lookback_seconds: int) -> datetime | None:
    """How far back the metrics must reach so every hold still within its minimum sees its whole response
    (None: the usual scale-in window is enough); never further back than `max_lookback_seconds`."""
    starts = [h.started_at for h in holds if h.started_at <= now < h.min_until]
    if not starts:
        return None
    return max(min(starts), now - timedelta(seconds=max_lookback_seconds))
