"""The loop and the push fast path racing on one target, as they can on AWS: no update may be lost.

On AWS both flows run at once: a push's fast path can record its hold and raise capacity between the loop's
ReadSignals and its ApplyCapacity. The loop then applies a decision made on what it read before the push. These
tests make that window wide and deterministic (the loop's DecideCapacity takes 3 simulated seconds) and check
what the service and the Surge table end with.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from scaler_support import LOAD_BALANCER, START, deploy, ecs_target, local_aws
from surge import steps
from surge.adapters import clients, store
from surge.core.signals import Hold, ShadowCapacity
from surge.models import DecideCapacityInput, DecideCapacityOutput
from surge_cli import world
from surge_cli.localaws import LocalAws
from surge_cli.push_client import push_event_entry
from surge_cli.stack import LocalStack, Template

pytestmark = pytest.mark.statemachine
SOURCE = Template.load().parameter_defaults()["PushEventSource"]
LOOP_DECISION_SECONDS = 3.0
PUSH_AT = timedelta(seconds=1)
# 300 rps before the push: the loop wants ceil(300 / (100 x 0.5)) = 6 units; the push wants
# (300 + 100,000 x 0.01) / 50 = 26 units.
BASELINE_RPS = 300.0
LOOP_UNITS = 6
PUSH_UNITS = 26


def slow_loop_decisions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop's DecideCapacity takes LOOP_DECISION_SECONDS of simulated time (the push's does not)."""
    original: Callable[..., DecideCapacityOutput] = steps.decide_capacity

    def slow(event: DecideCapacityInput, now: Any) -> DecideCapacityOutput:
        if "ScalerStateMachine" in event.loop.execution_id:
            import time

            time.sleep(LOOP_DECISION_SECONDS)  # a handler's sleep is simulated time in the harness
        return original(event, now)

    monkeypatch.setattr(steps, "decide_capacity", slow)


def race(
    aws: LocalAws,
    stack: LocalStack,
    *,
    push_at: timedelta = PUSH_AT,
    budget_seconds: int = 5,
    with_eventbridge_latency: bool = False,
) -> list[tuple[float, int]]:
    """Start one loop execution and push `push_at` later; return every desired count set, in seconds since START."""
    sets: list[tuple[float, int]] = []

    def record(parsed: dict[str, Any], **_: Any) -> None:
        sets.append(((aws.now() - START).total_seconds(), int(parsed["service"]["desiredCount"])))

    clients.ecs().meta.events.register("after-call.ecs.UpdateService", record)
    loop = aws.start_execution(stack.scaler_arn, {"budget_seconds": budget_seconds})

    def push() -> None:
        entry = push_event_entry(audience=100_000, push_id="post-1", bus_name=stack.bus_name, source=SOURCE)
        aws.client("events").put_events(Entries=[entry])
        if with_eventbridge_latency:
            stack.deliver_events_later()
        else:
            stack.deliver_events()

    aws.at(START + push_at, push)
    assert aws.wait_for(loop, timeout_sim_seconds=60)["status"] == "SUCCEEDED"
    return sets


def stack_with_traffic(aws: LocalAws, **scaling: Any) -> LocalStack:
    stack = deploy(aws, ecs_target(**scaling))
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    for minutes_ago in range(2, 12):
        world.publish_request_count(aws, LOAD_BALANCER, START - timedelta(minutes=minutes_ago), BASELINE_RPS * 60)
    return stack


def test_a_push_between_the_loops_read_and_apply_is_never_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    slow_loop_decisions(monkeypatch)
    with local_aws() as aws:
        stack = stack_with_traffic(aws)
        sets = race(aws, stack)
        final = world.ecs_desired(aws, "prod", "api")
        items = store.read_target_items(stack.table_name, "api")
        journal = store.read_journal(stack.table_name, START, START + timedelta(minutes=5))

    # The push applied its 26 units at 1 s, while the loop was still deciding on what it read at 0 s (2 units,
    # 300 rps -> 6). The loop's stale scale-out must not lower the service to 6.
    assert sets[0] == (PUSH_AT.total_seconds(), PUSH_UNITS)
    assert all(units >= PUSH_UNITS for _, units in sets), sets
    assert final == PUSH_UNITS
    # The store ends with the push's scale-out remembered (the loop's write did not overwrite it with its own
    # older view) and with the journal telling what really happened: one change, 2 -> 26.
    assert items.state.last_scale_out_at is not None
    assert items.state.last_scale_out_at >= START + PUSH_AT
    assert [(c.from_units, c.to_units) for c in journal] == [(2, PUSH_UNITS)]
    assert [h.push_id for h in items.holds] == ["post-1"]


def test_in_dry_run_the_shadow_capacity_of_a_push_is_not_overwritten_by_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow_loop_decisions(monkeypatch)
    with local_aws() as aws:
        stack = stack_with_traffic(aws, dry_run=True)
        sets = race(aws, stack)
        items = store.read_target_items(stack.table_name, "api")
        journal = store.read_journal(stack.table_name, START, START + timedelta(minutes=5))
        final = world.ecs_desired(aws, "prod", "api")

    # Dry run: no capacity call at all; the shadow desired count in the table is the only capacity there is,
    # so a lost update there loses the push entirely.
    assert sets == []
    assert final == 2
    assert items.state.shadow is not None
    assert items.state.shadow.desired_units == PUSH_UNITS
    assert [(c.from_units, c.to_units, c.dry_run) for c in journal] == [(2, PUSH_UNITS, True)]


@pytest.mark.parametrize("interleave_seed", [1, 2, 3])
@pytest.mark.parametrize("push_offset_ms", [200, 450, 700])
def test_under_typical_latency_no_interleaving_loses_the_push(push_offset_ms: int, interleave_seed: int) -> None:
    """No slow test double: typical latencies, the push sent at several instants inside one iteration, and
    seeded interleavings. Whatever the order, the service ends at the push's units and never dips below them
    once they were set."""
    with local_aws(latency="typical", seed=interleave_seed) as aws:
        stack = stack_with_traffic(aws)
        sets = race(
            aws,
            stack,
            push_at=timedelta(milliseconds=push_offset_ms),
            budget_seconds=9,
            with_eventbridge_latency=True,
        )
        aws.run_until(aws.now() + timedelta(seconds=10))
        final = world.ecs_desired(aws, "prod", "api")
        state = store.read_target_items(stack.table_name, "api").state

    reached = next(i for i, (_, units) in enumerate(sets) if units == PUSH_UNITS)
    assert all(units >= PUSH_UNITS for _, units in sets[reached:]), sets
    assert final == PUSH_UNITS
    assert state.last_scale_out_at is not None


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_push_landing_between_the_reread_and_the_state_write_is_reconciled_again(
    monkeypatch: pytest.MonkeyPatch, dry_run: bool
) -> None:
    """The narrowest window: another flow records a hold, raises capacity and writes the state after
    ApplyCapacity re-read the target but before it wrote. The conditional write notices; ApplyCapacity
    reconciles again with what is now true instead of leaving its stale state (and count) behind."""
    original = steps._fresh_view
    raced: list[bool] = []

    def fresh_then_a_push_lands(target: Any, settings: Any, dry: bool, basis: Any, now: Any) -> Any:
        view = original(target, settings, dry, basis, now)
        if not raced:
            raced.append(True)
            hold = Hold(
                push_id="post-1",
                units=PUSH_UNITS,
                sized_for_rps=1_300.0,
                started_at=START,
                min_until=START + timedelta(minutes=10),
                max_until=START + timedelta(minutes=30),
            )
            store.put_hold(settings.table_name, target.id, hold)
            if dry:
                shadow = ShadowCapacity(desired_units=PUSH_UNITS)
            else:
                shadow = None
                clients.ecs().update_service(cluster="prod", service="api", desiredCount=PUSH_UNITS)
            pushed = view.state.model_copy(update={"last_scale_out_at": START, "shadow": shadow})
            store.put_target_state(settings.table_name, target.id, pushed)
        return view

    monkeypatch.setattr(steps, "_fresh_view", fresh_then_a_push_lands)
    with local_aws() as aws:
        stack = stack_with_traffic(aws, dry_run=dry_run)
        loop = aws.start_execution(stack.scaler_arn, {"budget_seconds": 5})
        assert aws.wait_for(loop, timeout_sim_seconds=60)["status"] == "SUCCEEDED"
        final = world.ecs_desired(aws, "prod", "api")
        state = store.read_target_items(stack.table_name, "api").state

    assert raced
    if dry_run:
        assert state.shadow is not None
        assert state.shadow.desired_units == PUSH_UNITS
        assert final == 2
    else:
        assert final == PUSH_UNITS
    assert state.version >= 2  # the push's write, then the loop's after reconciling again
