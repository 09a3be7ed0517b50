"""The scaler's ASL file, checked where cfn-lint cannot see it (it never reads DefinitionUri files)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from surge_cli.graph import drawn_states
from surge_cli.stack import Template, TemplateError, check_substitutions, placeholders, substitute

TEMPLATE = Template.load()
SCALER = TEMPLATE.state_machine("ScalerStateMachine")
DEFINITION_TEXT = SCALER.definition_path.read_text()
MACHINES = {machine.logical_id: machine for machine in TEMPLATE.state_machines()}
FAKE_ARN = "arn:aws:lambda:us-east-1:123456789012:function:surge-{name}"
every_machine = pytest.mark.parametrize("machine_id", sorted(MACHINES))


def substituted(machine_id: str = "ScalerStateMachine") -> dict[str, Any]:
    machine = MACHINES[machine_id]
    values = {name: FAKE_ARN.format(name=name) for name in machine.substitutions}
    parsed: dict[str, Any] = json.loads(substitute(machine.definition_path.read_text(), values))
    return parsed


def every_state(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Top-level states and those of a Map's iteration or a Parallel's branches, by name (unique machine-wide)."""
    return {name: dict(state) for name, (state, _) in drawn_states(definition).items()}


def tasks(machine_id: str = "ScalerStateMachine") -> dict[str, dict[str, Any]]:
    return {name: state for name, state in every_state(substituted(machine_id)).items() if state["Type"] == "Task"}


def test_the_template_has_the_scaler_and_the_push_fast_path() -> None:
    assert set(MACHINES) == {"ScalerStateMachine", "PushFastPathStateMachine"}


@every_machine
def test_each_machine_placeholders_match_its_substitutions(machine_id: str) -> None:
    machine = MACHINES[machine_id]
    check_substitutions(machine.definition_path.read_text(), machine.substitutions)
    resources = TEMPLATE.resources
    for name, value in machine.substitutions.items():
        if "Fn::GetAtt" in value:
            target, attribute = value["Fn::GetAtt"]
            assert (target, attribute) == (name.removesuffix("Arn"), "Arn")
        else:
            target = value["Ref"]
        assert target in resources, f"{machine_id}: {name} points at {target}, not in the template"


def test_every_placeholder_is_supplied_by_the_template_and_every_substitution_is_used() -> None:
    check_substitutions(DEFINITION_TEXT, SCALER.substitutions)
    assert placeholders(DEFINITION_TEXT) == set(SCALER.substitutions)


def test_an_unmatched_placeholder_is_reported_by_name() -> None:
    with pytest.raises(TemplateError, match=r"without a substitution: \['Missing'\]"):
        check_substitutions(DEFINITION_TEXT + "${Missing}", SCALER.substitutions)
    with pytest.raises(TemplateError, match=r"never used: \['Extra'\]"):
        check_substitutions(DEFINITION_TEXT, {**SCALER.substitutions, "Extra": "x"})


def test_substitutions_point_at_functions_the_template_defines() -> None:
    functions = {f.logical_id for f in TEMPLATE.functions()}
    for name, value in SCALER.substitutions.items():
        assert value == {"Fn::GetAtt": [name.removesuffix("Arn"), "Arn"]}
        assert name.removesuffix("Arn") in functions


@every_machine
def test_moto_parser_accepts_the_definition(machine_id: str) -> None:
    program, _ = AmazonStateLanguageParser.parse(json.dumps(substituted(machine_id)))
    assert program is not None


@every_machine
def test_cfn_lint_state_machine_schema_accepts_the_definition(machine_id: str) -> None:
    wrapper = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Scaler": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/scaler",
                    "StateMachineType": "EXPRESS",
                    "Definition": substituted(machine_id),
                },
            }
        },
    }
    matches = lint(json.dumps(wrapper), config=ManualArgs(regions=["us-east-1"]))
    assert [str(m) for m in matches] == []


def test_cfn_lint_catches_a_broken_definition_so_the_check_above_can_fail() -> None:
    broken = substituted()
    broken["States"]["WaitInterval"]["Type"] = "Sleep"  # not a state type
    wrapper = {
        "Resources": {
            "Scaler": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"RoleArn": "arn:aws:iam::123456789012:role/scaler", "Definition": broken},
            }
        }
    }
    assert lint(json.dumps(wrapper), config=ManualArgs(regions=["us-east-1"]))


@every_machine
def test_every_task_retries_with_jitter_and_catches_every_error(machine_id: str) -> None:
    for name, state in tasks(machine_id).items():
        retriers = state.get("Retry", [])
        assert retriers, f"{name} has no Retry"
        assert all(r.get("JitterStrategy") == "FULL" for r in retriers), name
        assert all(r.get("MaxDelaySeconds") for r in retriers), name
        catchers = state.get("Catch", [])
        assert any("States.ALL" in c["ErrorEquals"] for c in catchers), f"{name} does not catch States.ALL"


def test_retries_match_our_exception_class_names() -> None:
    from surge.adapters import errors

    names = {
        error
        for machine_id in MACHINES
        for state in tasks(machine_id).values()
        for r in state["Retry"]
        for error in r["ErrorEquals"]
    }
    ours = {n for n in names if not n.startswith(("Lambda.", "States."))}
    assert ours == {"CapacityApiThrottledError", "SurgeTransientError"}
    for name in ours:
        assert issubclass(getattr(errors, name), Exception)


@every_machine
def test_state_names_are_pascal_case_and_every_state_is_reachable(machine_id: str) -> None:
    definition = substituted(machine_id)
    states = every_state(definition)
    assert all(re.fullmatch(r"(?:[A-Z][a-z0-9]+)+", name) for name in states), list(states)
    reachable = set()
    pending = [definition["StartAt"]]
    while pending:
        name = pending.pop()
        if name in reachable:
            continue
        reachable.add(name)
        state = states[name]
        nexts = [state.get("Next"), state.get("Default")]
        if state["Type"] == "Map":
            nexts.append(state["ItemProcessor"]["StartAt"])
        if state["Type"] == "Parallel":
            nexts += [branch["StartAt"] for branch in state["Branches"]]
        nexts += [c["Next"] for c in state.get("Choices", [])] + [c["Next"] for c in state.get("Catch", [])]
        pending += [n for n in nexts if n]
    assert reachable == set(states)


def test_waits_and_the_budget_come_from_the_input() -> None:
    states = every_state(substituted())
    assert states["WaitInterval"]["SecondsPath"] == "$.loop.interval_seconds"
    assert states["CooldownBeforeScaleIn"]["SecondsPath"] == "$.loop.settle_seconds"
    assert states["ClaimLoop"]["Parameters"]["Payload"]["overrides.$"] == "$"
    # A scale-in is applied only after the cooldown wait and a re-read of the signals.
    assert states["ScaleIn"]["Parameters"]["Payload"]["allow_scale_in"] is True
    assert states["ScaleOutNow"]["Parameters"]["Payload"]["allow_scale_in"] is False
    assert states["PreScaleForEvent"]["Parameters"]["Payload"]["allow_scale_in"] is False
    assert states["IsScaleInStillWanted"]["Choices"][0] == {
        "Variable": "$.plan.route",
        "StringEquals": "scale_in",
        "Next": "ScaleIn",
    }


def test_the_loop_scales_its_targets_in_shards_with_an_inline_map_within_its_concurrency() -> None:
    """Only a shard's states carry per-target data; the loop's own states carry ids, times and counters."""
    states = substituted()["States"]
    fan_out = states["ScaleEveryShard"]
    assert fan_out["Type"] == "Map"
    assert fan_out["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    assert fan_out["ItemsPath"] == "$.shards"
    assert fan_out["ItemSelector"] == {"loop.$": "$.loop", "failures.$": "$.failures", "shard.$": "$$.Map.Item.Value"}
    # Inline Map runs at most 40 iterations at once:
    # https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html
    assert 1 <= fan_out["MaxConcurrency"] <= 40
    assert fan_out["ResultPath"] == "$.shard_results"
    inner = fan_out["ItemProcessor"]["States"]
    assert inner["ReReadSignals"]["Parameters"]["Payload"] == {
        "loop.$": "$.loop",
        "failures.$": "$.failures",
        "fresh": True,
    }
    # A shard's every end leaves a small summary, never its targets' data.
    ends = {name: state for name, state in inner.items() if state.get("End")}
    assert set(ends) == {"ShardDone", "ShardFailed", "ShardThrottled"}
    assert all(state["Type"] == "Pass" and "Parameters" in state for state in ends.values())
    # A shard's task failure ends its iteration (the other shards go on), counted by CheckLease, not the Map.
    for name, state in inner.items():
        if state["Type"] == "Task":
            targets = {c["Next"] for c in state["Catch"]}
            assert targets <= {"ShardFailed", "ShardThrottled"}, name
    assert [c["Next"] for c in fan_out["Catch"]] == ["CountFailedIteration"]
    assert states["WaitInterval"]["Next"] == "CheckLease"
    assert states["CheckLease"]["Next"] == "KeepLooping"
