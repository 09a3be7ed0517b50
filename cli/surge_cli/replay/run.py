"""Replay one scenario under the chosen policies."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from surge_cli.replay.kpis import policy_result
from surge_cli.replay.policies import (
    CALENDAR_ONLY_POLICIES,
    POLICIES,
    PolicyRun,
    ProgressCallback,
    applicable_policies,
    run_policy,
)
from surge_cli.replay.scenario import LoadedScenario, ScenarioError

ALL = "all"
POLICY_CHOICES = (*POLICIES, ALL)


def policy_names(choice: str, loaded: LoadedScenario) -> list[str]:
    """The policies to replay for `--policy choice`: `all` is every policy that applies to the scenario; asking
    for a calendar-only policy on a scenario without calendar entries is a ScenarioError (one line)."""
    if choice == ALL:
        return applicable_policies(loaded)
    if choice in CALENDAR_ONLY_POLICIES and not loaded.scenario.calendar:
        raise ScenarioError(
            f"{loaded.path or 'scenario'}: --policy {choice} needs calendar entries (the scenario has none)"
        )
    return [choice]


def replay(
    loaded: LoadedScenario,
    names: list[str],
    progress_for: Callable[[str], ProgressCallback | None] = lambda name: None,
) -> tuple[list[PolicyRun], list[dict[str, Any]]]:
    runs = []
    for name in names:
        started = time.perf_counter()
        run = run_policy(name, loaded, progress_for(name))
        run.wall_seconds = time.perf_counter() - started
        runs.append(run)
    return runs, [policy_result(run, loaded) for run in runs]
