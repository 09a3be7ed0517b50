"""Exceptions whose class names the state machine matches in Retry and Catch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

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


SERVER_SIDE_CODES = frozenset(
    {
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
"""Service-side hiccups that a retry a second later usually gets past (DynamoDB's InternalServerError, SSM's
InternalServerError, any service's ServiceUnavailable)."""


class SurgeTransientError(Exception):
    """Worth retrying: throttling or a service-side hiccup that outlived boto3's own retries."""


class CapacityApiThrottledError(SurgeTransientError):
    """ECS or Auto Scaling throttled a capacity call after boto3's retries."""


class ConfigInvalidError(Exception):
    """The configuration document breaks a rule; the message names the field. Nothing is changed."""


def is_throttling(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code", "") in THROTTLING_CODES


def is_transient(error: Exception) -> bool:
    """Throttling, a service-side error or a connection problem: retry it, it is not bad input."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        return code in THROTTLING_CODES or code in SERVER_SIDE_CODES
    return isinstance(error, BotoCoreError)


@contextmanager
def transient_as_retryable(what: str) -> Iterator[None]:
    """Re-raise a transient AWS error (after boto3's own retries) as SurgeTransientError, which the state machines
    retry by class name with jittered back-off; anything else propagates unchanged."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        if is_transient(error):
            raise SurgeTransientError(f"{what}: {error}") from error
        raise


class PushRejectedError(Exception):
    """A PushSent event that breaks a rule (the message names the field); it goes to the dead-letter queue."""
