"""Notify: one Slack/SNS message per burst of ScalingDecision events (an SQS batch of up to 60 s)."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SqsModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from surge import notify_steps
from surge.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = parse(event=event, model=SqsModel)
    sent = notify_steps.notify(batch, notify_steps.notifier_settings())
    return {"sent": sent.model_dump() if sent else None}
