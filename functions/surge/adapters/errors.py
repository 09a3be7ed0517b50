"""Exceptions whose class names the state machine matches in Retry and Catch."""

from __future__ import annotations

from botocore.exceptions import ClientError

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
    }
)


class SurgeTransientError(Exception):
    """Worth retrying: throttling or a service-side hiccup that outlived boto3's own retries."""


class CapacityApiThrottledError(SurgeTransientError):
    """ECS or Auto Scaling throttled a capacity call after boto3's retries."""


class ConfigInvalidError(Exception):
    """The configuration document breaks a rule; the message names the field. Nothing is changed."""


def is_throttling(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code", "") in THROTTLING_CODES


class PushRejectedError(Exception):
    """A PushSent event that breaks a rule (the message names the field); it goes to the dead-letter queue."""
