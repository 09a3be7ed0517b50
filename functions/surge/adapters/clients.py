"""boto3 clients, built once per process, with the standard retry mode (back-off with jitter).

Built under a lock: boto3's default session is not thread-safe while it creates clients
(https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html#multithreading-or-multiprocessing-with-clients),
and the local harness runs a Map's iterations' handlers in threads of one process (a Lambda container runs one
invocation at a time, so the lock costs nothing there). A client, once built, is safe to share between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache, wraps
from typing import TYPE_CHECKING, TypeVar

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
_BUILDING = threading.Lock()
C = TypeVar("C")


def _locked(build: Callable[[], C]) -> Callable[[], C]:
    @wraps(build)
    def built() -> C:
        with _BUILDING:
            return build()

    return built


@cache
@_locked
def cloudwatch() -> CloudWatchClient:
    return boto3.client("cloudwatch", config=RETRY_CONFIG)


@cache
@_locked
def ecs() -> ECSClient:
    return boto3.client("ecs", config=RETRY_CONFIG)


@cache
@_locked
def autoscaling() -> AutoScalingClient:
    return boto3.client("autoscaling", config=RETRY_CONFIG)


@cache
@_locked
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=RETRY_CONFIG)


@cache
@_locked
def events() -> EventBridgeClient:
    return boto3.client("events", config=RETRY_CONFIG)


@cache
@_locked
def ssm() -> SSMClient:
    return boto3.client("ssm", config=RETRY_CONFIG)


@cache
@_locked
def sns() -> SNSClient:
    return boto3.client("sns", config=RETRY_CONFIG)


@cache
@_locked
def secretsmanager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=RETRY_CONFIG)


def reset() -> None:
    """Forget every cached client (tests call this when they enter a fresh moto mock)."""
    for getter in (cloudwatch, ecs, autoscaling, dynamodb, events, ssm, sns, secretsmanager):
        getter.cache_clear()
