"""RecordPushHold: validate a PushSent event, size and record its hold (once per push id); RecordOtherTargetsHolds:
the same for one other shard of the targets the push covers."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from surge import push_steps
from surge.adapters.settings import settings
from surge.models import RecordPushInput
from surge.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = RecordPushInput.model_validate(event)
    return push_steps.record_push(request, settings(), datetime.now(UTC)).model_dump(mode="json", by_alias=True)
