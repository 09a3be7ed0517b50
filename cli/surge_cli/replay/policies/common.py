"""What every policy returns, and the second-by-second driver the baselines share."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from surge_cli.localaws.latency import PROFILES, LatencyModel
from surge_cli.replay.scenario import LoadedScenario
from surge_cli.replay.world import Fleet, LinkedFleet, ManagedScaling, Second, Units

ProgressCallback = Callable[[int], None]
"""Called with the number of simulated seconds replayed so far."""


@dataclass
class PolicyRun:
    """One policy's replay: every desired-count change `(t_seconds, units)` and one row per second."""

    policy: str
    changes: list[tuple[int, int]]
    seconds: list[Second]
    loop: dict[str, Any] | None = None  # surge only: what the loop itself did and cost
    wall_seconds: float = 0.0
    exact_changes: list[tuple[float, int]] | None = None
    """Changes at the instant they took effect (surge: fractional seconds); None: the same as `changes`."""
    capacity_calls: list[float] | None = None
    """Every capacity API call, changed or not (surge); None: one per change."""
    details: dict[str, Any] | None = None
    """surge only: the journal, the holds and how each push's fast path ended (see policies/surge.py)."""
    targets: dict[str, PolicyRun] | None = None
    """A scenario with `targets`: each target's own run, by id (this run's `changes` and `seconds` are empty;
    surge's `loop` and `details` are the whole loop's, once for every target)."""

    @property
    def change_instants(self) -> list[tuple[float, int]]:
        return self.exact_changes if self.exact_changes is not None else [(float(t), u) for t, u in self.changes]

    @property
    def call_instants(self) -> list[float]:
        return self.capacity_calls if self.capacity_calls is not None else [float(t) for t, _ in self.changes]


class Controller(Protocol):
    """A baseline: looks at the world at second `t` and may change the fleet's desired count."""

    def tick(self, t_seconds: int, fleet: Units) -> None: ...


def clamp_units(units: int, loaded: LoadedScenario) -> int:
    target = loaded.scenario.spec
    return max(target.min_units, min(target.max_units, units))


def units_at_full_load(rps: float, unit_capacity_rps: float) -> int:
    """Units that serve `rps` with every unit at 100 % (float noise tolerated)."""
    return max(0, math.ceil(rps / unit_capacity_rps - 1e-9))


def whole_second(t_seconds: float) -> int:
    """The whole second from which something happening at `t_seconds` takes effect (the next one if fractional)."""
    return math.ceil(t_seconds - 1e-9)


def seconds_from_start(loaded: LoadedScenario, moment: datetime) -> float:
    """Seconds from the scenario's start to an aware `moment` (negative before the start)."""
    return (moment - loaded.scenario.start_utc).total_seconds()


def world_latency(loaded: LoadedScenario) -> LatencyModel:
    """The scenario's latency world (`config.latency`, jitter seeded by `config.seed`)."""
    config = loaded.scenario.config
    return LatencyModel(PROFILES[config.latency], config.seed)


def new_fleet(loaded: LoadedScenario) -> Fleet | LinkedFleet:
    """The scenario's fleet at t = 0: its units alone, or (`target.instances`) its tasks on their instances."""
    target = loaded.scenario.spec
    if target.instances is None:
        return Fleet(target.initial_units, target.startup_seconds)
    return linked_fleet(loaded)


def linked_fleet(loaded: LoadedScenario) -> LinkedFleet:
    target = loaded.scenario.spec
    spec = target.instances
    if spec is None:
        raise ValueError("the scenario's target has no instances")
    return LinkedFleet(
        initial_tasks=target.initial_units,
        task_startup_seconds=target.startup_seconds,
        tasks_per_instance=spec.tasks_per_instance,
        instance_startup_seconds=spec.startup_seconds,
        initial_instances=spec.initial_units,
        min_instances=spec.min_units,
        max_instances=spec.max_units,
    )


def fleet_row(fleet: Fleet | LinkedFleet, t_seconds: int, demand_rps: float, unit_capacity_rps: float) -> Second:
    if isinstance(fleet, LinkedFleet):
        return fleet.row(t_seconds, demand_rps, unit_capacity_rps)
    in_service = fleet.in_service_units
    return Second(t_seconds, demand_rps, fleet.desired_units, in_service, in_service * unit_capacity_rps)


def drive(
    policy: str,
    loaded: LoadedScenario,
    controller: Controller,
    progress: ProgressCallback | None,
    *,
    managed_scaling: bool = True,
) -> PolicyRun:
    """Step the fleet one second at a time; the controller acts at the start of each second. With
    `target.instances` the capacity provider's managed scaling acts on the group after it (`managed_scaling`
    False: the controller drives the group itself, as the oracle does)."""
    target = loaded.scenario.spec
    fleet = new_fleet(loaded)
    managed = ManagedScaling() if isinstance(fleet, LinkedFleet) and managed_scaling else None
    rows: list[Second] = []
    for t, demand in enumerate(loaded.demand_rps):
        fleet.advance(t)
        controller.tick(t, fleet)
        if managed is not None and isinstance(fleet, LinkedFleet):
            managed.tick(t, fleet)
        rows.append(fleet_row(fleet, t, demand, target.unit_capacity_rps))
        if progress is not None and t % 60 == 59:
            progress(t + 1)
    return PolicyRun(policy=policy, changes=list(fleet.changes), seconds=rows)
