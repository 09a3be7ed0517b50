"""Replay one scenario under the chosen policies."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from surge_cli.replay.kpis import policy_result
from surge_cli.replay.policies import POLICIES, PolicyRun, ProgressCallback
from surge_cli.replay.scenario import LoadedScenario

ALL = "all"
POLICY_CHOICES = (*POLICIES, ALL)


def policy_names(choice: str) -> list[str]:
    return list(POLICIES) if choice == ALL else [choice]


def replay(
    loaded: LoadedScenario,
    names: list[str],
    progress_for: Callable[[str], ProgressCallback | None] = lambda name: None,
) -> tuple[list[PolicyRun], list[dict[str, Any]]]:
    runs = []
    for name in names:
        started = time.perf_counter()
        run = POLICIES[name](loaded, progress_for(name))
        run.wall_seconds = time.perf_counter() - started
        runs.append(run)
    return runs, [policy_result(run, loaded.scenario) for run in runs]
