"""Deployment settings, read once from the Lambda environment (set by the SAM template)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from surge.core.errors import InvalidInputError, describe_validation_error


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    table_name: str = Field(alias="SURGE_TABLE_NAME", min_length=1)
    config_parameter_name: str = Field(alias="SURGE_CONFIG_PARAMETER", min_length=1)
    operator_config_parameter_name: str = Field(alias="SURGE_OPERATOR_CONFIG_PARAMETER", min_length=1)
    event_bus_name: str = Field(alias="SURGE_EVENT_BUS_NAME", min_length=1)
    event_source: str = Field(alias="SURGE_EVENT_SOURCE", min_length=1)
    dry_run: bool = Field(alias="SURGE_DRY_RUN")
    push_source: str = Field(alias="SURGE_PUSH_SOURCE", min_length=1)
    targets_per_shard: int = Field(alias="SURGE_TARGETS_PER_SHARD", ge=1, le=50)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        try:
            return cls.model_validate(dict(environ))
        except ValidationError as error:
            raise InvalidInputError(f"Lambda environment: {describe_validation_error(error)}") from error


@cache
def settings() -> Settings:
    return Settings.from_environment(os.environ)
