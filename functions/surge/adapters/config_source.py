"""The configuration document, kept as a JSON string in an SSM parameter."""

from __future__ import annotations

from pydantic import ValidationError

from surge.adapters import clients
from surge.adapters.errors import ConfigInvalidError
from surge.core.config import SurgeConfig
from surge.core.errors import describe_validation_error


def parse_config(document: str, *, source: str) -> SurgeConfig:
    """Validate a configuration document; the error names every bad field and its allowed range."""
    try:
        return SurgeConfig.model_validate_json(document)
    except ValidationError as error:
        raise ConfigInvalidError(f"{source}: {describe_validation_error(error, model=SurgeConfig)}") from error


def load_config(parameter_name: str) -> SurgeConfig:
    response = clients.ssm().get_parameter(Name=parameter_name)
    return parse_config(response["Parameter"].get("Value", ""), source=f"SSM parameter {parameter_name}")
