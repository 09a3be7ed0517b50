"""Bad input names the field and the whole allowed range, not only the bound that was broken."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from surge.adapters.config_source import parse_config
from surge.adapters.errors import ConfigInvalidError
from surge.core.config import SurgeConfig
from surge.core.errors import describe_validation_error


def document(**scaling: object) -> dict[str, object]:
    base = {"min_units": 1, "max_units": 5, "unit_capacity_rps": 100}
    return {"targets": [{"id": "a", "kind": "ecs", "ecs": {"cluster": "c", "service": "s"}, "scaling": base | scaling}]}


@pytest.mark.parametrize(
    ("scaling", "expected"),
    [
        (
            {"target_utilization": 1.5},
            "targets.0.scaling.target_utilization: Input should be less than or equal to 1 (got: 1.5);"
            " allowed: 0 < value <= 1",
        ),
        (
            {"loop_interval_seconds": 0},
            "targets.0.scaling.loop_interval_seconds: Input should be greater than or equal to 1 (got: 0);"
            " allowed: 1 <= value <= 60",
        ),
        (
            {"unit_capacity_rps": 0},
            "targets.0.scaling.unit_capacity_rps: Input should be greater than 0 (got: 0);"
            " allowed: 0 < value <= 1000000",
        ),
    ],
)
def test_a_bound_error_names_the_field_and_the_whole_range(scaling: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SurgeConfig.model_validate(document(**scaling))
    assert describe_validation_error(caught.value, model=SurgeConfig) == expected


def test_the_config_document_error_says_where_it_came_from() -> None:
    import json

    with pytest.raises(ConfigInvalidError) as caught:
        parse_config(json.dumps(document(min_units=6)), source="SSM parameter /surge/config")
    assert str(caught.value) == "SSM parameter /surge/config: targets.0.scaling: min_units (6) must be <= max_units (5)"
