"""The policies Surge is measured against, each modelled on its documented behaviour.

All of them act on the same simulated world as `surge` (world.py): units asked for serve `startup_seconds`
later, scale-in removes at once, ALB RequestCount minutes are visible `metric_publication_delay_seconds` after
the minute closes, and no datapoint exists for minutes inside a `metric_gaps` stretch.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from surge_cli.replay.policies.common import PolicyRun, ProgressCallback, clamp_units, drive, units_at_full_load
from surge_cli.replay.scenario import LoadedScenario
from surge_cli.replay.world import Fleet

ALB_PERIOD_SECONDS = 60


def minute_is_published(loaded: LoadedScenario, minute_start_seconds: int) -> bool:
    return not any(g.start_seconds <= minute_start_seconds < g.end_seconds for g in loaded.scenario.config.metric_gaps)


def minute_requests(loaded: LoadedScenario, minute_start_seconds: int) -> float:
    """RequestCount of one ALB minute: the demand of its 60 seconds (before the start, the first value holds)."""
    return sum(loaded.demand_at(minute_start_seconds + i) for i in range(ALB_PERIOD_SECONDS))


# ------------------------------------------------------------------------------------------------ static


@dataclass
class _Static:
    def tick(self, t_seconds: int, fleet: Fleet) -> None:
        return None


def run_static(loaded: LoadedScenario, progress: ProgressCallback | None = None) -> PolicyRun:
    """`static`: the initial units throughout; nothing ever scales."""
    return drive("static", loaded, _Static(), progress)


# ------------------------------------------------------------------------------------------------ oracle


@dataclass
class _Oracle:
    loaded: LoadedScenario
    needed_units: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        capacity = self.loaded.scenario.target.unit_capacity_rps
        self.needed_units = [
            clamp_units(units_at_full_load(rps, capacity), self.loaded) for rps in self.loaded.demand_rps
        ]

    def tick(self, t_seconds: int, fleet: Fleet) -> None:
        horizon = self.loaded.scenario.target.startup_seconds
        last = len(self.needed_units) - 1
        window = self.needed_units[min(t_seconds, last) : min(t_seconds + horizon, last) + 1]
        fleet.set_desired(t_seconds, max(window))


def run_oracle(loaded: LoadedScenario, progress: ProgressCallback | None = None) -> PolicyRun:
    """`oracle`: knows the future; the physical limit every other policy is measured against.

    At every second t it asks for the most units any second in [t, t + startup_seconds] needs, where a second
    needs exactly ceil(demand / unit_capacity_rps) units clamped to [min_units, max_units]. Units asked for at
    t serve from t + startup_seconds, so every second finds the units it needs in service (cancellations hit
    the newest starting units first, never a unit a nearer second relies on), and capacity is dropped as soon
    as no second within start-up reach needs it. Only the first `startup_seconds` are limited to the initial
    units, as for every policy.
    """
    return drive("oracle", loaded, _Oracle(loaded), progress)


# ---------------------------------------------------------------------------------------- target tracking

SCALE_OUT_DATAPOINTS = 3
SCALE_IN_DATAPOINTS = 15
SCALE_IN_THRESHOLD_SHARE = 0.9
COOLDOWN_SECONDS = 300


@dataclass
class _TargetTracking:
    loaded: LoadedScenario
    history: deque[float] = field(default_factory=lambda: deque(maxlen=SCALE_IN_DATAPOINTS))
    last_scale_out_seconds: int | None = None
    last_scale_in_seconds: int | None = None

    def __post_init__(self) -> None:
        # Before the replay the fleet ran at the first demand long enough for the alarms to have full history.
        initial = max(self.loaded.scenario.target.initial_units, 1)
        for _ in range(SCALE_IN_DATAPOINTS):
            self.history.append(minute_requests(self.loaded, -10 * ALB_PERIOD_SECONDS) / initial)

    @property
    def target_per_unit_per_minute(self) -> float:
        scenario = self.loaded.scenario
        return scenario.target.unit_capacity_rps * scenario.config.target_utilization * ALB_PERIOD_SECONDS

    def tick(self, t_seconds: int, fleet: Fleet) -> None:
        delay = self.loaded.scenario.config.metric_publication_delay_seconds
        since_close = t_seconds - ALB_PERIOD_SECONDS - delay
        if since_close % ALB_PERIOD_SECONDS != 0:
            return
        minute_start = since_close  # this minute's datapoint appears now
        if not minute_is_published(self.loaded, minute_start):
            return  # missing data: the alarms keep their state (TreatMissingData = missing)
        per_target = minute_requests(self.loaded, minute_start) / max(fleet.in_service_units, 1)
        self.history.append(per_target)
        self._evaluate(t_seconds, fleet, per_target)

    def _evaluate(self, t_seconds: int, fleet: Fleet, per_target: float) -> None:
        target = self.target_per_unit_per_minute
        proposed = clamp_units(math.ceil(max(fleet.in_service_units, 1) * per_target / target - 1e-9), self.loaded)
        recent = list(self.history)
        if len(recent) >= SCALE_OUT_DATAPOINTS and all(v > target for v in recent[-SCALE_OUT_DATAPOINTS:]):
            if proposed > fleet.desired_units:
                fleet.set_desired(t_seconds, proposed)
                self.last_scale_out_seconds = t_seconds
            return
        low = SCALE_IN_THRESHOLD_SHARE * target
        if len(recent) < SCALE_IN_DATAPOINTS or not all(v < low for v in recent):
            return
        if any(
            last is not None and t_seconds - last < COOLDOWN_SECONDS
            for last in (self.last_scale_in_seconds, self.last_scale_out_seconds)
        ):
            return
        if proposed < fleet.desired_units:
            fleet.set_desired(t_seconds, proposed)
            self.last_scale_in_seconds = t_seconds


def run_target_tracking(loaded: LoadedScenario, progress: ProgressCallback | None = None) -> PolicyRun:
    """`target-tracking`: Application Auto Scaling target tracking on ALBRequestCountPerTarget.

    As AWS documents it: the target value is unit_capacity_rps x target_utilization x 60 requests per target
    per minute; the metric is the ALB's 60 s RequestCount divided by the healthy (in-service) targets, visible
    only after its minute closes plus the publication delay. The scale-out alarm needs 3 consecutive
    datapoints above the target, the scale-in alarm 15 consecutive datapoints below 90 % of it (scale-in only
    10 % below target). The new capacity is proportional: ceil(in-service x metric / target), clamped to
    [min, max]. Scale-out may follow scale-out at once when the new capacity is higher (the capacity already
    added counts during the 300 s scale-out cooldown); scale-in waits 300 s after any scaling activity.
    A missing datapoint leaves both alarms as they are (TreatMissingData = missing).
    """
    return drive("target-tracking", loaded, _TargetTracking(loaded), progress)


# ---------------------------------------------------------------------------------------- fast autoscaler

POLL_SECONDS = 3
WAIT_AFTER_ACTION_SECONDS = 60
# The sample's tiers on the average nginx active connections per task: >= 500 -> 20 tasks, >= 300 -> 15,
# >= 100 -> 10, >= 50 -> 2, else no action. Here the per-task load is utilization (demand / in-service
# capacity), with 500 connections taken as a unit at full load, and the tiers 20/15/10/2 (out of max 20,
# min 2) scaled onto the scenario's [min, max].
TIERS = ((1.0, 1.0), (0.6, 13 / 18), (0.2, 8 / 18), (0.1, 0.0))


@dataclass
class _FastAutoscaler:
    loaded: LoadedScenario
    next_poll_seconds: int = 0

    def tier_units(self, share_of_range: float) -> int:
        target = self.loaded.scenario.target
        return round(target.min_units + share_of_range * (target.max_units - target.min_units))

    def tick(self, t_seconds: int, fleet: Fleet) -> None:
        if t_seconds < self.next_poll_seconds:
            return
        self.next_poll_seconds = t_seconds + POLL_SECONDS
        capacity = fleet.in_service_units * self.loaded.scenario.target.unit_capacity_rps
        demand = self.loaded.demand_at(t_seconds)
        load = demand / capacity if capacity > 0 else (math.inf if demand > 0 else 0.0)
        for threshold, share in TIERS:
            if load >= threshold:
                fleet.set_desired(t_seconds, self.tier_units(share))
                self.next_poll_seconds = t_seconds + WAIT_AFTER_ACTION_SECONDS
                return


def run_fast_autoscaler(loaded: LoadedScenario, progress: ProgressCallback | None = None) -> PolicyRun:
    """`fast-autoscaler`: the aws-fargate-fast-autoscaler sample's loop, as published.

    A Standard state machine polls a live per-task load signal (average nginx active connections, read by
    curling each task) every 3 s and maps it onto fixed tiers: desired 20 / 15 / 10 / 2 at >= 500 / 300 /
    100 / 50 connections per task, no action below. After any tier action (even an unchanged one, which
    still notifies) it waits 60 s before polling again. There is no proportional sizing and no working
    scale-in protection: the lowest tier cuts the service to 2 tasks whatever it ran. Here the load is
    demand / in-service capacity (500 connections = a unit at full load; thresholds 1.0 / 0.6 / 0.2 / 0.1)
    and the tiers are scaled onto [min_units, max_units] (20 -> max, 2 -> min).
    """
    return drive("fast-autoscaler", loaded, _FastAutoscaler(loaded), progress)
