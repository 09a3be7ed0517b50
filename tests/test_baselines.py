"""The baselines, made fair: target tracking (ECS and EC2 Auto Scaling), its scheduled variant, the fast-autoscaler
sample's real cycle, and the scenario-aware policy selection.

Every scenario here is small enough to work out by hand; the numbers are in the comments. Unless a test says
otherwise: 1 unit serves 100 rps, target_utilization 0.5, so the target is 100 x 0.5 x 60 = 3,000 requests per
target per minute (scale-out above 3,000, scale-in below 90 % = 2,700), and minute m's datapoint appears at
m + 60 + metric_publication_delay_seconds.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from surge_cli.main import app
from surge_cli.replay.policies import POLICIES, applicable_policies
from surge_cli.replay.policies.baselines import (
    FastAutoscaler,
    run_fast_autoscaler,
    run_target_tracking,
    run_target_tracking_scheduled,
    scheduled_min_changes,
)
from surge_cli.replay.policies.common import PolicyRun, drive, world_latency
from surge_cli.replay.run import policy_names
from surge_cli.replay.scenario import LoadedScenario, ScenarioError, parse_scenario

FIXTURES = Path(__file__).parent / "fixtures" / "replay"
START = "2026-01-21T20:00:00+09:00"


def scenario(
    *,
    duration: int,
    rps: list[float],
    resolution: int = 60,
    target: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    calendar: list[dict[str, Any]] | None = None,
    traffic: dict[str, Any] | None = None,
    base_dir: Path = FIXTURES,
) -> LoadedScenario:
    document: dict[str, Any] = {
        "name": "baseline",
        "start": START,
        "duration_seconds": duration,
        "target": {
            "kind": "ecs",
            "initial_units": 2,
            "min_units": 1,
            "max_units": 50,
            "unit_capacity_rps": 100,
            "startup_seconds": 30,
            **(target or {}),
        },
        "traffic": traffic or {"rps": rps, "resolution_seconds": resolution},
        "calendar": calendar or [],
        "config": {"target_utilization": 0.5, "latency": "none", **(config or {})},
    }
    return parse_scenario(document, base_dir=base_dir)


# --------------------------------------------------------------------------- target tracking: the datapoint


def test_the_datapoint_divides_by_the_average_in_service_units_of_its_minute() -> None:
    loaded = scenario(
        duration=480, rps=[100, 100, 400, 400, 400, 400, 400, 400], config={"metric_publication_delay_seconds": 0}
    )
    run = run_target_tracking(loaded)
    # Minutes 0 and 60: 6,000 requests / 2 units = 3,000 (not above the target). Minutes 120, 180, 240: 24,000 / 2
    # = 12,000; the third one (published at 300) puts AlarmHigh in ALARM: ceil(2 x 12,000 / 3,000) = 8 at 300.
    # The 6 new units serve from 330, so minute 300 ran 2 units for 30 s and 8 for 30 s: average 5, datapoint
    # 24,000 / 5 = 4,800 (> 3,000: still ALARM) -> ceil(8 in service x 4,800 / 3,000) = ceil(12.8) = 13 at 360.
    # Dividing by the 8 in service at the minute's close would give 3,000: no alarm, no second change.
    assert run.changes == [(300, 8), (360, 13)]


def test_the_datapoint_is_fixed_when_its_minute_closes_not_when_it_appears() -> None:
    loaded = scenario(duration=450, rps=[100, 100, 400, 400, 400, 400, 400, 400])  # publication delay 60 s
    run = run_target_tracking(loaded)
    # Minutes 120, 180, 240 (12,000 each) appear at 240, 300, 360: ALARM at 360, ceil(2 x 12,000 / 3,000) = 8.
    # Minute 300 closed at 360 with 2 units all minute: 12,000, published at 420 when 8 units are in service
    # (since 390). Still ALARM: ceil(8 x 12,000 / 3,000) = 32 at 420. Divided by the 8 in service at
    # publication it would read 3,000 and nothing would happen.
    assert run.changes == [(360, 8), (420, 32)]


def test_after_a_metric_gap_the_alarm_needs_three_fresh_datapoints() -> None:
    loaded = scenario(
        duration=660,
        rps=[100, 100, 100, 400, 400, 400, 400, 400, 400, 400, 400],
        config={"metric_gaps": [{"start_seconds": 240, "end_seconds": 360}]},
    )
    run = run_target_tracking(loaded)
    # Minute 180 (24,000 / 2 = 12,000) appears at 300. Minutes 240 and 300 are missing (due at 360 and 420):
    # INSUFFICIENT_DATA, the window empties. Fresh datapoints: minute 360 at 480, 420 at 540, 480 at 600 ->
    # ALARM at 600: ceil(2 x 12,000 / 3,000) = 8. Keeping minute 180's datapoint across the gap would have
    # fired at 540 (minutes 180, 360, 420).
    assert run.changes == [(600, 8)]


# ------------------------------------------------------------------------ target tracking: ECS versus ASG


@pytest.mark.parametrize(("kind", "expected"), [("ecs", [(0, 12)]), ("asg", [(0, 12), (60, 8), (300, 12)])])
def test_ec2_auto_scaling_target_tracking_has_no_cooldown(kind: str, expected: list[tuple[int, int]]) -> None:
    loaded = scenario(
        duration=360, rps=[600], target={"kind": kind, "initial_units": 20, "max_units": 40, "startup_seconds": 60}
    )
    run = run_target_tracking(loaded)
    # 600 rps = 36,000 requests a minute; with the initial 20 units, 1,800 per target (< 2,700: AlarmLow's 15
    # datapoints are all low from the start). At 0, minute -120 appears: ceil(20 x 1,800 / 3,000) = 12.
    # At 60, minute -60 (still 20 units, 1,800) keeps AlarmLow in ALARM: ceil(12 x 1,800 / 3,000) = ceil(7.2) = 8.
    #   ecs: within the 300 s scale-in cooldown -> nothing. Minute 0 (12 units all minute: 3,000) then clears
    #   the alarm at 120 and nothing more happens.
    #   asg: no cooldown and no instance warming up -> 8 at 60. Minute 0 reads 3,000 at 120; minutes 60, 120 and
    #   180 (8 units: 4,500) put AlarmHigh in ALARM at 300: ceil(8 x 4,500 / 3,000) = 12.
    assert run.changes == expected


def test_ec2_auto_scaling_blocks_scale_in_while_instances_warm_up() -> None:
    # A 1-minute entry (start +360 s, end +420 s) with a 300 s lead raises the minimum to 8 at 60 s; start-up is
    # 300 s. Demand 50 rps: every datapoint is below 2,700 (1,500 on 2 units, 375 on 8), so AlarmLow is in ALARM
    # all along and target tracking asks for ceil(units x datapoint / 3,000) = 1 -> the minimum in effect.
    documents = {
        kind: scenario(
            duration=900,
            rps=[50],
            target={"kind": kind, "min_units": 2, "max_units": 20, "startup_seconds": 300},
            calendar=[
                {
                    "name": "flash",
                    "start": "2026-01-21T20:06:00+09:00",
                    "end": "2026-01-21T20:07:00+09:00",
                    "units": 8,
                    "lead_seconds": 300,
                }
            ],
        )
        for kind in ("ecs", "asg")
    }
    for kind, loaded in documents.items():
        raised, restored = scheduled_min_changes(loaded)
        assert (raised.scheduled_seconds, restored.scheduled_seconds) == (60, 420)
        run = run_target_tracking_scheduled(loaded)
        # ecs: the minimum is back at 2 from restored.at_seconds (420-425 s); scheduled scaling starts no
        # cooldown, so the first evaluation after it (a whole minute, 480 s) scales in to 2.
        # asg: the 6 instances launched at raised.at_seconds (60-180 s) serve 300 s later and then warm up for
        # 300 s: scale-in waits for the first evaluation at or after raised.at_seconds + 600 (660-780 s),
        # whatever the restore time (420-540 s).
        blocked_until = restored.at_seconds if kind == "ecs" else raised.at_seconds + 300 + 300
        assert run.changes == [(raised.at_seconds, 8), (60 * math.ceil(blocked_until / 60), 2)], kind
    assert run_target_tracking_scheduled(documents["ecs"]).changes[1] == (480, 2)


# ------------------------------------------------------------------------------ scheduled actions (calendar)


def presale(kind: str) -> LoadedScenario:
    return scenario(
        duration=1140,
        rps=[50],
        target={"kind": kind, "min_units": 2, "max_units": 20},
        calendar=[
            {
                "name": "presale",
                "start": "2026-01-21T20:10:00",
                "end": "2026-01-21T20:15:30",
                "time_zone": "Asia/Seoul",
                "units": 8,
                "lead_seconds": 300,
            }
        ],
    )


def test_the_scheduled_action_raises_the_minimum_at_start_minus_lead_and_restores_it_at_end() -> None:
    loaded = presale("ecs")
    raised, restored = scheduled_min_changes(loaded)
    # Start 20:10 Seoul = +600 s, lead 300 s -> scheduled at 300 s; end 20:15:30 = +930 s. Application Auto
    # Scaling honours them "a few seconds" late: at most 5 s here.
    assert (raised.scheduled_seconds, raised.min_units) == (300, 8)
    assert (restored.scheduled_seconds, restored.min_units) == (930, 2)
    assert 300 <= raised.at_seconds <= 305
    assert raised.at_seconds == math.ceil(300 + raised.delay_seconds)
    assert 930 <= restored.at_seconds <= 935
    run = run_target_tracking_scheduled(loaded)
    # 50 rps on 2 units: 1,500 per target, low, and ceil(2 x 1,500 / 3,000) = 1 -> the minimum, 2: no change.
    # Raised: 8 units at once. Restored (930-935 s): the next evaluation is at 960; minute 840 ran 8 units
    # (375 per target): ceil(8 x 375 / 3,000) = 1 -> the minimum, 2.
    assert run.changes == [(raised.at_seconds, 8), (960, 2)]
    # Plain target tracking never leaves the minimum on this traffic.
    assert run_target_tracking(loaded).changes == []


def test_ec2_auto_scaling_runs_scheduled_actions_up_to_two_minutes_late_deterministically() -> None:
    loaded = presale("asg")
    raised, restored = scheduled_min_changes(loaded)
    assert 300 <= raised.at_seconds <= 420
    assert 930 <= restored.at_seconds <= 1050
    assert scheduled_min_changes(loaded) == [raised, restored]  # the same seed, the same delays
    run = run_target_tracking_scheduled(loaded)
    # The 6 instances launched at raised.at_seconds finish warming up by raised.at_seconds + 30 + 300 <= 750 s,
    # before the restore: the scale-in comes at the first evaluation (a whole minute) at or after the restore.
    assert run.changes == [(raised.at_seconds, 8), (60 * math.ceil(restored.at_seconds / 60), 2)]
    delays = []
    for seed in range(10):
        reseeded = LoadedScenario(
            loaded.scenario.model_copy(update={"config": loaded.scenario.config.model_copy(update={"seed": seed})}),
            loaded.demand_rps,
        )
        delays += [action.delay_seconds for action in scheduled_min_changes(reseeded)]
    assert all(0 <= d <= 120 for d in delays)
    assert max(delays) > 60  # minutes late, not the seconds Application Auto Scaling takes


def test_a_scheduled_raise_due_before_the_start_is_in_effect_from_second_0() -> None:
    loaded = scenario(
        duration=120,
        rps=[50],
        target={"min_units": 2, "max_units": 20},
        calendar=[{"name": "early", "start": START, "end": "2026-01-21T20:30:00+09:00", "units": 6}],
    )
    # Raise scheduled at 0 - 600 s (already run: in effect from 0), restore at +1,800 s (+ up to 5 s; after the end).
    raised, restored = scheduled_min_changes(loaded)
    assert (raised.scheduled_seconds, raised.at_seconds, raised.min_units) == (-600, 0, 6)
    assert (restored.min_units, 1800 <= restored.at_seconds <= 1805) == (2, True)
    assert run_target_tracking_scheduled(loaded).changes == [(0, 6)]


# ------------------------------------------------------------------------------------------ policy selection


def with_calendar() -> LoadedScenario:
    return presale("ecs")


def test_target_tracking_scheduled_applies_only_to_scenarios_with_calendar_entries() -> None:
    plain = scenario(duration=60, rps=[100])
    assert applicable_policies(plain) == ["surge", "target-tracking", "fast-autoscaler", "static", "oracle"]
    assert applicable_policies(with_calendar()) == [
        "surge",
        "target-tracking",
        "target-tracking+scheduled",
        "fast-autoscaler",
        "static",
        "oracle",
    ]
    assert policy_names("all", plain) == applicable_policies(plain)
    assert policy_names("all", with_calendar()) == list(POLICIES)
    assert policy_names("target-tracking+scheduled", with_calendar()) == ["target-tracking+scheduled"]
    assert policy_names("static", plain) == ["static"]
    for ask in (lambda: policy_names("target-tracking+scheduled", plain), lambda: run_target_tracking_scheduled(plain)):
        with pytest.raises(ScenarioError, match="needs calendar entries") as caught:
            ask()
        assert "\n" not in str(caught.value)


def test_asking_for_target_tracking_scheduled_without_calendar_exits_2_with_one_line() -> None:
    result = CliRunner().invoke(app, ["replay", str(FIXTURES / "tiny.json"), "--policy", "target-tracking+scheduled"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "tiny.json: --policy target-tracking+scheduled needs calendar entries" in lines[0]


# ------------------------------------------------------------------------------------------ fast autoscaler


def fast(loaded: LoadedScenario) -> tuple[FastAutoscaler, PolicyRun]:
    controller = FastAutoscaler(loaded, world_latency(loaded))
    run = drive("fast-autoscaler", loaded, controller, None)
    run.exact_changes = controller.exact_changes
    return controller, run


def step_up(latency: str) -> LoadedScenario:
    # 10 rps for 10 s (2 units: 10 / 200 x 500 = 25 connections per task: below 50, no action), then 200 rps
    # (500 connections: the top tier). min 2 and max 20 are the sample's own tiers: 20 / 15 / 10 / 2.
    return scenario(
        duration=140,
        rps=[10, 200],
        resolution=10,
        target={"min_units": 2, "max_units": 20},
        config={"latency": latency},
    )


def test_fast_autoscaler_cycle_without_latency() -> None:
    controller, run = fast(step_up("none"))
    # Started at 0; GetECSTasks at 0, 3, 6, 9 (25 connections: Wait 3), 12 (500): Desire20 -> UpdateService at 12.
    # Wait 60 -> 72: 20 units in service since 42, 200 / 2,000 x 500 = 50 connections -> Desire2: cut to 2.
    # Wait 60 -> 132: 200 / 200 x 500 = 500 -> 20 again.
    assert controller.polls == [0, 3, 6, 9, 12, 72, 132]
    assert run.changes == [(12, 20), (72, 2), (132, 20)]
    assert controller.capacity_calls == [12, 72, 132]
    assert [b - a for (a, _), (b, _) in zip(run.exact_changes, run.exact_changes[1:], strict=False)] == [60, 60]


def test_fast_autoscaler_cycle_with_typical_latency() -> None:
    controller, run = fast(step_up("typical"))
    # Typical figures, each drawn +-30 %: Standard start 0.15; per Lambda run a warm invoke 0.03 and handler
    # compute 0.02; ListTasks 0.05, DescribeTasks 0.05 (the latency model's default call), 2 nginx_status reads
    # per sampled task at 0.05 each (default call), SNS Publish 0.04, UpdateService 0.25.
    # * A poll reads the load after invoke + compute + ListTasks + DescribeTasks: 0.15 (0.105-0.195). With 2
    #   tasks sampled, the whole run is 0.15 + 4 x 0.05 = 0.35 (0.245-0.455). Idle polls are 3 s + one run apart,
    #   give or take the read offsets: 3 + 0.245 - 0.195 + 0.105 = 3.155 to 3 + 0.455 - 0.105 + 0.195 = 3.545
    #   (nominal 3.35), against exactly 3 s in the idealised world.
    idle_gaps = [b - a for a, b in zip(controller.polls, controller.polls[1:], strict=False)][:3]
    assert all(3.155 <= gap <= 3.545 for gap in idle_gaps), idle_gaps
    # * Nominal first action: polls read at 0.30, 3.65, 7.00, 10.35 (200 rps from 10 s), then the reads 0.20,
    #   SNS 0.04, the scale-out Lambda up to UpdateService 0.03 + 0.02 + 0.05 + 0.25 = 0.35: at 10.94, 20 units
    #   from second 11. With jitter the 4th poll reads at 9.945-10.755: if it sees 200 rps the action lands at
    #   10.41-11.52, otherwise the 5th poll (13.10-13.55) acts by 14.32.
    (first, _), (second, units_second), (third, _) = run.exact_changes
    assert 10.41 <= first <= 14.32
    assert units_second == 2
    # * UpdateService to UpdateService: the 60 s wait, a poll, SNS, the scale-out Lambda. At ~71 s 20 units run
    #   (3 sampled, 6 reads: poll 0.45, 0.315-0.585): 60 + 0.45 + 0.04 + 0.35 = 60.84 (60.588-61.092); at ~132 s
    #   2 units (poll 0.35): 60.74 (60.518-60.962). In the idealised world: exactly 60 s.
    assert 60.588 <= second - first <= 61.092
    assert 60.518 <= third - second <= 60.962
    assert [t for t, _ in run.changes] == [math.ceil(t) for t, _ in run.exact_changes]


def test_fast_autoscaler_samples_running_tasks_only() -> None:
    loaded = scenario(duration=100, rps=[200], target={"min_units": 2, "max_units": 20, "startup_seconds": 120})
    controller, run = fast(loaded)
    # At 0: 200 / 200 x 500 = 500 -> 20 tasks (18 starting until 120). At 60 the 18 are listed but not RUNNING:
    # describe-tasks' lastStatus=='RUNNING' filter leaves the 2 running ones, 500 each -> Desire20 again
    # (UpdateService with an unchanged count). Counting starting tasks as 0 would average (500 + 500 + 0) / 3 =
    # 333 -> Desire15 and cancel 5 starting tasks.
    assert run.changes == [(0, 20)]
    assert controller.capacity_calls == [0, 60]


@pytest.mark.parametrize(("max_units", "expected"), [(100, [(0, 100), (60, 2)]), (150, [(0, 150), (60, 2)])])
def test_fast_autoscaler_sees_past_100_tasks_as_an_operator_batching_describe_tasks_would(
    max_units: int, expected: list[tuple[int, int]]
) -> None:
    loaded = scenario(duration=100, rps=[200, 1500], target={"min_units": 2, "max_units": max_units})
    _, run = fast(loaded)
    # At 0: 500 connections -> the top tier = max_units. At 60: 1,500 rps.
    #   max 100: 100 tasks, 1,500 / 10,000 x 500 = 75 connections -> Desire2 -> 2 (min).
    #   max 150: 150 tasks, 1,500 / 15,000 x 500 = 50 connections -> Desire2 -> 2 (min). The published script
    #   would pass 150 ARNs to DescribeTasks (at most 100) and go blind; the tiers were scaled past the sample's
    #   20 tasks, so the batching that scaling needs is assumed too.
    assert run.changes == expected


def test_fast_autoscaler_scale_in_guard_only_ignores_a_desired_of_one() -> None:
    loaded = scenario(duration=150, rps=[150], target={"initial_units": 10, "min_units": 1, "max_units": 10})
    controller, run = fast(loaded)
    # 150 / 1,000 x 500 = 75 connections -> Desire2, mapped to min 1: main.sh ignores a desired <= ${#tasks[@]} (1)
    # and polls instead; the state machine still waits 60 s. Polls at 0, 60, 120; nothing changes.
    assert controller.polls == [0, 60, 120]
    assert run.changes == []


@pytest.mark.parametrize(
    ("jump", "changes", "ended_at"), [(None, [], 8331), (8325, [(8325, 20)], 8385), (8326, [], 8328)]
)
def test_the_history_limit_ends_the_fast_autoscaler(
    tmp_path: Path, jump: int | None, changes: list[tuple[int, int]], ended_at: int
) -> None:
    rows = "0,10\n" + ("" if jump is None else f"{jump},200\n")
    (tmp_path / "traffic.csv").write_text("t_seconds,rps\n" + rows)
    loaded = scenario(
        duration=8400,
        rps=[],
        traffic={"csv": "traffic.csv"},
        target={"min_units": 2, "max_units": 20},
        base_dir=tmp_path,
    )
    controller, run = fast(loaded)
    # No latency: ExecutionStarted (1), then idle cycles of 9 events every 3 s (GetECSTasks 5, the Choice 2,
    # Wait 3 Seconds 2): cycle k starts at 3k after 1 + 9k events. The 25,000th entry is ExecutionFailed, so
    # 24,999 events fit.
    # * idle throughout: cycle 2,777 (8,331 s) starts after 24,994 events; its task takes 24,995-24,999 and the
    #   Choice would be the 25,000th: the execution fails at 8,331.
    # * a jump at 8,325 (cycle 2,775, after 24,976 events): GetECSTasks, Choice, Pass, SNSScaleOut (5) and
    #   ServiceScaleOut's entered/scheduled/started reach 24,993: UpdateService runs (20 at 8,325); its cycle ends
    #   at 24,997 (Wait 60 until 8,385); the next GetECSTasks gets 24,998-24,999 and fails at 8,385.
    # * a jump at 8,326, seen by cycle 2,776 at 8,328 (after 24,985): SNSScaleOut exits at 24,999 and
    #   ServiceScaleOut cannot even be entered: the execution fails at 8,328 without scaling.
    assert run.changes == changes
    assert controller.end_reason is not None
    assert controller.end_reason.startswith("ExecutionFailed")
    assert controller.ended_at_seconds == ended_at
    assert controller.history_events == 25_000


def test_fast_autoscaler_policy_reports_its_calls() -> None:
    run = run_fast_autoscaler(step_up("none"))
    assert run.capacity_calls == [12, 72, 132]
    assert run.exact_changes == [(12, 20), (72, 2), (132, 20)]
    assert json.dumps(run.changes) == "[[12, 20], [72, 2], [132, 20]]"


def test_a_fast_autoscaler_acting_every_cycle_runs_out_of_history_after_1190_actions() -> None:
    loaded = scenario(duration=72_000, rps=[2000], target={"initial_units": 20, "min_units": 2, "max_units": 20})
    controller, run = fast(loaded)
    # 2,000 rps on 20 units: 500 connections every time -> Desire20, UpdateService with the same count, Wait 60.
    # A tier cycle is 21 events (GetECSTasks 5, Choice 2, Pass 2, SNSScaleOut 5, ServiceScaleOut 5, Wait 2) and,
    # without latency, 60 s long: cycle k starts at 60k after 1 + 21k events. Its UpdateService needs the 17
    # events up to ServiceScaleOut's LambdaFunctionStarted: 1 + 21k + 17 <= 24,999 -> k <= 1,189 (71,340 s).
    # Cycle 1,190 (71,400 s) starts after 24,991: GetECSTasks (24,996), the Choice (24,998), the Pass enters
    # (24,999) and cannot exit: ExecutionFailed at 71,400 s, 19.8 h in (before the 24 h TimeoutSeconds).
    assert run.changes == []
    assert len(controller.capacity_calls) == 1190
    assert controller.capacity_calls[-1] == 71_340
    assert controller.ended_at_seconds == 71_400
    assert controller.end_reason == "ExecutionFailed (25,000 history events)"
