"""Validation rules of the configuration document (surge.core.config).

Every rejection is checked through `describe_validation_error`, the text an operator actually reads: it must
name the field (its full path in the document) and the allowed range or rule.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from surge.core.config import ScalingConfig, SurgeConfig, TargetConfig, TargetKind
from surge.core.errors import describe_validation_error


def _scaling(**overrides: Any) -> dict[str, Any]:
    return {"min_units": 1, "max_units": 10, "unit_capacity_rps": 100, **overrides}


def _ecs_target(target_id: str = "api", **overrides: Any) -> dict[str, Any]:
    return {
        "id": target_id,
        "kind": "ecs",
        "ecs": {"cluster": "prod", "service": "api"},
        "scaling": _scaling(),
        **overrides,
    }


def _asg_target(target_id: str = "web", **overrides: Any) -> dict[str, Any]:
    return {"id": target_id, "kind": "asg", "asg": {"group_name": "web-asg"}, "scaling": _scaling(), **overrides}


def _document(*targets: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {"version": 1, "targets": list(targets), **overrides}


def _rejection(model: type[BaseModel], document: dict[str, Any], *, prefix: str = "") -> str:
    """Validate `document` with `model`, insist that it is rejected, and return the operator-facing text."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(document)
    return describe_validation_error(caught.value, prefix=prefix)


# ------------------------------------------------------------------------------------------ ScalingConfig


def test_min_above_max_is_rejected_naming_both_fields() -> None:
    text = _rejection(ScalingConfig, _scaling(min_units=5, max_units=3))
    assert text == "(document): min_units (5) must be <= max_units (3)"


def test_min_above_max_inside_a_document_names_the_full_path() -> None:
    text = _rejection(SurgeConfig, _document(_ecs_target(scaling=_scaling(min_units=11, max_units=10))))
    assert text == "targets.0.scaling: min_units (11) must be <= max_units (10)"


def test_min_equal_to_max_is_accepted() -> None:
    scaling = ScalingConfig.model_validate(_scaling(min_units=4, max_units=4))
    assert (scaling.min_units, scaling.max_units) == (4, 4)


@pytest.mark.parametrize("initial", [0, 11, 10_000])
def test_initial_outside_min_max_is_rejected_with_the_range(initial: int) -> None:
    text = _rejection(ScalingConfig, _scaling(initial_units=initial))
    assert text == f"(document): initial_units ({initial}) must be within [min_units, max_units] = [1, 10]"


def test_negative_initial_is_rejected_by_the_field_bound() -> None:
    text = _rejection(ScalingConfig, _scaling(initial_units=-1))
    assert text == "initial_units: Input should be greater than or equal to 0 (got: -1)"


@pytest.mark.parametrize("initial", [1, 5, 10])
def test_initial_within_min_max_is_accepted(initial: int) -> None:
    assert ScalingConfig.model_validate(_scaling(initial_units=initial)).initial_units == initial


@pytest.mark.parametrize(
    ("utilization", "expected"),
    [
        (0, "target_utilization: Input should be greater than 0 (got: 0)"),
        (-0.1, "target_utilization: Input should be greater than 0 (got: -0.1)"),
        (1.5, "target_utilization: Input should be less than or equal to 1 (got: 1.5)"),
        (1.0000001, "target_utilization: Input should be less than or equal to 1 (got: 1.0000001)"),
    ],
)
def test_utilization_outside_zero_one_is_rejected(utilization: float, expected: str) -> None:
    assert _rejection(ScalingConfig, _scaling(target_utilization=utilization)) == expected


@pytest.mark.parametrize("utilization", [0.01, 0.7, 1])
def test_utilization_inside_zero_one_is_accepted(utilization: float) -> None:
    assert ScalingConfig.model_validate(_scaling(target_utilization=utilization)).target_utilization == utilization


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [
        (0, "unit_capacity_rps: Input should be greater than 0 (got: 0)"),
        (-5, "unit_capacity_rps: Input should be greater than 0 (got: -5)"),
        (1_000_001, "unit_capacity_rps: Input should be less than or equal to 1000000 (got: 1000001)"),
    ],
)
def test_unit_capacity_outside_range_is_rejected(capacity: float, expected: str) -> None:
    assert _rejection(ScalingConfig, _scaling(unit_capacity_rps=capacity)) == expected


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (0, "loop_interval_seconds: Input should be greater than or equal to 1 (got: 0)"),
        (61, "loop_interval_seconds: Input should be less than or equal to 60 (got: 61)"),
    ],
)
def test_loop_interval_outside_one_to_sixty_is_rejected(interval: int, expected: str) -> None:
    assert _rejection(ScalingConfig, _scaling(loop_interval_seconds=interval)) == expected


@pytest.mark.parametrize("interval", [1, 60])
def test_loop_interval_bounds_are_accepted(interval: int) -> None:
    assert ScalingConfig.model_validate(_scaling(loop_interval_seconds=interval)).loop_interval_seconds == interval


def test_push_min_hold_longer_than_push_hold_is_rejected() -> None:
    text = _rejection(ScalingConfig, _scaling(push_min_hold_seconds=700, push_hold_seconds=600))
    assert text == "(document): push_min_hold_seconds (700) must be <= push_hold_seconds (600)"


def test_push_min_hold_equal_to_push_hold_is_accepted() -> None:
    scaling = ScalingConfig.model_validate(_scaling(push_min_hold_seconds=600, push_hold_seconds=600))
    assert (scaling.push_min_hold_seconds, scaling.push_hold_seconds) == (600, 600)


def test_push_min_hold_is_checked_against_the_default_push_hold() -> None:
    # push_hold_seconds defaults to 1800, so a min hold of 1801 alone breaks the rule.
    text = _rejection(ScalingConfig, _scaling(push_min_hold_seconds=1_801))
    assert text == "(document): push_min_hold_seconds (1801) must be <= push_hold_seconds (1800)"


def test_unknown_scaling_key_is_rejected() -> None:
    text = _rejection(ScalingConfig, _scaling(cooldown=30))
    assert text == "cooldown: Extra inputs are not permitted (got: 30)"


def test_scaling_defaults() -> None:
    scaling = ScalingConfig.model_validate(_scaling())
    assert scaling.model_dump() == {
        "min_units": 1,
        "max_units": 10,
        "initial_units": None,
        "unit_capacity_rps": 100.0,
        "target_utilization": 0.7,
        "loop_interval_seconds": 5,
        "scale_in_cooldown_seconds": 300,
        "scale_in_step_interval_seconds": 60,
        "max_scale_in_step_units": 10,
        "scale_in_tolerance": 0.1,
        "metric_max_age_seconds": 300,
        "push_rps_per_audience": 0.01,
        "push_safety_factor": 1.4,
        "push_rate_quantile": 0.9,
        "push_min_hold_seconds": 600,
        "push_hold_seconds": 1_800,
        "unit_startup_seconds": 60,
        "trend_max_extra_fraction": 1.0,
        "trend_min_rise_per_minute": 0.2,
        "dry_run": False,
    }


def test_an_old_config_document_without_the_new_fields_still_loads() -> None:
    # The document `make deploy` wrote before push sizing and trend headroom existed.
    old = {key: value for key, value in _scaling().items() if not key.startswith(("push_safety", "trend_"))}
    assert ScalingConfig.model_validate(old).push_safety_factor == 1.4


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("push_safety_factor", 0.5, "push_safety_factor: Input should be greater than or equal to 1 (got: 0.5)"),
        ("push_rate_quantile", 1.5, "push_rate_quantile: Input should be less than or equal to 1 (got: 1.5)"),
        ("unit_startup_seconds", -1, "unit_startup_seconds: Input should be greater than or equal to 0 (got: -1)"),
        ("trend_max_extra_fraction", 6, "trend_max_extra_fraction: Input should be less than or equal to 5 (got: 6)"),
        ("trend_min_rise_per_minute", -0.1, "trend_min_rise_per_minute: Input should be greater than or equal to 0"),
    ],
)
def test_the_new_decision_fields_are_validated_naming_the_field_and_range(
    field: str, value: float, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ScalingConfig.model_validate(_scaling(**{field: value}))
    text = describe_validation_error(caught.value, model=ScalingConfig)
    assert message in text
    assert "; allowed: " in text
    assert "\n" not in text


def test_several_problems_are_reported_together_in_field_order() -> None:
    text = _rejection(ScalingConfig, _scaling(target_utilization=0, loop_interval_seconds=61))
    assert text == (
        "target_utilization: Input should be greater than 0 (got: 0); "
        "loop_interval_seconds: Input should be less than or equal to 60 (got: 61)"
    )


# ------------------------------------------------------------------------------------------- TargetConfig


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            _ecs_target(ecs=None),
            "(document): kind 'ecs' needs an 'ecs' block (cluster, service) and no 'asg' block",
        ),
        (
            _ecs_target(asg={"group_name": "web-asg"}),
            "(document): kind 'ecs' needs an 'ecs' block (cluster, service) and no 'asg' block",
        ),
        (
            _ecs_target(ecs=None, asg={"group_name": "web-asg"}),
            "(document): kind 'ecs' needs an 'ecs' block (cluster, service) and no 'asg' block",
        ),
        (
            _asg_target(asg=None),
            "(document): kind 'asg' needs an 'asg' block (group_name) and no 'ecs' block",
        ),
        (
            _asg_target(ecs={"cluster": "prod", "service": "api"}),
            "(document): kind 'asg' needs an 'asg' block (group_name) and no 'ecs' block",
        ),
    ],
    ids=["ecs-without-block", "ecs-with-asg", "ecs-with-only-asg", "asg-without-block", "asg-with-ecs"],
)
def test_kind_must_match_the_reference_block(document: dict[str, Any], expected: str) -> None:
    assert _rejection(TargetConfig, document) == expected


def test_kind_mismatch_inside_a_document_names_the_target() -> None:
    text = _rejection(SurgeConfig, _document(_ecs_target(), _asg_target(asg=None)))
    assert text == "targets.1: kind 'asg' needs an 'asg' block (group_name) and no 'ecs' block"


def test_unknown_kind_lists_the_allowed_kinds() -> None:
    text = _rejection(TargetConfig, _ecs_target(kind="lambda"))
    assert text == "kind: Input should be 'ecs' or 'asg' (got: 'lambda')"


@pytest.mark.parametrize("bad_id", ["", "bad id", "-leading-dash", "x" * 65])
def test_target_id_pattern_is_enforced(bad_id: str) -> None:
    text = _rejection(TargetConfig, _ecs_target(bad_id))
    assert text == f"id: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}$' (got: {bad_id!r})"


def test_unknown_target_key_is_rejected() -> None:
    text = _rejection(SurgeConfig, _document(_ecs_target(min_units=1)))
    assert text == "targets.0.min_units: Extra inputs are not permitted (got: 1)"


def test_unknown_nested_key_is_rejected_with_its_full_path() -> None:
    text = _rejection(SurgeConfig, _document(_asg_target(asg={"group_name": "web-asg", "region": "eu-west-1"})))
    assert text == "targets.0.asg.region: Extra inputs are not permitted (got: 'eu-west-1')"


def test_unknown_top_level_key_is_rejected() -> None:
    text = _rejection(SurgeConfig, _document(_ecs_target(), dry_run=True))
    assert text == "dry_run: Extra inputs are not permitted (got: True)"


# -------------------------------------------------------------------------------------------- SurgeConfig


def test_duplicate_ids_are_rejected() -> None:
    text = _rejection(SurgeConfig, _document(_ecs_target("api"), _asg_target("web"), _asg_target("api")))
    assert text == "(document): targets: id 'api' appears more than once; ids must be unique"


def test_ids_differing_only_in_case_are_distinct() -> None:
    config = SurgeConfig.model_validate(_document(_ecs_target("api"), _asg_target("API")))
    assert [t.id for t in config.targets] == ["api", "API"]


def test_empty_target_list_is_rejected() -> None:
    assert _rejection(SurgeConfig, _document()) == "targets: List should have at least 1 item after validation, not 0"


def test_unknown_version_is_rejected() -> None:
    assert _rejection(SurgeConfig, _document(_ecs_target(), version=2)) == "version: Input should be 1 (got: 2)"


def test_prefix_is_put_in_front_of_every_location() -> None:
    document = _document(_ecs_target(scaling=_scaling(target_utilization=1.5, min_units=20)))
    text = _rejection(SurgeConfig, document, prefix="/surge/config")
    # Field errors come first; the cross-field rule only runs once every field is valid.
    assert text == (
        "/surge/config.targets.0.scaling.target_utilization: Input should be less than or equal to 1 (got: 1.5)"
    )


def test_a_full_valid_document_is_accepted() -> None:
    document = _document(
        _ecs_target(
            "api",
            load_balancer={
                "load_balancer": "app/my-alb/50dc6c495c0c9188",
                "target_group": "targetgroup/api/73e2d6bc24d8a067",
            },
            high_resolution_metric={
                "namespace": "Surge/App",
                "metric_name": "Requests",
                "dimensions": {"Service": "api"},
                "period_seconds": 5,
            },
            scaling=_scaling(
                min_units=2,
                max_units=200,
                initial_units=4,
                unit_capacity_rps=250.5,
                target_utilization=1,
                loop_interval_seconds=60,
                scale_in_cooldown_seconds=0,
                push_min_hold_seconds=0,
                push_hold_seconds=0,
                dry_run=True,
            ),
        ),
        _asg_target("web", load_balancer={"load_balancer": "app/web/1"}),
    )
    config = SurgeConfig.model_validate_json(json.dumps(document))
    api, web = config.targets
    assert api.kind is TargetKind.ECS
    assert api.ecs is not None
    assert (api.ecs.cluster, api.ecs.service) == ("prod", "api")
    assert api.high_resolution_metric is not None
    assert api.high_resolution_metric.period_seconds == 5
    assert api.scaling.initial_units == 4
    assert api.scaling.dry_run is True
    assert web.kind is TargetKind.ASG
    assert web.asg is not None
    assert web.asg.group_name == "web-asg"
    assert web.load_balancer is not None
    assert web.load_balancer.target_group is None
    assert config.target("web") is web
    # The document survives a round trip unchanged.
    assert SurgeConfig.model_validate_json(config.model_dump_json()) == config


def test_unknown_target_lookup_lists_the_known_ids() -> None:
    config = SurgeConfig.model_validate(_document(_ecs_target("api"), _asg_target("web")))
    with pytest.raises(KeyError, match=r"unknown target 'nope'; known targets: api, web"):
        config.target("nope")
