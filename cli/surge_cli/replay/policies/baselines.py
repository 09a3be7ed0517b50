"""The policies Surge is measured against, each modelled on its documented behaviour.

All of them act on the same simulated world as `surge` (world.py): units asked for serve `startup_seconds`
later, scale-in removes at once, ALB RequestCount minutes are visible `metric_publication_delay_seconds` after
the minute closes, and no datapoint exists for minutes inside a `metric_gaps` stretch. They are stepped one
simulated second at a time by `drive()`; whatever happens at a fractional instant takes effect from the next
whole second. Each policy's docstring names the source (AWS documentation, or the sample's code) of every choice.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import takewhile

from surge_cli.localaws.latency import LatencyModel
from surge_cli.replay.policies.common import (
    PolicyRun,
    ProgressCallback,
    clamp_units,
    drive,
    seconds_from_start,
    units_at_full_load,
    whole_second,
    world_latency,
)
from surge_cli.replay.scenario import LoadedScenario, ScenarioError
from surge_cli.replay.world import LinkedFleet, Units

ALB_PERIOD_SECONDS = 60


def minute_is_published(loaded: LoadedScenario, minute_start_seconds: int) -> bool:
    return not any(g.start_seconds <= minute_start_seconds < g.end_seconds for g in loaded.scenario.config.metric_gaps)


def minute_requests(loaded: LoadedScenario, minute_start_seconds: int) -> float:
    """RequestCount of one ALB minute: the demand of its 60 seconds (before the start, the first value holds)."""
    return sum(loaded.demand_at(minute_start_seconds + i) for i in range(ALB_PERIOD_SECONDS))


# ------------------------------------------------------------------------------------------------ static


@dataclass
class _Static:
    def tick(self, t_seconds: int, fleet: Units) -> None:
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
        capacity = self.loaded.scenario.spec.unit_capacity_rps
        self.needed_units = [
            clamp_units(units_at_full_load(rps, capacity), self.loaded) for rps in self.loaded.demand_rps
        ]

    def _peak_need(self, t_seconds: int, horizon_seconds: int) -> int:
        last = len(self.needed_units) - 1
        return max(self.needed_units[min(t_seconds, last) : min(t_seconds + horizon_seconds, last) + 1])

    def tick(self, t_seconds: int, fleet: Units) -> None:
        target = self.loaded.scenario.spec
        instances = target.instances
        if isinstance(fleet, LinkedFleet) and instances is not None:
            # The instances first: a task asked for at t needs a free slot at t, so the instances its peak needs
            # are asked for instances.startup_seconds before that (the tasks' own start-up comes on top).
            horizon = instances.startup_seconds + target.startup_seconds
            wanted = math.ceil(self._peak_need(t_seconds, horizon) / instances.tasks_per_instance)
            fleet.update_group(t_seconds, desired=max(instances.min_units, min(instances.max_units, wanted)))
        fleet.set_desired(t_seconds, self._peak_need(t_seconds, target.startup_seconds))


def run_oracle(loaded: LoadedScenario, progress: ProgressCallback | None = None) -> PolicyRun:
    """`oracle`: knows the future; the physical limit every other policy is measured against.

    At every second t it asks for the most units any second in [t, t + startup_seconds] needs, where a second
    needs exactly ceil(demand / unit_capacity_rps) units clamped to [min_units, max_units]. Units asked for at
    t serve from t + startup_seconds, so every second finds the units it needs in service (cancellations hit
    the newest starting units first, never a unit a nearer second relies on), and capacity is dropped as soon
    as no second within start-up reach needs it. Only the first `startup_seconds` are limited to the initial
    units, as for every policy.

    ECS on EC2 (`target.instances`): the oracle drives the group itself (no managed scaling): at every second
    t it asks for the instances the tasks of [t, t + instances.startup_seconds + startup_seconds] need
    (ceil(tasks / tasks_per_instance), clamped to the instances' [min_units, max_units]), before the tasks, so
    every task it asks for finds a free slot on an instance in service and serves on time; an instance is
    released as soon as no second within reach needs it (and no task runs on it).
    """
    return drive("oracle", loaded, _Oracle(loaded), progress, managed_scaling=False)


# ---------------------------------------------------------------------------------------- target tracking

SCALE_OUT_DATAPOINTS = 3
SCALE_IN_DATAPOINTS = 15
SCALE_IN_THRESHOLD_SHARE = 0.9
COOLDOWN_SECONDS = 300
"""Application Auto Scaling's default ScaleOutCooldown / ScaleInCooldown for an ECS service
(https://docs.aws.amazon.com/autoscaling/application/APIReference/API_TargetTrackingScalingPolicyConfiguration.html)."""
ASG_INSTANCE_WARMUP_SECONDS = 300
"""EC2 Auto Scaling: EstimatedInstanceWarmup unset and no DefaultInstanceWarmup -> the default cooldown, 300 s."""
ASG_SCHEDULED_ACTION_MAX_DELAY_SECONDS = 120.0
"""EC2 Auto Scaling: a scheduled action 'might be delayed for up to two minutes from the scheduled start time'."""
ECS_SCHEDULED_ACTION_MAX_DELAY_SECONDS = 5.0
"""Application Auto Scaling: the delay 'might be a few seconds' (no bound given; 5 s taken as 'a few')."""


@dataclass(frozen=True)
class ScheduledMinChange:
    """One scheduled action: from `at_seconds` (a whole second) the scalable target's minimum is `min_units`."""

    name: str
    scheduled_seconds: float
    """When the action is scheduled for, from the scenario's start (negative: before it)."""
    delay_seconds: float
    """How late the service ran it (seeded by `config.seed`)."""
    at_seconds: int
    min_units: int


def scheduled_min_changes(loaded: LoadedScenario) -> list[ScheduledMinChange]:
    """Two scheduled actions per calendar entry, as an operator would create them, in the order they run.

    `<entry>: raise` sets the minimum to the entry's units (at most max_units: a minimum above the maximum is
    rejected) at start - lead_seconds; `<entry>: restore` sets the original min_units back at end (a scheduled
    action does not return to the old values by itself). Each runs late by a seeded delay in
    [0, 120] s (`asg`) or [0, 5] s (`ecs`); actions run in their scheduled order. Actions due before the
    scenario's start have already run: the minimum they leave in effect applies from second 0.
    """
    scenario = loaded.scenario
    target = scenario.spec
    rng = random.Random(f"scheduled-actions:{scenario.config.seed}")
    max_delay = (
        ASG_SCHEDULED_ACTION_MAX_DELAY_SECONDS if target.kind == "asg" else ECS_SCHEDULED_ACTION_MAX_DELAY_SECONDS
    )
    planned: list[tuple[str, float, int]] = []
    for entry in scenario.calendar:
        raise_at = seconds_from_start(loaded, entry.start_utc) - entry.lead_seconds
        planned.append((f"{entry.name}: raise", raise_at, min(entry.units, target.max_units)))
        planned.append((f"{entry.name}: restore", seconds_from_start(loaded, entry.end_utc), target.min_units))
    drawn = [(name, at, units, round(rng.uniform(0.0, max_delay), 3)) for name, at, units in planned]
    drawn.sort(key=lambda action: action[1])  # stable: an entry's raise stays before its restore
    before_start: list[ScheduledMinChange] = []
    changes: list[ScheduledMinChange] = []
    previous_at = 0
    for name, at, units, delay in drawn:
        if at + delay < 0:
            before_start.append(ScheduledMinChange(name, at, delay, 0, units))
            continue
        previous_at = max(previous_at, whole_second(at + delay))  # run in the order they are specified
        changes.append(ScheduledMinChange(name, at, delay, previous_at, units))
    if before_start and before_start[-1].min_units != target.min_units:
        changes.insert(0, before_start[-1])
    return changes


@dataclass
class TargetTracking:
    """Target tracking on ALBRequestCountPerTarget (Application Auto Scaling for `ecs`, EC2 Auto Scaling for
    `asg`), optionally with scheduled actions on the minimum capacity. Stepped by `drive()`."""

    loaded: LoadedScenario
    scheduled: list[ScheduledMinChange] = field(default_factory=list)
    datapoints: deque[float] = field(default_factory=lambda: deque(maxlen=SCALE_IN_DATAPOINTS))
    """The alarms' fresh datapoints (since the start or the last missing one), oldest first."""
    pending: deque[tuple[int, float | None]] = field(default_factory=deque)
    """Closed minutes not yet published: (publication second, RequestCountPerTarget or None when missing)."""
    min_units: int = field(init=False)
    last_scale_out_seconds: int | None = None
    last_scale_in_seconds: int | None = None
    warm_until_seconds: int = 0
    """asg: scale-in by the policy is blocked before this second (instances pending or warming up)."""
    _in_service_seconds: int = 0
    _next_scheduled: int = 0

    def __post_init__(self) -> None:
        scenario = self.loaded.scenario
        self.min_units = scenario.spec.min_units
        # Before the replay the fleet ran at the first demand with the initial units long enough for the alarms
        # to hold full history; pre-start minutes published at or after second 0 arrive on their schedule.
        initial = max(scenario.spec.initial_units, 1)
        for _ in range(SCALE_IN_DATAPOINTS):
            self.datapoints.append(minute_requests(self.loaded, -10 * ALB_PERIOD_SECONDS) / initial)
        delay = scenario.config.metric_publication_delay_seconds
        for minute_start in reversed(range(-ALB_PERIOD_SECONDS, -ALB_PERIOD_SECONDS - delay - 1, -ALB_PERIOD_SECONDS)):
            value = minute_requests(self.loaded, minute_start) / initial
            self.pending.append((minute_start + ALB_PERIOD_SECONDS + delay, value))

    @property
    def target_per_unit_per_minute(self) -> float:
        scenario = self.loaded.scenario
        return scenario.spec.unit_capacity_rps * scenario.config.target_utilization * ALB_PERIOD_SECONDS

    @property
    def is_asg(self) -> bool:
        return self.loaded.scenario.spec.kind == "asg"

    def tick(self, t_seconds: int, fleet: Units) -> None:
        self._run_scheduled(t_seconds, fleet)
        if t_seconds >= ALB_PERIOD_SECONDS and t_seconds % ALB_PERIOD_SECONDS == 0:
            self._close_minute(t_seconds - ALB_PERIOD_SECONDS)
        while self.pending and self.pending[0][0] <= t_seconds:
            _, value = self.pending.popleft()
            if value is None:
                self.datapoints.clear()  # INSUFFICIENT_DATA: no scaling until new datapoints are found
            else:
                self.datapoints.append(value)
                self._evaluate(t_seconds, fleet, value)
        self._in_service_seconds += fleet.in_service_units  # this second's in-service count, after any change

    def _close_minute(self, minute_start: int) -> None:
        """RequestCountPerTarget of the minute just closed: its requests / its average in-service units."""
        average_in_service = self._in_service_seconds / ALB_PERIOD_SECONDS
        self._in_service_seconds = 0
        publish_at = minute_start + ALB_PERIOD_SECONDS + self.loaded.scenario.config.metric_publication_delay_seconds
        value = None
        if minute_is_published(self.loaded, minute_start):
            divisor = average_in_service if average_in_service > 0 else 1.0
            value = minute_requests(self.loaded, minute_start) / divisor
        self.pending.append((publish_at, value))

    def _run_scheduled(self, t_seconds: int, fleet: Units) -> None:
        for action in takewhile(lambda a: a.at_seconds <= t_seconds, self.scheduled[self._next_scheduled :]):
            self.min_units = action.min_units
            self._next_scheduled += 1
            if fleet.desired_units < self.min_units:  # current capacity below the new minimum: scale out to it
                self._raise(t_seconds, fleet, self.min_units)

    def _raise(self, t_seconds: int, fleet: Units, units: int) -> None:
        fleet.set_desired(t_seconds, units)
        startup = self.loaded.scenario.spec.startup_seconds
        self.warm_until_seconds = max(self.warm_until_seconds, t_seconds + startup + ASG_INSTANCE_WARMUP_SECONDS)

    def _evaluate(self, t_seconds: int, fleet: Units, value: float) -> None:
        """One alarm evaluation (every minute, when the newest datapoint appears); in ALARM, the policy runs."""
        target = self.target_per_unit_per_minute
        maximum = self.loaded.scenario.spec.max_units
        running = max(fleet.in_service_units, 1)
        proposed = max(self.min_units, min(maximum, math.ceil(running * value / target - 1e-9)))
        recent = list(self.datapoints)
        if len(recent) >= SCALE_OUT_DATAPOINTS and all(v > target for v in recent[-SCALE_OUT_DATAPOINTS:]):
            if proposed > fleet.desired_units:  # capacity already added counts: only a larger value applies
                self._raise(t_seconds, fleet, proposed)
                self.last_scale_out_seconds = t_seconds
            return
        low = SCALE_IN_THRESHOLD_SHARE * target
        if len(recent) < SCALE_IN_DATAPOINTS or not all(v < low for v in recent):
            return
        if self._scale_in_blocked(t_seconds) or proposed >= fleet.desired_units:
            return
        fleet.set_desired(t_seconds, proposed)
        self.last_scale_in_seconds = t_seconds

    def _scale_in_blocked(self, t_seconds: int) -> bool:
        if self.is_asg:
            return t_seconds < self.warm_until_seconds
        return any(
            last is not None and t_seconds - last < COOLDOWN_SECONDS
            for last in (self.last_scale_in_seconds, self.last_scale_out_seconds)
        )


def run_target_tracking(loaded: LoadedScenario, progress: ProgressCallback | None = None) -> PolicyRun:
    """`target-tracking`: target tracking on ALBRequestCountPerTarget, as an operator sets it up by default.

    Shared by both kinds (Application Auto Scaling for `ecs`, EC2 Auto Scaling for `asg`):

    * Target value: unit_capacity_rps x target_utilization x 60 requests per target per minute ("the optimal
      average throughput from a single target ... for a one-minute period",
      https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-target-tracking.html).
    * Datapoint: RequestCountPerTarget of a minute is fixed when the minute closes, as the ALB's RequestCount
      of that minute divided by the AVERAGE number of in-service units during it (units coming into service
      mid-minute count for the seconds they served), and becomes visible `metric_publication_delay_seconds`
      later. Missing minutes (`metric_gaps`) publish nothing.
    * Alarms: the ones target tracking creates, AlarmHigh 3 of 3 one-minute datapoints above the target,
      AlarmLow 15 of 15 below 90 % of it ("usually more than 10% lower", same page). An alarm is evaluated
      every minute (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html),
      here when the newest datapoint appears, and "for Auto Scaling actions, the alarm continues to invoke the
      action once per minute that the alarm remains in the new state" (same page): the policy re-runs every
      minute while an alarm stays in ALARM.
    * Missing data: "If the metric is missing data points, this causes the CloudWatch alarm state to change to
      INSUFFICIENT_DATA ... [it] cannot scale ... until new data points are found" (both user guides' target
      tracking considerations): a missing minute empties the alarms' window; they need 3 (15) fresh datapoints
      and act on none from before the gap.
    * New capacity: ceil(in-service units now x datapoint / target) (at least 1 unit in the product), clamped
      to [min, max] with the minimum currently in effect; scale-out applies only a value above the current
      desired count (the capacity already added "is calculated as part of the desired capacity for the next
      scale-out"), scale-in only a value below it. The alarm-to-API latency (well under a second) is not
      modelled: the decision instant is the instant the datapoint appears.

    `ecs` (Application Auto Scaling, same page, "Define cooldown period"): scale-out cooldown 300 s, during
    which only a larger scale-out applies; scale-in waits 300 s after the policy's last scaling activity (the
    scale-in cooldown; a scale-out during it applies at once). Scheduled actions start no cooldown ("applies
    only to scaling policy-related scaling activities").

    `asg` (EC2 Auto Scaling): no cooldown ("Target tracking and step scaling policies can initiate a scale-out
    activity immediately without waiting for the cooldown period to end",
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-scaling-cooldowns.html), so
    scale-in may follow scale-in a minute later. Instance warm-up 300 s: EstimatedInstanceWarmup unset with no
    DefaultInstanceWarmup falls back to the default cooldown, 300 s
    (https://docs.aws.amazon.com/autoscaling/ec2/userguide/consolidated-view-of-warm-up-and-cooldown-settings.html);
    it counts from InService, which here is when the unit starts serving (instances are registered with the
    load balancer before InService, ec2-auto-scaling-default-instance-warmup.html). While any instance
    launched (by the policy or a scheduled action) is pending or warming up, scale-in by the policy is blocked
    ("all scale-in activities initiated by scaling policies are blocked until the instances finish warming
    up", https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-target-tracking.html), and warming
    instances count as part of the desired capacity for the next scale-out (only a larger value applies).
    Warm-up keeps instances out of the *aggregated EC2 instance metrics* (CPU, network) only; the ALB computes
    RequestCountPerTarget itself over its healthy targets, so the datapoint is the same as for `ecs`.
    """
    return drive("target-tracking", loaded, TargetTracking(loaded), progress)


def run_target_tracking_scheduled(loaded: LoadedScenario, progress: ProgressCallback | None = None) -> PolicyRun:
    """`target-tracking+scheduled`: `target-tracking` plus scheduled actions for the calendar's entries.

    Only for scenarios with calendar entries (otherwise a ScenarioError). Per entry, one scheduled action
    raises the minimum capacity to the entry's units at start - lead_seconds and a second one restores the
    original minimum at end (`scheduled_min_changes`): "If current capacity is less than the specified minimum
    capacity, Application Auto Scaling scales out ... to the specified minimum capacity"
    (https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-scheduled-scaling.html);
    lowering the minimum again changes nothing by itself, target tracking scales in later. Delays, from
    `config.seed`: `asg` up to 120 s ("A scheduled action generally executes within seconds. However, the
    action might be delayed for up to two minutes from the scheduled start time",
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-scheduled-scaling.html); `ecs` up to
    5 s (Application Auto Scaling: "the delay between the time the scheduled action is triggered and the time
    the target service honors the scaling action might be a few seconds", page above). Instances launched by a
    scheduled action warm up like any other (`asg`); scheduled activities start no cooldown.
    """
    if not loaded.scenario.calendar:
        raise ScenarioError(
            f"{loaded.path or 'scenario'}: policy target-tracking+scheduled needs calendar entries (the scenario "
            "has none)"
        )
    controller = TargetTracking(loaded, scheduled=scheduled_min_changes(loaded))
    return drive("target-tracking+scheduled", loaded, controller, progress)


# ---------------------------------------------------------------------------------------- fast autoscaler

SAMPLE_REPOSITORY = "aws-samples/aws-fargate-fast-autoscaler"
SAMPLE_COMMIT = "179a7a9c36ba38fecd1a9da893dffac4881f07e0"
"""Tag v0.2.95: the last release whose Lambda tasks pass the function's payload on (see run_fast_autoscaler)."""
POLL_WAIT_SECONDS = 3
ACTION_WAIT_SECONDS = 60
SAMPLED_TASKS = 3
STATUS_READS_PER_TASK = 2
SCALE_IN_GUARD_TASK_COUNT = 1
FULL_LOAD_CONNECTIONS = 500
SAMPLE_TIERS = ((500, 20), (300, 15), (100, 10), (50, 2))
"""(average active connections per sampled task >=, desired count), first match wins; below 50 no action."""
SAMPLE_MIN_DESIRED = 2
SAMPLE_MAX_DESIRED = 20
HISTORY_LIMIT_EVENTS = 25_000
EXECUTION_TIMEOUT_SECONDS = 86_400


@dataclass
class FastAutoscaler:
    """The sample's Standard state machine, event by event on the simulated clock. Stepped by `drive()`."""

    loaded: LoadedScenario
    latency: LatencyModel
    history_events: int = 0
    """Events in the execution's history so far (counted up to its next step, which may lie past the replay)."""
    end_reason: str | None = None
    ended_at_seconds: float | None = None
    polls: list[float] = field(default_factory=list)
    """When each GetECSTasks run read the tasks' /nginx_status (the instant its load sample was taken)."""
    capacity_calls: list[float] = field(default_factory=list)
    exact_changes: list[tuple[float, int]] = field(default_factory=list)
    _fleet: Units | None = None
    _t_seconds: int = 0
    _snapshot: tuple[int, int] = (0, 0)
    _due_seconds: int | None = 0
    _steps: Iterator[float] | None = None

    def __post_init__(self) -> None:
        initial = self.loaded.scenario.spec.initial_units
        self._snapshot = (initial, initial)
        self._steps = self._execution()

    def tier_units(self, sample_desired: int) -> int:
        """The sample's desired count (2..20) mapped onto [min_units, max_units] (2 -> min, 20 -> max)."""
        target = self.loaded.scenario.spec
        share = (sample_desired - SAMPLE_MIN_DESIRED) / (SAMPLE_MAX_DESIRED - SAMPLE_MIN_DESIRED)
        return round(target.min_units + share * (target.max_units - target.min_units))

    def tick(self, t_seconds: int, fleet: Units) -> None:
        self._fleet, self._t_seconds = fleet, t_seconds
        while self._due_seconds is not None and self._due_seconds <= t_seconds and self._steps is not None:
            try:
                self._due_seconds = whole_second(next(self._steps))
            except StopIteration:
                self._due_seconds = None
        self._snapshot = (fleet.in_service_units, fleet.desired_units)

    # -- the world as the sample's Lambda sees it

    def _state_at(self, x_seconds: float) -> tuple[int, int]:
        """(running tasks, listed tasks) at instant x: the live fleet at a whole second, else the last second's."""
        assert self._fleet is not None
        if abs(x_seconds - self._t_seconds) < 1e-9:
            return self._fleet.in_service_units, self._fleet.desired_units
        return self._snapshot

    def _average_connections(self, x_seconds: float) -> tuple[int, int]:
        """(avg, sampled tasks) as main.sh computes them at instant x (`avg` 0 when it samples no task)."""
        running, listed = self._state_at(x_seconds)
        if listed == 0:
            return 0, 0  # "no tasks found": no IP, sampletaskcount 0
        sampled = min(SAMPLED_TASKS, running)
        if sampled == 0:
            return 0, 0
        capacity = running * self.loaded.scenario.spec.unit_capacity_rps
        per_task = self.loaded.demand_at(math.floor(x_seconds)) / capacity * FULL_LOAD_CONNECTIONS
        return math.floor(per_task + 1e-9), sampled

    @staticmethod
    def _tier(avg_connections: int) -> int | None:
        return next((desired for threshold, desired in SAMPLE_TIERS if avg_connections >= threshold), None)

    def _status_reads(self, sampled: int) -> float:
        reads = STATUS_READS_PER_TASK * sampled
        return sum(self.latency.api_call("http", "GET /nginx_status") for _ in range(reads))

    def _update_service(self, x_seconds: float, units: int) -> None:
        assert self._fleet is not None
        self.capacity_calls.append(x_seconds)
        if units != self._fleet.desired_units:
            self.exact_changes.append((x_seconds, units))
        self._fleet.set_desired(self._t_seconds, units)

    # -- the execution's history

    def _record(self, events: int, at_seconds: float) -> bool:
        """Append `events` history events at `at_seconds`; False once the execution has ended."""
        if at_seconds >= EXECUTION_TIMEOUT_SECONDS:
            self.end_reason = "ExecutionTimedOut (TimeoutSeconds 86400)"
            self.ended_at_seconds = EXECUTION_TIMEOUT_SECONDS
            return False
        for _ in range(events):
            if self.history_events + 1 >= HISTORY_LIMIT_EVENTS:  # the 25,000th entry is ExecutionFailed
                self.history_events = HISTORY_LIMIT_EVENTS
                self.end_reason, self.ended_at_seconds = "ExecutionFailed (25,000 history events)", at_seconds
                return False
            self.history_events += 1
        return True

    def _lambda_started(self, x_seconds: float) -> float | None:
        """A Lambda Task state entered at x: TaskStateEntered + LambdaFunctionScheduled, then LambdaFunctionStarted
        once invoked (warm). The instant the function starts, or None once the execution has ended."""
        if not self._record(2, x_seconds):
            return None
        x_seconds += self.latency.lambda_invoke(cold=False)
        return x_seconds if self._record(1, x_seconds) else None

    def _execution(self) -> Iterator[float]:
        """The execution, state by state; yields each instant at which it reads or changes the world."""
        lat = self.latency
        if not self._record(1, 0.0):  # ExecutionStarted
            return
        x = lat.execution_start("STANDARD")
        while True:
            # GetECSTasks: main.sh lists the tasks, describes them, reads each sampled task's nginx_status twice
            started = self._lambda_started(x)
            if started is None:
                return
            x = started + lat.handler_compute() + lat.api_call("ecs", "ListTasks")
            x += lat.api_call("ecs", "DescribeTasks")
            yield x
            avg, sampled = self._average_connections(x)
            self.polls.append(x)
            x += self._status_reads(sampled)
            if not self._record(2 + 2, x):  # LambdaFunctionSucceeded + TaskStateExited, then the Choice
                return
            desired = self._tier(avg)
            if desired is None:  # Default: Wait 3 Seconds
                if not self._record(1, x):
                    return
                x += POLL_WAIT_SECONDS
                if not self._record(1, x):
                    return
                continue
            # DesireN (Pass), SNSScaleOut (sns:publish), ServiceScaleOut (the same Lambda, with Desired)
            if not self._record(2 + 3, x):  # the Pass; SNSScaleOut's TaskStateEntered, TaskScheduled, TaskStarted
                return
            x += lat.api_call("sns", "Publish")
            if not self._record(2, x):
                return
            started = self._lambda_started(x)
            if started is None:
                return
            x = started + lat.handler_compute() + lat.api_call("ecs", "ListTasks")
            units = self.tier_units(desired)
            if units <= SCALE_IN_GUARD_TASK_COUNT:
                # disable_scalein=yes compares Desired with ${#tasks[@]}, which is 1 for the scalar $tasks: only a
                # desired of 0 or 1 is ignored, and the script goes on to poll (DescribeTasks, the status reads)
                x += lat.api_call("ecs", "DescribeTasks")
                yield x
                x += self._status_reads(self._average_connections(x)[1])
            else:
                x += lat.api_call("ecs", "UpdateService")
                if not self._record(0, x):
                    return
                yield x
                self._update_service(x, units)
            if not self._record(2 + 1, x):  # LambdaFunctionSucceeded + TaskStateExited; WaitStateEntered
                return
            x += ACTION_WAIT_SECONDS
            if not self._record(1, x):
                return


def run_fast_autoscaler(loaded: LoadedScenario, progress: ProgressCallback | None = None) -> PolicyRun:
    """`fast-autoscaler`: the aws-samples "aws-fargate-fast-autoscaler" sample, as its code runs.

    Modelled on commit 179a7a9c36ba38fecd1a9da893dffac4881f07e0 (tag v0.2.95, the last CDK v1 release), with
    the Lambda code `sam/fargateWatcherFunc/func.d/main.sh`, unchanged from 353f6ae to the newest commit
    06e5f6e. From 61c5ec7 (v0.2.96, "bump cdkv2") on, `src/autoscaler.ts` (lines 270-289 at 06e5f6e) builds its
    Lambda tasks with `sfn_tasks.LambdaInvoke` without `payloadResponseOnly`, so `$.status` holds the invoke envelope
    (`{"Payload": {...}, "StatusCode": ...}`) and the Choice on `$.avg` fails the execution at its first
    evaluation; v0.2.95's tasks (`Resource: <function ARN>`, test/__snapshots__/integ.default.test.ts.snap)
    pass the payload itself. That working version is what is replayed.

    The state machine (src/autoscaler.ts lines 255-343 at 179a7a9; a STANDARD machine, `TimeoutSeconds` 86400), started
    at the scenario's start and never restarted: GetECSTasks (the Lambda) -> IsServiceOverloaded (Choice on
    `$.avg`) -> no tier: Wait 3 Seconds -> GetECSTasks; a tier: DesireN (Pass) -> SNSScaleOut (sns:publish) ->
    ServiceScaleOut (the Lambda with `Desired`, which calls `ecs update-service`) -> Wait 60 Seconds ->
    GetECSTasks. Every step takes its time from the latency world (`config.latency`, seeded by `config.seed`):
    the Standard start, each warm Lambda invoke (a warm environment is invoked every few seconds) and its own
    compute, the ECS ListTasks / DescribeTasks / UpdateService calls, SNS Publish, and each nginx_status read
    (the latency model's default call). The new count takes effect when UpdateService returns (the next whole
    second); the 60 s wait starts after the Lambda returns.

    The load signal (main.sh lines 17-26, 71-94): `ecs list-tasks` (tasks whose desired status is RUNNING,
    starting ones included), `ecs describe-tasks ... --query "tasks[?lastStatus=='RUNNING']..."` (so tasks
    still starting are *excluded*, not counted as 0: the issue's "starting tasks counting 0" is not what the
    code does), the first 3 RUNNING tasks' nginx "Active connections" (each read twice, lines 79-80, the
    second read counts), avg = total / sampled (integer division). Here a unit in service is a RUNNING task,
    demand is spread evenly over them, and 500 connections are a unit at full load, so avg = floor(demand /
    in-service capacity x 500). No task sampled -> avg 0 -> no action. The script passes every listed ARN to
    DescribeTasks, which takes "a list of up to 100 task IDs"
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html): as published (tiers up
    to 20 tasks) that never matters, and an operator who scales the tiers past 100 tasks, as the replay does for
    a larger fleet, has to batch that call or the sample goes blind for good; the replay assumes they did (in the
    sample's favour, rather than a strawman). A RUNNING task not yet passing its target group
    health check would read ~1 connection and drag the average down; the world does not split start-up into
    "not yet RUNNING" and "RUNNING, not yet healthy", so that is not modelled (in the sample's favour).

    Tiers (src/autoscaler.ts lines 293-338): avg >= 500 / 300 / 100 / 50 -> desired 20 / 15 / 10 / 2, first match
    wins, below 50 no action; mapped onto [min_units, max_units] (2 -> min, 20 -> max). Every tier action calls
    UpdateService (even an unchanged count) and waits 60 s. `disableScaleIn` defaults to true (lines 62-64,
    247), but main.sh's guard (line 50) compares Desired with `${#tasks[@]}`, which is 1 for the scalar `$tasks`:
    it only ignores a desired of 0 or 1 (the script then polls instead), so the lowest tier cuts the service to
    `min_units` whatever it ran.

    History: a Standard execution holds at most 25,000 events; "If the execution history reaches this quota,
    the execution will fail" (https://docs.aws.amazon.com/step-functions/latest/dg/limits-overview.html), here
    when an event would be the 25,000th (that entry is ExecutionFailed). Counted from the ASL: ExecutionStarted
    1; a Lambda task 5 (TaskStateEntered, LambdaFunctionScheduled, LambdaFunctionStarted,
    LambdaFunctionSucceeded, TaskStateExited); sns:publish 5 (TaskStateEntered, TaskScheduled, TaskStarted,
    TaskSucceeded, TaskStateExited); Choice, Pass, Wait 2 each. An idle cycle is 9 events (about 2,777 cycles,
    2.3 h at 3 s, 2.6 h at typical latency), a tier cycle 21. Once it ends, nothing scales any more.

    For `kind: asg` the sample has no counterpart (it drives an ECS service); the same loop is replayed with the
    same calls, without the DescribeTasks limit.
    """
    controller = FastAutoscaler(loaded, world_latency(loaded))
    run = drive("fast-autoscaler", loaded, controller, progress)
    run.capacity_calls = list(controller.capacity_calls)
    run.exact_changes = list(controller.exact_changes)
    return run
