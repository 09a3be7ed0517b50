"""Policy `surge`: the real scaler state machine on moto, through the local harness, on the simulated clock.

Nothing here decides capacity: the template's state machine and handlers do, exactly as deployed
(`deploy_locally`). The replay plays the world around them: EventBridge's schedule (an execution every 60 s
with {"budget_seconds": 55}, started after the scheduler's delivery latency), the ALB (RequestCount minutes
published after the minute closes plus the publication delay, optionally first partial then revised), the
application's high-resolution request metric if the scenario has one, the push server (each delivery is a
PutEvents; the template's rule starts the fast path after EventBridge's delivery latency) and the calendar.
Every step inside AWS takes the time of the scenario's latency profile (`config.latency`, see
`surge_cli.localaws.latency`). Capacity calls are observed on the adapters' own boto3 clients (botocore
events), so the world needs no polling of moto.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from surge.adapters import clients, store
from surge.adapters.settings import settings
from surge.core.calendar import CalendarEntry
from surge.core.config import SurgeConfig
from surge_cli import world
from surge_cli.calendar_cli import StackRef, add_entry
from surge_cli.localaws import LocalAws
from surge_cli.push_client import push_event_entry
from surge_cli.replay.policies.baselines import ALB_PERIOD_SECONDS, minute_is_published, minute_requests
from surge_cli.replay.policies.common import PolicyRun, ProgressCallback, linked_fleet, whole_second
from surge_cli.replay.scenario import (
    CLUSTER,
    HIGH_RESOLUTION_METRIC_NAME,
    HIGH_RESOLUTION_NAMESPACE,
    LINKED_CAPACITY_PROVIDER,
    LINKED_GROUP,
    LOAD_BALANCER,
    TARGET_ID,
    LoadedScenario,
    Scenario,
    high_resolution_dimensions_of,
    load_balancer_of,
)
from surge_cli.replay.world import (
    MANAGED_SCALING_PERIOD_SECONDS,
    MANAGED_SCALING_TARGET_CAPACITY_PERCENT,
    MANAGED_SCALING_WARMUP_SECONDS,
    LinkedFleet,
    ManagedScaling,
    Second,
    timeline,
)
from surge_cli.stack import LocalStack, Template, deploy_locally

SCHEDULE_PERIOD_SECONDS = 60
LOOP_BUDGET_SECONDS = 55
HISTORY_MINUTES = 15
PUSH_SOURCE = Template.load().parameter_defaults()["PushEventSource"]
QUIET_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true"}


@dataclass(frozen=True)
class GroupCall:
    """One capacity call Surge made on the linked group (ECS on EC2), as the world plays it."""

    operation: str
    """UpdateAutoScalingGroup, SetDesiredCapacity or TerminateInstanceInAutoScalingGroup."""
    min_size: int | None = None
    max_size: int | None = None
    desired: int | None = None
    decrement_desired: bool = False


GROUP_OPERATIONS = ("SetDesiredCapacity", "UpdateAutoScalingGroup", "TerminateInstanceInAutoScalingGroup")


@dataclass
class DesiredRecorder:
    """Every desired count the handlers set, with the simulated instant the call completed (the change is in
    effect from then), seen on the adapters' clients; `calls` holds every capacity call, changed or not.

    ECS on EC2 (`target.instances`): every call on the linked group (`replay-instances`) lands in `group_calls`
    instead of `changes` (the units are the service's tasks); TerminateInstanceInAutoScalingGroup names no group
    and is taken as the linked group's (the replay has no other)."""

    aws: LocalAws
    changes: list[tuple[datetime, int]] = field(default_factory=list)
    calls: list[datetime] = field(default_factory=list)
    group_calls: list[tuple[datetime, GroupCall]] = field(default_factory=list)
    metrics_requested: int = 0
    target_changes: dict[str, list[tuple[datetime, int]]] = field(default_factory=dict)
    """`changes` by the service or group called (named after its target's id: `targets`)."""
    target_calls: dict[str, list[datetime]] = field(default_factory=dict)
    """`calls` by the service or group called."""

    def _record(self, resource: str | None, desired: int | None) -> None:
        now = self.aws.now()
        self.calls.append(now)
        self.target_calls.setdefault(str(resource), []).append(now)
        if desired is not None:
            self.changes.append((now, desired))
            self.target_changes.setdefault(str(resource), []).append((now, desired))

    def install(self) -> None:
        ecs = clients.ecs()
        ecs.meta.events.register("after-call.ecs.UpdateService", self._ecs_updated)
        autoscaling = clients.autoscaling()
        for operation in GROUP_OPERATIONS:
            autoscaling.meta.events.register(f"before-parameter-build.auto-scaling.{operation}", self._asg_params)
            autoscaling.meta.events.register(f"after-call.auto-scaling.{operation}", self._asg_updated)
        clients.cloudwatch().meta.events.register(
            "before-parameter-build.cloudwatch.GetMetricData", self._metric_request
        )

    def _ecs_updated(self, parsed: dict[str, Any], **_: Any) -> None:
        service = parsed.get("service")
        if service is not None and "desiredCount" in service:
            self._record(service.get("serviceName"), int(service["desiredCount"]))

    @staticmethod
    def _asg_params(params: dict[str, Any], context: dict[str, Any], model: Any, **_: Any) -> None:
        context["replay_desired_units"] = params.get("DesiredCapacity")
        context["replay_group"] = params.get("AutoScalingGroupName", LINKED_GROUP)
        context["replay_group_call"] = GroupCall(
            operation=str(model.name),
            min_size=params.get("MinSize"),
            max_size=params.get("MaxSize"),
            desired=params.get("DesiredCapacity"),
            decrement_desired=bool(params.get("ShouldDecrementDesiredCapacity", False)),
        )

    def _asg_updated(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if getattr(http_response, "status_code", 500) >= 300:
            return
        call = context.get("replay_group_call")
        if context.get("replay_group") == LINKED_GROUP and isinstance(call, GroupCall):
            self.calls.append(self.aws.now())
            self.group_calls.append((self.aws.now(), call))
            return
        desired = context.get("replay_desired_units")
        if desired is not None:
            self._record(context.get("replay_group"), int(desired))

    def _metric_request(self, params: dict[str, Any], **_: Any) -> None:
        self.metrics_requested += len(params.get("MetricDataQueries", []))


@dataclass
class LinkedWorld:
    """ECS on EC2: the tasks and the group's instances, played second by second while the replay runs.

    It takes the service's desired counts and the group calls as `DesiredRecorder` saw them (each from the whole
    second after the call completed, in the order they completed), with the capacity provider's managed scaling
    acting on top (world.py). Surge reads the group from moto, so every minute, just after managed scaling
    evaluated, its desired count is written into moto's group (with the harness's own client: it is no call of
    Surge's); moto's running task count is not the world's (moto runs every desired task at once)."""

    aws: LocalAws
    loaded: LoadedScenario
    recorder: DesiredRecorder
    fleet: LinkedFleet = field(init=False)
    managed: ManagedScaling = field(default_factory=ManagedScaling)
    rows: list[Second] = field(default_factory=list)
    _next_second: int = 0
    _next_change: int = 0
    _next_group_call: int = 0
    _synced_desired: int = field(init=False)

    def __post_init__(self) -> None:
        self.fleet = linked_fleet(self.loaded)
        self._synced_desired = self.fleet.group_desired

    def start(self) -> None:
        first = self.loaded.scenario.start_utc + timedelta(seconds=MANAGED_SCALING_SYNC_OFFSET_SECONDS)
        self.aws.every(MANAGED_SCALING_PERIOD_SECONDS, self._sync, first=first)

    def _sync(self) -> None:
        self.step_to(math.floor(_offset(self.loaded.scenario, self.aws.now())))
        if self.fleet.group_desired != self._synced_desired:
            self._synced_desired = self.fleet.group_desired
            self.aws.client("autoscaling").set_desired_capacity(
                AutoScalingGroupName=LINKED_GROUP, DesiredCapacity=self.fleet.group_desired, HonorCooldown=False
            )

    def step_to(self, last_second: int) -> None:
        """Play every second up to `last_second` (within the scenario) not played yet."""
        scenario = self.loaded.scenario
        changes, group_calls = self.recorder.changes, self.recorder.group_calls
        for t in range(self._next_second, min(last_second, scenario.duration_seconds - 1) + 1):
            self.fleet.advance(t)
            while True:  # the calls due by t, in the order they completed (the group's before the service's)
                change = changes[self._next_change] if self._next_change < len(changes) else None
                group = group_calls[self._next_group_call] if self._next_group_call < len(group_calls) else None
                if group is not None and (change is None or group[0] <= change[0]):
                    if whole_second(_offset(scenario, group[0])) > t:
                        break
                    self._play_group_call(t, group[1])
                    self._next_group_call += 1
                elif change is not None:
                    if whole_second(_offset(scenario, change[0])) > t:
                        break
                    self.fleet.set_desired(t, change[1])
                    self._next_change += 1
                else:
                    break
            self.managed.tick(t, self.fleet)
            self.rows.append(self.fleet.row(t, self.loaded.demand_at(t), scenario.spec.unit_capacity_rps))
            self._next_second = t + 1

    def _play_group_call(self, t_seconds: int, call: GroupCall) -> None:
        if call.operation == "UpdateAutoScalingGroup":
            self.fleet.update_group(t_seconds, min_size=call.min_size, max_size=call.max_size, desired=call.desired)
        elif call.operation == "SetDesiredCapacity" and call.desired is not None:
            self.fleet.set_desired_capacity(t_seconds, call.desired)
        elif call.operation == "TerminateInstanceInAutoScalingGroup":
            self.fleet.terminate_instance(t_seconds, decrement_desired=call.decrement_desired)


MANAGED_SCALING_SYNC_OFFSET_SECONDS = 0.5
"""The world writes managed scaling's desired count into moto this long after each whole minute (every call that
completed by the minute is played by then)."""


# ------------------------------------------------------------------------- pushes and calendar entries


def deliver_push(stack: LocalStack, push_id: str, audience: int, target_id: str | None = TARGET_ID) -> None:
    """The push server's part: put the PushSent event on the Surge bus (one call per delivery: a push listed
    twice is delivered twice). The template's rule (played by the local stack) starts the real PushFastPath
    execution after EventBridge's delivery latency; it sizes, records and applies the hold. `target_id` None:
    the event names no target, and Surge's fast path holds every target."""
    entry = push_event_entry(
        audience=audience, push_id=push_id, bus_name=stack.bus_name, source=PUSH_SOURCE, target_id=target_id
    )
    stack.aws.client("events").put_events(Entries=[entry])
    stack.deliver_events_later()


def load_calendar(stack: LocalStack, scenario: Scenario) -> None:
    """The scenario's entries through the real calendar path: validated and stored as `surge calendar add` does."""
    ref = StackRef(table=stack.table_name, config_parameter=stack.config_parameter)
    for index, item in enumerate(scenario.calendar):
        entry = CalendarEntry(
            name=item.name,
            target_id=item.target_id or TARGET_ID,
            start=item.start,
            end=item.end,
            time_zone=item.time_zone or "UTC",
            units=item.units,
            lead_seconds=item.lead_seconds,
            entry_id=f"replay-{index + 1}",
        )
        add_entry(ref, entry)


# ------------------------------------------------------------------------------------------- the world


@dataclass
class _AlbPublisher:
    """Publishes RequestCount minutes into moto CloudWatch as the ALB does: after the minute closes + delay.

    With `alb_first_publication_share` below 1, a minute first appears with that share of its requests and the
    rest is added `alb_revision_delay_seconds` later (a second datapoint on the same minute: CloudWatch sums
    them), as CloudWatch's newest minute can be incomplete when first read."""

    aws: LocalAws
    loaded: LoadedScenario
    load_balancer: str = LOAD_BALANCER

    @property
    def delay_seconds(self) -> int:
        return self.loaded.scenario.config.metric_publication_delay_seconds

    def offset_seconds(self, minute_start: datetime) -> int:
        return math.floor((minute_start - self.loaded.scenario.start_utc).total_seconds())

    def publish(self, minute_start: datetime, share: float = 1.0) -> None:
        offset = self.offset_seconds(minute_start)
        if minute_is_published(self.loaded, offset):
            requests = minute_requests(self.loaded, offset) * share
            world.publish_request_count(self.aws, self.load_balancer, minute_start, requests)

    def start(self) -> None:
        now = self.aws.now()
        minute = now.replace(second=0, microsecond=0) - timedelta(minutes=HISTORY_MINUTES)
        visible_after = timedelta(seconds=ALB_PERIOD_SECONDS + self.delay_seconds)
        while minute + visible_after <= now:
            self.publish(minute)
            minute += timedelta(seconds=ALB_PERIOD_SECONDS)
        config = self.loaded.scenario.config
        share = config.alb_first_publication_share
        revision = timedelta(seconds=config.alb_revision_delay_seconds)

        def publish_closed_minute() -> None:
            minute_start = self.aws.now() - visible_after
            self.publish(minute_start, share)
            if share < 1.0:
                self.aws.at(self.aws.now() + revision, lambda: self.publish(minute_start, 1.0 - share))

        self.aws.every(ALB_PERIOD_SECONDS, publish_closed_minute, first=minute + visible_after)


@dataclass
class _HighResolutionPublisher:
    """The application's own request-count metric at StorageResolution=1: one Sum per period, published
    `high_resolution_publication_delay_seconds` after the period closes (the scenario's demand, as the ALB
    sees it; no gaps: `metric_gaps` are an ALB outage)."""

    aws: LocalAws
    loaded: LoadedScenario
    period_seconds: int
    target_id: str = TARGET_ID

    def requests(self, period_start: datetime) -> float:
        offset = math.floor((period_start - self.loaded.scenario.start_utc).total_seconds())
        return sum(self.loaded.demand_at(offset + i) for i in range(self.period_seconds))

    def publish(self, period_start: datetime) -> None:
        world.publish_high_resolution_count(
            self.aws,
            HIGH_RESOLUTION_NAMESPACE,
            HIGH_RESOLUTION_METRIC_NAME,
            high_resolution_dimensions_of(self.target_id),
            period_start,
            self.requests(period_start),
        )

    def start(self) -> None:
        now = self.aws.now()
        period = timedelta(seconds=self.period_seconds)
        delay = timedelta(seconds=self.loaded.scenario.config.high_resolution_publication_delay_seconds)
        start = now.replace(second=0, microsecond=0) - timedelta(minutes=HISTORY_MINUTES)
        while start + period + delay <= now:
            self.publish(start)
            start += period

        def publish_closed_period() -> None:
            self.publish(self.aws.now() - period - delay)

        self.aws.every(self.period_seconds, publish_closed_period, first=start + period + delay)


def _create_target(aws: LocalAws, scenario: Scenario, target_id: str = TARGET_ID) -> None:
    """The target's ECS service (cluster `replay`) or Auto Scaling group, named `target_id`."""
    target = scenario.spec
    instances = target.instances
    if instances is not None:  # ECS on EC2: the group and its capacity provider first, then the service on it
        world.create_auto_scaling_group(
            aws, LINKED_GROUP, instances.min_units, instances.max_units, instances.initial_units
        )
        world.create_capacity_provider(
            aws,
            CLUSTER,
            LINKED_CAPACITY_PROVIDER,
            LINKED_GROUP,
            target_capacity_percent=MANAGED_SCALING_TARGET_CAPACITY_PERCENT,
            instance_warmup_seconds=MANAGED_SCALING_WARMUP_SECONDS,
        )
        world.create_ecs_service(
            aws, CLUSTER, target_id, desired_units=target.initial_units, capacity_provider=LINKED_CAPACITY_PROVIDER
        )
    elif target.kind == "ecs":
        world.create_ecs_service(aws, CLUSTER, target_id, desired_units=target.initial_units)
    else:
        world.create_auto_scaling_group(aws, target_id, target.min_units, target.max_units, target.initial_units)


class _Sink(io.TextIOBase):
    """Swallows the EMF metric lines (and log lines) Powertools prints after every invocation, counting their bytes
    (what Lambda would ship to the function's log group)."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes_written = 0

    def write(self, text: str) -> int:
        self.bytes_written += len(text.encode("utf-8"))
        return len(text)


@contextlib.contextmanager
def quiet_handlers(*, keep_logs: bool = False) -> Iterator[_Sink]:
    """No Powertools log lines, EMF metrics or traces on stdout during a replay (stdout carries --json).

    stdout is process-wide, so the in-process handlers' `print` of EMF lines lands in a sink while the replay
    runs (metrics stay enabled so Powertools keeps clearing its metric set after each invocation). With
    `keep_logs` the handlers' log lines are written too (into the sink, which counts the bytes: the fleet bench).
    """
    saved_env = {key: os.environ.get(key) for key in QUIET_ENVIRONMENT}
    os.environ.update(QUIET_ENVIRONMENT)
    from surge.observability import logger

    handler_logger = logging.getLogger(logger.name)  # the standard logger under Powertools' Logger
    saved_disabled = handler_logger.disabled
    handler_logger.disabled = not keep_logs
    clients.reset()
    settings.cache_clear()
    sink = _Sink()
    # Powertools' handler holds the sys.stdout of its creation: point it at the sink for the replay's duration
    streams = [h for h in handler_logger.handlers if isinstance(h, logging.StreamHandler)]
    saved_streams = [h.setStream(sink) for h in streams]
    try:
        with contextlib.redirect_stdout(sink), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No application metrics to publish")
            yield sink
    finally:
        for handler, stream in zip(streams, saved_streams, strict=True):
            if stream is not None:
                handler.setStream(stream)
        handler_logger.disabled = saved_disabled
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        clients.reset()
        settings.cache_clear()


# ------------------------------------------------------------------------------------------- the replay


def run_surge(loaded: LoadedScenario, progress: ProgressCallback | None = None) -> PolicyRun:
    """`surge`: the real state machine (ASL + handlers from infra/template.yaml) on moto, on the simulated clock.

    A scenario with `targets` runs one loop for all of them: one Surge config holding every target (the scaler's
    Map scales them in shards), one ECS service or Auto Scaling group and one load balancer per target, each
    target's world played from its own demand; the run holds one run per target (`PolicyRun.targets`)."""
    if loaded.is_fleet:
        return _run_fleet(loaded, progress)
    scenario = loaded.scenario
    started = time.perf_counter()
    with quiet_handlers(), _world_of(scenario) as aws:
        stack = deploy_locally(aws, SurgeConfig(targets=[scenario.target_config()]))
        _create_target(aws, scenario)
        recorder = DesiredRecorder(aws)
        recorder.install()
        linked = LinkedWorld(aws, loaded, recorder) if scenario.spec.instances is not None else None
        if linked is not None:
            linked.start()
        load_calendar(stack, scenario)
        _start_publishers(aws, {TARGET_ID: loaded})
        _schedule_pushes(aws, stack, scenario)
        executions = _schedule_loops(aws, stack, scenario)
        _run(aws, scenario, progress)
        if linked is not None:
            linked.step_to(scenario.duration_seconds - 1)
        loop = loop_usage(aws, executions, recorder.metrics_requested)
        read = _details(aws, stack, scenario, [TARGET_ID])
        details = {**read["targets"][TARGET_ID], "push_executions": read["push_executions"]}
    exact = [(_offset(scenario, when), units) for when, units in recorder.changes]
    if linked is not None:
        rows = linked.rows
        details["group_calls"] = [
            {"t_seconds": round(_offset(scenario, when), 3), **{k: v for k, v in vars(call).items() if v is not None}}
            for when, call in recorder.group_calls
        ]
        details["managed_scaling_actions"] = [{"t_seconds": t, "desired": d} for t, d in linked.managed.actions]
    else:
        rows = _played(loaded, exact)
    whole = [(math.ceil(t - 1e-9), units) for t, units in exact]
    return PolicyRun(
        "surge",
        whole,
        rows,
        loop=loop,
        wall_seconds=time.perf_counter() - started,
        exact_changes=exact,
        capacity_calls=[_offset(scenario, when) for when in recorder.calls],
        details=details,
    )


def _start_publishers(aws: LocalAws, parts: dict[str, LoadedScenario]) -> None:
    """Each target's load balancer minutes (and its high-resolution metric, if the scenario has one)."""
    for target_id, part in parts.items():
        _AlbPublisher(aws, part, load_balancer_of(target_id)).start()
        period = part.scenario.config.high_resolution_metric_period_seconds
        if period is not None:
            _HighResolutionPublisher(aws, part, period, target_id).start()


def _schedule_pushes(aws: LocalAws, stack: LocalStack, scenario: Scenario) -> None:
    """Every delivery at its second; with `targets` a push names its `target_id` (none: every target, as a
    PushSent event naming no target), a single target's pushes name it."""
    for push in scenario.pushes:
        target_id = push.target_id if scenario.is_fleet else TARGET_ID
        aws.at(
            scenario.at(push.at_seconds),
            lambda p=push, t=target_id: deliver_push(stack, p.id, p.audience, t),  # type: ignore[misc]
        )


def _world_of(scenario: Scenario) -> LocalAws:
    """The scenario's local AWS: its start, latency profile and seed (jitter and the order of flows due at once)."""
    config = scenario.config
    return LocalAws(start=scenario.start_utc, latency=config.latency, seed=config.seed, interleave_seed=config.seed)


def _schedule_loops(aws: LocalAws, stack: LocalStack, scenario: Scenario) -> list[str]:
    """EventBridge's rate(1 minute) schedule within the replay: each start after the scheduler's delivery
    latency, none at or after the end; the list fills with the execution ARNs as they start."""
    executions: list[str] = []
    end = scenario.at(scenario.duration_seconds)

    def start_loop() -> None:
        executions.append(aws.start_execution(stack.scaler_arn, {"budget_seconds": LOOP_BUDGET_SECONDS}))

    def scheduled_start() -> None:
        if aws.now() < end:
            aws.at(aws.now() + timedelta(seconds=aws.latency.scheduler_delivery()), start_loop)

    aws.every(SCHEDULE_PERIOD_SECONDS, scheduled_start, first=aws.now())
    return executions


def _run_fleet(loaded: LoadedScenario, progress: ProgressCallback | None) -> PolicyRun:
    """`targets`: one loop for every target (see run_surge); `instances` (ECS on EC2) is single-target only."""
    scenario = loaded.scenario
    parts = loaded.targets()
    started = time.perf_counter()
    with quiet_handlers(), _world_of(scenario) as aws:
        configs = [part.scenario.target_config(target_id) for target_id, part in parts.items()]
        stack = deploy_locally(aws, SurgeConfig(targets=configs))
        for target_id, part in parts.items():
            _create_target(aws, part.scenario, target_id)
        recorder = DesiredRecorder(aws)
        recorder.install()
        load_calendar(stack, scenario)
        _start_publishers(aws, parts)
        _schedule_pushes(aws, stack, scenario)
        executions = _schedule_loops(aws, stack, scenario)
        _run(aws, scenario, progress)
        loop = loop_usage(aws, executions, recorder.metrics_requested)
        details = _details(aws, stack, scenario, list(parts))
    runs = {
        target_id: _target_run(
            part,
            recorder.target_changes.get(target_id, []),
            recorder.target_calls.get(target_id, []),
            details["targets"][target_id],
        )
        for target_id, part in parts.items()
    }
    return PolicyRun(
        "surge",
        [],
        [],
        loop=loop,
        wall_seconds=time.perf_counter() - started,
        details={"push_executions": details["push_executions"]},
        targets=runs,
    )


def _played(loaded: LoadedScenario, exact: list[tuple[float, int]]) -> list[Second]:
    """The desired counts Surge set (at their exact instants) played through the scenario's fleet, second by second."""
    target = loaded.scenario.spec
    return timeline(
        loaded.demand_rps,
        exact,
        initial_units=target.initial_units,
        startup_seconds=target.startup_seconds,
        unit_capacity_rps=target.unit_capacity_rps,
    )


def _target_run(
    part: LoadedScenario, changes: list[tuple[datetime, int]], calls: list[datetime], details: dict[str, Any]
) -> PolicyRun:
    """One target's share of a fleet loop: its desired counts played through its own fleet."""
    scenario = part.scenario
    exact = [(_offset(scenario, when), units) for when, units in changes]
    rows = _played(part, exact)
    return PolicyRun(
        "surge",
        [(math.ceil(t - 1e-9), units) for t, units in exact],
        rows,
        exact_changes=exact,
        capacity_calls=[_offset(scenario, when) for when in calls],
        details=details,
    )


def _details(aws: LocalAws, stack: LocalStack, scenario: Scenario, target_ids: list[str]) -> dict[str, Any]:
    """What the table and the fast path say at the end, each read once: per target (by id, under `targets`) its
    journal (each change with the signal that decided it) and its push holds recorded; and how every
    PushFastPath execution ended (one per delivery)."""
    every = store.read_journal(stack.table_name, scenario.start_utc, scenario.at(scenario.duration_seconds))
    pages = (
        aws.client("stepfunctions").get_paginator("list_executions").paginate(stateMachineArn=stack.push_fast_path_arn)
    )
    push_runs = []
    for execution in (e for page in pages for e in page["executions"]):
        states = [
            event["stateEnteredEventDetails"]["name"]
            for event in aws.history_events(execution["executionArn"])
            if "stateEnteredEventDetails" in event
        ]
        push_runs.append({"status": execution["status"], "last_state": states[-1] if states else None})
    targets = {
        target_id: {
            "journal": [
                {
                    "t_seconds": round(_offset(scenario, c.applied_at), 3),
                    "from_units": c.from_units,
                    "to_units": c.to_units,
                    "reason": c.decision.reason,
                    "winner": c.decision.winner,
                    "demand_source": c.decision.demand_source,
                    "active_holds": c.decision.active_holds,
                    "hold_floors": c.decision.hold_floors,
                }
                for c in every
                if c.target_id == target_id
            ],
            "holds": [
                {"push_id": h.push_id, "units": h.units}
                for h in store.read_target_items(stack.table_name, target_id).holds
            ],
        }
        for target_id in target_ids
    }
    return {"targets": targets, "push_executions": push_runs}


def _offset(scenario: Scenario, when: datetime) -> float:
    return (when - scenario.start_utc).total_seconds()


def _run(aws: LocalAws, scenario: Scenario, progress: ProgressCallback | None) -> None:
    for t in range(ALB_PERIOD_SECONDS, scenario.duration_seconds + ALB_PERIOD_SECONDS, ALB_PERIOD_SECONDS):
        step = min(t, scenario.duration_seconds)
        aws.run_until(scenario.at(step))
        if progress is not None:
            progress(step)


def execution_events(aws: LocalAws, arn: str) -> list[dict[str, Any]]:
    """An execution's history events, as boto3's get_execution_history returns them.

    `LocalAws.history_events` reads them from moto's Step Functions backend: going through boto3 costs ~0.6 s
    per 55 s execution in moto's response serializer, i.e. ~35 s per replayed hour.
    """
    return aws.history_events(arn)


def history_instant(value: Any) -> datetime:
    """A history event's timestamp (a datetime from moto's backend, epoch seconds or ISO text) as a datetime."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    return datetime.fromisoformat(str(value))


def loop_usage(
    aws: LocalAws,
    executions: list[str],
    metrics_requested: int,
    histories: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """What the loop did, from the executed history (read here unless the caller has `histories`, by execution
    ARN) and the harness's Lambda invocations."""
    transitions = 0
    durations: list[float] = []
    state_sizes: list[int] = []
    for arn in executions:
        events = histories[arn] if histories is not None else execution_events(aws, arn)
        transitions += sum(1 for e in events if str(e["type"]).endswith("StateEntered"))
        state_sizes.extend(state_data_bytes(events))
        if events:
            durations.append(
                (history_instant(events[-1]["timestamp"]) - history_instant(events[0]["timestamp"])).total_seconds()
            )
    invocations = aws.invocations
    if aws.latency.profile.idealised:  # handlers take no simulated time: bill their real duration
        warm = sorted(i.wall_seconds for i in invocations if not i.cold_start) or [0.0]
        typical = warm[len(warm) // 2]
        handler_seconds = [typical if i.cold_start else i.wall_seconds for i in invocations]
    else:  # the simulated duration: what the handler spent waiting for AWS and computing (Lambda bills it)
        handler_seconds = [i.sim_seconds for i in invocations]
    billed_seconds = [math.ceil(d * 1000) / 1000 for d in handler_seconds]
    gb_seconds = sum(s * i.memory_mb / 1024 for s, i in zip(billed_seconds, invocations, strict=True))
    return {
        "executions": len(executions),
        "execution_seconds": durations,
        "state_transitions": transitions,
        "lambda_invocations": len(invocations),
        "lambda_gb_seconds": gb_seconds,
        "metric_requests": metrics_requested,
        "max_state_bytes": max(state_sizes, default=0),
        "state_bytes": sum(state_sizes),
    }


def state_data_bytes(events: list[dict[str, Any]]) -> list[int]:
    """The size in bytes (UTF-8) of every state's input and output in an execution's history: what Step Functions
    holds to its 256 KiB limit per state, and what an Express log group at level ALL with execution data ingests
    (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html)."""
    sizes = []
    for event in events:
        for key, part in (("stateEnteredEventDetails", "input"), ("stateExitedEventDetails", "output")):
            data = event.get(key, {}).get(part)
            if isinstance(data, str):
                sizes.append(len(data.encode("utf-8")))
    return sizes
