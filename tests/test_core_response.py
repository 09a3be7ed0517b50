"""The trend, a push's response and the hold floors it leads to (pure core), by example.

A unit serves 100 rps at 50 % utilization here: one unit per 50 rps, so the arithmetic is easy to check.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surge.core.config import ScalingConfig, TargetConfig
from surge.core.decision import decide
from surge.core.push import Calibration, upper_quantile
from surge.core.response import (
    PEAK_SETTLE_SECONDS,
    freshest_trend,
    hold_floor,
    push_response,
    response_lookback_start,
)
from surge.core.signals import CurrentCapacity, Hold, RateSample, TargetSignals, units_for_rps

PUSH = datetime(2026, 1, 21, 11, 0, tzinfo=UTC)


def _scaling(**overrides: object) -> ScalingConfig:
    return ScalingConfig.model_validate(
        {
            "min_units": 2,
            "max_units": 200,
            "unit_capacity_rps": 100,
            "target_utilization": 0.5,
            "unit_startup_seconds": 30,
            "scale_in_cooldown_seconds": 60,
            **overrides,
        }
    )


def _hr(*rates: float, first: datetime = PUSH, period: int = 10) -> list[RateSample]:
    return [
        RateSample(start=first + timedelta(seconds=i * period), period_seconds=period, requests=rps * period)
        for i, rps in enumerate(rates)
    ]


def _hold(units: int = 16, sized_for_rps: float = 800.0, min_seconds: int = 600) -> Hold:
    max_seconds = max(1_800, min_seconds)
    return Hold(
        push_id="p",
        units=units,
        sized_for_rps=sized_for_rps,
        baseline_rps=50.0,
        started_at=PUSH,
        min_until=PUSH + timedelta(seconds=min_seconds),
        max_until=PUSH + timedelta(seconds=max_seconds),
        audience=100_000,
    )


def _signals(samples: list[RateSample], before: list[RateSample] | None = None) -> TargetSignals:
    history = before if before is not None else _hr(50, 50, first=PUSH - timedelta(seconds=20))
    return TargetSignals(target_id="api", high_resolution_samples=[*history, *samples])


def _floor(samples: list[RateSample], now: datetime, hold: Hold | None = None, **scaling: object) -> tuple[str, int]:
    config = _scaling(**scaling)
    signals = _signals(samples)
    trend = freshest_trend(signals, config, now, 30.0)
    chosen = hold or _hold()
    response = push_response(chosen, signals, config, trend, now)
    floor = hold_floor(chosen, response, config, now, cooldown_peak_rps=samples[-1].rps if samples else None)
    return floor.phase, floor.units


def test_a_rising_metric_gets_headroom_for_the_rise_before_new_units_serve() -> None:
    signals = _signals(_hr(100, 200, 300, 400), before=[])  # +10 rps/s, the newest [30, 40) seen at 40 s
    trend = freshest_trend(signals, _scaling(), PUSH + timedelta(seconds=40), 30.0)
    assert trend is not None
    assert trend.rising
    assert trend.slope_rps_per_second == pytest.approx(10.0)
    # lookahead = startup 30 s + lag (0 s since it closed + half its period, 5 s) = 35 s -> 350 rps, under the
    # cap of 100 % of 400 rps
    assert trend.headroom_rps(_scaling()) == pytest.approx(350.0)
    assert trend.headroom_rps(_scaling(trend_max_extra_fraction=0.5)) == pytest.approx(200.0)


@pytest.mark.parametrize(
    "rates",
    [(400, 400, 400, 400), (400, 300, 200, 100), (100, 200, 300, 250), (1000, 1010, 1020, 1030)],
    ids=["flat", "falling", "turned-down", "too-slow"],
)
def test_no_headroom_unless_really_rising(rates: tuple[float, ...]) -> None:
    trend = freshest_trend(_signals(_hr(*rates), before=[]), _scaling(), PUSH + timedelta(seconds=40), 30.0)
    assert trend is not None
    assert trend.headroom_rps(_scaling()) == 0.0


def test_no_evidence_keeps_the_sized_units() -> None:
    assert _floor([], PUSH + timedelta(seconds=5)) == ("sized", 16)


def test_a_response_heading_higher_than_sized_is_corrected_upward() -> None:
    # Sized for 800 rps (16 units). 10 s datapoints after the push: 300, 800 rps (the last step +50 rps/s).
    # Projection at 20 s: response 750 + min(50 x (30 + 5) = 1,750, cap 0.5 x 750 = 375) -> 50 + 1,125 = 1,175 rps
    # -> ceil(1,175 / 50) = 24 units.
    phase, units = _floor(_hr(300, 800), PUSH + timedelta(seconds=20))
    assert (phase, units) == ("corrected", 24)


def test_a_response_within_the_sized_units_keeps_them() -> None:
    assert _floor(_hr(300, 350), PUSH + timedelta(seconds=20)) == ("rising", 16)


def test_a_correction_never_lowers_the_hold_while_rising() -> None:
    # The response is small so far but still rising: never below the sized 16 units.
    phase, units = _floor(_hr(60, 80, 100), PUSH + timedelta(seconds=30))
    assert phase in ("rising", "corrected")
    assert units >= 16


def test_once_the_response_has_shown_its_size_a_too_high_guess_gives_way_to_the_observed_peak() -> None:
    # Sized 61 units (a guess 2x too high); the response peaks at 1,550 rps (31 units) at [20, 30) and stays
    # there: PEAK_SETTLE_SECONDS later, not rising, it is established.
    settled = [300, 800, 1550, *([1550] * (PEAK_SETTLE_SECONDS // 10))]
    now = PUSH + timedelta(seconds=10 * len(settled))
    assert _floor(_hr(*settled), now, _hold(units=61, sized_for_rps=3_050)) == ("established", 31)
    # not yet settled: the sized units stay
    early = _floor(_hr(300, 800, 1550, 1550), PUSH + timedelta(seconds=40), _hold(units=61, sized_for_rps=3_050))
    assert early[1] == 61


def test_after_the_peak_the_floor_follows_the_demand_but_keeps_the_peak_need_until_the_minimum() -> None:
    # Peak 1,550 rps at [20, 30), then below 95 % of it for a whole cooldown (60 s): passed.
    rates = [300, 800, 1550, 1200, 900, 600, 400, 300, 300, 300]
    now = PUSH + timedelta(seconds=100)
    # within the minimum hold (600 s): still the peak's 31 units
    assert _floor(_hr(*rates), now) == ("following", 31)
    # a minimum hold of 60 s has ended: the floor follows the demand (300 rps -> 6 units)
    assert _floor(_hr(*rates), now, _hold(min_seconds=60)) == ("following", 6)


def test_a_superseded_hold_keeps_its_peak_need_until_its_minimum_and_never_forbids_scale_in() -> None:
    config = _scaling()
    first = _hold()
    later = first.model_copy(update={"push_id": "q", "started_at": PUSH + timedelta(seconds=30)})
    signals = _signals(_hr(300, 1050, 1100, 3000, 3500))  # the second push's response from 30 s
    now = PUSH + timedelta(seconds=50)
    response = push_response(first, signals, config, None, now, next_start=later.started_at)
    assert response.superseded
    assert response.observed_peak_rps == 1100  # only the datapoints before the later push count for it
    floor = hold_floor(first, response, config, now, cooldown_peak_rps=3500)
    assert floor.phase == "following"
    assert floor.units == 70  # the demand now (3,500 rps) needs more than its own peak's 22 units


def test_the_metrics_reach_back_to_every_hold_still_within_its_minimum_for_at_most_an_hour() -> None:
    now = PUSH + timedelta(minutes=5)
    assert response_lookback_start([_hold()], now, 3_600) == PUSH
    assert response_lookback_start([_hold(min_seconds=60)], now, 3_600) is None
    long = _hold(min_seconds=7_200)
    at = PUSH + timedelta(minutes=90)
    assert response_lookback_start([long], at, 3_600) == PUSH + timedelta(minutes=30)


def test_push_sizing_for_the_uncertainty() -> None:
    prior = 0.01
    assert Calibration().sizing_rps_per_audience(prior, 2.0, 0.9) == pytest.approx(0.02)
    steady = Calibration(observations=[0.01, 0.01, 0.01, 0.01])
    # n = 4: mean 0.01 x (1 + 1 / sqrt(4)) = 0.015, above the 0.9 quantile (0.01)
    assert steady.sizing_rps_per_audience(prior, 2.0, 0.9) == pytest.approx(0.015)
    varied = Calibration(observations=[0.002, 0.004, 0.03, 0.004])
    # mean 0.01 x 1.5 = 0.015 < 0.9 quantile of [0.002, 0.004, 0.004, 0.03] = 0.004 + 0.7 x 0.026 = 0.0222
    assert varied.sizing_rps_per_audience(prior, 2.0, 0.9) == pytest.approx(0.0222)
    assert upper_quantile([1.0, 2.0, 3.0], 0.5) == pytest.approx(2.0)


# ------------------------------------------------------------------------------------------------ properties

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
_RATES = st.lists(st.floats(min_value=0, max_value=5_000), min_size=0, max_size=40)


def _target(**scaling: object) -> TargetConfig:
    return TargetConfig.model_validate(
        {
            "id": "api",
            "kind": "ecs",
            "ecs": {"cluster": "prod", "service": "api"},
            "load_balancer": {"load_balancer": "app/a/1"},
            "high_resolution_metric": {"namespace": "App", "metric_name": "Requests", "period_seconds": 10},
            "scaling": {**_scaling(**scaling).model_dump(), "max_units": 200},
        }
    )


@PROPERTY_SETTINGS
@given(
    rates=_RATES,
    units=st.integers(min_value=2, max_value=200),
    elapsed=st.integers(min_value=0, max_value=900),
    min_seconds=st.sampled_from([0, 60, 300, 600]),
    current=st.integers(min_value=2, max_value=200),
)
def test_the_push_floor_never_drops_below_the_observed_peaks_need_before_the_minimum_hold_ends(
    rates: list[float], units: int, elapsed: int, min_seconds: int, current: int
) -> None:
    now = PUSH + timedelta(seconds=elapsed)
    samples = [s for s in _hr(*rates) if s.end <= now]
    hold = _hold(units=units, sized_for_rps=units * 50.0, min_seconds=min_seconds)
    signals = _signals(samples).model_copy(
        update={"holds": [hold], "capacity": CurrentCapacity(desired_units=current, in_service_units=current)}
    )
    target = _target()
    decision = decide(target, signals, now)
    if now < hold.min_until and hold.push_id in decision.active_holds and samples:
        peak = max(s.rps for s in samples)
        needed = min(target.scaling.max_units, units_for_rps(peak, 100, 0.5))
        assert decision.push_floor_units >= needed
        if decision.desired_units is not None and decision.desired_units < current:
            assert decision.desired_units >= needed  # a scale-in never gives back what the observed peak needed
    if now < hold.min_until and not samples:
        assert decision.desired_units is not None
        assert decision.desired_units >= current
    assert target.scaling.min_units <= (decision.desired_units or target.scaling.min_units) <= 200


@PROPERTY_SETTINGS
@given(rates=_RATES, units=st.integers(min_value=2, max_value=200), elapsed=st.integers(min_value=0, max_value=900))
def test_a_correction_only_ever_raises_a_hold(rates: list[float], units: int, elapsed: int) -> None:
    config = _scaling()
    now = PUSH + timedelta(seconds=elapsed)
    signals = _signals([s for s in _hr(*rates) if s.end <= now])
    hold = _hold(units=units, sized_for_rps=units * 50.0)
    trend = freshest_trend(signals, config, now, 30.0)
    floor = hold_floor(hold, push_response(hold, signals, config, trend, now), config, now, cooldown_peak_rps=None)
    if floor.phase in ("sized", "rising", "corrected"):
        assert floor.units >= hold.units
