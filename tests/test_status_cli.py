"""`surge status` against a locally deployed stack: what the loop would decide now, and the signals behind it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from scaler_support import LOAD_BALANCER, START, Loop, deploy, ecs_target
from surge.adapters import store
from surge.core.signals import CalendarEvent, Hold, Pause, ShadowCapacity
from surge_cli import status_cli, world
from surge_cli.localaws import LocalAws
from surge_cli.main import app

runner = CliRunner()
NOW = START + timedelta(minutes=5)


def _busy_api(aws: LocalAws) -> str:
    stack = deploy(aws, ecs_target("api"), ecs_target("web", load_balancer="app/web-alb/73e2d6bc24d8a067"))
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    world.create_ecs_service(aws, "prod", "web", desired_units=2)
    for minute in range(4):  # 1,000 rps on api's ALB: 20 units; web's has no datapoint at all
        world.publish_request_count(aws, LOAD_BALANCER, START + timedelta(minutes=minute), 60_000)
    aws.run_until(NOW)
    return stack.table_name


def _status(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["status", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_status_says_what_the_loop_would_decide_now_and_why(aws: LocalAws) -> None:
    _busy_api(aws)
    status = _status()
    api, web = status["targets"]

    assert (api["desired_units"], api["surge_wants_units"], api["reason"]) == (2, 20, "scale_out")
    assert api["demand_rps"] == 1000.0
    assert api["demand_source"] == "alb_request_count"
    assert api["demand_age_seconds"] == 60, "11:03's minute ended at 11:04, read at 11:05"
    assert api["explanation"].startswith("scale out 2 -> 20")
    # No datapoint for web: no demand is claimed, and it stays at its 2 units (min_units).
    assert (web["surge_wants_units"], web["demand_rps"], web["demand_age_seconds"]) == (2, None, None)
    assert status["loop"] == {
        "lease_owner": None,
        "last_iteration_at": None,
        "last_iteration_age_seconds": None,
        "last_iteration_execution": None,
        "executions_failed_last_hour": {
            "count": 0,
            "source": "log group /aws/vendedlogs/states/surge-scaler (no AWS/States datapoint)",
        },
    }, "no execution ran"


def test_status_shows_holds_events_in_their_own_zone_and_a_pause(aws: LocalAws) -> None:
    table = _busy_api(aws)
    hold = Hold(
        push_id="post-8812",
        units=30,
        sized_for_rps=1500.0,
        started_at=NOW - timedelta(minutes=1),
        min_until=NOW + timedelta(minutes=9),
        max_until=NOW + timedelta(minutes=29),
        audience=100_000,
    )
    store.put_hold(table, "api", hold)
    concert = CalendarEvent(
        entry_id="concert",
        name="concert",
        start_at=NOW + timedelta(hours=2),
        end_at=NOW + timedelta(hours=4),
        units=40,
        lead_seconds=900,
        time_zone="Asia/Seoul",
    )
    store.put_calendar_event(table, "api", concert)
    store.put_pause(table, "web", Pause(paused_at=NOW, paused_by="arn:aws:sts::123456789012:user/ops", reason="drill"))

    api, web = _status()["targets"]

    assert api["surge_wants_units"] == 30
    assert api["winner"] == "push"
    assert [h["push_id"] for h in api["holds"]] == ["post-8812"]
    assert api["calendar_next"]["start"] == "2026-01-21 22:05 Asia/Seoul"
    assert api["calendar_next"]["start_utc"] == "2026-01-21T13:05:00Z"
    assert api["calendar_next"]["prescale_from_utc"] == "2026-01-21T12:50:00Z"
    assert web["paused"]["reason"] == "drill"
    assert web["reason"] == "paused"

    text = runner.invoke(app, ["status", "--target", "api"])
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[1] == (
        "loop: no iteration logged in the last 10 minutes; executions failed in the last hour: 0 "
        "(from log group /aws/vendedlogs/states/surge-scaler (no AWS/States datapoint))"
    )
    assert lines[2].startswith("api (ecs): desired 2, running ")
    assert f"Surge wants 30 [{api['reason']}, push]" in lines[2]
    assert any(line.startswith("  hold post-8812: 30 units until at least 2026-01-21T11:14:00Z") for line in lines)
    assert any("next event: concert 2026-01-21 22:05 Asia/Seoul (2026-01-21T13:05:00Z)" in line for line in lines)


def test_status_of_an_unknown_target_is_one_line_and_exit_2(aws: LocalAws) -> None:
    _busy_api(aws)
    result = runner.invoke(app, ["status", "--target", "nope"])
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert "nope" in result.stderr


def test_a_dry_run_target_is_shown_on_its_shadow_count_as_the_loop_decides_it(aws: LocalAws) -> None:
    stack = deploy(aws, ecs_target("api", dry_run=True))
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    for minute in range(4):
        world.publish_request_count(aws, LOAD_BALANCER, START + timedelta(minutes=minute), 60_000)
    aws.run_until(NOW)
    state = store.read_target_items(stack.table_name, "api").state
    store.put_target_state(
        stack.table_name, "api", state.model_copy(update={"shadow": ShadowCapacity(desired_units=20)})
    )

    (api,) = _status()["targets"]

    assert api["dry_run"] is True
    assert (api["desired_units"], api["dry_run_shadow_units"]) == (20, 20), "the count Surge would have set"
    assert (api["surge_wants_units"], api["action"]) == (20, "steady"), "already at 20 in the shadow world"


# ------------------------------------------------------------------ the loop's health, from its log group
def _held_loop(aws: LocalAws) -> tuple[str, str]:
    """A hold above the demand keeps 20 units in one EXPRESS execution (11:00-11:00:55, its events delivered to
    the scaler's log group); then a broken operator document fails the 11:01 execution with CannotStartLoop."""
    stack = deploy(aws, ecs_target("api"), express_logs=True)
    world.create_ecs_service(aws, "prod", "api", desired_units=20)
    loop = Loop(aws, stack, lambda minute: 100.0)  # 2 units' worth
    loop.publish_history()
    hold = Hold(
        push_id="post-1",
        units=10,
        sized_for_rps=500.0,
        started_at=START,
        min_until=START + timedelta(minutes=10),
        max_until=START + timedelta(minutes=30),
        audience=50_000,
    )
    store.put_hold(stack.table_name, "api", hold)
    loop.start_execution()
    assert aws.wait_for(loop.executions[0], timeout_sim_seconds=120)["status"] == "SUCCEEDED"
    aws.run_until(START + timedelta(minutes=1))
    broken = json.dumps({"version": 1, "targets": [{"id": "x"}]})
    aws.client("ssm").put_parameter(Name=stack.operator_config_parameter, Value=broken, Type="String")
    failed = aws.start_execution(stack.scaler_arn, {"budget_seconds": 55})
    assert aws.wait_for(failed, timeout_sim_seconds=30)["error"] == "CannotStartLoop"
    aws.client("ssm").delete_parameter(Name=stack.operator_config_parameter)
    aws.run_until(START + timedelta(minutes=2))
    return loop.executions[0], failed


@pytest.mark.statemachine
def test_decisions_and_status_read_the_loops_no_change_decisions_from_its_log_group(aws: LocalAws) -> None:
    held, failed = _held_loop(aws)

    result = runner.invoke(app, ["decisions", "--json", "--target", "api", "--since", "1h"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 11, "one decision per iteration of the 55 s execution at a 5 s interval"
    assert {row["execution_arn"] for row in rows} == {held}
    assert {(row["action"], row["reason"], row["current_desired_units"], row["desired_units"]) for row in rows} == {
        ("steady", "hold_active", 20, 20)
    }, "every decision changed nothing, and says why"
    assert rows[0]["explanation"].startswith("holding 20 units: push hold post-1 is active")
    assert world.ecs_desired(aws, "prod", "api") == 20

    text = runner.invoke(app, ["decisions"]).stdout.splitlines()
    assert text[0] == (
        "2026-01-21T11:00:00Z api loop: steady 20 -> 20 [hold_active]: holding 20 units: push hold post-1 is "
        "active (its response has not passed its peak)"
    )

    loop = _status()["loop"]
    assert loop["last_iteration_at"] == rows[-1]["at"] == "2026-01-21T11:00:50Z"
    assert loop["last_iteration_age_seconds"] == 70, "read at 11:02:00"
    assert loop["last_iteration_execution"] == held
    assert loop["executions_failed_last_hour"] == {
        "count": 1,
        "source": "log group /aws/vendedlogs/states/surge-scaler (no AWS/States datapoint)",
    }, failed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "nope"], "error: --target: unknown target 'nope'; known targets: api"),
        (["--since", "yesterday"], "error: --since: 'yesterday' is neither a duration (30m, 2h, 1d) nor ISO 8601"),
        (["--stack", "nope"], "error: stack: no CloudFormation stack 'nope'"),
    ],
)
def test_decisions_bad_input_is_one_line_and_exit_2(aws: LocalAws, args: list[str], message: str) -> None:
    deploy(aws, ecs_target("api"))
    result = runner.invoke(app, ["decisions", *args])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(message), line


def test_status_watch_redraws_every_interval(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    _busy_api(aws)
    waits: list[float] = []
    monkeypatch.setattr(status_cli, "_sleep", waits.append)

    result = runner.invoke(app, ["status", "--watch", "5", "--watch-count", "3"])

    assert result.exit_code == 0, result.output
    assert sum(line.startswith("at ") for line in result.stdout.splitlines()) == 3
    assert waits == [5, 5]
    refused = runner.invoke(app, ["status", "--watch", "0"])
    assert refused.exit_code == 2
    assert "--watch" in refused.output
