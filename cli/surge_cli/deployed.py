"""A deployed Surge stack, found by its CloudFormation outputs (for the operator commands)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

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
