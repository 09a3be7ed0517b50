"""`make deploy` / `make delete`'s first step: the stack name, the AWS region and the credentials SAM will use, or
one line naming what to set, before SAM would stop with a traceback.

Region and credentials are resolved as boto3 resolves them (SAM CLI is a boto3 program): environment, the
profile in ~/.aws/config and ~/.aws/credentials, SSO, container and instance roles
(https://boto3.amazonaws.com/v1/documentation/api/latest/guide/credentials.html). Telling that one is missing
needs no AWS call, so the check itself never reaches AWS; with both present it asks STS once who the caller is
and prints `stack NAME in REGION as ARN`, so expired or wrong credentials are one line too.

Exit codes as the operator commands (`surge_cli.deployed`): 2 for something to set on this side, 1 for an AWS error.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from surge_cli.deployed import SETUP_EXIT_CODE, aws_problem

# CreateStack: "A stack name can contain only alphanumeric characters (case sensitive) and hyphens. It must start
# with an alphabetical character and can't be longer than 128 characters."
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")

NO_REGION = (
    "no AWS region: set AWS_DEFAULT_REGION (boto3, and so SAM, ignores AWS_REGION) or a region in the profile's"
    " ~/.aws/config section"
)
NO_CREDENTIALS = "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or `aws sso login`)"


def stack_problem(stack: str) -> str | None:
    if STACK_NAME.fullmatch(stack):
        return None
    return (
        f"STACK: {stack!r} is not a CloudFormation stack name (a letter, then letters, digits or hyphens;"
        " 1-128 characters)"
    )


def setup_problem(session: Any) -> str | None:
    """What is missing for `session` to call AWS (region, credentials), as one line; None if nothing is.
    Makes no AWS call: botocore tells a missing region or credential chain without one."""
    problems: list[str] = []
    if not session.region_name:
        problems.append(NO_REGION)
    if session.get_credentials() is None:
        problems.append(NO_CREDENTIALS)
    return "; ".join(problems) or None


def check(stack: str) -> tuple[int, str]:
    """The exit code and the one line for `make deploy STACK=stack` (0: the line says who deploys where)."""
    problem = stack_problem(stack)
    if problem is not None:
        return SETUP_EXIT_CODE, f"error: {problem}"
    try:
        session = boto3.Session()
    except ProfileNotFound:
        return SETUP_EXIT_CODE, (
            f"error: AWS_PROFILE={os.environ['AWS_PROFILE']!r} is not a profile in ~/.aws/config or"
            " ~/.aws/credentials: set AWS_PROFILE to one of them, or unset it"
        )
    try:
        problem = setup_problem(session)
        if problem is not None:
            return SETUP_EXIT_CODE, f"error: {problem}"
        arn = session.client("sts").get_caller_identity()["Arn"]
    except (BotoCoreError, ClientError) as error:
        code, line = aws_problem(error)
        return code, f"error: {line}"
    return 0, f"stack {stack} in {session.region_name} as {arn}"


def main(
    stack: Annotated[str, typer.Option(help="the CloudFormation stack (make's STACK)")] = "surge",
) -> None:
    """Check that `make deploy` / `make delete` can reach AWS: one line, exit 0, 1 (AWS error) or 2 (set something)."""
    code, line = check(stack)
    typer.echo(line, err=code != 0)
    raise typer.Exit(code)


if __name__ == "__main__":
    typer.run(main)
