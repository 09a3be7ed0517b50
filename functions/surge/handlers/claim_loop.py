"""ClaimLoop: load the configuration document and claim the loop lease."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from surge import steps
from surge.adapters.settings import settings
from surge.models import ClaimLoopInput
from surge.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ClaimLoopInput.model_validate(event)
    return steps.claim_loop(request, settings(), datetime.now(UTC)).model_dump(mode="json", by_alias=True)
