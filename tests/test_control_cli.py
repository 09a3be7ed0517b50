"""`surge pause`, `resume`, `paused`, `hold list` and `hold release` against a locally deployed stack."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from scaler_support import LOAD_BALANCER, START, deploy, ecs_target
from surge.adapters import store
from surge.core.signals import Hold, Pause
from surge_cli import world
from surge_cli.localaws import LocalAws
from surge_cli.main import app
from surge_cli.stack import LocalStack
from test_ops_cli import no_aws_setup  # noqa: F401 (a fixture)

runner = CliRunner()
CALLER = "arn:aws:sts::123456789012:user/moto"
"""What moto's STS GetCallerIdentity answers."""


@pytest.fixture
def stack(aws: LocalAws) -> LocalStack:
    return deploy(aws, ecs_target("api"), ecs_target("web", load_balancer="app/web-alb/73e2d6bc24d8a067"))


def where(stack: LocalStack) -> list[str]:
    return ["--table", stack.table_name, "--config-parameter", stack.config_parameter]


def run(stack: LocalStack, *args: str) -> Result:
    return runner.invoke(app, [*args, *where(stack)])


def pauses(stack: LocalStack) -> dict[str, Pause | None]:
    return {t: store.read_target_items(stack.table_name, t).pause for t in ("api", "web")}


def one_error_line(result: Result) -> str:
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in result.output
    return lines[0]


# ------------------------------------------------------------------------------------------ pause


def test_pause_one_target_records_who_when_and_why_and_resume_removes_it(stack: LocalStack) -> None:
    paused = run(stack, "pause", "--target", "api", "--reason", "deploy in progress")
    assert paused.exit_code == 0, paused.output
    assert paused.stdout == (
        f"api: paused since 2026-01-21T11:00:00Z by {CALLER} (deploy in progress). It is still read and decided; "
        "nothing changes its capacity until `surge resume --target api`.\n"
    )
    assert pauses(stack) == {
        "api": Pause(paused_at=START, paused_by=CALLER, reason="deploy in progress"),
        "web": None,
    }
    status = run(stack, "paused")
    assert status.stdout.splitlines() == [
        f"api: paused since 2026-01-21T11:00:00Z by {CALLER} (deploy in progress)",
        "web: not paused",
    ]
    as_json = json.loads(run(stack, "paused", "--json").stdout)
    assert as_json == [
        {
            "target_id": "api",
            "paused": True,
            "paused_at": "2026-01-21T11:00:00Z",
            "paused_by": CALLER,
            "reason": "deploy in progress",
        },
        {"target_id": "web", "paused": False},
    ]

    resumed = run(stack, "resume", "--target", "api")
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout == (
        f"api: resumed (was paused since 2026-01-21T11:00:00Z by {CALLER} (deploy in progress)); it acts again at "
        "the next iteration (within 5 s)\n"
    )
    assert pauses(stack) == {"api": None, "web": None}
    again = run(stack, "resume", "--target", "api")
    assert (again.exit_code, again.stdout) == (0, "api: was not paused; nothing to do\n")


def test_pause_and_resume_without_a_target_take_every_target(aws: LocalAws, stack: LocalStack) -> None:
    assert run(stack, "pause").exit_code == 0
    assert all(p is not None and p.reason is None for p in pauses(stack).values())
    aws.run_until(START + timedelta(minutes=5))
    repeated = run(stack, "pause", "--reason", "again")
    assert repeated.stdout.splitlines() == [
        f"api: already paused since 2026-01-21T11:00:00Z by {CALLER}; unchanged",
        f"web: already paused since 2026-01-21T11:00:00Z by {CALLER}; unchanged",
    ]
    assert {p.paused_at for p in pauses(stack).values() if p} == {START}, "the first pause is kept"
    assert run(stack, "resume").exit_code == 0
    assert pauses(stack) == {"api": None, "web": None}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["pause", "--target", "nope"], "error: --target: unknown target 'nope'; known targets: api, web"),
        (["resume", "--target", "nope"], "error: --target: unknown target 'nope'; known targets: api, web"),
        (["pause", "--reason", ""], "error: --reason: 0 characters; allowed: 1-512 characters on one line"),
        (["pause", "--reason", "x" * 513], "error: --reason: 513 characters; allowed: 1-512 characters on one line"),
        (
            ["pause", "--reason", "two\nlines"],
            "error: --reason: 9 characters with a line break; allowed: 1-512 characters on one line",
        ),
    ],
    ids=["pause-unknown-target", "resume-unknown-target", "empty-reason", "long-reason", "two-line-reason"],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(stack: LocalStack, args: list[str], expected: str) -> None:
    store.put_pause(stack.table_name, "web", Pause(paused_at=START, paused_by="someone"))
    result = run(stack, *args)
    assert result.exit_code == 2
    assert one_error_line(result) == expected
    assert pauses(stack) == {"api": None, "web": Pause(paused_at=START, paused_by="someone")}


def test_the_table_and_config_come_from_the_stacks_outputs(stack: LocalStack) -> None:
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "SurgeTableName": {"Value": stack.table_name},
            "ConfigParameterName": {"Value": stack.config_parameter},
        },
    }
    stack.aws.client("cloudformation").create_stack(StackName="surge-prod", TemplateBody=json.dumps(template))
    assert runner.invoke(app, ["pause", "--target", "web", "--stack", "surge-prod"]).exit_code == 0
    assert pauses(stack)["web"] is not None
    unknown = runner.invoke(app, ["pause", "--target", "web", "--stack", "no-such-stack"])
    assert unknown.exit_code == 2
    assert one_error_line(unknown).startswith("error: stack: no CloudFormation stack 'no-such-stack'")


def test_aws_side_failures_are_one_line_exit_1(stack: LocalStack) -> None:
    missing_table = runner.invoke(
        app, ["pause", "--table", "no-such-table", "--config-parameter", stack.config_parameter]
    )
    assert missing_table.exit_code == 1
    assert one_error_line(missing_table).startswith("error: AWS PutItem: ResourceNotFoundException")
    missing_config = runner.invoke(app, ["hold", "list", "--table", stack.table_name, "--config-parameter", "/x"])
    assert missing_config.exit_code == 1
    assert one_error_line(missing_config).startswith("error: AWS GetParameter: ParameterNotFound")
    stack.aws.client("ssm").put_parameter(Name="/bad", Value='{"targets": []}', Type="String")
    bad_config = runner.invoke(app, ["resume", "--table", stack.table_name, "--config-parameter", "/bad"])
    assert bad_config.exit_code == 1
    assert one_error_line(bad_config).startswith("error: the config document cannot be read: SSM parameter /bad")
    unreadable = runner.invoke(
        app, ["paused", "--table", "no-such-table", "--config-parameter", stack.config_parameter]
    )
    assert unreadable.exit_code == 1
    assert one_error_line(unreadable).startswith(
        "error: cannot read the items of target 'api': ResourceNotFoundException"
    )


@pytest.mark.parametrize(
    "args",
    [["pause"], ["resume"], ["paused"], ["hold", "list"], ["hold", "release", "post-1"]],
    ids=["pause", "resume", "paused", "hold-list", "hold-release"],
)
def test_without_a_region_every_control_command_says_so_in_one_line(
    no_aws_setup: pytest.MonkeyPatch,  # noqa: F811
    args: list[str],
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert one_error_line(result) == (
        "error: no AWS region: set AWS_DEFAULT_REGION (boto3 ignores AWS_REGION), or a region in ~/.aws/config"
    )


# ------------------------------------------------------------------------------------------ holds


def hold(push_id: str, *, started: timedelta, units: int = 26, minutes: tuple[int, int] = (10, 30)) -> Hold:
    """A push hold sized as the fast path does: 300 rps at the push + 100,000 notified x 0.01 rps each."""
    return Hold(
        push_id=push_id,
        units=units,
        sized_for_rps=1_300.0,
        baseline_rps=300.0,
        started_at=START + started,
        min_until=START + started + timedelta(minutes=minutes[0]),
        max_until=START + started + timedelta(minutes=minutes[1]),
        audience=100_000,
    )


@pytest.fixture
def holds(aws: LocalAws, stack: LocalStack) -> LocalStack:
    """Three holds on api (active; past its minimum with quiet traffic; over) and one on web (before its minimum).
    api's ALB shows 100 rps for the last 15 minutes: below half of the 1,300 rps it was sized for."""
    for minutes_ago in range(1, 16):
        world.publish_request_count(aws, LOAD_BALANCER, START - timedelta(minutes=minutes_ago), 100.0 * 60)
    store.put_hold(stack.table_name, "api", hold("post-now", started=timedelta(minutes=-2)))
    store.put_hold(stack.table_name, "api", hold("post-quiet", started=timedelta(minutes=-15)))
    store.put_hold(stack.table_name, "api", hold("post-old", started=timedelta(minutes=-40)))
    store.put_hold(stack.table_name, "web", hold("post-now", started=timedelta(minutes=-2), units=30))
    return stack


def test_hold_list_shows_every_hold_how_it_was_sized_and_whether_it_counts_now(holds: LocalStack) -> None:
    result = run(holds, "hold", "list")
    assert result.exit_code == 0, result.output
    sized = (
        "sized: 300 rps at the push + 100,000 notified x 0.01 rps each = 1,300 rps -> 26 units "
        "(never below the count then, within min/max)"
    )
    assert result.stdout.splitlines() == [
        "api  post-old  26 units  ended  started 2026-01-21T10:20:00Z  min_until 2026-01-21T10:30:00Z  "
        f"max_until 2026-01-21T10:50:00Z  audience 100,000  {sized}",
        "api  post-quiet  26 units  subsided  started 2026-01-21T10:45:00Z  min_until 2026-01-21T10:55:00Z  "
        f"max_until 2026-01-21T11:15:00Z  audience 100,000  {sized}",
        "api  post-now  26 units  active  started 2026-01-21T10:58:00Z  min_until 2026-01-21T11:08:00Z  "
        f"max_until 2026-01-21T11:28:00Z  audience 100,000  {sized}",
        "web  post-now  30 units  active  started 2026-01-21T10:58:00Z  min_until 2026-01-21T11:08:00Z  "
        f"max_until 2026-01-21T11:28:00Z  audience 100,000  {sized.replace('26 units', '30 units')}",
    ]
    rows = json.loads(run(holds, "hold", "list", "--target", "api", "--json").stdout)
    assert [(r["push_id"], r["status"], r["active"]) for r in rows] == [
        ("post-old", "ended", False),
        ("post-quiet", "subsided", False),
        ("post-now", "active", True),
    ]
    assert rows[2] == {
        "push_id": "post-now",
        "target_id": "api",
        "units": 26,
        "sized_for_rps": 1300.0,
        "baseline_rps": 300.0,
        "audience": 100_000,
        "started_at": "2026-01-21T10:58:00Z",
        "min_until": "2026-01-21T11:08:00Z",
        "max_until": "2026-01-21T11:28:00Z",
        "status": "active",
        "active": True,
        "sizing": sized.removeprefix("sized: "),
        "released_at": None,
        "released_by": None,
        "calibrated": False,
    }
    unknown = run(holds, "hold", "list", "--target", "nope")
    assert unknown.exit_code == 2
    assert one_error_line(unknown) == "error: --target: unknown target 'nope'; known targets: api, web"


def test_hold_list_says_when_there_is_none(stack: LocalStack) -> None:
    result = run(stack, "hold", "list")
    assert (result.exit_code, result.stdout) == (0, "no push holds\n")
    assert json.loads(run(stack, "hold", "list", "--json").stdout) == []


def test_hold_release_marks_the_hold_released_with_who_and_when_and_it_stops_counting(holds: LocalStack) -> None:
    result = run(holds, "hold", "release", "post-now", "--target", "api")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"api: released hold post-now (26 units, sized for 1,300 rps) at 2026-01-21T11:00:00Z by {CALLER}. It no "
        "longer counts: the loop scales in after its 120 s cooldown, at most 5 units every 30 s, never below what "
        "the demand needs.\n"
    )
    released = {h.push_id: h for h in store.read_target_items(holds.table_name, "api").holds}["post-now"]
    assert (released.released_at, released.released_by) == (START, CALLER)
    assert released.model_copy(update={"released_at": None, "released_by": None}) == hold(
        "post-now", started=timedelta(minutes=-2)
    ), "nothing else about the hold changed"
    (web,) = store.read_target_items(holds.table_name, "web").holds
    assert web.released_at is None, "--target api released only api's hold"
    rows = json.loads(run(holds, "hold", "list", "--target", "api", "--json").stdout)
    assert [(r["push_id"], r["status"], r["released_by"]) for r in rows][-1] == ("post-now", "released", CALLER)
    listed = run(holds, "hold", "list", "--target", "api").stdout.splitlines()[-1]
    assert f"released (released 2026-01-21T11:00:00Z by {CALLER})" in listed

    again = run(holds, "hold", "release", "post-now", "--target", "api")
    assert (again.exit_code, again.stdout) == (
        0,
        f"api: hold post-now already released 2026-01-21T11:00:00Z by {CALLER}\n",
    )


def test_hold_release_without_a_target_releases_the_push_on_every_target_that_has_it(holds: LocalStack) -> None:
    result = run(holds, "hold", "release", "post-now")
    assert result.exit_code == 0, result.output
    assert [line.split(" (")[0] for line in result.stdout.splitlines()] == [
        "api: released hold post-now",
        "web: released hold post-now",
    ]
    assert all(
        h.released_at == START
        for t in ("api", "web")
        for h in store.read_target_items(holds.table_name, t).holds
        if h.push_id == "post-now"
    )


def test_hold_release_of_an_ended_hold_changes_nothing(holds: LocalStack) -> None:
    result = run(holds, "hold", "release", "post-old")
    assert (result.exit_code, result.stdout) == (
        0,
        "api: hold post-old already ended at 2026-01-21T10:50:00Z; nothing to release\n",
    )
    old = {h.push_id: h for h in store.read_target_items(holds.table_name, "api").holds}["post-old"]
    assert old.released_at is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["hold", "release", "post-unknown"],
            "error: PUSH_ID: no hold 'post-unknown' on target api, web (see `surge hold list`); nothing changed",
        ),
        (
            ["hold", "release", "post-now", "--target", "nope"],
            "error: --target: unknown target 'nope'; known targets: api, web",
        ),
        (
            ["hold", "release", "post-old", "--target", "web"],
            "error: PUSH_ID: no hold 'post-old' on target web (see `surge hold list`); nothing changed",
        ),
        (["hold", "release", "x" * 129], "error: PUSH_ID: 129 characters; allowed: 1-128 (as `surge hold list` shows)"),
    ],
    ids=["unknown-id", "unknown-target", "not-on-that-target", "too-long"],
)
def test_hold_release_of_an_unknown_push_changes_nothing_and_says_so(
    holds: LocalStack, args: list[str], expected: str
) -> None:
    before = {t: store.read_target_items(holds.table_name, t).holds for t in ("api", "web")}
    result = run(holds, *args)
    assert result.exit_code == 2
    assert one_error_line(result) == expected
    assert {t: store.read_target_items(holds.table_name, t).holds for t in ("api", "web")} == before


def test_a_hold_changed_between_the_read_and_the_release_is_read_again_and_keeps_the_change(
    holds: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fast path's calibration rewrites a hold item (calibrated=True): the release is conditional on the item
    # read, so a rewrite in between is not lost.
    original = store.release_hold
    calls: list[int] = []

    def calibrate_first(table: str, target_id: str, read: Hold, doc: str, *args: object) -> Hold:
        if not calls:
            store.put_hold(table, target_id, read.model_copy(update={"calibrated": True}))
        calls.append(1)
        return original(table, target_id, read, doc, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "release_hold", calibrate_first)
    result = run(holds, "hold", "release", "post-now", "--target", "api")
    assert result.exit_code == 0, result.output
    assert len(calls) == 2
    now = {h.push_id: h for h in store.read_target_items(holds.table_name, "api").holds}["post-now"]
    assert (now.calibrated, now.released_at) == (True, START)


def test_an_unreleased_hold_is_stored_as_before_releases_existed(holds: LocalStack) -> None:
    # An earlier version of Surge (after a rollback) reads hold items with `extra="forbid"`.
    item = holds.aws.client("dynamodb").get_item(
        TableName=holds.table_name, Key={"pk": {"S": "TARGET#api"}, "sk": {"S": "HOLD#post-now"}}
    )["Item"]
    assert set(json.loads(item["doc"]["S"])) == {
        "push_id",
        "units",
        "sized_for_rps",
        "baseline_rps",
        "started_at",
        "min_until",
        "max_until",
        "audience",
        "calibrated",
    }


def test_a_target_added_by_config_apply_can_be_paused_by_stack(aws: LocalAws, tmp_path: Path) -> None:
    deploy(aws, ecs_target("api"))
    added = {"targets": [ecs_target("shop", load_balancer="app/shop-alb/73e2d6bc24d8a067").model_dump(mode="json")]}
    (tmp_path / "operator.json").write_text(json.dumps(added))
    assert runner.invoke(app, ["config", "apply", str(tmp_path / "operator.json")]).exit_code == 0

    result = runner.invoke(app, ["pause", "--stack", "surge", "--target", "shop"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("shop: paused since")
