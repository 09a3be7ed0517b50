"""DecideCapacity: the pure decision core over every target, and the route the state machine takes."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from surge import steps
from surge.models import DecideCapacityInput
from surge.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = DecideCapacityInput.model_validate(event)
    return steps.decide_capacity(request, datetime.now(UTC)).model_dump(mode="json", by_alias=True)
