"""boto3 clients, built once per process, with the standard retry mode (back-off with jitter)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient

RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


@cache
def cloudwatch() -> CloudWatchClient:
    return boto3.client("cloudwatch", config=RETRY_CONFIG)


@cache
def ecs() -> ECSClient:
    return boto3.client("ecs", config=RETRY_CONFIG)


@cache
def autoscaling() -> AutoScalingClient:
    return boto3.client("autoscaling", config=RETRY_CONFIG)


@cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=RETRY_CONFIG)


@cache
def events() -> EventBridgeClient:
    return boto3.client("events", config=RETRY_CONFIG)


@cache
def ssm() -> SSMClient:
    return boto3.client("ssm", config=RETRY_CONFIG)


@cache
def sns() -> SNSClient:
    return boto3.client("sns", config=RETRY_CONFIG)


@cache
def secretsmanager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=RETRY_CONFIG)


def reset() -> None:
    """Forget every cached client (tests call this when they enter a fresh moto mock)."""
    for getter in (cloudwatch, ecs, autoscaling, dynamodb, events, ssm, sns, secretsmanager):
        getter.cache_clear()
