"""What each state of the scaler state machine does: adapters in, the pure core in the middle, adapters out.

The handlers in `surge.handlers` parse the event, take the clock once, call one function here, and dump the
result. These functions take `now` so tests (and the replay) drive them on a simulated clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from surge.adapters import capacity, config_source, decision_events, store
from surge.adapters.errors import ConfigInvalidError, SurgeTransientError, transient_as_retryable
from surge.adapters.metrics_reader import ALB_PERIOD_SECONDS, MetricReadings, read_request_metrics
from surge.adapters.settings import Settings
from surge.core.calendar import events_that_can_matter
from surge.core.config import SurgeConfig, TargetConfig, TargetKind
from surge.core.decision import Action, Decision, Reason, decide
from surge.core.instances import InstancePlan, plan_instances
from surge.core.plan import AppliedChange, Plan, Route, make_plan
from surge.core.reconcile import FreshView, reconcile
from surge.core.response import response_lookback_start
from surge.core.signals import (
    CalendarEvent,
    CurrentCapacity,
    GroupLimits,
    RateSample,
    ShadowCapacity,
    TargetSignals,
    TargetState,
)
from surge.models import (
    ApplyCapacityInput,
    ApplyCapacityOutput,
    CheckLeaseInput,
    CheckLeaseOutput,
    ClaimLoopInput,
    ClaimLoopOutput,
    DecideCapacityInput,
    DecideCapacityOutput,
    FailureCount,
    LoopContext,
    ReadSignalsInput,
    ReadSignalsOutput,
    StopReason,
)
from surge.observability import logger, metrics, publish_target_gauges

RESPONSE_LOOKBACK_SECONDS = 3_600
"""Metrics are read back to the start of every push hold still within its minimum, for at most an hour (a
longer minimum hold keeps its sized units instead: surge.core.response.hold_floor)."""
_METRIC_BY_ACTION = {Action.SCALE_OUT: "ScaleOut", Action.SCALE_IN: "ScaleIn", Action.STEADY: "LimitsChanged"}


def claim_loop(event: ClaimLoopInput, settings: Settings, now: datetime) -> ClaimLoopOutput:
    """Load the configuration, keep it in the table under its version, and claim the loop lease."""
    loaded = config_source.load_effective_config(
        settings.config_parameter_name, settings.operator_config_parameter_name, table=settings.table_name
    )
    config = loaded.config
    interval = event.overrides.interval_seconds or min(t.scaling.loop_interval_seconds for t in config.targets)
    settle = event.overrides.settle_seconds if event.overrides.settle_seconds is not None else interval
    budget = event.overrides.budget_seconds
    with transient_as_retryable("dynamodb:GetItem+PutItem (configuration)"):
        version = store.put_config(settings.table_name, config, now)
    loop = LoopContext(
        execution_id=event.execution_id,
        started_at=event.started_at,
        deadline=event.started_at + timedelta(seconds=budget),
        interval_seconds=interval,
        settle_seconds=settle,
        config_version=version,
        targets_per_shard=settings.targets_per_shard,
    )
    held = store.claim_lease(
        settings.table_name, event.execution_id, event.started_at, now, lease_seconds=budget + 2 * interval
    )
    metrics.add_metric(name="LoopsClaimed" if held else "LoopsStoodAside", unit=MetricUnit.Count, value=1)
    logger.info(
        "loop claimed" if held else "another loop holds the lease",
        extra={
            "loop": loop.model_dump(mode="json"),
            "targets": len(config.targets),
            "config_versions": {
                "template": loaded.template.version,
                "operator": loaded.operator.version if loaded.operator else None,
                "effective": version,
            },
        },
    )
    shards = shard_indexes(len(config.targets), settings.targets_per_shard)
    return ClaimLoopOutput(loop=loop, failures=FailureCount(), lease_held=held, shards=shards)


def loop_turn(
    event: ClaimLoopInput | CheckLeaseInput, settings: Settings, now: datetime
) -> ClaimLoopOutput | CheckLeaseOutput:
    """ClaimLoop's start of an execution, or CheckLease's turn between two iterations."""
    if isinstance(event, ClaimLoopInput):
        return claim_loop(event, settings, now)
    return check_lease(event, settings, now)


def shard_indexes(n_targets: int, targets_per_shard: int) -> list[int]:
    """The Map's items: shard i scales the targets i * targets_per_shard up to the next shard's first."""
    return list(range(-(-n_targets // targets_per_shard)))


def shard_of(config: SurgeConfig, shard: int | None, targets_per_shard: int) -> SurgeConfig:
    """The targets one shard scales, in configuration order (the whole configuration outside the Map)."""
    if shard is None:
        return config
    targets = config.targets[shard * targets_per_shard : (shard + 1) * targets_per_shard]
    if not targets:
        raise ConfigInvalidError(f"shard: {shard} is beyond the {len(config.targets)} targets of this configuration")
    return SurgeConfig(targets=targets)


def check_lease(event: CheckLeaseInput, settings: Settings, now: datetime) -> CheckLeaseOutput:
    """Between iterations: count the last iteration's failed shards, and say why the loop should stop (its budget
    spent, another loop took over), with one consistent read of the lease."""
    failed = {shard: r.error for shard, r in enumerate(event.shard_results) if r.failed}
    throttled = [shard for shard, r in enumerate(event.shard_results) if r.throttled]
    failures = event.failures
    if failed:
        # One iteration with failed shards counts once: the other shards scaled (a target's own failures never
        # fail a shard: they are in its decision), and five such iterations in one execution stop the loop.
        failures = FailureCount(count=failures.count + 1)
        logger.error(
            "shards failed: their targets kept their capacity this iteration",
            extra={"failed_shards": failed, "failures": failures.count},
        )
        metrics.add_metric(name="ShardsFailed", unit=MetricUnit.Count, value=len(failed))
    if throttled:
        logger.warning("shards still throttled after their retries: next iteration", extra={"shards": throttled})
    state = {"loop": event.loop, "failures": failures, "shards": event.shards}
    if now >= event.loop.deadline:
        return CheckLeaseOutput(**state, stop_reason=StopReason.BUDGET_SPENT)
    if another_loop_took_over(settings.table_name, event.loop.execution_id):
        return CheckLeaseOutput(**state, stop_reason=StopReason.LEASE_LOST)
    return CheckLeaseOutput(**state)


def another_loop_took_over(table: str, execution_id: str) -> bool:
    """One consistent read of the lease: a newer execution holds it (an absent lease is nobody's: keep going)."""
    with transient_as_retryable("dynamodb:GetItem (lease)"):
        owner = store.lease_owner(table)
    if owner is not None and owner != execution_id:
        logger.info("another loop took over", extra={"owner": owner})
        return True
    return False


def read_signals(event: ReadSignalsInput, settings: Settings, now: datetime) -> ReadSignalsOutput:
    """Read load, capacity, holds and calendar for every target of the shard (the second look before a scale-in
    also says whether another loop took over meanwhile)."""
    loop = event.loop if event.shard is None else event.loop.model_copy(update={"shard": event.shard})
    if loop.config_version is not None:
        whole = config_source.config_by_version(settings.table_name, loop.config_version)
        config = shard_of(whole, loop.shard, loop.targets_per_shard)
    elif event.config is not None:
        config = event.config
    else:
        raise ConfigInvalidError("loop.config_version: missing, and no config in the input")
    envelope = {"loop": loop, "config": config, "failures": event.failures}
    if event.fresh and another_loop_took_over(settings.table_name, loop.execution_id):
        return ReadSignalsOutput(**envelope, signals=[], read_at=now, stop_reason=StopReason.LEASE_LOST)

    # Every decision on these signals is made before the next ReadSignals: this iteration's, and the second look's
    # after the settle wait.
    decided_by = now + timedelta(seconds=loop.interval_seconds + loop.settle_seconds)
    items_by_target = {
        t.id: store.read_target_items(settings.table_name, t.id, calendar_between=(now, decided_by))
        for t in config.targets
    }
    # The second look before a scale-in reads everything again: CloudWatch adds late-arriving requests to a
    # minute it already published, so the newest minute read before the settle wait may have grown since.
    kept = (
        {}
        if event.fresh
        else {
            target.id: samples
            for target in config.targets
            if (samples := _alb_samples_still_current(items_by_target[target.id].alb_samples, target, now)) is not None
        }
    )
    since = response_lookback_start(
        [h for items in items_by_target.values() for h in items.holds], now, RESPONSE_LOOKBACK_SECONDS
    )
    stale = [t for t in config.targets if t.id not in kept]
    readings = read_request_metrics(SurgeConfig(targets=stale), now, since=since) if stale else MetricReadings()
    for target_id, samples in kept.items():
        readings.request_samples[target_id] = samples
    current = capacity.read_capacity(config)
    signals = []
    for target in config.targets:
        items = items_by_target[target.id]
        calendar = events_that_can_matter(items.calendar, now, decided_by)
        signals.append(
            target_signals(
                target, readings, current, items, calendar, dry_run=settings.dry_run or target.scaling.dry_run
            )
        )
        problems = {
            "metric_error": readings.errors.get(target.id),
            "capacity_error": current.errors.get(target.id),
            "store_error": items.error,
        }
        if any(problems.values()):
            logger.warning("signals incomplete", extra={"target_id": target.id, **problems})
            metrics.add_metric(name="SignalReadErrors", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="MetricsRequested", unit=MetricUnit.Count, value=readings.metrics_requested)
    stored = {target_id: items.alb_samples for target_id, items in items_by_target.items()}
    _remember_alb_minutes(settings.table_name, config, readings, stored, now)
    return ReadSignalsOutput(**envelope, signals=signals, read_at=now)


def _remember_alb_minutes(
    table: str, config: SurgeConfig, readings: MetricReadings, stored: dict[str, list[RateSample]], now: datetime
) -> None:
    """Keep the ALB minutes just read beside each target's state, for the next iterations (whichever container
    runs them), when they differ from the ones stored (a new minute, the lookback window moving on, requests
    CloudWatch added late): about two writes per target per minute. Targets with a high-resolution metric are
    read every iteration, and a failed or empty read is never kept. Not kept, the next iteration reads them again:
    logged, never a failed iteration."""
    fresh = {
        target.id: samples
        for target in config.targets
        if target.high_resolution_metric is None
        and target.id not in readings.errors
        and (samples := readings.request_samples.get(target.id))
        and samples != stored.get(target.id)
    }
    if not fresh:
        return
    try:
        store.put_alb_samples(table, fresh, now)
    except (ClientError, BotoCoreError, store.ItemsNotWrittenError) as error:
        logger.warning("ALB minutes not kept: the next iteration reads them again", extra={"error": str(error)})


def target_signals(
    target: TargetConfig,
    readings: MetricReadings,
    current: capacity.CapacityReadings,
    items: store.TargetItems,
    calendar: list[CalendarEvent],
    *,
    dry_run: bool,
) -> TargetSignals:
    """One target's signals from what was read (ReadSignals, and `surge status`): in dry-run, the capacity Surge
    would have set (its shadow) stands in for the real one."""
    found = current.capacity.get(target.id)
    if dry_run and found is not None and items.state.shadow is not None:
        found = _shadowed(found, items.state.shadow)
    return TargetSignals(
        target_id=target.id,
        request_samples=readings.request_samples.get(target.id, []),
        high_resolution_samples=readings.high_resolution_samples.get(target.id, []),
        metric_error=readings.errors.get(target.id),
        holds=items.holds,
        calendar=calendar,
        store_error=items.error,
        capacity=found,
        unavailable=current.errors.get(target.id) if target.id in current.unavailable else None,
        state=items.state,
        pause=items.pause,
    )


def _alb_samples_still_current(
    previous: list[RateSample] | None, target: TargetConfig, now: datetime
) -> list[RateSample] | None:
    """The ALB minutes read earlier in this execution, if no newer RequestCount minute can exist yet (the loop's
    own iterations; the second look before a scale-in always reads again: `ReadSignalsInput.fresh`).

    The ALB publishes one datapoint per minute, after the minute closes: while `now` is less than a minute past
    the end of the newest datapoint read, the next one cannot be there, so reading again would only cost money
    ($0.01 per 1,000 metrics). Targets with a high-resolution metric, and targets whose last read failed or
    found nothing (never cached), are read every iteration.
    """
    if not previous or target.high_resolution_metric is not None:
        return None
    newest = max(previous, key=lambda sample: sample.start)
    if now >= newest.end + timedelta(seconds=ALB_PERIOD_SECONDS):
        return None
    return previous


def decide_capacity(event: DecideCapacityInput, now: datetime) -> DecideCapacityOutput:
    """Decide every target's desired units (pure) and the route the state machine takes."""
    envelope = {"loop": event.loop, "config": event.config, "failures": event.failures}
    if event.stop_reason is not None:
        return DecideCapacityOutput(**envelope, plan=Plan(route=Route.STEADY, decisions=[]))
    # A Lambda whose clock lags the one that read the signals would see fresh datapoints as "from the future"
    # and ignore them: decide no earlier than the read.
    now = max(now, event.read_at)
    by_id = {s.target_id: s for s in event.signals}
    decisions = [
        decide(target, by_id.get(target.id, TargetSignals(target_id=target.id)), now) for target in event.config.targets
    ]
    plan = make_plan(decisions)
    for decision in decisions:
        logger.info(
            decision.explanation,
            extra={
                "decision": decision.model_dump(mode="json"),
                "route": plan.route,
                "execution_id": event.loop.execution_id,
            },
        )
    metrics.add_metric(name="LoopIterations", unit=MetricUnit.Count, value=1)
    missing = sum(1 for d in decisions if d.reason in (Reason.SIGNAL_MISSING, Reason.SIGNAL_GAP))
    if missing:
        metrics.add_metric(name="SignalMissing", unit=MetricUnit.Count, value=missing)
    _publish_gauges(decisions, by_id)
    paused = [d.target_id for d in decisions if d.reason is Reason.PAUSED]
    if paused:
        metrics.add_metric(name="TargetsPaused", unit=MetricUnit.Count, value=len(paused))
        logger.info("targets paused by an operator: decided, nothing changed", extra={"paused_targets": paused})
    return DecideCapacityOutput(**envelope, plan=plan)


def _publish_gauges(decisions: list[Decision], signals: dict[str, TargetSignals]) -> None:
    """Each target's gauges for the dashboard, once per decision (what was read, and the floors decided)."""
    for decision in decisions:
        capacity = signals[decision.target_id].capacity if decision.target_id in signals else None
        publish_target_gauges(
            decision.target_id,
            {
                "DesiredUnits": decision.current_desired_units,
                "RunningUnits": capacity.in_service_units if capacity is not None else None,
                "DemandRps": decision.demand_rps,
                "PushFloorUnits": decision.push_floor_units,
                "CalendarFloorUnits": decision.calendar_floor_units,
                # Only while unavailable (a metric with no datapoint is not billed): alarm on it per target.
                "TargetUnavailable": 1 if decision.reason is Reason.TARGET_UNAVAILABLE else None,
            },
        )


def apply_capacity(event: ApplyCapacityInput, settings: Settings, now: datetime) -> ApplyCapacityOutput:
    """Apply every change of the plan (no API call when nothing changes), remember it, announce it.

    Each change is reconciled first with what is true now (`surge.core.reconcile`): another flow (a push, the
    other loop of a hand-over) may have acted since the decision was made.

    One target's failure never costs another its change: a target the API refuses (AccessDenied, a service or group
    that no longer exists) is logged and counted and left as it is; a throttled or transient one is retried by the
    state's Retry (the error is raised once every other change is applied, and the retry finds those already done)."""
    applied: list[AppliedChange] = []
    retry: SurgeTransientError | None = None
    for decision in event.plan.decisions:
        if not (
            decision.changes_desired
            or decision.changes_limits
            or decision.grows_instances
            or decision.shrinks_instances
        ):
            continue
        if decision.action is Action.SCALE_IN and not event.allow_scale_in and not decision.grows_instances:
            continue  # shrinking waits for the confirmed scale-in branch
        try:
            change, group_retry = _apply_one(decision, event, settings, now)
            retry = retry or group_retry
        except SurgeTransientError as error:
            logger.warning("change to retry", extra={"target_id": decision.target_id, "error": str(error)})
            retry = retry or error
            continue
        except (ClientError, BotoCoreError) as error:
            logger.error("change refused", extra={"target_id": decision.target_id, "error": str(error)})
            metrics.add_metric(name="ChangesRefused", unit=MetricUnit.Count, value=1)
            continue
        if change is not None:
            applied.append(change)
    if applied:
        _announce(applied, settings)
    if retry is not None:
        metrics.add_metric(name="ChangesThrottled", unit=MetricUnit.Count, value=1)
        raise retry
    envelope = {"loop": event.loop, "config": event.config, "failures": event.failures}
    return ApplyCapacityOutput(**envelope, applied=applied)


def _announce(applied: list[AppliedChange], settings: Settings) -> None:
    """Send the ScalingDecision events. The capacity is already applied and journaled: failing the iteration now
    would only count a failure and lose nothing less, so a delivery problem is logged and measured instead."""
    try:
        decision_events.publish_decisions(settings.event_bus_name, settings.event_source, applied)
    except (decision_events.EventsNotDeliveredError, ClientError, BotoCoreError) as error:
        logger.error("ScalingDecision events not delivered", extra={"error": str(error), "changes": len(applied)})
        metrics.add_metric(name="DecisionEventsNotDelivered", unit=MetricUnit.Count, value=len(applied))


MAX_APPLY_ATTEMPTS = 4
"""Re-read and reconcile at most this often when another flow writes the same target meanwhile."""


def _fresh_view(
    target: TargetConfig, settings: Settings, dry_run: bool, basis: TargetState, now: datetime
) -> FreshView:
    """The target as it is now: its table items (an operator's pause among them; the calendar entries that can
    matter now) and its current capacity (the shadow one in dry-run), with the capacity as read (None in dry-run
    when the shadow stands in for it)."""
    items = store.read_target_items(settings.table_name, target.id, calendar_between=(now, now))
    state = basis if items.error is not None else items.state
    found: CurrentCapacity | None = None
    if dry_run:
        shadow = state.shadow
        current = shadow.desired_units if shadow is not None else None
        limits = shadow.group_limits if shadow is not None else None
        if shadow is None or (target.kind is TargetKind.ASG and limits is None):
            found = capacity.read_capacity(SurgeConfig(targets=[target])).capacity.get(target.id)
            current = found.desired_units if current is None and found is not None else current
            limits = found.group_limits if limits is None and found is not None else limits
    else:
        found = capacity.read_capacity(SurgeConfig(targets=[target])).capacity.get(target.id)
        current = found.desired_units if found is not None else None
        limits = found.group_limits if found is not None else None
    return FreshView(
        state=state,
        holds=items.holds,
        calendar=items.calendar,
        current_desired_units=current,
        current_group_limits=limits,
        pause=items.pause,
        read_capacity=found,
    )


def _instance_plan(
    target: TargetConfig, decision: Decision, found: CurrentCapacity | None, tasks: int | None, allow_scale_in: bool
) -> InstancePlan | None:
    """The instance side again, on the group as it is now and the task count about to be set (the decision's plan
    may be stale: a push may have raised the tasks since). Instances shrink only on the confirmed scale-in
    branch, and only if the decision wanted it."""
    linked = found.linked if found is not None else None
    if target.instances is None or found is None or linked is None or linked.group is None:
        return None
    return plan_instances(
        target.instances,
        linked.group,
        desired_tasks=found.desired_units,
        running_tasks=found.in_service_units,
        target_tasks=tasks,
        allow_scale_in=allow_scale_in and decision.shrinks_instances,
    )


def _apply_instances(
    target: TargetConfig, plan: InstancePlan | None, calls: list[str]
) -> tuple[InstancePlan | None, SurgeTransientError | None]:
    """The group first (the tasks wait for placement, the instances must not wait for the tasks). A group the API
    refuses never costs the service its change (the tasks still scale); a throttled one is retried by the state's
    Retry once the service's change is applied."""
    if plan is None or not plan.changes or target.ecs is None:
        return None, None
    try:
        calls.extend(capacity.set_linked_group(plan, target.ecs.cluster))
    except SurgeTransientError as error:
        logger.warning("instances change to retry", extra={"target_id": target.id, "error": str(error)})
        return None, error
    except (ClientError, BotoCoreError) as error:
        logger.error("instances change refused", extra={"target_id": target.id, "error": str(error)})
        metrics.add_metric(name="ChangesRefused", unit=MetricUnit.Count, value=1)
        return None, None
    return plan, None


def _apply_one(
    decision: Decision, event: ApplyCapacityInput, settings: Settings, now: datetime
) -> tuple[AppliedChange | None, SurgeTransientError | None]:
    """Reconcile, act, record (state conditional on its version; on a conflict, all three again). A linked
    group (ECS on EC2) is applied first, then the service; a throttled group call is returned to be retried."""
    target = event.config.target(decision.target_id)
    dry_run = decision.dry_run or settings.dry_run
    calls: list[str] = []
    from_units: int | None = None
    last_set: int | None = None
    limits_set = False
    outcome = None
    applied_plan: InstancePlan | None = None
    group_retry: SurgeTransientError | None = None
    group_done = dry_run or target.instances is None or decision.instances is None
    tasks_allowed = not (decision.action is Action.SCALE_IN and not event.allow_scale_in)
    for _ in range(MAX_APPLY_ATTEMPTS):
        fresh = _fresh_view(target, settings, dry_run, decision.next_state, now)
        from_units = fresh.current_desired_units if from_units is None else from_units
        outcome = reconcile(decision, target.scaling, fresh, now)
        desired = outcome.desired_units if tasks_allowed else None
        if not group_done and fresh.pause is None:
            group_done = True
            sizing = desired if desired is not None else fresh.current_desired_units
            plan = _instance_plan(target, decision, fresh.read_capacity, sizing, event.allow_scale_in)
            applied_plan, group_retry = _apply_instances(target, plan, calls)
        if desired is None and last_set is None:
            break  # nothing to do: superseded or abandoned before this flow changed anything
        next_state = outcome.next_state
        if desired is not None:
            if dry_run:
                previous = next_state.shadow.group_limits if next_state.shadow is not None else None
                shadow = ShadowCapacity(desired_units=desired, group_limits=outcome.group_limits or previous)
                next_state = next_state.model_copy(update={"shadow": shadow})
            elif desired != fresh.current_desired_units or outcome.group_limits is not None:
                calls.append(_set_capacity(target, desired, outcome.group_limits))
            last_set = desired
            limits_set = limits_set or outcome.group_limits is not None
        try:
            store.put_target_state(settings.table_name, target.id, next_state)
            break
        except store.StateConflictError:
            metrics.add_metric(name="StateWriteConflicts", unit=MetricUnit.Count, value=1)
            logger.info("another flow changed the target meanwhile: reconciling again", extra={"target_id": target.id})
    else:
        logger.error("state not recorded after repeated conflicts", extra={"target_id": target.id, "calls": calls})
        metrics.add_metric(name="StateNotRecorded", unit=MetricUnit.Count, value=1)
    assert outcome is not None
    if last_set is None and applied_plan is None:
        logger.info(
            "change not applied: " + outcome.explanation,
            extra={"target_id": target.id, "outcome": outcome.outcome, "decided": decision.explanation},
        )
        metrics.add_metric(name="ChangesSuperseded", unit=MetricUnit.Count, value=1)
        return None, group_retry
    if calls:
        metrics.add_metric(name=_METRIC_BY_ACTION[decision.action], unit=MetricUnit.Count, value=1)
    explanation = outcome.explanation if outcome.acts else decision.explanation
    logger.info(
        ("dry run: would apply " if dry_run else "applied ") + explanation,
        extra={"target_id": target.id, "api_calls": calls, "dry_run": dry_run, "outcome": outcome.outcome},
    )
    from_units = from_units if from_units is not None else decision.current_desired_units
    change = AppliedChange(
        target_id=target.id,
        from_units=from_units,
        to_units=last_set if last_set is not None else from_units,
        group_limits_set=limits_set,
        api_calls=calls,
        dry_run=dry_run,
        applied_at=now,
        decision=decision,
        instances_from=applied_plan.current_instances if applied_plan is not None else None,
        instances_to=applied_plan.instances_after if applied_plan is not None else None,
    )
    store.put_journal_entry(settings.table_name, change)
    return change, group_retry


def _set_capacity(target: TargetConfig, desired: int, limits: GroupLimits | None) -> str:
    if target.kind is TargetKind.ECS and target.ecs is not None:
        return capacity.set_ecs_desired(target.ecs, desired)
    assert target.asg is not None
    return capacity.set_asg_capacity(target.asg, desired, limits)


def _shadowed(found: CurrentCapacity, shadow: ShadowCapacity) -> CurrentCapacity:
    """Dry-run: the capacity Surge would have set stands in for the real one (which Surge never changes)."""
    return found.model_copy(
        update={"desired_units": shadow.desired_units, "group_limits": shadow.group_limits or found.group_limits}
    )
