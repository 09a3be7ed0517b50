"""A deployed Surge stack, found by its CloudFormation outputs (for the operator commands)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
import typer
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from surge.core.errors import InvalidInputError


def stack_outputs(stack_name: str, required: tuple[str, ...], client: Any = None) -> dict[str, str]:
    """The outputs of a deployed Surge stack; an unknown stack or a missing output is an error naming it."""
    cloudformation = client or boto3.client("cloudformation")
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        raise InvalidInputError(f"stack: no CloudFormation stack {stack_name!r} ({error})") from error
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in required if key not in outputs]
    if missing:
        raise InvalidInputError(f"stack: stack {stack_name!r} has no output {', '.join(missing)} (not a Surge stack?)")
    return outputs


def utc_text(moment: datetime) -> str:
    """An instant as the operator commands print it: ISO 8601 in UTC to the second, `Z`-suffixed."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


SETUP_EXIT_CODE = 2
"""Something to fix on this side (region, credentials, a name): the line says what."""
AWS_EXIT_CODE = 1
"""AWS answered with an error, or could not be reached."""


def aws_problem(error: Exception) -> tuple[int, str]:
    """The exit code and the one line for an AWS error met by an operator command."""
    if isinstance(error, NoRegionError):
        return SETUP_EXIT_CODE, (
            "no AWS region: set AWS_DEFAULT_REGION (boto3 ignores AWS_REGION), or a region in ~/.aws/config"
        )
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return SETUP_EXIT_CODE, (
            "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or `aws sso login`)"
        )
    if isinstance(error, EndpointConnectionError):
        return AWS_EXIT_CODE, f"cannot reach AWS at {error.kwargs.get('endpoint_url', '?')} (network or region?)"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        operation = getattr(error, "operation_name", "?")
        return AWS_EXIT_CODE, f"AWS {operation}: {details.get('Code', '?')}: {details.get('Message', error)}"
    return AWS_EXIT_CODE, f"AWS: {error}"


@contextmanager
def one_line_aws_errors() -> Iterator[None]:
    """An operator command's AWS errors as one stderr line and an exit code, never a traceback."""
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        code, line = aws_problem(error)
        typer.echo(f"error: {line}", err=True)
        raise typer.Exit(code) from error
