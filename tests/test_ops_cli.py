"""`surge push` and `surge journal` against a local stack."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaler_support import START, deploy, ecs_target
from surge.adapters import store
from surge.core.errors import InvalidInputError
from surge_cli.localaws import LocalAws
from surge_cli.main import app
from surge_cli.ops_cli import parse_since
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


def test_push_puts_a_valid_pushsent_event_on_the_bus(aws: LocalAws) -> None:
    stack = deploy(aws, ecs_target())
    archive = aws.client("sqs").create_queue(QueueName="seen")["QueueUrl"]
    arn = aws.client("sqs").get_queue_attributes(QueueUrl=archive, AttributeNames=["QueueArn"])["Attributes"]
    events = aws.client("events")
    events.put_rule(Name="all", EventBusName=stack.bus_name, EventPattern=json.dumps({"detail-type": ["PushSent"]}))
    events.put_targets(Rule="all", EventBusName=stack.bus_name, Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])

    result = runner.invoke(app, ["push", "--audience", "3000000", "--id", "post-8812", "--bus", stack.bus_name])

    assert result.exit_code == 0, result.output
    assert "PushSent post-8812 (3,000,000 notified)" in result.output
    (message,) = aws.client("sqs").receive_message(QueueUrl=archive)["Messages"]
    detail = json.loads(message["Body"])["detail"]
    assert (detail["push_id"], detail["audience"]) == ("post-8812", 3_000_000)


def test_push_with_a_bad_audience_exits_2_naming_the_field_and_sends_nothing() -> None:
    result = runner.invoke(app, ["push", "--audience", "-5", "--id", "post-1", "--bus", "surge-bus"])
    assert result.exit_code == 2
    assert "audience: Input should be greater than or equal to 1 (got: -5); allowed: 1 <= value <= 10000000000" in (
        result.stderr
    )


def test_journal_lists_the_changes_since(aws: LocalAws) -> None:
    stack = deploy(aws, ecs_target())
    store.put_journal_entry(stack.table_name, change(20, 47, at=START - timedelta(minutes=1)))  # the clock is START
    store.put_journal_entry(stack.table_name, change(47, 40, at=START - timedelta(hours=3)))

    result = runner.invoke(app, ["journal", "--since", "2h", "--table", stack.table_name], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "20 -> 47" in result.output
    assert "47 -> 40" not in result.output


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
        ["graph", "--execution", "arn:aws:states:us-east-1:123456789012:execution:surge:x", "--out", "x.png"],
    ],
    ids=["push", "redrive", "journal", "graph"],
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
    result = runner.invoke(app, ["push", "--audience", "5", "--id", "p-1", "--bus", "surge-bus"])
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith("error: no AWS credentials: set AWS_PROFILE")
    assert "Traceback" not in result.output
