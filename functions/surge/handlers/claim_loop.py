"""ClaimLoop and CheckLease: load the configuration and claim the loop lease; between iterations, check it."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import TypeAdapter

from surge import steps
from surge.adapters.settings import settings
from surge.models import CheckLeaseInput, ClaimLoopInput
from surge.observability import logger, metrics, tracer

_REQUEST: TypeAdapter[ClaimLoopInput | CheckLeaseInput] = TypeAdapter(ClaimLoopInput | CheckLeaseInput)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = _REQUEST.validate_python(event)
    return steps.loop_turn(request, settings(), datetime.now(UTC)).model_dump(mode="json", by_alias=True)
