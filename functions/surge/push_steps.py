"""The push fast path: a PushSent event becomes a recorded hold and, at once, more capacity.

RecordPushHold (here) -> IsNewPush -> DecideCapacity -> ScaleOutForPush (the loop's own functions); when the push covers
more targets than one shard, RecordOtherTargetsHolds (here too) records each other shard's holds beside that scale-out,
for the loop to apply. A duplicate delivery of the same push id records nothing and applies nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from surge.adapters import capacity, config_source, store
from surge.adapters.errors import PushRejectedError, SurgeTransientError, transient_as_retryable
from surge.adapters.metrics_reader import read_request_metrics
from surge.adapters.settings import Settings
from surge.core.config import SurgeConfig, TargetConfig
from surge.core.decision import current_demand
from surge.core.errors import describe_validation_error
from surge.core.push import (
    MAX_DETAIL_BYTES,
    Calibration,
    PushRejection,
    PushSent,
    observed_rps_per_audience,
    salvage_push,
    size_push_hold,
)
from surge.core.signals import Hold, RateSample, TargetSignals
from surge.models import (
    FailureCount,
    LoopContext,
    RecordOtherHoldsOutput,
    RecordPushInput,
    RecordPushOutput,
)
from surge.observability import logger, metrics

PUSH_DETAIL_TYPE = "PushSent"


class PushEnvelope(EventBridgeModel):
    """The EventBridge envelope (Powertools Parser model); its detail is validated by `salvage_push`."""

    detail: dict[str, Any]


def parse_push_event(event: dict[str, Any], expected_source: str) -> tuple[PushSent, str | None]:
    """Validate the whole event; every problem names its field. Returns the push and what was left out of its
    detail (None: nothing). Raises PushRejectedError when the push cannot scale anything."""
    detail_bytes = len(json.dumps(event.get("detail", {}), separators=(",", ":")).encode())
    if detail_bytes > MAX_DETAIL_BYTES:
        raise PushRejectedError(f"detail: {detail_bytes} bytes, at most {MAX_DETAIL_BYTES} allowed")
    try:
        envelope: PushEnvelope = parse(event=event, model=PushEnvelope)
    except ValidationError as error:
        raise PushRejectedError(describe_validation_error(error, model=PushEnvelope)) from error
    if envelope.source != expected_source:
        raise PushRejectedError(f"source: {envelope.source!r} is not the push source {expected_source!r}")
    if envelope.detail_type != PUSH_DETAIL_TYPE:
        raise PushRejectedError(f"detail-type: {envelope.detail_type!r} is not {PUSH_DETAIL_TYPE!r}")
    try:
        return salvage_push(envelope.detail, envelope.id)
    except ValidationError as error:
        raise PushRejectedError(describe_validation_error(error, prefix="detail", model=PushSent)) from error


def record_push(
    request: RecordPushInput, settings: Settings, now: datetime
) -> RecordPushOutput | RecordOtherHoldsOutput:
    """RecordPushHold (shard 0 of the covered targets: read, size, record, for DecideCapacity and ScaleOutForPush)
    or RecordOtherTargetsHolds (one other shard, while shard 0 scales out: its holds, for the loop). No covered
    target's scale-out waits for another shard's reads and writes."""
    first = request.shard == 0
    try:
        push, ignored = parse_push_event(request.event, settings.push_source)
    except PushRejectedError as error:
        logger.error("push rejected", extra={"reason": str(error), "event_id": request.event.get("id")})
        metrics.add_metric(name="PushesRejected", unit=MetricUnit.Count, value=1)
        _keep_rejection(settings.table_name, request.event, str(error), now)
        raise
    if ignored is not None and first:
        # The spike still scales: only what it does not need was left out.
        logger.warning("push fields ignored", extra={"reason": ignored, "event_id": request.event.get("id")})
        metrics.add_metric(name="PushFieldsIgnored", unit=MetricUnit.Count, value=1)
    with transient_as_retryable("ssm:GetParameter"):
        config = config_source.load_effective_config(
            settings.config_parameter_name,
            settings.operator_config_parameter_name,
            table=settings.table_name,
            without_table_on_error=True,
        ).config
    covered = _targets_of(push, config)
    per_shard = settings.targets_per_shard
    targets = covered[request.shard * per_shard : (request.shard + 1) * per_shard]
    if not targets:  # the configuration lost targets since shard 0 was read: nobody left in this shard
        return _other_holds_recorded(push.push_id, request.shard, targets, _Sized())
    sized = _size_holds(push, targets, request.record, settings.table_name, now)
    if not first:
        return _other_holds_recorded(push.push_id, request.shard, targets, sized)
    other_shards = list(range(1, math.ceil(len(covered) / per_shard)))
    return _first_shard_output(request, push, targets, len(covered) - len(targets), other_shards, sized, now)


@dataclass
class _Sized:
    """What `_size_holds` read and recorded for one part of the covered targets."""

    signals: list[TargetSignals] = field(default_factory=list)
    recorded: list[Hold] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)


def _size_holds(push: PushSent, targets: list[TargetConfig], record: bool, table: str, now: datetime) -> _Sized:
    """Read these targets' items, metrics and capacity, size each one's hold and record it once per push id (with
    `record` false, size it from what can still be read, without recording)."""
    scope = SurgeConfig(targets=targets)
    # The calendar entries that can matter to a decision taken now (as the loop reads them): the others would
    # only make this state bigger.
    items = {
        t.id: store.read_target_items(
            table, t.id, calendar_between=(now, now + timedelta(seconds=t.scaling.loop_interval_seconds))
        )
        for t in targets
    }
    pending = [h.started_at for i in items.values() for h in i.holds if not h.calibrated and now >= h.max_until]
    readings = read_request_metrics(scope, now, since=min(pending, default=None))
    current = capacity.read_capacity(scope)
    sized = _Sized()
    for target in targets:
        found = items[target.id]
        samples = readings.request_samples.get(target.id, [])
        if record:
            with transient_as_retryable("dynamodb (calibration)"):
                rate = _calibrate(table, target, found.holds, samples, now)
        else:
            rate = _rate_without_the_table(table, target)
        sized.rates[target.id] = rate
        target_signals = TargetSignals(
            target_id=target.id,
            request_samples=samples,
            high_resolution_samples=readings.high_resolution_samples.get(target.id, []),
            metric_error=readings.errors.get(target.id),
            holds=found.holds,
            calendar=found.calendar,
            store_error=found.error,
            capacity=current.capacity.get(target.id),
            state=found.state,
            pause=found.pause,  # a paused target records the hold (honoured on resume) and changes nothing
        )
        demand = current_demand(target_signals, target.scaling, now)
        hold = size_push_hold(
            push,
            target,
            demand_rps=demand.rps if demand else None,
            current_desired_units=target_signals.capacity.desired_units if target_signals.capacity else 0,
            rps_per_audience=rate,
            now=now,
        )
        if not record or _put_hold_if_new(table, target.id, hold):
            sized.recorded.append(hold)
            target_signals = target_signals.model_copy(update={"holds": [*found.holds, hold]})
        sized.signals.append(target_signals)
    return sized


def _other_holds_recorded(
    push_id: str, shard: int, targets: list[TargetConfig], sized: _Sized
) -> RecordOtherHoldsOutput:
    output = RecordOtherHoldsOutput(
        push_id=push_id,
        shard=shard,
        targets=len(targets),
        recorded=len(sized.recorded),
        already_recorded=len(targets) - len(sized.recorded),
    )
    metrics.add_metric(name="PushOtherTargetsHoldsRecorded", unit=MetricUnit.Count, value=output.recorded)
    logger.info("another shard's holds recorded: the loop applies them", extra=output.model_dump())
    return output


def _first_shard_output(
    request: RecordPushInput,
    push: PushSent,
    targets: list[TargetConfig],
    left: int,
    other_shards: list[int],
    sized: _Sized,
    now: datetime,
) -> RecordPushOutput:
    duplicate = not sized.recorded
    # What flows on stays one shard's size whatever the push covers: this execution decides and scales shard 0's
    # targets at once while RecordEveryOtherShard records the other shards' holds, side by side, and the loop
    # applies them within an interval (a push naming no target on a 500-target fleet would otherwise carry every
    # target's signals, and its first scale-out would wait for every target's reads and writes: 19 s at 500).
    if left:
        logger.info(
            "push covers more targets than one shard: the other shards' holds are recorded beside this scale-out",
            extra={"fast_path_targets": [t.id for t in targets], "left_to_the_loop": left, "shards": other_shards},
        )
    details = {"push": push.model_dump(mode="json"), "holds": [h.model_dump(mode="json") for h in sized.recorded]}
    if not request.record:
        # Capacity first, bookkeeping after: the hold is sized and applied now, and the push waits in the
        # dead-letter queue for `surge push redrive` to record it once the table answers again.
        logger.error("push hold not recorded: scaling out without it", extra=details)
        metrics.add_metric(name="PushHoldsNotRecorded", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="PushDuplicates" if duplicate else "PushesRecorded", unit=MetricUnit.Count, value=1)
        logger.info("duplicate push: nothing to do" if duplicate else "push hold recorded", extra=details)
    loop = LoopContext(
        execution_id=request.execution_id,
        started_at=now,
        deadline=now + timedelta(seconds=60),
        interval_seconds=min(t.scaling.loop_interval_seconds for t in targets),
        settle_seconds=0,
    )
    return RecordPushOutput(
        loop=loop,
        config=SurgeConfig(targets=targets),
        failures=FailureCount(),
        signals=sized.signals,
        read_at=now,
        push_id=push.push_id,
        duplicate=duplicate,
        holds=sized.recorded,
        left_to_the_loop=left,
        other_shards=other_shards,
        push_event=request.event,
        rps_per_audience=sized.rates,
        recorded=request.record,
    )


def _keep_rejection(table: str, event: dict[str, Any], reason: str, now: datetime) -> None:
    """The reason, kept a day under the event's id for its sender (`surge push --wait`). Best effort: the event and
    the reason go to the dead-letter queue whatever happens here, so a table failure is logged, not raised."""
    event_id = event.get("id")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 128:
        return  # no id to find it by
    detail = event.get("detail")
    push_id = detail.get("push_id") if isinstance(detail, dict) else None
    try:
        rejection = PushRejection(
            event_id=event_id, push_id=push_id if isinstance(push_id, str) else None, reason=reason, rejected_at=now
        )
        store.put_push_rejection(table, rejection)
    except (ClientError, BotoCoreError, ValidationError) as error:
        logger.warning("push rejection not kept in the table", extra={"error": str(error), "event_id": event_id})


def _put_hold_if_new(table: str, target_id: str, hold: Hold) -> bool:
    with transient_as_retryable("dynamodb:PutItem (push hold)"):
        return store.put_hold_if_new(table, target_id, hold)


def _rate_without_the_table(table: str, target: TargetConfig) -> float:
    """The sizing rate when the table is failing: its calibration if it can still be read, else the prior."""
    try:
        with transient_as_retryable("dynamodb:GetItem (calibration)"):
            return _rate(store.read_calibration(table, target.id), target)
    except SurgeTransientError as error:
        logger.warning("calibration unreadable: sizing from the prior", extra={"error": str(error)})
        return _rate(Calibration(), target)


def _targets_of(push: PushSent, config: SurgeConfig) -> list[TargetConfig]:
    if push.target_id is None:
        return list(config.targets)
    try:
        return [config.target(push.target_id)]
    except KeyError as error:
        raise PushRejectedError(f"target_id: {error.args[0]}") from None


def _calibrate(table: str, target: TargetConfig, holds: list[Hold], samples: list[RateSample], now: datetime) -> float:
    """Fold every finished, not yet measured hold of this target into its calibration; return the rate to use."""
    calibration = store.read_calibration(table, target.id)
    changed = False
    for hold in sorted(holds, key=lambda h: h.started_at):
        if hold.calibrated or now < hold.max_until:
            continue
        observed = observed_rps_per_audience(hold, samples)
        if observed is not None:
            calibration = calibration.with_observation(observed)
            logger.info(
                "push calibrated",
                extra={"target_id": target.id, "push_id": hold.push_id, "observed_rps_per_audience": observed},
            )
        store.put_hold(table, target.id, hold.model_copy(update={"calibrated": True}))
        changed = True
    if changed:
        store.put_calibration(table, target.id, calibration)
    return _rate(calibration, target)


def _rate(calibration: Calibration, target: TargetConfig) -> float:
    scaling = target.scaling
    return calibration.sizing_rps_per_audience(
        prior=scaling.push_rps_per_audience,
        safety_factor=scaling.push_safety_factor,
        quantile=scaling.push_rate_quantile,
    )
