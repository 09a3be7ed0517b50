"""What each Lambda execution environment has of its own, given to each thread of the local harness.

On AWS an execution environment runs one invocation at a time, so a module-level object of a handler (Powertools'
`Metrics`) is never shared by two invocations. The harness runs concurrent invocations (an inline Map's shards) in
threads of one process, where Powertools' metric sets are one dict per process: `Metrics` keeps them in class
attributes, so every `Metrics()` and its `AmazonCloudWatchEMFProvider` share them. One invocation's flush then
printed another's metrics, or cleared them between `flush_metrics`'s emptiness check and its serialization
(`SchemaValidationError: Must contain at least one metric.`, a failed shard). While a world is open, the provider's
per-invocation sets are per thread (a thread runs one invocation at a time, as an environment does); the defaults
(namespace, service, default dimensions) stay shared, as they are in every environment of one function.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

PER_INVOCATION_SETS: dict[str, Callable[[Any], Any]] = {
    "metric_set": lambda provider: {},
    "dimension_set": lambda provider: {
        name: value if isinstance(value, str) else str(value) for name, value in provider.default_dimensions.items()
    },
    "metadata_set": lambda provider: {},
    "dimension_sets": lambda provider: [],
    "timestamp": lambda provider: None,
}
"""The attributes of `AmazonCloudWatchEMFProvider` one invocation fills and `clear_metrics` empties, each with
what a thread that has not set it starts from (its `__init__` and `clear_metrics` leave the default dimensions in
`dimension_set`)."""

_LOCALS = "_surge_harness_per_thread"


class _PerThread:
    """A data descriptor: each thread reads and writes its own value of the attribute."""

    def __init__(self, name: str, initial: Callable[[Any], Any]) -> None:
        self.name = name
        self.initial = initial

    @staticmethod
    def _local(instance: Any) -> threading.local:
        found: threading.local = instance.__dict__.setdefault(_LOCALS, threading.local())  # atomic in CPython
        return found

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        local = self._local(instance)
        if not hasattr(local, self.name):
            setattr(local, self.name, self.initial(instance))
        return getattr(local, self.name)

    def __set__(self, instance: Any, value: Any) -> None:
        setattr(self._local(instance), self.name, value)


def per_thread_metric_sets() -> Callable[[], None]:
    """Give each thread its own Powertools metric sets; returns what puts the shared ones back."""
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    missing = object()
    before = {name: AmazonCloudWatchEMFProvider.__dict__.get(name, missing) for name in PER_INVOCATION_SETS}
    for name, initial in PER_INVOCATION_SETS.items():
        setattr(AmazonCloudWatchEMFProvider, name, _PerThread(name, initial))

    def restore() -> None:
        for name, value in before.items():
            if value is missing:
                delattr(AmazonCloudWatchEMFProvider, name)
            else:
                setattr(AmazonCloudWatchEMFProvider, name, value)

    return restore
