"""Replay of a scenario with several `targets`: validation, each target's view, the aggregate KPIs, one Surge loop
scaling every target through the real state machine, and the per-target output."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from surge_cli.main import app
from surge_cli.replay.kpis import aggregate_first_responses, policy_result
from surge_cli.replay.policies import run_policy
from surge_cli.replay.scenario import LoadedScenario, ScenarioError, parse_scenario

HERE = Path(__file__).parent
SCENARIOS = HERE.parent / "scenarios"


def _two_targets(**changes: Any) -> dict[str, Any]:
    """Two ECS services: `hot` gets a push at 30 s and its traffic quadruples at 60 s; `calm` stays flat."""
    document: dict[str, Any] = {
        "name": "two-targets",
        "start": "2026-03-10T12:00:00+00:00",
        "duration_seconds": 240,
        "targets": [
            {
                "id": "hot",
                "kind": "ecs",
                "initial_units": 2,
                "min_units": 2,
                "max_units": 40,
                "unit_capacity_rps": 100,
                "startup_seconds": 10,
                "traffic": {"rps": [150, 800, 800, 800], "resolution_seconds": 60},
            },
            {
                "id": "calm",
                "kind": "asg",
                "initial_units": 3,
                "min_units": 3,
                "max_units": 10,
                "unit_capacity_rps": 100,
                "startup_seconds": 10,
                "traffic": {"rps": [100], "resolution_seconds": 60},
            },
        ],
        "pushes": [{"at_seconds": 30, "audience": 100_000, "id": "hot-push", "target_id": "hot"}],
        "config": {"push_rps_per_audience": 0.008, "seed": 1},
    }
    document.update(changes)
    return document


def _load(document: dict[str, Any]) -> LoadedScenario:
    return parse_scenario(document, base_dir=HERE)


# ---------------------------------------------------------------------------------------------- validation


def _without_targets() -> dict[str, Any]:
    document = _two_targets()
    del document["targets"]
    return document


def _both_target_and_targets() -> dict[str, Any]:
    one = copy.deepcopy(_two_targets()["targets"][0])
    del one["id"], one["traffic"]
    return _two_targets(target=one)


def _duplicate_id() -> dict[str, Any]:
    document = _two_targets()
    document["targets"][1]["id"] = "hot"
    return document


def _unknown_push_target() -> dict[str, Any]:
    return _two_targets(pushes=[{"at_seconds": 30, "audience": 10, "id": "p", "target_id": "nope"}])


def _calendar_without_target() -> dict[str, Any]:
    entry = {"name": "sale", "start": "2026-03-10T12:02:00+00:00", "end": "2026-03-10T12:03:00+00:00", "units": 5}
    return _two_targets(calendar=[entry])


def _traffic_beside_targets() -> dict[str, Any]:
    return _two_targets(traffic={"rps": [1]})


def _bad_target_traffic() -> dict[str, Any]:
    document = _two_targets()
    document["targets"][1]["traffic"] = {"rps": [-1]}
    return document


def _target_id_in_a_single_target_scenario() -> dict[str, Any]:
    document = {key: value for key, value in _two_targets().items() if key != "targets"}
    one = copy.deepcopy(_two_targets()["targets"][0])
    document["traffic"] = one.pop("traffic")
    del one["id"]
    document["target"] = one
    return document


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (_without_targets, "target: required"),
        (_both_target_and_targets, "targets: give either target"),
        (_duplicate_id, "targets.1.id: 'hot' is already the id of targets.0"),
        (_unknown_push_target, "pushes.0.target_id: must be one of the targets' ids (hot, calm)"),
        (_calendar_without_target, "calendar.0.target_id: required with targets"),
        (_traffic_beside_targets, "traffic: not with targets"),
        (_bad_target_traffic, "targets.1.traffic"),
        (_target_id_in_a_single_target_scenario, "pushes.0.target_id: only with targets"),
    ],
)
def test_a_malformed_targets_scenario_is_one_line_naming_the_field(build: Any, named: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        _load(build())
    message = str(raised.value)
    assert named in message
    assert "\n" not in message


def test_the_cli_exits_2_on_a_duplicate_target_id_and_replays_nothing(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(_duplicate_id()))
    result = CliRunner().invoke(app, ["replay", str(path), "--policy", "static"])
    assert result.exit_code == 2
    assert "targets.1.id" in result.output
    assert "served" not in result.output


def test_each_target_sees_its_own_traffic_the_pushes_naming_it_or_none_and_its_calendar_entries() -> None:
    entry = {
        "name": "calm sale",
        "start": "2026-03-10T12:02:00+00:00",
        "end": "2026-03-10T12:03:00+00:00",
        "units": 5,
        "target_id": "calm",
    }
    pushes = [
        {"at_seconds": 30, "audience": 10, "id": "hot-only", "target_id": "hot"},
        {"at_seconds": 40, "audience": 10, "id": "everyone"},
    ]
    loaded = _load(_two_targets(pushes=pushes, calendar=[entry]))
    views = loaded.targets()
    assert list(views) == ["hot", "calm"]
    assert [p.id for p in views["hot"].scenario.pushes] == ["hot-only", "everyone"]
    assert [p.id for p in views["calm"].scenario.pushes] == ["everyone"]
    assert views["hot"].scenario.calendar == []
    assert [c.name for c in views["calm"].scenario.calendar] == ["calm sale"]
    assert views["hot"].demand_rps[59:61] == [150, 800]
    assert views["calm"].demand_rps[59:61] == [100, 100]
    assert loaded.demand_rps[59:61] == [250, 900]  # the fleet's demand is the targets' sum
    assert views["calm"].scenario.spec.kind == "asg"
    assert views["calm"].scenario.target_config("calm").asg is not None


# -------------------------------------------------------------------------------------------- aggregates


def test_baselines_replay_each_target_on_its_own_and_the_aggregate_sums_them() -> None:
    loaded = _load(_two_targets())
    result = policy_result(run_policy("static", loaded), loaded)
    hot, calm = result["targets"]["hot"], result["targets"]["calm"]
    # static: hot keeps 2 x 100 rps against 150 then 800 rps; calm keeps 3 x 100 against 100.
    assert hot["max_units"] == 2
    assert calm["max_units"] == 3
    assert hot["dropped_requests"] == pytest.approx(180 * 600)
    assert calm["dropped_requests"] == 0
    assert result["dropped_requests"] == pytest.approx(180 * 600)
    assert result["served_fraction"] == pytest.approx(1 - 180 * 600 / (60 * 250 + 180 * 900))
    assert result["max_units"] == 5  # both fleets' units at once
    assert result["unit_hours"] == pytest.approx(5 * 240 / 3600)
    assert result["seconds_under_capacity"] == 180  # the seconds hot was short
    assert result["first_response"]["hot-push"]["first_call_seconds"] is None  # static never calls


def test_the_fleet_plot_sums_each_targets_capacity_and_desired_units_at_its_own_unit_rps() -> None:
    from surge_cli.replay.output import plotted_rps

    document = _two_targets()
    document["targets"][1]["unit_capacity_rps"] = 50  # calm's units are worth half of hot's
    loaded = _load(document)
    capacity, desired = plotted_rps(run_policy("static", loaded), loaded)
    # static: hot keeps 2 units x 100 rps, calm 3 units x 50 rps, every second of the 240.
    assert len(capacity) == len(desired) == 240
    assert set(capacity) == {2 * 100 + 3 * 50}
    assert set(desired) == {2 * 100 + 3 * 50}


def test_a_push_first_response_is_its_slowest_among_the_targets_it_reached() -> None:
    merged = aggregate_first_responses(
        [
            {"p": {"first_call_seconds": 2.0, "covered_seconds": 3.0, "peak_need_units": 10}},
            {"p": {"first_call_seconds": 4.0, "covered_seconds": None, "peak_need_units": 5}},
            {},
        ]
    )
    assert merged == {"p": {"first_call_seconds": 4.0, "covered_seconds": None, "peak_need_units": 15}}


# ------------------------------------------------------------------------------- one Surge loop for both


@pytest.fixture(scope="module")
def surge_result() -> dict[str, Any]:
    loaded = _load(_two_targets())
    run = run_policy("surge", loaded)
    return {"run": run, "result": policy_result(run, loaded)}


def test_one_surge_loop_scales_each_target_from_its_own_signals(surge_result: dict[str, Any]) -> None:
    run = surge_result["run"]
    assert set(run.targets) == {"hot", "calm"}
    hot, calm = run.targets["hot"], run.targets["calm"]
    # The push names `hot`: its fast path scales hot within seconds (typical latency), and hot only.
    push_changes = [c for c in hot.details["journal"] if c["winner"] == "push"]
    assert push_changes
    assert 30 < push_changes[0]["t_seconds"] < 40
    assert [h["push_id"] for h in hot.details["holds"]] == ["hot-push"]
    assert calm.details["holds"] == []
    assert all(c["winner"] != "push" for c in calm.details["journal"])
    # calm's flat 100 rps against 3 units at min: never called, never changed.
    assert calm.exact_changes == []
    assert calm.capacity_calls == []
    assert max(s.desired_units for s in hot.seconds) >= 9  # 800 rps needs at least 8 units at 100 rps


def test_the_json_result_has_each_target_the_aggregate_and_the_loop_once(surge_result: dict[str, Any]) -> None:
    result = surge_result["result"]
    assert set(result["targets"]) == {"hot", "calm"}
    assert result["targets"]["calm"]["dropped_requests"] == 0
    assert result["dropped_requests"] == pytest.approx(
        result["targets"]["hot"]["dropped_requests"] + result["targets"]["calm"]["dropped_requests"]
    )
    assert result["scaling_actions"] == result["targets"]["hot"]["scaling_actions"]
    assert 0 < result["max_state_bytes"] < 262_144
    assert result["executions"] >= 4  # the schedule starts one loop a minute over 240 s
    assert "max_state_bytes" not in result["targets"]["hot"]  # the loop's, reported once


def test_the_cli_prints_the_aggregate_and_a_table_per_target_and_a_timeline_row_per_target_second(
    tmp_path: Path,
) -> None:
    path = tmp_path / "two.json"
    path.write_text(json.dumps(_two_targets()))
    timeline = tmp_path / "timeline.csv"
    result = CliRunner().invoke(app, ["replay", str(path), "--policy", "static", "--timeline", str(timeline)])
    assert result.exit_code == 0, result.output
    assert "target hot" in result.output
    assert "target calm" in result.output
    with timeline.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 240
    assert {row["target"] for row in rows} == {"hot", "calm"}
    assert rows[0] == {
        "policy": "static",
        "target": "hot",
        "t_seconds": "0",
        "demand_rps": "150",
        "desired_units": "2",
        "in_service_units": "2",
    }


def test_the_bundled_fleet_scenario_loads_with_every_target() -> None:
    path = SCENARIOS / "fleet-three-services.json"
    loaded = parse_scenario(json.loads(path.read_text()), base_dir=SCENARIOS, path=path)
    assert list(loaded.targets()) == ["checkout", "catalog", "search"]
    assert [c.target_id for c in loaded.scenario.calendar] == ["catalog"]
