"""ApplyCapacity: set ECS desired counts and Auto Scaling group capacity; announce each change."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from surge import steps
from surge.adapters.settings import settings
from surge.models import ApplyCapacityInput
from surge.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ApplyCapacityInput.model_validate(event)
    return steps.apply_capacity(request, settings(), datetime.now(UTC)).model_dump(mode="json", by_alias=True)
