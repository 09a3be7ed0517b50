"""Replay: scenario validation, the simulated fleet, KPI arithmetic, the oracle as the limit, and surge's edge.

The tiny scenarios are in tests/fixtures/replay; every expected number below is worked out by hand in comments.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from scaler_support import deploy, ecs_target
from surge import push_steps
from surge.core.config import DEFAULT_PUSH_SAFETY_FACTOR
from surge_cli import world
from surge_cli.localaws import LocalAws
from surge_cli.main import app
from surge_cli.replay.kpis import fleet_kpis, loop_cost, oracle_at_target_unit_hours, policy_result
from surge_cli.replay.policies import POLICIES
from surge_cli.replay.scenario import LoadedScenario, ScenarioError, load_scenario, parse_scenario, read_traffic_csv
from surge_cli.replay.world import Fleet

FIXTURES = Path(__file__).parent / "fixtures" / "replay"
SCENARIOS = Path(__file__).parents[1] / "scenarios"
BASELINES = ("static", "target-tracking", "fast-autoscaler", "oracle")


def tiny() -> LoadedScenario:
    return load_scenario(FIXTURES / "tiny.json")


# ------------------------------------------------------------------------------------------- the fleet


def test_units_serve_after_startup_and_scale_in_cancels_starting_units_first() -> None:
    fleet = Fleet(initial_units=2, startup_seconds=10)
    fleet.set_desired(0, 5)  # 3 units start, ready at 10
    fleet.advance(4)
    assert (fleet.desired_units, fleet.in_service_units) == (5, 2)
    fleet.set_desired(5, 3)  # 2 of the 3 starting units are cancelled; none in service is removed
    fleet.advance(10)
    assert (fleet.desired_units, fleet.in_service_units) == (3, 3)
    fleet.set_desired(12, 1)  # scale-in removes units in service at once
    assert (fleet.desired_units, fleet.in_service_units) == (1, 1)
    assert fleet.changes == [(0, 5), (5, 3), (12, 1)]


# ----------------------------------------------------------------------------------------- KPI arithmetic


def test_static_kpis_on_the_tiny_scenario() -> None:
    loaded = tiny()
    result = fleet_kpis(POLICIES["static"](loaded, None), loaded.scenario)
    # 2 units x 100 rps = 200 rps of capacity throughout.
    # Seconds 0-59: 150 rps demanded, all served -> 9,000 requests.
    # Seconds 60-119: 350 rps demanded, 200 served -> 21,000 demanded, 12,000 served, 9,000 dropped.
    # Served fraction = (9,000 + 12,000) / (9,000 + 21,000) = 21,000 / 30,000 = 0.7.
    assert result["served_fraction"] == pytest.approx(0.7)
    assert result["dropped_requests"] == pytest.approx(9_000)
    assert result["seconds_under_capacity"] == 60
    assert result["max_units"] == 2
    assert result["unit_hours"] == pytest.approx(2 * 120 / 3600)  # 0.0667
    assert result["scaling_actions"] == 0


def test_oracle_kpis_on_the_tiny_scenario() -> None:
    loaded = tiny()
    run = POLICIES["oracle"](loaded, None)
    result = fleet_kpis(run, loaded.scenario)
    # Needed: ceil(150 / 100) = 2 units for t < 60, ceil(350 / 100) = 4 from t = 60. Start-up is 10 s, so the
    # oracle asks for 4 at t = 50 (the window [50, 60] first contains t = 60) and they serve from t = 60.
    assert run.changes == [(50, 4)]
    assert result["served_fraction"] == pytest.approx(1.0)
    assert result["dropped_requests"] == pytest.approx(0)
    assert result["seconds_under_capacity"] == 0
    assert result["max_units"] == 4
    assert result["unit_hours"] == pytest.approx((2 * 50 + 4 * 70) / 3600)  # 380 unit-seconds = 0.1056 h
    assert result["scaling_actions"] == 1


def test_unit_hours_against_an_oracle_at_the_target_utilization() -> None:
    loaded = tiny()
    # At 70 % of 100 rps a unit carries 70 rps: ceil(150 / 70) = 3 units for 60 s, ceil(350 / 70) = 5 for 60 s
    # -> 480 unit-seconds = 0.1333 h. Static runs 2 units for 120 s = 0.0667 h -> 0.5x.
    result = policy_result(POLICIES["static"](loaded, None), loaded)
    assert result["oracle_at_target_unit_hours"] == pytest.approx(480 / 3600)
    assert result["unit_hours_vs_oracle_at_target"] == pytest.approx(0.5)
    # A calendar entry active over the first minute (lead 0) declaring 8 units: 8 x 60 + 5 x 60 = 780 s.
    document = _tiny_document()
    document["calendar"] = [
        {
            "name": "sale",
            "start": "2026-01-21T20:00:00",
            "end": "2026-01-21T20:01:00",
            "time_zone": "Asia/Seoul",
            "units": 8,
            "lead_seconds": 0,
        }
    ]
    with_entry = parse_scenario(document, base_dir=FIXTURES)
    assert oracle_at_target_unit_hours(with_entry) == pytest.approx(780 / 3600)


def test_loop_cost_arithmetic() -> None:
    loop = {
        "executions": 2,
        "execution_seconds": [55.0, 54.93],  # billed in 100 ms steps: 55.0 + 55.0 = 110 s
        "state_transitions": 100,
        "lambda_invocations": 40,
        "lambda_gb_seconds": 1.0,
        "metric_requests": 20,
    }
    cost = loop_cost(loop, duration_seconds=120)
    # A month is 2,592,000 s = 21,600 x the 120 s replayed.
    # Express: 2 requests x $1e-6 + 110 s x 64/1024 GB x $0.00001667 = $0.000002 + $0.000114606 = $0.000116606
    # Standard: 100 transitions x $0.000025 = $0.0025
    # Lambda: 40 x $2e-7 + 1 GB-s x $0.0000166667 = $0.0000246667; GetMetricData: 20 x $0.00001 = $0.0002
    # Per month: Express (0.000116606 + 0.0002246667) x 21,600 = $7.37; Standard (0.0025 + 0.0002246667) x 21,600
    # = $58.85.
    assert cost["monthly_loop_cost_usd"] == {"EXPRESS": pytest.approx(7.37), "STANDARD": pytest.approx(58.85)}
    assert cost["monthly_cost_breakdown_usd"]["get_metric_data"] == pytest.approx(4.32)


# ------------------------------------------------------------------------------------------ the oracle


@settings(max_examples=25, deadline=None)
@given(
    rps=st.lists(st.floats(min_value=0, max_value=3_000), min_size=1, max_size=12),
    startup_seconds=st.integers(min_value=0, max_value=90),
)
def test_no_baseline_beats_the_oracle_on_served_fraction(rps: list[float], startup_seconds: int) -> None:
    document = json.loads((FIXTURES / "tiny.json").read_text())
    document["duration_seconds"] = 600
    document["target"]["startup_seconds"] = startup_seconds
    document["traffic"] = {"rps": rps, "resolution_seconds": 50}
    loaded = parse_scenario(document, base_dir=FIXTURES)
    served = {name: fleet_kpis(POLICIES[name](loaded, None), loaded.scenario)["served_fraction"] for name in BASELINES}
    for name in BASELINES:
        assert served[name] <= served["oracle"] + 1e-12, name


def with_config(loaded: LoadedScenario, **config: object) -> LoadedScenario:
    scenario = loaded.scenario.model_copy(update={"config": loaded.scenario.config.model_copy(update=config)})
    return LoadedScenario(scenario, loaded.demand_rps, loaded.path)


@pytest.mark.statemachine
def test_in_the_idealised_world_surge_answers_a_push_in_the_same_instant_and_never_beats_the_oracle() -> None:
    loaded = with_config(load_scenario(FIXTURES / "tiny-push.json"), latency="none")
    runs = {name: POLICIES[name](loaded, None) for name in ("surge", "oracle")}
    surge = policy_result(runs["surge"], loaded)
    oracle = policy_result(runs["oracle"], loaded)
    # The push at 32 s goes through the real fast path (EventBridge rule -> PushFastPath): with no calibration
    # history it sizes a hold for 50 + 35,000 x 0.01 x the safety factor 1.4 = 540 rps -> ceil(540 / (100 x 0.5))
    # = 11 units and applies it in the same instant (latency "none": every AWS step takes no time).
    assert DEFAULT_PUSH_SAFETY_FACTOR == 1.4
    assert runs["surge"].changes[0] == (32, 11)
    assert surge["first_response"]["p-1"]["first_call_seconds"] == 0
    # The oracle needs ceil(400 / 100) = 4 units at the peak; 90 % of that is covered by the 8 units at once.
    assert surge["first_response"]["p-1"] == {"first_call_seconds": 0, "covered_seconds": 0, "peak_need_units": 4}
    assert surge["served_fraction"] <= oracle["served_fraction"]
    loop = runs["surge"].loop
    assert loop is not None
    assert loop["executions"] == 4  # the schedule at 0, 60, 120 and 180 s
    # Each execution loops for its 55 s budget (Express bills that duration).
    assert len(loop["execution_seconds"]) == 4
    assert all(55 <= seconds <= 56 for seconds in loop["execution_seconds"]), loop["execution_seconds"]
    assert loop["lambda_invocations"] > 0
    assert loop["state_transitions"] > loop["lambda_invocations"]
    assert loop["metric_requests"] > 0


def first_call_seconds(loaded: LoadedScenario) -> float:
    result = policy_result(POLICIES["surge"](loaded, None), loaded)
    seconds = result["first_response"]["p-1"]["first_call_seconds"]
    assert seconds is not None
    return float(seconds)


@pytest.mark.statemachine
def test_a_slow_record_push_handler_moves_the_measured_first_response(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_scenario(FIXTURES / "tiny-push.json")  # latency "typical" by default
    honest = first_call_seconds(loaded)
    # Typical latencies: EventBridge ~0.5 s, three Lambda invocations (cold: ~1 s init each), ~10 AWS calls.
    assert 2.0 < honest < 6.0

    original = push_steps.record_push

    def slow(*args: object, **kwargs: object) -> object:
        time.sleep(2.5)  # in a handler, simulated time: the figures must see it
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(push_steps, "record_push", slow)
    slowed = first_call_seconds(loaded)
    assert slowed >= honest + 2.5


@pytest.mark.statemachine
def test_a_high_resolution_metric_is_read_through_the_real_path_and_decides_before_the_alb_can() -> None:
    loaded = load_scenario(FIXTURES / "tiny-hr.json")
    run = POLICIES["surge"](loaded, None)
    assert run.details is not None
    first = run.details["journal"][0]
    # Demand jumps from 50 to 1,000 rps at 60 s. The 10 s period [60, 70) is published at 75 s; the ALB minute
    # [60, 120) only at 180 s. The first scale-out cites the high-resolution metric: ceil(1,000 / 50) = 20 units
    # plus the trend's headroom for a rise that steep (at most 100 % of the demand: 40 units).
    assert (first["demand_source"], first["winner"]) == ("high_resolution", "reactive")
    assert 20 < first["to_units"] <= 40
    assert 75 <= first["t_seconds"] < 90

    without = with_config(loaded, high_resolution_metric_period_seconds=None)
    alb_only = POLICIES["surge"](without, None)
    assert alb_only.details is not None
    assert alb_only.details["journal"][0]["demand_source"] == "alb_request_count"
    assert alb_only.details["journal"][0]["t_seconds"] >= 180


@pytest.mark.statemachine
def test_a_push_delivered_twice_is_two_fast_path_executions_and_one_hold() -> None:
    loaded = load_scenario(FIXTURES / "tiny-duplicate-push.json")
    run = POLICIES["surge"](loaded, None)
    assert run.details is not None
    ends = sorted(e["last_state"] for e in run.details["push_executions"])
    assert ends == ["AlreadyHandled", "PushApplied"]
    assert run.details["holds"] == [{"push_id": "p-1", "units": 11}]
    assert [(j["from_units"], j["to_units"], j["winner"]) for j in run.details["journal"]] == [(2, 11, "push")]
    result = policy_result(run, loaded)
    assert list(result["first_response"]) == ["p-1"]  # one push, measured from its first delivery


@pytest.mark.statemachine
def test_surge_serves_more_than_target_tracking_on_the_artist_post() -> None:
    loaded = load_scenario(SCENARIOS / "artist-post.json")
    loaded = truncated(loaded, 600)  # the push at 2:00 and the spike's first 8 minutes are where they differ
    served = {
        name: fleet_kpis(POLICIES[name](loaded, None), loaded.scenario)["served_fraction"]
        for name in ("surge", "target-tracking")
    }
    assert served["surge"] > served["target-tracking"]


def truncated(loaded: LoadedScenario, duration_seconds: int) -> LoadedScenario:
    scenario = loaded.scenario.model_copy(update={"duration_seconds": duration_seconds})
    return LoadedScenario(scenario, loaded.demand_rps[:duration_seconds], loaded.path)


# --------------------------------------------------------------------------------------- bad scenarios


def _write(tmp_path: Path, document: dict[str, object]) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(document))
    return path


def _tiny_document() -> dict[str, object]:
    document: dict[str, object] = json.loads((FIXTURES / "tiny.json").read_text())
    document["calendar"] = [
        {
            "name": "sale",
            "start": "2026-01-21T20:30:00",
            "end": "2026-01-21T21:00:00",
            "time_zone": "Asia/Seoul",
            "units": 4,
        }
    ]
    return document


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.update(polcy="surge"), "polcy: unknown key"),
        (lambda d: d.update(config={"loop_interval_secs": 5}), "config.loop_interval_secs: unknown key"),
        (lambda d: d["target"].update(startup_seconds=-5), "target.startup_seconds"),
        (
            lambda d: d["calendar"][0].update(time_zone="Asia/Seol"),
            "calendar.0.time_zone: unknown time zone 'Asia/Seol'",
        ),
        (lambda d: d.update(start="2026-01-21T20:00:00"), "start: must be an aware"),
        (
            lambda d: d.update(config={"latency": "fast"}),
            "config.latency: Input should be 'typical', 'pessimistic' or 'none' (got: 'fast')",
        ),
        (
            lambda d: d.update(config={"high_resolution_metric_period_seconds": 7}),
            "config.high_resolution_metric_period_seconds: Input should be 1, 5, 10, 20, 30 or 60 (got: 7)",
        ),
        (lambda d: d.update(config={"alb_first_publication_share": 0}), "config.alb_first_publication_share"),
        (
            lambda d: d.update(
                pushes=[{"at_seconds": 1, "audience": 10, "id": "p"}, {"at_seconds": 2, "audience": 11, "id": "p"}]
            ),
            "pushes.1.id: 'p' is reused with a different audience (11 != 10)",
        ),
        (lambda d: d.update(pushes=[{"at_seconds": 1, "audience": 10, "id": "p", "true_rps": 1}]), "true_rps"),
    ],
)
def test_a_malformed_scenario_exits_2_naming_the_field(tmp_path: Path, change, named: str) -> None:  # type: ignore[no-untyped-def]
    document = _tiny_document()
    change(document)
    result = CliRunner().invoke(app, ["replay", str(_write(tmp_path, document)), "--policy", "static"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert named in lines[0]


def test_a_bad_csv_row_exits_2_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "traffic.csv").write_text("t_seconds,rps\n0,100\n10,lots\n")
    document = _tiny_document()
    document["traffic"] = {"csv": "traffic.csv"}
    result = CliRunner().invoke(app, ["replay", str(_write(tmp_path, document)), "--policy", "static"])
    assert result.exit_code == 2
    assert "traffic.csv: traffic.csv line 3" in result.output


def test_calendar_times_resolve_in_their_time_zone() -> None:
    loaded = parse_scenario(_tiny_document(), base_dir=FIXTURES)
    entry = loaded.scenario.calendar[0]
    assert entry.start_utc.isoformat() == "2026-01-21T11:30:00+00:00"  # 20:30 in Seoul (UTC+9)


def test_a_missing_csv_second_repeats_the_last_value(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("t_seconds,rps\n0,10\n3,40\n")
    document = _tiny_document()
    document.update(duration_seconds=5, traffic={"csv": "t.csv"})
    assert parse_scenario(document, base_dir=tmp_path).demand_rps == [10, 10, 10, 40, 40]


def test_json_output_holds_every_policy_and_the_timeline_has_a_row_per_policy_second(tmp_path: Path) -> None:
    timeline = tmp_path / "timeline.csv"
    result = CliRunner().invoke(
        app, ["replay", str(FIXTURES / "tiny.json"), "--policy", "oracle", "--json", "--timeline", str(timeline)]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["scenario"] == "tiny"
    assert [r["policy"] for r in document["results"]] == ["oracle"]
    rows = timeline.read_text().splitlines()
    assert rows[0] == "policy,t_seconds,demand_rps,desired_units,in_service_units"
    assert len(rows) == 1 + 120
    assert rows[51] == "oracle,50,150,4,2"


def test_scenario_errors_are_one_line() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"name": "x"}, base_dir=FIXTURES)
    assert "\n" not in str(caught.value)


@pytest.mark.statemachine
def test_a_partial_alb_minute_is_first_published_short_then_revised_upward() -> None:
    from datetime import timedelta

    from surge_cli import world
    from surge_cli.localaws import LocalAws
    from surge_cli.replay.policies.surge import _AlbPublisher
    from surge_cli.replay.scenario import LOAD_BALANCER

    loaded = with_config(load_scenario(FIXTURES / "tiny.json"), alb_first_publication_share=0.4)
    start = loaded.scenario.start_utc

    def minute_sum(aws: LocalAws) -> float | None:
        result = aws.client("cloudwatch").get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "alb",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": world.ALB_NAMESPACE,
                            "MetricName": "RequestCount",
                            "Dimensions": [{"Name": "LoadBalancer", "Value": LOAD_BALANCER}],
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
            ],
            StartTime=start,
            EndTime=start + timedelta(seconds=60),
        )["MetricDataResults"][0]["Values"]
        return result[0] if result else None

    with LocalAws(start=start) as aws:
        _AlbPublisher(aws, loaded).start()
        # tiny.json: 150 rps over the first minute = 9,000 requests; it closes at 60 s and appears 60 s later.
        aws.run_until(start + timedelta(seconds=119))
        assert minute_sum(aws) is None
        aws.run_until(start + timedelta(seconds=120))
        assert minute_sum(aws) == pytest.approx(0.4 * 9_000)  # first publication: 40 % of the minute
        aws.run_until(start + timedelta(seconds=180))
        assert minute_sum(aws) == pytest.approx(9_000)  # revised 60 s later (alb_revision_delay_seconds)


@pytest.mark.statemachine
def test_a_push_guessed_2x_too_low_is_corrected_within_one_iteration_of_the_datapoint_that_shows_the_ramp() -> None:
    # Sized for 50 + 100,000 x 0.0075 = 800 rps -> 16 units at 50 rps per unit; the truth is 0.015 (1,550 rps,
    # 31 units). The 10 s datapoints [60, 70) = 300 and [70, 80) = 800 rps appear at 75 s and 85 s: at 85 s the
    # response (750 rps) is rising 500 rps per step, heading for 750 + min(50 rps/s x 40 s, 0.5 x 750) = 1,125
    # -> 50 + 1,125 = 1,175 rps -> 24 units. One loop iteration is 5 s.
    loaded = load_scenario(FIXTURES / "tiny-guess-low.json")
    run = POLICIES["surge"](loaded, None)
    assert run.details is not None
    journal = run.details["journal"]
    assert (journal[0]["to_units"], journal[0]["winner"]) == (16, "push")
    corrected = journal[1]
    assert corrected["to_units"] > 16
    assert 85 <= corrected["t_seconds"] <= 85 + 5 + 2  # within one iteration (and the handlers' latency)
    assert corrected["demand_source"] == "high_resolution"
    assert "corrected 16 ->" in corrected["hold_floors"][0]
    assert all(later["to_units"] >= corrected["to_units"] for later in journal[2:])  # never lowered while rising


@pytest.mark.statemachine
def test_a_push_guessed_2x_too_high_releases_capacity_to_the_observed_need() -> None:
    # Sized for 50 + 100,000 x 0.03 = 3,050 rps -> 61 units; the response peaks at 1,550 rps -> 31 units. Once
    # the response has shown its size (its peak reached 120 s earlier, not rising), the excess goes in one step
    # (no measurement ever needed it); never below the peak's 31 units while the minimum hold (600 s) lasts.
    loaded = load_scenario(FIXTURES / "tiny-guess-high.json")
    run = POLICIES["surge"](loaded, None)
    assert run.details is not None
    journal = run.details["journal"]
    assert [(j["from_units"], j["to_units"]) for j in journal] == [(2, 61), (61, 31)]
    released = journal[1]
    assert 220 <= released["t_seconds"] <= 300
    assert released["winner"] == "push"
    assert min(s.desired_units for s in run.seconds if s.t_seconds >= 60) == 31


# ------------------------------------------------------------------------ scenario files as editors save them


def _replay_static(path: Path) -> Any:
    return CliRunner().invoke(app, ["replay", str(path), "--policy", "static"])


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b"\xef\xbb\xbf"), ("utf-16", b"")],  # Excel's "CSV UTF-8"; PowerShell 5's `>` (BOM included)
    ids=["utf8-bom", "utf16"],
)
def test_csv_and_json_saved_with_a_bom_or_as_utf16_load(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    (tmp_path / "t.csv").write_bytes(prefix + "t_seconds,rps\n0,10\n3,40\n".encode(encoding))
    document = _tiny_document()
    document.update(duration_seconds=5, traffic={"csv": "t.csv"})
    scenario_path = tmp_path / "s.json"
    scenario_path.write_bytes(prefix + json.dumps(document).encode(encoding))
    assert load_scenario(scenario_path).demand_rps == [10, 10, 10, 40, 40]


def test_a_file_in_another_encoding_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_bytes(b"t_seconds,rps\n0,10\n" + b"\xe9\n")
    document = _tiny_document()
    document.update(traffic={"csv": "t.csv"})
    result = _replay_static(_write(tmp_path, document))
    assert result.exit_code == 2
    assert "t.csv byte 19 is not UTF-8" in result.output


def test_a_duplicate_json_key_is_rejected_naming_it(tmp_path: Path) -> None:
    text = json.dumps(_tiny_document()).replace(
        '"duration_seconds": 120', '"duration_seconds": 120, "duration_seconds": 60'
    )
    path = tmp_path / "dup.json"
    path.write_text(text)
    result = _replay_static(path)
    assert result.exit_code == 2
    assert "key 'duration_seconds' appears twice in one object" in result.output


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    document = _tiny_document()
    document["duration_seconds"] = 0
    document["target"]["startup_seconds"] = -1
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(document, base_dir=FIXTURES)
    message = str(caught.value)
    assert "duration_seconds: Input should be greater than 0" in message
    assert "target.startup_seconds: Input should be greater than or equal to 0" in message
    assert "more]" not in message
    assert "\n" not in message


def test_every_bad_csv_row_is_named_and_nan_is_not_finite(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("t_seconds,rps\n0,10\n5,nan\n7,-3\n9,lots\n")
    with pytest.raises(ScenarioError) as caught:
        read_traffic_csv(tmp_path / "t.csv")
    message = str(caught.value)
    assert "line 3: rps must be a finite number (got: '5,nan')" in message
    assert "line 4: t_seconds and rps must be >= 0" in message
    assert "line 5: t_seconds must be an integer" in message


def test_an_empty_csv_says_it_is_empty(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("")
    with pytest.raises(ScenarioError, match=r"t.csv is empty"):
        read_traffic_csv(tmp_path / "t.csv")


def test_traffic_shorter_than_the_scenario_or_a_late_csv_is_said(tmp_path: Path) -> None:
    document = _tiny_document()
    document.update(duration_seconds=300, traffic={"rps": [10, 20], "resolution_seconds": 50})
    short = parse_scenario(document, base_dir=tmp_path)
    assert short.notes == [
        "traffic.rps covers 100 s of duration_seconds 300: its last value (20 rps) stands for the remaining 200 s"
    ]
    (tmp_path / "t.csv").write_text("t_seconds,rps\n300,50\n")
    document.update(duration_seconds=400, traffic={"csv": "t.csv"})
    late = parse_scenario(document, base_dir=tmp_path)
    assert late.notes == ["traffic.csv starts at t_seconds 300: its first value (50 rps) stands for t = 0-299 as well"]
    result = _replay_static(_write(tmp_path, document))
    assert result.exit_code == 0
    assert "note: traffic.csv starts at t_seconds 300" in result.output


def test_a_start_near_the_end_of_the_calendar_is_refused_naming_start(tmp_path: Path) -> None:
    document = _tiny_document()
    document["start"] = "9999-12-31T20:00:00+00:00"
    result = _replay_static(_write(tmp_path, document))
    assert result.exit_code == 2
    assert "start: must be between 2000-01-01 and 2199-12-31" in result.output


def test_a_minimum_hold_longer_than_the_hold_is_refused_at_load_naming_both_fields() -> None:
    document = _tiny_document()
    document["config"] = {"push_min_hold_seconds": 900, "push_hold_seconds": 600}
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(document, base_dir=FIXTURES)
    assert str(caught.value).endswith(
        "config.push_min_hold_seconds: must be <= config.push_hold_seconds (600) (got: 900)"
    )


def test_state_sizes_from_the_harness_history_are_those_boto3_reads(aws: LocalAws) -> None:
    from surge_cli.replay.policies.surge import state_data_bytes

    # The sizes come from the history the harness reads from moto's backend; boto3's get_execution_history must
    # give the same bytes (what Step Functions and its log group would hold).
    stack = deploy(aws, ecs_target())
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    execution = aws.start_execution(stack.scaler_arn, {"budget_seconds": 10})
    aws.wait_for(execution, timeout_sim_seconds=60)
    sizes = state_data_bytes(aws.history_events(execution))
    assert sizes == state_data_bytes(aws.history(execution))
    assert 1_000 < max(sizes) < 256 * 1024


def test_the_surge_replay_reports_its_largest_state_and_the_state_bytes_in_json() -> None:
    result = CliRunner().invoke(app, ["replay", str(FIXTURES / "tiny.json"), "--policy", "surge", "--json"])
    assert result.exit_code == 0, result.output
    (surge,) = json.loads(result.stdout)["results"]
    assert 1_000 < surge["max_state_bytes"] < 256 * 1024
    assert surge["state_bytes"] > surge["max_state_bytes"], "every state's input and output, summed"


def test_state_data_bytes_counts_utf8_bytes_of_inputs_and_outputs() -> None:
    from surge_cli.replay.policies.surge import state_data_bytes

    events = [
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "A", "input": '{"n":"é"}'}},
        {"type": "TaskStateExited", "stateExitedEventDetails": {"name": "A", "output": "{}"}},
        {"type": "ExecutionStarted", "executionStartedEventDetails": {"input": "{}"}},
    ]
    assert state_data_bytes(events) == [10, 2]
