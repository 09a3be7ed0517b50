"""Every policy a scenario can be replayed under, by name (`surge replay --policy NAME`)."""

from __future__ import annotations

from collections.abc import Callable

from surge_cli.replay.policies.baselines import (
    run_fast_autoscaler,
    run_oracle,
    run_static,
    run_target_tracking,
    run_target_tracking_scheduled,
)
from surge_cli.replay.policies.common import PolicyRun, ProgressCallback
from surge_cli.replay.policies.surge import run_surge
from surge_cli.replay.scenario import LoadedScenario

Runner = Callable[[LoadedScenario, ProgressCallback | None], PolicyRun]

TARGET_TRACKING_SCHEDULED = "target-tracking+scheduled"

POLICIES: dict[str, Runner] = {
    "surge": run_surge,
    "target-tracking": run_target_tracking,
    TARGET_TRACKING_SCHEDULED: run_target_tracking_scheduled,
    "fast-autoscaler": run_fast_autoscaler,
    "static": run_static,
    "oracle": run_oracle,
}

CALENDAR_ONLY_POLICIES = frozenset({TARGET_TRACKING_SCHEDULED})
"""Policies that exist only for scenarios with calendar entries."""


FLEET_POLICIES = frozenset({"surge"})
"""Policies that replay every target of a scenario with `targets` at once (one loop for all); every other
policy is single-target by nature and replays each target on its own."""


def run_policy(name: str, loaded: LoadedScenario, progress: ProgressCallback | None = None) -> PolicyRun:
    """Replay `loaded` under the policy `name`. With `targets`, a single-target policy replays each target's
    view independently (a calendar-only policy without entries for a target is plain target tracking there:
    it has no scheduled action to add) and the result holds one run per target."""
    if not loaded.is_fleet or name in FLEET_POLICIES:
        return POLICIES[name](loaded, progress)
    runs: dict[str, PolicyRun] = {}
    for target_id, view in loaded.targets().items():
        if name in CALENDAR_ONLY_POLICIES and not view.scenario.calendar:
            run = run_target_tracking(view, progress)
            run.policy = name
        else:
            run = POLICIES[name](view, progress)
        runs[target_id] = run
    return PolicyRun(policy=name, changes=[], seconds=[], targets=runs)


def applicable_policies(loaded: LoadedScenario) -> list[str]:
    """Every policy that applies to this scenario, in POLICIES order (calendar-only ones need calendar entries)."""
    has_calendar = bool(loaded.scenario.calendar)
    return [name for name in POLICIES if has_calendar or name not in CALENDAR_ONLY_POLICIES]


__all__ = [
    "CALENDAR_ONLY_POLICIES",
    "FLEET_POLICIES",
    "POLICIES",
    "TARGET_TRACKING_SCHEDULED",
    "PolicyRun",
    "ProgressCallback",
    "Runner",
    "applicable_policies",
    "run_policy",
]
