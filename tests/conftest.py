"""Shared fixtures: fake AWS credentials and region for every test, so nothing can reach a real account."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from scaler_support import local_aws
from surge_cli.localaws import LocalAws

os.environ["TZ"] = "UTC"
time.tzset()


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Surge")


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    """A fresh local AWS (moto + the harness) whose simulated clock starts at scaler_support.START."""
    with local_aws() as local:
        yield local
