"""The configuration, kept as JSON documents in two SSM parameters, and merged by target id.

- The template's parameter (`/<stack>/config`, SURGE_CONFIG_PARAMETER) is a resource of the stack: `make deploy`
  writes it from the template parameters, and CloudFormation rewrites it whenever one of them changes.
- The operator's parameter (`/<stack>/operator-config`, SURGE_OPERATOR_CONFIG_PARAMETER) is written only by
  `surge config apply`; the template never declares it, so no deploy touches it. It may be absent. A document
  above the 8 KB an SSM parameter holds (about 40 targets) goes to the Surge table instead (item
  OPERATOR_CONFIG, compressed; `surge config apply` removes the other copy): when both exist (an apply
  interrupted between its two writes), the newer one is the operator's document.

The configuration the loop and the push path use is the template's targets, each replaced by the operator's
target of the same id, followed by the operator's other targets. Neither document overwrites the other: the
template keeps owning what `make deploy` generates, the operator's additions and overrides survive every deploy.
Both documents and the merge are validated by `surge.core.config.SurgeConfig`; a document that breaks a rule
stops the loop (CannotStartLoop) instead of being half used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from surge.adapters import clients, store
from surge.adapters.errors import ConfigInvalidError, transient_as_retryable
from surge.core.config import SurgeConfig, TargetConfig
from surge.core.errors import describe_validation_error
from surge.observability import logger, metrics

if TYPE_CHECKING:
    from mypy_boto3_ssm.type_defs import ParameterTypeDef


def parse_config(document: str, *, source: str) -> SurgeConfig:
    """Validate a configuration document; the error names every bad field and its allowed range."""
    try:
        return SurgeConfig.model_validate_json(document)
    except ValidationError as error:
        raise ConfigInvalidError(f"{source}: {describe_validation_error(error, model=SurgeConfig)}") from error


def load_config(parameter_name: str) -> SurgeConfig:
    """One document alone (the template's parameter, as `surge calendar --config-parameter` names it)."""
    response = clients.ssm().get_parameter(Name=parameter_name)
    return parse_config(response["Parameter"].get("Value", ""), source=f"SSM parameter {parameter_name}")


class Origin(StrEnum):
    TEMPLATE = "template"
    OPERATOR = "operator"


@dataclass(frozen=True)
class ParameterPart:
    """One of the two documents as read from SSM."""

    name: str
    targets: list[TargetConfig]
    version: int
    modified_at: datetime | None


@dataclass(frozen=True)
class EffectiveConfig:
    """The configuration the loop uses and where each target comes from."""

    config: SurgeConfig
    template: ParameterPart
    operator: ParameterPart | None
    """None: no operator document (`surge config apply` never ran, or `surge config reset` removed it)."""

    def origin(self, target_id: str) -> Origin:
        return (
            Origin.OPERATOR
            if self.operator and any(t.id == target_id for t in self.operator.targets)
            else (Origin.TEMPLATE)
        )

    def overrides_template(self, target_id: str) -> bool:
        """The operator's target replaces the template's of the same id (template changes to it do nothing)."""
        return self.origin(target_id) is Origin.OPERATOR and any(t.id == target_id for t in self.template.targets)


def merge_targets(template: list[TargetConfig], operator: list[TargetConfig]) -> SurgeConfig:
    """The template's targets, each replaced by the operator's of the same id, then the operator's others.

    Raises ConfigInvalidError when the merge breaks a rule of the whole document (no target at all, more than
    the document allows)."""
    by_id = {t.id: t for t in operator}
    merged = [by_id.pop(t.id, t) for t in template] + [t for t in operator if t.id in by_id]
    try:
        return SurgeConfig(targets=merged)
    except ValidationError as error:
        described = describe_validation_error(error, model=SurgeConfig)
        raise ConfigInvalidError(f"the template's and the operator's documents together: {described}") from error


def parse_part(document: str, *, source: str, allow_empty: bool) -> list[TargetConfig]:
    """The targets of one document. The template's may list none (a stack deployed with neither an ECS service
    nor an Auto Scaling group, whose targets all come from the operator); every other rule holds."""
    try:
        return list(SurgeConfig.model_validate_json(document).targets)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        if allow_empty and problems and all(p["type"] == "too_short" and p["loc"] == ("targets",) for p in problems):
            return []
        raise ConfigInvalidError(f"{source}: {describe_validation_error(error, model=SurgeConfig)}") from error


def load_effective_config(
    template_parameter: str, operator_parameter: str, *, table: str, without_table_on_error: bool = False
) -> EffectiveConfig:
    """Both documents in one GetParameters call (an absent operator document is not an error) and the table's
    operator document (one GetItem), merged. With `without_table_on_error` (the push path: a spike must scale
    while the table is down), a failed GetItem leaves the table's document out (logged, `ConfigTableUnread`)
    instead of failing: the targets SSM's documents name still scale.

    GetParameters takes up to 10 names and lists the ones that do not exist in InvalidParameters instead of
    failing (https://docs.aws.amazon.com/goto/WebAPI/ssm/GetParameters)."""
    response = clients.ssm().get_parameters(Names=[template_parameter, operator_parameter])
    found = {p.get("Name", ""): p for p in response.get("Parameters", [])}
    if template_parameter not in found:
        raise ConfigInvalidError(f"SSM parameter {template_parameter}: not found (is the stack deployed?)")
    template = _part(found[template_parameter], template_parameter, allow_empty=True)
    in_parameter = (
        _part(found[operator_parameter], operator_parameter, allow_empty=False) if operator_parameter in found else None
    )
    try:
        in_table = _table_part(table)
    except (ClientError, BotoCoreError) as error:
        if not without_table_on_error:
            raise
        logger.warning(
            "the operator's document in the table is unread: SSM's documents alone", extra={"error": str(error)}
        )
        metrics.add_metric(name="ConfigTableUnread", unit=MetricUnit.Count, value=1)
        in_table = None
    operator = newer_part(in_parameter, in_table)
    config = merge_targets(template.targets, operator.targets if operator else [])
    return EffectiveConfig(config=config, template=template, operator=operator)


def operator_document_location(table: str) -> str:
    """Where an operator's document too large for SSM is kept (as `surge config show` names it)."""
    return f"table {table}, item OPERATOR_CONFIG"


def _table_part(table: str) -> ParameterPart | None:
    stored = store.read_operator_config(table)
    if stored is None:
        return None
    name = operator_document_location(table)
    return ParameterPart(
        name=name,
        targets=parse_part(stored.document, source=name, allow_empty=False),
        version=stored.version,
        modified_at=stored.modified_at,
    )


def newer_part(parameter: ParameterPart | None, item: ParameterPart | None) -> ParameterPart | None:
    """The operator's document: whichever copy was written last (`surge config apply` writes one, then removes
    the other; interrupted in between, the one it wrote is the newer)."""
    if parameter is None or item is None:
        return parameter or item
    if item.modified_at is None or (parameter.modified_at is not None and parameter.modified_at > item.modified_at):
        return parameter
    return item


def _part(parameter: ParameterTypeDef, name: str, *, allow_empty: bool) -> ParameterPart:
    targets = parse_part(parameter.get("Value", ""), source=f"SSM parameter {name}", allow_empty=allow_empty)
    return ParameterPart(
        name=name,
        targets=targets,
        version=int(parameter.get("Version", 0)),
        modified_at=parameter.get("LastModifiedDate"),
    )


_BY_VERSION: dict[str, SurgeConfig] = {}
_VERSIONS_KEPT = 8


def config_by_version(table: str, version: str) -> SurgeConfig:
    """The configuration an execution runs on, by its version (ClaimLoop kept it in the table): read once per
    Lambda container (a version never changes, so the copy never goes stale)."""
    found = _BY_VERSION.get(version)
    if found is None:
        with transient_as_retryable("dynamodb:GetItem (configuration)"):
            found = store.read_config(table, version)
        if found is None:
            raise ConfigInvalidError(f"loop.config_version: {version!r} is not in table {table} (kept two days)")
        if len(_BY_VERSION) >= _VERSIONS_KEPT:
            _BY_VERSION.clear()
        _BY_VERSION[version] = found
    return found
