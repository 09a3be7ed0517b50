"""The simulated fleet: desired units, units starting up, units in service, and what they serve (`Fleet`); for
ECS on EC2 (`target.instances`) the tasks on their Auto Scaling group's instances and the capacity provider's
managed scaling (`LinkedFleet`, `ManagedScaling`, below).

Rules (brief, "Scenario files"): a unit asked for serves `startup_seconds` later; scale-in removes at once
(units still starting are cancelled first, newest first, then units in service); demand above in-service
capacity is dropped: served = min(demand, in_service_units * unit_capacity_rps). Time is whole seconds from the
scenario's start; a change at a fractional instant takes effect from the next whole second.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol


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
    pending_units: int = 0
    """ECS on EC2: desired tasks waiting for a free slot on an in-service instance (PROVISIONING)."""
    instances: int | None = None
    """ECS on EC2: instances launched (starting or in service: each is paid for); None without `target.instances`."""
    instances_in_service: int | None = None
    group_desired: int | None = None

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


class Units(Protocol):
    """What a policy sees of the scaled fleet and may change: the desired count of its units (tasks or instances)
    and how many serve. `Fleet` and `LinkedFleet` both are one."""

    @property
    def desired_units(self) -> int: ...

    @property
    def in_service_units(self) -> int: ...

    changes: list[tuple[int, int]]

    def advance(self, t_seconds: int) -> None: ...

    def set_desired(self, t_seconds: int, units: int) -> None: ...


# ------------------------------------------------------------------------------------------ ECS on EC2


@dataclass
class _Instance:
    number: int
    """Launch order (instance ids in the timeline); the newest has the highest."""
    in_service_at_seconds: int
    """Registered with the cluster from then: tasks may be placed on it."""
    tasks_ready_at: list[int] = field(default_factory=list)
    """One entry per task placed on it: the second from which that task serves."""


@dataclass
class LinkedFleet:
    """ECS tasks placed on the instances of an Auto Scaling group (a capacity provider's), second by second.

    Tasks: the service's desired count; a task is placed only on a free slot (`tasks_per_instance` per instance)
    of an instance in service, binpacked (the fullest instance with a free slot first), then serves
    `task_startup_seconds` later; a desired task without a slot waits (PROVISIONING: `pending_units`). Lowering
    the desired count removes waiting tasks first, then starting ones (newest first), then running ones from
    the instance running the fewest (which frees instances). Served capacity counts running tasks only.

    Instances: the group's MinSize / MaxSize / DesiredCapacity. An instance launched serves (is registered with
    the cluster) `instance_startup_seconds` later and is paid for from its launch. While the group runs more
    instances than desired, instances without a task are terminated (not yet in service first, newest first);
    an instance running a task is never terminated (ECS managed termination protection: "Amazon ECS only
    terminates EC2 instances that don't have any running Amazon ECS tasks",
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/managed-termination-protection.html): it goes
    once its last task has stopped, if the group still runs more than desired.
    """

    initial_tasks: int
    task_startup_seconds: int
    tasks_per_instance: int
    instance_startup_seconds: int
    initial_instances: int
    min_instances: int
    max_instances: int
    changes: list[tuple[int, int]] = field(default_factory=list, init=False)
    """Desired task count changes (t, tasks)."""
    group_changes: list[tuple[int, int]] = field(default_factory=list, init=False)
    """Group desired capacity changes (t, instances)."""
    desired_units: int = field(init=False)
    pending_units: int = field(init=False, default=0)
    group_min: int = field(init=False)
    group_max: int = field(init=False)
    group_desired: int = field(init=False)
    instances: list[_Instance] = field(init=False, default_factory=list)
    _now_seconds: int = field(default=0, init=False)
    _launched: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.group_min, self.group_max = self.min_instances, self.max_instances
        self.group_desired = self.initial_instances
        for _ in range(self.initial_instances):
            self._launch(in_service_at_seconds=0)
        self.desired_units = self.initial_tasks
        self.pending_units = self.initial_tasks
        self._place(ready_at_seconds=0)  # the replay starts in a steady state: the initial tasks already serve

    # -- what the policies and the KPIs read

    @property
    def in_service_units(self) -> int:
        """Running tasks (start-up over): the only ones that serve."""
        return sum(1 for i in self.instances for ready in i.tasks_ready_at if ready <= self._now_seconds)

    @property
    def placed_units(self) -> int:
        return sum(len(i.tasks_ready_at) for i in self.instances)

    def in_service_instances(self) -> list[_Instance]:
        return [i for i in self.instances if i.in_service_at_seconds <= self._now_seconds]

    def instances_needed(self) -> int:
        """The `M` of CapacityProviderReservation: instances in service running a task, plus the instances the
        waiting tasks need, binpacked (`ceil(pending / tasks_per_instance)`)."""
        busy = sum(1 for i in self.in_service_instances() if i.tasks_ready_at)
        return busy + math.ceil(self.pending_units / self.tasks_per_instance)

    def warming_up(self, warmup_seconds: int) -> bool:
        """Any instance still starting, or in service for less than `warmup_seconds`."""
        return any(self._now_seconds < i.in_service_at_seconds + warmup_seconds for i in self.instances)

    def row(self, t_seconds: int, demand_rps: float, unit_capacity_rps: float) -> Second:
        running = self.in_service_units
        return Second(
            t_seconds,
            demand_rps,
            self.desired_units,
            running,
            running * unit_capacity_rps,
            pending_units=self.pending_units,
            instances=len(self.instances),
            instances_in_service=len(self.in_service_instances()),
            group_desired=self.group_desired,
        )

    # -- time

    def advance(self, t_seconds: int) -> None:
        """Bring the world to `t_seconds`: instances reach the group's desired count, waiting tasks are placed."""
        if t_seconds < self._now_seconds:
            raise ValueError(f"time went backwards: {t_seconds} < {self._now_seconds}")
        self._now_seconds = t_seconds
        self._reconcile()

    # -- the service

    def set_desired(self, t_seconds: int, units: int) -> None:
        """The service's desired count (UpdateService desiredCount)."""
        self.advance(t_seconds)
        if units == self.desired_units:
            return
        self.changes.append((t_seconds, units))
        if units > self.desired_units:
            self.pending_units += units - self.desired_units
        else:
            self._remove_tasks(self.desired_units - units)
        self.desired_units = units
        self._reconcile()

    def _remove_tasks(self, count: int) -> None:
        waiting = min(count, self.pending_units)
        self.pending_units -= waiting
        count -= waiting
        now = self._now_seconds
        while count:
            starting = [(ready, -len(i.tasks_ready_at), i) for i in self.instances for ready in i.tasks_ready_at]
            starting = [entry for entry in starting if entry[0] > now]
            if starting:
                ready, _, host = max(starting, key=lambda e: (e[0], e[1]))  # newest, then the emptiest host
                host.tasks_ready_at.remove(ready)
            else:
                busy = [i for i in self.instances if i.tasks_ready_at]
                host = min(busy, key=lambda i: (len(i.tasks_ready_at), -i.number))
                host.tasks_ready_at.remove(max(host.tasks_ready_at))
            count -= 1

    def _place(self, ready_at_seconds: int | None = None) -> None:
        ready = self._now_seconds + self.task_startup_seconds if ready_at_seconds is None else ready_at_seconds
        while self.pending_units:
            free = [i for i in self.in_service_instances() if len(i.tasks_ready_at) < self.tasks_per_instance]
            if not free:
                return
            host = max(free, key=lambda i: (len(i.tasks_ready_at), -i.number))  # binpack: the fullest first
            host.tasks_ready_at.append(ready)
            self.pending_units -= 1

    # -- the group

    def update_group(
        self, t_seconds: int, *, min_size: int | None = None, max_size: int | None = None, desired: int | None = None
    ) -> bool:
        """UpdateAutoScalingGroup. New limits without a desired capacity move the desired count inside them (a
        MinSize above it raises it); a desired capacity outside the new limits is refused (False, nothing
        changes), as AWS refuses it."""
        self.advance(t_seconds)
        low = self.group_min if min_size is None else min_size
        high = self.group_max if max_size is None else max_size
        if low > high or (desired is not None and not low <= desired <= high):
            return False
        self.group_min, self.group_max = low, high
        wanted = self.group_desired if desired is None else desired
        self._set_group_desired(max(low, min(high, wanted)))
        return True

    def set_desired_capacity(self, t_seconds: int, desired: int) -> bool:
        """SetDesiredCapacity: refused (False, nothing changes) outside [MinSize, MaxSize], as AWS refuses it."""
        self.advance(t_seconds)
        if not self.group_min <= desired <= self.group_max:
            return False
        self._set_group_desired(desired)
        return True

    def terminate_instance(self, t_seconds: int, *, decrement_desired: bool) -> bool:
        """TerminateInstanceInAutoScalingGroup of one instance Surge drained: an instance without a task (one not
        yet in service first, then the newest idle one). False, nothing changed, when every instance runs a task
        or when decrementing would take the desired count below MinSize."""
        self.advance(t_seconds)
        if decrement_desired and self.group_desired - 1 < self.group_min:
            return False
        idle = self._idle_newest_first()
        if not idle:
            return False
        self.instances.remove(idle[0])
        if decrement_desired:
            self._set_group_desired(self.group_desired - 1)
        self._reconcile()
        return True

    def _set_group_desired(self, desired: int) -> None:
        if desired != self.group_desired:
            self.group_changes.append((self._now_seconds, desired))
            self.group_desired = desired
        self._reconcile()

    def _idle_newest_first(self) -> list[_Instance]:
        now = self._now_seconds
        idle = [i for i in self.instances if not i.tasks_ready_at]
        return sorted(idle, key=lambda i: (i.in_service_at_seconds <= now, -i.number))

    def _launch(self, in_service_at_seconds: int) -> None:
        self._launched += 1
        self.instances.append(_Instance(self._launched, in_service_at_seconds))

    def _reconcile(self) -> None:
        excess = len(self.instances) - self.group_desired
        if excess > 0:
            for instance in self._idle_newest_first()[:excess]:
                self.instances.remove(instance)
        for _ in range(self.group_desired - len(self.instances)):
            self._launch(self._now_seconds + self.instance_startup_seconds)
        self._place()


MANAGED_SCALING_TARGET_CAPACITY_PERCENT = 100
MANAGED_SCALING_WARMUP_SECONDS = 300
"""instanceWarmupPeriod's default ("If this parameter is omitted, the default value of 300 seconds is used",
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ManagedScaling.html)."""
MANAGED_SCALING_MINIMUM_STEP = 1
MANAGED_SCALING_MAXIMUM_STEP = 10_000
"""minimumScalingStepSize / maximumScalingStepSize defaults (same page)."""
MANAGED_SCALING_PERIOD_SECONDS = 60
SCALE_OUT_DATAPOINTS = 1
SCALE_IN_DATAPOINTS = 15
SCALE_IN_MAX_SHARE = 0.5
"""A scale-in step removes at most 50 % of the group's capacity
(https://aws.amazon.com/blogs/containers/faster-scaling-in-for-amazon-ecs-cluster-auto-scaling/)."""
NO_INSTANCE_RESERVATION_PERCENT = 200.0


def capacity_provider_reservation(needed: int, in_service: int) -> float:
    """CapacityProviderReservation = M / N x 100 (instances needed / instances running), with the special cases
    of the deep dive the ECS guide refers to: no instance and tasks waiting is 200 (scale out), no instance and
    nothing needed is 100 (steady).
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-auto-scaling.html,
    https://aws.amazon.com/blogs/containers/deep-dive-on-amazon-ecs-cluster-auto-scaling/"""
    if in_service == 0:
        return NO_INSTANCE_RESERVATION_PERCENT if needed > 0 else 100.0
    return 100.0 * needed / in_service


@dataclass
class ManagedScaling:
    """The capacity provider's managed scaling: the target tracking policy ECS puts on the group.

    * Metric: CapacityProviderReservation (`capacity_provider_reservation`), one datapoint per minute, taken
      here at each whole minute of the replay (visible at once: in the baseline's favour) with M and N of that
      instant; N counts the instances in service (registered), M the instances running a task plus what the
      waiting tasks need, binpacked.
    * Target tracking at `targetCapacity` (100 %): scale-out once 1 datapoint is above the target (the
      policy's high alarm: 1 of 1 one-minute datapoints), scale-in once 15 in a row are below it (the low alarm:
      15 of 15), re-evaluated every minute while an alarm stays in ALARM
      (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-auto-scaling.html and the deep dive
      above; the low alarm's 15 minutes, https://repost.aws/questions/QUWnR8ZqjISrycbGNSfIAEfQ).
    * Scale-out: to the instances ECS estimates the waiting tasks need, ceil(M x 100 / target), at least
      `minimumScalingStepSize` (1) and at most `maximumScalingStepSize` (10,000) more than in service
      (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/managed-scaling-behavior.html), clamped to
      MaxSize; only a value above the current desired count applies (instances already launched, starting or
      warming, count as part of it).
    * Scale-in: to ceil(M x 100 / target), never below MinSize, at most 50 % of the desired count per step,
      not while any instance is starting or within its `instanceWarmupPeriod` (300 s) of coming into service
      (EC2 Auto Scaling blocks a policy's scale-in while instances warm up,
      https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-target-tracking.html); the instances
      removed are idle ones only (the fleet's managed termination protection).
    """

    target_capacity_percent: int = MANAGED_SCALING_TARGET_CAPACITY_PERCENT
    warmup_seconds: int = MANAGED_SCALING_WARMUP_SECONDS
    datapoints: deque[float] = field(default_factory=lambda: deque(maxlen=SCALE_IN_DATAPOINTS))
    actions: list[tuple[int, int]] = field(default_factory=list)
    """(t, desired instances) of every scaling activity it started."""

    def tick(self, t_seconds: int, fleet: LinkedFleet) -> None:
        if t_seconds % MANAGED_SCALING_PERIOD_SECONDS:
            return
        needed = fleet.instances_needed()
        in_service = len(fleet.in_service_instances())
        value = capacity_provider_reservation(needed, in_service)
        if not self.datapoints:  # before the replay the fleet ran steady long enough to fill the alarms
            self.datapoints.extend([value] * SCALE_IN_DATAPOINTS)
        else:
            self.datapoints.append(value)
        proposed = math.ceil(needed * 100 / self.target_capacity_percent - 1e-9)
        recent = list(self.datapoints)
        if all(v > self.target_capacity_percent for v in recent[-SCALE_OUT_DATAPOINTS:]):
            stepped = max(
                in_service + MANAGED_SCALING_MINIMUM_STEP, min(in_service + MANAGED_SCALING_MAXIMUM_STEP, proposed)
            )
            wanted = min(fleet.group_max, stepped)
            if wanted > fleet.group_desired:
                self._apply(t_seconds, fleet, wanted)
            return
        if len(recent) < SCALE_IN_DATAPOINTS or not all(v < self.target_capacity_percent for v in recent):
            return
        if fleet.warming_up(self.warmup_seconds):
            return
        floor = fleet.group_desired - math.floor(fleet.group_desired * SCALE_IN_MAX_SHARE)
        wanted = max(fleet.group_min, floor, proposed)
        if wanted < fleet.group_desired:
            self._apply(t_seconds, fleet, wanted)

    def _apply(self, t_seconds: int, fleet: LinkedFleet, desired: int) -> None:
        self.actions.append((t_seconds, desired))
        fleet.update_group(t_seconds, desired=desired)
