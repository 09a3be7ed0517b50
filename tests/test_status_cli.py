"""`surge status` against a locally deployed stack: what the loop would decide now, and the signals behind it."""

from __future__ import annotations

import json
from datetime import timedelta

from typer.testing import CliRunner

from scaler_support import LOAD_BALANCER, START, deploy, ecs_target
from surge.adapters import store
from surge.core.signals import CalendarEvent, Hold, Pause, ShadowCapacity
from surge_cli import world
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
    assert status["loop"] == {"lease_owner": None}


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
    assert lines[1].startswith("api (ecs): desired 2, running ")
    assert f"Surge wants 30 [{api['reason']}, push]" in lines[1]
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
