"""The simulated fleet: desired units, units starting up, units in service, and what they serve.

Rules (brief, "Scenario files"): a unit asked for serves `startup_seconds` later; scale-in removes at once
(units still starting are cancelled first, newest first, then units in service); demand above in-service
capacity is dropped: served = min(demand, in_service_units * unit_capacity_rps). Time is whole seconds from the
scenario's start; a change at a fractional instant takes effect from the next whole second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class _Starting:
    ready_at_seconds: int
    units: int


@dataclass
class Fleet:
    """Desired and in-service units over time, fed with desired-count changes in time order."""

    initial_units: int
    startup_seconds: int
    desired_units: int = field(init=False)
    in_service_units: int = field(init=False)
    starting: list[_Starting] = field(default_factory=list)
    changes: list[tuple[int, int]] = field(default_factory=list, init=False)
    _now_seconds: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.desired_units = self.initial_units
        self.in_service_units = self.initial_units

    def advance(self, t_seconds: int) -> None:
        """Bring every unit whose start-up has finished by `t_seconds` into service."""
        if t_seconds < self._now_seconds:
            raise ValueError(f"time went backwards: {t_seconds} < {self._now_seconds}")
        self._now_seconds = t_seconds
        while self.starting and self.starting[0].ready_at_seconds <= t_seconds:
            self.in_service_units += self.starting.pop(0).units

    def set_desired(self, t_seconds: int, units: int) -> None:
        """Ask for `units` at `t_seconds` (new units serve `startup_seconds` later; removals are immediate)."""
        self.advance(t_seconds)
        if units == self.desired_units:
            return
        self.changes.append((t_seconds, units))
        if units > self.desired_units:
            self.starting.append(_Starting(t_seconds + self.startup_seconds, units - self.desired_units))
            if self.startup_seconds == 0:
                self.advance(t_seconds)
        else:
            self._remove(self.desired_units - units)
        self.desired_units = units

    def _remove(self, units: int) -> None:
        while units and self.starting:
            newest = self.starting[-1]
            cancelled = min(units, newest.units)
            newest.units -= cancelled
            units -= cancelled
            if newest.units == 0:
                self.starting.pop()
        self.in_service_units -= units


@dataclass(frozen=True)
class Second:
    """One second of a replay, as the timeline CSV and the KPIs see it."""

    t_seconds: int
    demand_rps: float
    desired_units: int
    in_service_units: int
    capacity_rps: float

    @property
    def served_rps(self) -> float:
        return min(self.demand_rps, self.capacity_rps)


def timeline(
    demand_rps: list[float],
    changes: list[tuple[float, int]],
    *,
    initial_units: int,
    startup_seconds: int,
    unit_capacity_rps: float,
) -> list[Second]:
    """Replay desired-count changes `(t_seconds, units)` (in time order) through a fleet, one row per second."""
    fleet = Fleet(initial_units, startup_seconds)
    pending = sorted(((math.ceil(t - 1e-9), units) for t, units in changes), key=lambda c: c[0])
    rows: list[Second] = []
    index = 0
    for t, demand in enumerate(demand_rps):
        while index < len(pending) and pending[index][0] <= t:
            fleet.set_desired(t, pending[index][1])
            index += 1
        fleet.advance(t)
        rows.append(_row(t, demand, fleet, unit_capacity_rps))
    return rows


def _row(t: int, demand: float, fleet: Fleet, unit_capacity_rps: float) -> Second:
    return Second(t, demand, fleet.desired_units, fleet.in_service_units, fleet.in_service_units * unit_capacity_rps)
