"""Where notifications go: a Slack incoming webhook (URL kept in Secrets Manager) and/or an SNS topic."""

from __future__ import annotations

import json
import urllib.request
from functools import cache

from surge.adapters import clients
from surge.core.notify import Notification

SLACK_TIMEOUT_SECONDS = 5


class SlackPostFailedError(Exception):
    """The webhook answered with something other than 200 (the batch is retried by SQS)."""


@cache
def slack_webhook_url(secret_arn: str) -> str:
    """The webhook URL, read once per container from Secrets Manager (never a plain parameter)."""
    return clients.secretsmanager().get_secret_value(SecretId=secret_arn)["SecretString"].strip()


def post_to_slack(url: str, notification: Notification) -> None:
    body = json.dumps({"text": f"*{notification.subject}*\n{notification.text}"}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=SLACK_TIMEOUT_SECONDS) as response:
        if response.status != 200:
            raise SlackPostFailedError(f"Slack webhook answered {response.status}")


def publish_to_sns(topic_arn: str, notification: Notification) -> None:
    clients.sns().publish(TopicArn=topic_arn, Subject=notification.subject[:100], Message=notification.text)
