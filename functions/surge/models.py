"""The payloads that flow between the scaler state machine's states (one model per state input/output).

Every Lambda task receives the whole state data (`$`) and returns it with its own part added, so the
state machine needs no ResultPath gymnastics (`OutputPath: $.Payload`) and each step's input and output are
visible in the console.

What flows is bounded whatever the number of targets: the loop's own states carry ids, times and counters (the
configuration by its version: ClaimLoop keeps the document in the table under that version, read once per
container); the targets are scaled in shards of at most `targets_per_shard` by an inline Map, and only a shard's
states carry its targets' configuration, signals and decisions (each Map iteration's graph in the console shows
them). The ALB minutes read earlier live in the table beside each target's state, not in `$`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from surge.core.config import MAX_TARGETS, SurgeConfig
from surge.core.plan import AppliedChange, Plan
from surge.core.signals import Hold, TargetSignals, UtcDatetime

DIRECT_INVOKE = "direct-invoke"
RECORD_ERROR_KEY = "record_error"
"""Where PushFastPath's Catch puts the error of a RecordPushHold that could not record the hold."""


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LoopOverrides(_Payload):
    """Optional execution input (the schedule's Input, or a test's): overrides for one execution."""

    budget_seconds: int = Field(
        default=55, ge=5, le=290, description="run the loop this long, then hand over to the next execution"
    )
    interval_seconds: int | None = Field(default=None, ge=1, le=60)
    settle_seconds: int | None = Field(default=None, ge=0, le=300)


class ClaimLoopInput(_Payload):
    execution_id: str = Field(min_length=1)
    started_at: UtcDatetime
    overrides: LoopOverrides = Field(default_factory=LoopOverrides)


class LoopContext(_Payload):
    execution_id: str
    started_at: UtcDatetime
    deadline: UtcDatetime
    interval_seconds: int = Field(ge=1, le=60)
    settle_seconds: int = Field(ge=0, le=300)
    config_version: str | None = Field(
        default=None, description="the configuration this execution runs on (its document is in the table)"
    )
    targets_per_shard: int = Field(default=10, ge=1, le=50, description="targets per Map iteration")
    shard: int | None = Field(default=None, ge=0, description="the shard this state scales (None: the whole loop)")


class FailureCount(_Payload):
    count: int = Field(default=0, ge=0)


class TaskError(_Payload):
    """What a Catch puts at `$.last_error`."""

    error: str = Field(alias="Error")
    cause: str | None = Field(default=None, alias="Cause")


class StopReason(StrEnum):
    BUDGET_SPENT = "budget_spent"
    LEASE_LOST = "lease_lost"


class LoopState(_Payload):
    """What the loop's own states carry (ClaimLoop, CheckLease, the Map and the Waits): no per-target data."""

    loop: LoopContext
    failures: FailureCount = Field(default_factory=FailureCount)
    last_error: TaskError | None = None


class LoopEnvelope(LoopState):
    """What every state of a shard carries: its targets' configuration besides the loop's."""

    config: SurgeConfig


class ShardSummary(_Payload):
    """What one Map iteration leaves for the loop (the ShardDone / ShardFailed / ShardThrottled Pass states), in
    the order of the shards."""

    failed: bool = False
    throttled: bool = False
    error: str | None = None


class ClaimLoopOutput(LoopState):
    lease_held: bool
    shards: list[int] = Field(description="the Map's items: one per shard of targets")


class CheckLeaseInput(LoopState):
    """The loop after a Wait: what the shards of the last iteration left (ShardSummary each)."""

    lease_held: bool | None = None
    shards: list[int] = Field(default_factory=list)
    shard_results: list[ShardSummary] = Field(default_factory=list)
    stop_reason: StopReason | None = None


class CheckLeaseOutput(LoopState):
    shards: list[int]
    stop_reason: StopReason | None = None


class ReadSignalsInput(LoopState):
    # Earlier states' parts may still be present in `$` (a loop carries its data round).
    config: SurgeConfig | None = None
    shard: int | None = Field(default=None, ge=0, description="the Map item: which shard of targets to read")
    lease_held: bool | None = None
    signals: list[TargetSignals] | None = None
    read_at: UtcDatetime | None = None
    stop_reason: StopReason | None = None
    plan: Plan | None = None
    applied: list[AppliedChange] | None = None
    fresh: bool = Field(
        default=False,
        description="read every metric again, cached ALB minutes too (the second look before a scale-in)",
    )


class ReadSignalsOutput(LoopEnvelope):
    signals: list[TargetSignals]
    read_at: UtcDatetime = Field(description="ReadSignals' clock when it read (DecideCapacity never decides earlier)")
    stop_reason: StopReason | None = None


class RecordPushInput(_Payload):
    """The PushFastPath execution's input (the EventBridge event) and its id.

    A bare EventBridge event is accepted too (`sam local invoke RecordPushFunction -e events/push-sent.json`, or a
    direct test invocation): it is wrapped with the execution id `direct-invoke`.
    """

    event: dict[str, Any]
    execution_id: str = Field(min_length=1)
    record: bool = Field(
        default=True,
        description="False: the table could not record the hold (after retries): size and scale out without it",
    )
    shard: int = Field(
        default=0,
        ge=0,
        le=MAX_TARGETS,
        description="which TargetsPerShard covered targets: 0, the ones this execution decides and scales itself; "
        "1 and up, RecordOtherTargetsHolds' (their holds are recorded for the loop to apply)",
    )

    @model_validator(mode="before")
    @classmethod
    def _wrap_a_bare_event(cls, data: Any) -> Any:
        if isinstance(data, dict) and "detail-type" in data:
            return {"event": data, "execution_id": DIRECT_INVOKE}
        if isinstance(data, dict) and isinstance(data.get("event"), dict) and RECORD_ERROR_KEY in data["event"]:
            # The Catch that leads to SizeWithoutRecording puts its error beside the event's own fields.
            event = {k: v for k, v in data["event"].items() if k != RECORD_ERROR_KEY}
            return {**data, "event": event}
        return data


class RecordPushOutput(ReadSignalsOutput):
    """RecordPushHold's output: the targets' signals (with the new hold) for DecideCapacity, and the push."""

    push_id: str
    duplicate: bool
    holds: list[Hold]
    left_to_the_loop: int = Field(
        default=0,
        ge=0,
        description="covered targets beyond this shard: RecordOtherTargetsHolds records their holds (one "
        "invocation per shard, while this shard scales out) and the loop applies them",
    )
    other_shards: list[int] = Field(default_factory=list, description="their shards, for RecordEveryOtherShard")
    push_event: dict[str, Any] = Field(
        description="the push as received (RecordOtherTargetsHolds sizes from it; parked for `surge push redrive`, "
        "which sends it again, when a hold is not recorded)"
    )
    rps_per_audience: dict[str, float]
    recorded: bool = Field(default=True, description="the holds are in the table (False: scaled out without them)")


class RecordOtherHoldsOutput(_Payload):
    """RecordOtherTargetsHolds' output: how many of the other covered targets' holds it recorded (the console's
    summary; the holds are in the table)."""

    push_id: str
    shard: int = Field(ge=1)
    targets: int = Field(ge=0)
    recorded: int = Field(ge=0)
    already_recorded: int = Field(ge=0, description="holds of this push id already in the table (a redelivery)")


class DecideCapacityInput(ReadSignalsOutput):
    plan: Plan | None = None


class DecideCapacityOutput(LoopEnvelope):
    plan: Plan


class ApplyCapacityInput(DecideCapacityOutput):
    allow_scale_in: bool = False


class ApplyCapacityOutput(LoopEnvelope):
    applied: list[AppliedChange]


ReadSignalsInput.model_rebuild()
