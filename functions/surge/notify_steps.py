"""The notifier: a batch of ScalingDecision events (one SQS batching window) becomes one message."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SqsModel
from pydantic import BaseModel, ConfigDict, Field

from surge.adapters import notify_sinks
from surge.core.notify import Notification, compose
from surge.core.plan import AppliedChange
from surge.observability import logger, metrics


class ScalingDecisionEvent(EventBridgeModel):
    detail: AppliedChange


class NotifierSettings(BaseModel):
    """Empty strings mean "not configured" (CloudFormation cannot omit a variable conditionally)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    topic_arn: str = Field(alias="SURGE_NOTIFY_TOPIC_ARN")
    slack_secret_arn: str = Field(alias="SURGE_SLACK_SECRET_ARN")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> NotifierSettings:
        return cls.model_validate(dict(environ))


@cache
def notifier_settings() -> NotifierSettings:
    return NotifierSettings.from_environment(os.environ)


def notify(batch: SqsModel, settings: NotifierSettings) -> Notification | None:
    changes = [ScalingDecisionEvent.model_validate_json(str(record.body)).detail for record in batch.Records]
    notification = compose(changes)
    if notification is None:
        logger.info("nothing changed: no message", extra={"events": len(changes)})
        return None
    if settings.topic_arn:
        notify_sinks.publish_to_sns(settings.topic_arn, notification)
    if settings.slack_secret_arn:
        notify_sinks.post_to_slack(notify_sinks.slack_webhook_url(settings.slack_secret_arn), notification)
    metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=1)
    logger.info(notification.subject, extra={"notification": notification.model_dump(), "events": len(changes)})
    return notification
