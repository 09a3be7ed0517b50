"""bench/breakdown.py: where a replay's wall time goes, counted call by call (no timing threshold is asserted)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from scaler_support import bench_module
from surge_cli.localaws.harness import LocalAws
from surge_cli.replay.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def two_minutes_of_noisy_flat(tmp_path: Path) -> Path:
    document = json.loads((REPO / "scenarios" / "noisy-flat.json").read_text())
    document["duration_seconds"] = 120
    document["traffic"]["rps"] = document["traffic"]["rps"][: 120 // document["traffic"]["resolution_seconds"]]
    path = tmp_path / "noisy-flat-2min.json"
    path.write_text(json.dumps(document))
    return path


def test_the_breakdown_times_exactly_the_calls_the_handlers_make(
    two_minutes_of_noisy_flat: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The harness's own hook sees every AWS call a handler makes (it charges the call's latency to that handler):
    # the breakdown, timing botocore itself, must count the same calls, operation by operation, and none other.
    seen: Counter[str] = Counter()
    lock = threading.Lock()
    before_api_call = LocalAws.before_api_call

    def counting(self: LocalAws, service: str, operation: str) -> None:
        from surge_cli.localaws.harness import current_lambda

        if current_lambda() is not None:
            with lock:
                seen[f"{service}.{operation}"] += 1
        before_api_call(self, service, operation)

    monkeypatch.setattr(LocalAws, "before_api_call", counting)
    breakdown = bench_module("breakdown")
    row: dict[str, Any] = breakdown.breakdown(load_scenario(two_minutes_of_noisy_flat))

    assert row["handler_aws_calls_by_operation"] == dict(seen)
    assert {"dynamodb.Query", "ecs.DescribeServices", "cloudwatch.GetMetricData"} <= set(seen)
    assert row["handler_aws_calls"] == sum(seen.values())
    assert row["outside_aws_calls"] > 0  # the world's set-up: not charged to any handler
    # The spans nest: a handler's calls are inside its run, on its thread, so its own code is what remains.
    assert row["handler_aws_seconds"] > 0
    assert row["handler_code_seconds"] > 0
    assert row["rest_seconds"] > 0
    assert row["handler_runs"] > 0
    assert row["state_transitions"] > 0


def test_the_timers_are_gone_after_the_breakdown() -> None:
    import botocore.client

    breakdown = bench_module("breakdown")
    make_api_call = botocore.client.BaseClient.__dict__["_make_api_call"]
    run_handler = LocalAws.__dict__["_run_handler"]
    with breakdown.timed(breakdown.Split()):
        assert botocore.client.BaseClient.__dict__["_make_api_call"] is not make_api_call
        assert LocalAws.__dict__["_run_handler"] is not run_handler
    assert botocore.client.BaseClient.__dict__["_make_api_call"] is make_api_call
    assert LocalAws.__dict__["_run_handler"] is run_handler
