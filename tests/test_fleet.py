"""Hundreds of targets from one deployment: the real scaler ASL on moto, 500 targets with 200 calendar entries each.

moto's Step Functions interpreter enforces the 256 KiB payload quota per state input and output as AWS does
(`States.DataLimitExceeded`); the state sizes are also measured from the executed history.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from scaler_support import START, process_state_reset
from surge.adapters import store
from surge.core.config import SurgeConfig, TargetConfig
from surge.core.signals import CalendarEvent
from surge_cli import world
from surge_cli.localaws import LocalAws
from surge_cli.replay.policies.surge import state_data_bytes
from surge_cli.stack import deploy_locally

pytestmark = pytest.mark.statemachine

STATE_QUOTA_BYTES = 262_144
"""https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html (256 KiB per state input/output)"""
N_TARGETS = 500
CALENDAR_ENTRIES = 200


def _target(index: int) -> TargetConfig:
    name = f"svc-{index:03d}"
    return TargetConfig.model_validate(
        {
            "id": name,
            "kind": "ecs",
            "ecs": {"cluster": "fleet", "service": name},
            "load_balancer": {"load_balancer": f"app/fleet-{index:03d}/{index:016x}"},
            "scaling": {"min_units": 2, "max_units": 200, "unit_capacity_rps": 200, "loop_interval_seconds": 5},
        }
    )


def _calendar(target_id: str, count: int) -> list[CalendarEvent]:
    """`count` entries spread over the next 30 days; the first one starts (with its lead) 3 s into the run."""
    return [
        CalendarEvent(
            entry_id=f"{target_id}-e{k:03d}",
            name=f"event {k}",
            start_at=START + timedelta(seconds=603) + timedelta(hours=3.6 * k),
            end_at=START + timedelta(seconds=603) + timedelta(hours=3.6 * k + 1),
            units=12,
        )
        for k in range(count)
    ]


def _entered(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("stateEnteredEventDetails", {}).get("name") == name]


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    """50 shards read, decide and apply in one simulated instant (no latency model): far more real time before
    every flow waits again than the default stall detector allows on a busy 2-core machine."""
    with process_state_reset(), LocalAws(start=START, stall_timeout=900.0) as local:
        yield local


def test_500_targets_with_200_calendar_entries_each_are_all_decided_every_iteration(aws: LocalAws) -> None:
    config = SurgeConfig(targets=[_target(i) for i in range(N_TARGETS)])
    stack = deploy_locally(aws, config)
    for target in config.targets:
        assert target.ecs is not None
        assert target.load_balancer is not None
        world.create_ecs_service(aws, "fleet", target.ecs.service, desired_units=10)
        world.publish_request_count(aws, target.load_balancer.load_balancer, START - timedelta(minutes=2), 60_000)
        store.put_calendar_events(stack.table_name, target.id, _calendar(target.id, CALENDAR_ENTRIES))

    execution = aws.start_execution(stack.scaler_arn, {"budget_seconds": 8})
    aws.run_until(START + timedelta(seconds=40))

    events = aws.history(execution)
    failed = [e for e in events if e["type"].endswith("Failed")]
    assert failed == [], json.dumps(failed[:2], default=str)[:2_000]
    assert _entered(events, "HandOverToNextExecution"), "the execution ran its budget and handed over"
    iterations = _entered(events, "ScaleEveryShard")
    assert len(iterations) >= 2
    sizes = state_data_bytes(events)
    assert max(sizes) < STATE_QUOTA_BYTES / 4, f"largest state {max(sizes):,} B"

    decided = [
        json.loads(e["stateExitedEventDetails"]["output"])["plan"]["decisions"]
        for e in events
        if e.get("stateExitedEventDetails", {}).get("name") == "DecideCapacity"
    ]
    assert len(decided) == len(iterations) * N_TARGETS // 10, "one DecideCapacity per shard of 10, per iteration"
    ids = [d["target_id"] for shard in decided for d in shard]
    assert sorted(set(ids)) == sorted(t.id for t in config.targets)
    assert len(ids) == len(iterations) * N_TARGETS, "every target decided in every iteration, once"
    # Only the entry that can matter now reached a state: 1 of the 200 per target.
    carried = {
        entry["entry_id"]
        for e in events
        if e.get("stateExitedEventDetails", {}).get("name") == "ReadSignals"
        for signal in json.loads(e["stateExitedEventDetails"]["output"])["signals"]
        for entry in signal["calendar"]
    }
    assert carried == {f"{t.id}-e000" for t in config.targets}
    # ... and it pre-scaled every target (12 units from 10) with no DataLimitExceeded anywhere.
    assert {world.ecs_desired(aws, "fleet", t.id) for t in config.targets[:: N_TARGETS // 10]} == {12}
