"""The checks that guard what no test run would notice: clients made outside the recorded getters, and template
resources or policies that leave AWS to pick a default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from surge_cli.stack import Template

ROOT = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).parent / "ruff"
A_HANDLER_MAKING_ITS_OWN_CLIENT = 'import boto3\n\n\ndef f() -> None:\n    boto3.client("ecs").describe_clusters()\n'


def _ruff(source: str, as_file: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RUFF), "check", "--no-cache", "--stdin-filename", as_file, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize(
    "as_file",
    ["functions/surge/adapters/capacity.py", "functions/surge/steps.py", "functions/surge/handlers/probe.py"],
)
def test_a_boto3_client_made_outside_the_cached_getters_fails_lint(as_file: str) -> None:
    # tests/test_deploy.py derives IAM from the calls recorded through surge.adapters.clients: a client made
    # anywhere else in what Lambda runs would be invisible to it (and get AccessDenied on AWS).
    found = _ruff(A_HANDLER_MAKING_ITS_OWN_CLIENT, as_file)
    assert found.returncode != 0
    assert "TID251" in found.stdout


def test_the_cached_getters_and_the_cli_may_make_clients() -> None:
    for allowed in ("functions/surge/adapters/clients.py", "cli/surge_cli/probe.py"):
        assert _ruff(A_HANDLER_MAKING_ITS_OWN_CLIENT, allowed).returncode == 0, allowed


def _statement_holders(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if "Statement" in node:
            found.append((path, node))
        for key, value in node.items():
            found += _statement_holders(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _statement_holders(value, f"{path}[{index}]")
    return found


def test_every_policy_document_in_the_template_states_its_version() -> None:
    resources = Template.load().resources
    holders = [
        (f"{name}{path}", doc)
        for name, resource in resources.items()
        if resource["Type"] != "AWS::Events::EventBusPolicy"  # a single statement, not a policy document
        for path, doc in _statement_holders(resource.get("Properties", {}))
    ]
    assert len(holders) >= 10
    missing = [where for where, doc in holders if doc.get("Version") != "2012-10-17"]
    assert missing == []


STATEFUL = ("AWS::SQS::Queue", "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::DynamoDB::Table")


def test_every_resource_that_holds_data_says_what_happens_to_it_on_delete_and_replace() -> None:
    resources = Template.load().resources
    stateful = {name: r for name, r in resources.items() if r["Type"] in STATEFUL}
    assert len(stateful) >= 10
    undecided = [name for name, r in stateful.items() if "DeletionPolicy" not in r or "UpdateReplacePolicy" not in r]
    assert undecided == []
    assert stateful["PushDeadLetterQueue"]["DeletionPolicy"] == "Retain"  # parked pushes outlive the stack
