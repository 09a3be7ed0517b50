"""`surge push` and `surge journal` against a local stack (found by its CloudFormation outputs, as on AWS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scaler_support import START, deploy, ecs_target
from surge.adapters import store
from surge.core.errors import InvalidInputError
from surge.core.plan import AppliedChange
from surge_cli.localaws import LocalAws
from surge_cli.main import app
from surge_cli.ops_cli import parse_since
from surge_cli.stack import LocalStack
from test_notifications import change

runner = CliRunner()
NOW = datetime(2026, 1, 21, 12, 0, tzinfo=UTC)


def test_since_takes_durations_and_aware_instants() -> None:
    assert parse_since("90m", NOW) == NOW - timedelta(minutes=90)
    assert parse_since("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_since("1d", NOW) == NOW - timedelta(days=1)
    assert parse_since("2026-01-21T20:00:00+09:00", NOW) == datetime(2026, 1, 21, 11, 0, tzinfo=UTC)
    with pytest.raises(InvalidInputError, match=r"^--since: '2026-01-21T20:00' needs a UTC offset"):
        parse_since("2026-01-21T20:00", NOW)
    with pytest.raises(InvalidInputError, match=r"^--since: 'yesterday' is neither a duration"):
        parse_since("yesterday", NOW)


def archive(aws: LocalAws, stack: LocalStack) -> str:
    """An SQS queue that receives every PushSent event put on the stack's bus, whatever its source."""
    queue = aws.client("sqs").create_queue(QueueName="seen")["QueueUrl"]
    arn = aws.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    events = aws.client("events")
    events.put_rule(Name="all", EventBusName=stack.bus_name, EventPattern=json.dumps({"detail-type": ["PushSent"]}))
    events.put_targets(Rule="all", EventBusName=stack.bus_name, Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    return str(queue)


def archived(aws: LocalAws, queue: str) -> list[dict[str, Any]]:
    messages = aws.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_push_puts_a_valid_pushsent_event_on_the_stacks_bus_with_its_source(aws: LocalAws) -> None:
    stack = deploy(aws, ecs_target(), parameters={"PushEventSource": "com.acme.push"})
    seen = archive(aws, stack)

    result = runner.invoke(app, ["push", "--audience", "3000000", "--id", "post-8812", "--target", "api"])

    assert result.exit_code == 0, result.output
    assert "PushSent post-8812 (3,000,000 notified) put on surge-bus" in result.output
    (event,) = archived(aws, seen)
    assert event["source"] == "com.acme.push", "the source the stack's rule admits, from its outputs"
    detail = event["detail"]
    assert (detail["push_id"], detail["audience"], detail["target_id"]) == ("post-8812", 3_000_000, "api")
    # ... which the template's rule matches: the fast path starts.
    assert len(stack.deliver_events()) == 1


def test_push_for_a_target_the_stack_does_not_know_exits_2_listing_them_and_sends_nothing(aws: LocalAws) -> None:
    stack = deploy(aws, ecs_target("api"), ecs_target("web"))
    seen = archive(aws, stack)

    result = runner.invoke(app, ["push", "--audience", "5", "--id", "post-1", "--target", "nope"])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["error: --target: unknown target 'nope'; known targets: api, web"]
    assert archived(aws, seen) == []
    assert stack.deliver_events() == []


def test_push_with_a_bad_audience_exits_2_naming_the_field_and_sends_nothing() -> None:
    result = runner.invoke(app, ["push", "--audience", "-5", "--id", "post-1", "--stack", "never-asked"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: audience: Input should be greater than or equal to 1 (got: -5); allowed: 1 <= value <= 10000000000"
    ]


def test_journal_lists_the_changes_since(aws: LocalAws) -> None:
    stack = deploy(aws, ecs_target())
    store.put_journal_entry(stack.table_name, change(20, 47, at=START - timedelta(minutes=1)))  # the clock is START
    store.put_journal_entry(stack.table_name, change(47, 40, at=START - timedelta(hours=3)))

    result = runner.invoke(app, ["journal", "--since", "2h"])

    assert result.exit_code == 0, result.output
    assert "20 -> 47" in result.output
    assert "47 -> 40" not in result.output


def long_change(from_units: int, to_units: int, *, at: datetime, target: str = "api") -> AppliedChange:
    entry = change(from_units, to_units, at=at, target=target)
    explanation = f"{entry.decision.explanation}: " + "the demand needs every one of these units " * 6 + "(end)"
    return entry.model_copy(update={"decision": entry.decision.model_copy(update={"explanation": explanation})})


def test_journal_to_a_file_keeps_every_column_in_full(aws: LocalAws) -> None:
    stack = deploy(aws, ecs_target())
    entry = long_change(20, 47, at=START - timedelta(minutes=1))
    store.put_journal_entry(stack.table_name, entry)

    result = runner.invoke(app, ["journal", "--since", "2h"])  # CliRunner's stdout is not a terminal

    assert result.exit_code == 0, result.output
    assert len(entry.decision.explanation) > 200
    (row,) = [line for line in result.stdout.splitlines() if "20 -> 47" in line]
    assert entry.decision.explanation in row, "one line, nothing cut or wrapped"


def test_journal_json_lines_for_one_target(aws: LocalAws) -> None:
    stack = deploy(aws, ecs_target("api"), ecs_target("web"))
    for entry in (
        change(2, 8, at=START - timedelta(minutes=3), target="api"),
        change(2, 9, at=START - timedelta(minutes=2), target="web"),
        change(8, 6, at=START - timedelta(minutes=1), target="api"),
    ):
        store.put_journal_entry(stack.table_name, entry)

    result = runner.invoke(app, ["journal", "--since", "1h", "--target", "api", "--json"])

    assert result.exit_code == 0, result.output
    lines = [AppliedChange.model_validate_json(line) for line in result.stdout.splitlines()]
    assert [(e.target_id, e.from_units, e.to_units) for e in lines] == [("api", 2, 8), ("api", 8, 6)]
    everything = runner.invoke(app, ["journal", "--since", "1h", "--json"])
    assert [json.loads(line)["target_id"] for line in everything.stdout.splitlines()] == ["api", "web", "api"]


def test_journal_for_an_unknown_target_exits_2_and_a_removed_one_still_shows(aws: LocalAws) -> None:
    stack = deploy(aws, ecs_target("api"))
    store.put_journal_entry(stack.table_name, change(2, 8, at=START - timedelta(minutes=3), target="old"))

    unknown = runner.invoke(app, ["journal", "--target", "nope"])
    assert unknown.exit_code == 2
    assert unknown.stderr.splitlines() == ["error: --target: unknown target 'nope'; known targets: api, old"]
    assert unknown.stdout == ""

    removed = runner.invoke(app, ["journal", "--target", "old", "--json"])
    assert removed.exit_code == 0, removed.output
    assert [json.loads(line)["target_id"] for line in removed.stdout.splitlines()] == ["old"]


@pytest.fixture
def no_aws_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A machine with no region and no credentials configured (and no instance metadata to ask)."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.mark.parametrize(
    "args",
    [
        ["push", "--audience", "5", "--id", "p-1"],
        ["push", "redrive"],
        ["journal"],
        ["config", "show"],
        ["config", "reset"],
        ["status"],
        ["graph", "--execution", "arn:aws:states:us-east-1:123456789012:execution:surge:x", "--out", "x.png"],
    ],
    ids=["push", "redrive", "journal", "config-show", "config-reset", "status", "graph"],
)
def test_without_a_region_every_command_says_so_in_one_line(no_aws_setup: pytest.MonkeyPatch, args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        "error: no AWS region: set AWS_DEFAULT_REGION (boto3 ignores AWS_REGION), or a region in ~/.aws/config"
    ]


def test_aws_region_alone_is_no_region_for_boto3_and_the_line_says_which_to_set(
    no_aws_setup: pytest.MonkeyPatch,
) -> None:
    no_aws_setup.setenv("AWS_REGION", "eu-west-1")
    result = runner.invoke(app, ["journal"])
    assert result.exit_code == 2, result.output
    assert "set AWS_DEFAULT_REGION (boto3 ignores AWS_REGION)" in result.output


def test_without_credentials_push_says_so_in_one_line(no_aws_setup: pytest.MonkeyPatch) -> None:
    no_aws_setup.setenv("AWS_DEFAULT_REGION", "us-east-1")
    result = runner.invoke(app, ["push", "--audience", "5", "--id", "p-1"])
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith("error: no AWS credentials: set AWS_PROFILE")
    assert "Traceback" not in result.output
