"""Every policy a scenario can be replayed under, by name (`surge replay --policy NAME`)."""

from __future__ import annotations

from collections.abc import Callable

from surge_cli.replay.policies.baselines import run_fast_autoscaler, run_oracle, run_static, run_target_tracking
from surge_cli.replay.policies.common import PolicyRun, ProgressCallback
from surge_cli.replay.policies.surge import run_surge
from surge_cli.replay.scenario import LoadedScenario

Runner = Callable[[LoadedScenario, ProgressCallback | None], PolicyRun]

POLICIES: dict[str, Runner] = {
    "surge": run_surge,
    "target-tracking": run_target_tracking,
    "fast-autoscaler": run_fast_autoscaler,
    "static": run_static,
    "oracle": run_oracle,
}

__all__ = ["POLICIES", "PolicyRun", "ProgressCallback", "Runner"]
