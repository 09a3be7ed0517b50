"""Parameter sets whose config document SurgeConfig would reject never deploy: the template refuses them first.

`infra/template.yaml` builds the config document (its ConfigParameter) from the parameters. A set that builds an
invalid document used to deploy green, then every execution failed `CannotStartLoop` into an alarm nobody received.
The template now refuses such sets before anything is created, with two CloudFormation mechanisms: each
parameter's constraints (AllowedPattern, AllowedValues, MinValue/MaxValue, required when it has no Default) and
the `Rules` section for combinations (no target; ServiceName without ClusterName and the reverse).

THIS FILE EVALUATES RULES WITH A TEST ORACLE, NOT PRODUCT CODE. Nothing real evaluates Rules offline here:
cfn-lint (1.x) only checks their shape (E1700-E1702) and feeds their Fn::Equals to its condition solver;
aws-sam-translator copies the section through untouched; moto 5.2.5's CloudFormation never reads it (no "Rules"
anywhere in moto/cloudformation) and creates the stack whatever the assertions say. So the oracle below evaluates
the handful of functions a Rule may use (Fn::And, Fn::Or, Fn::Not, Fn::Equals, Fn::Contains, Fn::EachMemberEquals,
Fn::EachMemberIn and Ref to a parameter; the account-reading Fn::RefAll / Fn::ValueOf / Fn::ValueOfAll are refused,
and so is everything else, as CloudFormation refuses it:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-rules.html),
and a parameter's constraints as CloudFormation documents them (AllowedPattern matches the whole value; our
patterns use only anchors, classes, counted repeats and alternation, which Java's and Python's regex agree on).
The document itself is built by the template's own intrinsics (`test_deploy.Resolver`: Fn::If on the template's
Conditions, Fn::Join, Fn::Sub) and judged by the real `SurgeConfig`.

One combination cannot be refused before deploy: MinUnits above MaxUnits. No rule function orders two numbers
(`test_min_units_above_max_units_is_the_one_set_rules_cannot_refuse` pins that gap; the README says what the
operator sees).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from samtranslator.yaml_helper import yaml_parse

from scaler_support import LOAD_BALANCER
from surge.core.config import SurgeConfig
from test_deploy import PARAMETERS, STACK, TEMPLATE, Resolver, translate

RULE_FUNCTIONS = {
    "Fn::And",
    "Fn::Or",
    "Fn::Not",
    "Fn::Equals",
    "Fn::Contains",
    "Fn::EachMemberEquals",
    "Fn::EachMemberIn",
    "Fn::RefAll",
    "Fn::ValueOf",
    "Fn::ValueOfAll",
    "Ref",
}
"""What the Rules section accepts (the rule-functions page above; Fn::If is listed there but refused)."""

GOOD = {
    "ClusterName": "prod",
    "ServiceName": "api",
    "AutoScalingGroupName": "web",
    "LoadBalancerFullName": LOAD_BALANCER,
    "UnitCapacityRps": "100",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    document: dict[str, Any] = yaml_parse(TEMPLATE.read_text())
    return document


# ------------------------------------------------------------------------------------------------ the oracle


def _rule_value(expression: Any, parameters: dict[str, str]) -> Any:
    """One rule expression, evaluated as CloudFormation documents it (see the module docstring)."""
    if isinstance(expression, list):
        return [_rule_value(item, parameters) for item in expression]
    if not isinstance(expression, dict):
        return str(expression)
    ((function, argument),) = expression.items()
    if function == "Ref":
        return parameters[argument]
    if function == "Fn::Equals":
        left, right = (_rule_value(a, parameters) for a in argument)
        return left == right
    if function == "Fn::Not":
        (inner,) = argument
        return not _truth(inner, parameters)
    if function == "Fn::And":
        assert 2 <= len(argument) <= 10, "Fn::And takes 2 to 10 conditions"
        return all(_truth(a, parameters) for a in argument)
    if function == "Fn::Or":
        assert 2 <= len(argument) <= 10, "Fn::Or takes 2 to 10 conditions"
        return any(_truth(a, parameters) for a in argument)
    if function == "Fn::Contains":
        values, value = (_rule_value(a, parameters) for a in argument)
        return value in values
    if function == "Fn::EachMemberEquals":
        values, value = (_rule_value(a, parameters) for a in argument)
        return all(v == value for v in values)
    if function == "Fn::EachMemberIn":
        values, allowed = (_rule_value(a, parameters) for a in argument)
        return all(v in allowed for v in values)
    raise AssertionError(f"{function} in a Rule: not a rule function this template may use")


def _truth(expression: Any, parameters: dict[str, str]) -> bool:
    value = _rule_value(expression, parameters)
    assert isinstance(value, bool), f"{expression} is not a condition"
    return value


def failed_rules(template: dict[str, Any], parameters: dict[str, str]) -> list[str]:
    """Rules whose condition holds and one of whose assertions is false, as `Rule: AssertDescription`."""
    values = {**defaults(template), **parameters}
    failed = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not _truth(rule["RuleCondition"], values):
            continue
        failed += [f"{name}: {a['AssertDescription']}" for a in rule["Assertions"] if not _truth(a["Assert"], values)]
    return failed


def defaults(template: dict[str, Any]) -> dict[str, str]:
    return {name: str(spec["Default"]) for name, spec in template["Parameters"].items() if "Default" in spec}


def refused_parameters(template: dict[str, Any], parameters: dict[str, str]) -> list[str]:
    """Parameters CloudFormation refuses on their own, as `Name: ConstraintDescription`."""
    values = {**defaults(template), **parameters}
    refused = []
    for name, spec in template["Parameters"].items():
        why = spec.get("ConstraintDescription", "constraint")
        if name not in values:
            refused.append(f"{name}: required (no Default)")
            continue
        value = values[name]
        if "AllowedPattern" in spec and re.fullmatch(spec["AllowedPattern"], value) is None:
            refused.append(f"{name}: {why}")
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            refused.append(f"{name}: allowed values {spec['AllowedValues']}")
        if spec["Type"] == "Number":
            number = float(value)
            if number < float(spec.get("MinValue", number)) or number > float(spec.get("MaxValue", number)):
                refused.append(f"{name}: {why}")
    return refused


def refusals(template: dict[str, Any], parameters: dict[str, str]) -> list[str]:
    return refused_parameters(template, parameters) + failed_rules(template, parameters)


def config_document(template: dict[str, Any], parameters: dict[str, str]) -> str:
    """The ConfigParameter's value, built by the template's own intrinsics (KeyError: a required one is missing)."""
    resolve = Resolver(template, parameters, {"AWS::StackName": STACK})
    value: str = resolve(template["Resources"]["ConfigParameter"]["Properties"]["Value"])
    return value


def document_problem(template: dict[str, Any], parameters: dict[str, str]) -> str | None:
    """Why the document the template builds would not do what the parameters ask (None: it would)."""
    try:
        text = config_document(template, parameters)
    except KeyError as missing:
        return f"cannot be built: {missing}"
    try:
        config = SurgeConfig.model_validate_json(text)
    except ValidationError as error:
        return f"rejected by SurgeConfig: {error.errors()[0]['loc']} {error.errors()[0]['msg']}"
    if parameters.get("ClusterName") and not any(t.ecs is not None for t in config.targets):
        return "ClusterName given, but the document has no ECS target (silently dropped)"
    return None


# ------------------------------------------------------------------------------------------------ the tests


def test_the_rules_use_only_rule_functions_and_describe_every_assertion(template: dict[str, Any]) -> None:
    used: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            used.update(k for k in node if k.startswith("Fn::") or k == "Ref")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(template["Rules"])
    assert used <= RULE_FUNCTIONS, f"not allowed in Rules: {sorted(used - RULE_FUNCTIONS)}"
    for name, rule in template["Rules"].items():
        for assertion in rule["Assertions"]:
            described = assertion.get("AssertDescription", "")
            named = [p for p in template["Parameters"] if p in described]
            assert named, f"{name}: the AssertDescription must name the parameter: {described!r}"


def test_the_translated_template_keeps_the_rules() -> None:
    """`sam deploy` submits what aws-sam-translator produces: the Rules must survive the transform."""
    translated = translate(PARAMETERS)
    assert translated["Rules"] == yaml_parse(TEMPLATE.read_text())["Rules"]


@pytest.mark.parametrize(
    "parameters",
    [
        pytest.param(GOOD, id="an ECS service and an Auto Scaling group"),
        pytest.param({**GOOD, "AutoScalingGroupName": ""}, id="an ECS service only"),
        pytest.param({**GOOD, "ClusterName": "", "ServiceName": ""}, id="an Auto Scaling group only"),
        pytest.param(
            {
                **GOOD,
                "TargetGroupFullName": "targetgroup/api/73e2d6bc24d8a067",
                "MinUnits": "0",
                "MaxUnits": "10000",
                "UnitCapacityRps": "1000000",
                "TargetUtilization": "1",
                "LoopIntervalSeconds": "60",
                "ScaleInCooldownSeconds": "3600",
                "ServiceName": "s" * 60,
                "AutoScalingGroupName": "web.group_1-" + "g" * 48,
                "ClusterName": "c" * 255,
            },
            id="every value at its limit",
        ),
        pytest.param(
            {**GOOD, "MinUnits": "7", "MaxUnits": "7", "UnitCapacityRps": "12.5", "TargetUtilization": "0.05"},
            id="min equals max, a decimal capacity, the lowest utilization",
        ),
        pytest.param({**GOOD, "AlarmEmail": "oncall@example.com"}, id="with an alarm email"),
    ],
)
def test_a_good_parameter_set_passes_every_check_and_builds_a_valid_document(
    template: dict[str, Any], parameters: dict[str, str]
) -> None:
    assert refusals(template, parameters) == []
    assert document_problem(template, parameters) is None
    SurgeConfig.model_validate_json(config_document(template, parameters))


BAD = [
    # (parameters, the check that refuses them)
    pytest.param({**GOOD, "ClusterName": "", "ServiceName": "", "AutoScalingGroupName": ""}, "AtLeastOneTarget"),
    pytest.param({**GOOD, "ClusterName": "", "AutoScalingGroupName": ""}, "EcsServiceNeedsItsCluster"),
    pytest.param({**GOOD, "ClusterName": ""}, "EcsServiceNeedsItsCluster", id="a service without cluster, and a group"),
    pytest.param({**GOOD, "ServiceName": ""}, "EcsClusterNeedsItsService", id="a cluster without service, and a group"),
    pytest.param({**GOOD, "ServiceName": "", "AutoScalingGroupName": ""}, "EcsClusterNeedsItsService"),
    pytest.param({k: v for k, v in GOOD.items() if k != "UnitCapacityRps"}, "UnitCapacityRps", id="no capacity"),
    pytest.param({**GOOD, "UnitCapacityRps": "0"}, "UnitCapacityRps"),
    pytest.param({**GOOD, "UnitCapacityRps": ".5"}, "UnitCapacityRps"),
    pytest.param({**GOOD, "UnitCapacityRps": "1000001"}, "UnitCapacityRps"),
    pytest.param({**GOOD, "MinUnits": "2.5"}, "MinUnits"),
    pytest.param({**GOOD, "MinUnits": "02"}, "MinUnits"),
    pytest.param({**GOOD, "MinUnits": "-1"}, "MinUnits"),
    pytest.param({**GOOD, "MinUnits": "10001", "MaxUnits": "10000"}, "MinUnits"),
    pytest.param({**GOOD, "MaxUnits": "0"}, "MaxUnits"),
    pytest.param({**GOOD, "MaxUnits": "150.5"}, "MaxUnits"),
    pytest.param({**GOOD, "TargetUtilization": "0"}, "TargetUtilization"),
    pytest.param({**GOOD, "TargetUtilization": ".7"}, "TargetUtilization"),
    pytest.param({**GOOD, "TargetUtilization": "1.5"}, "TargetUtilization"),
    pytest.param({**GOOD, "LoopIntervalSeconds": "0"}, "LoopIntervalSeconds"),
    pytest.param({**GOOD, "LoopIntervalSeconds": "5.5"}, "LoopIntervalSeconds"),
    pytest.param({**GOOD, "LoopIntervalSeconds": "61"}, "LoopIntervalSeconds"),
    pytest.param({**GOOD, "ScaleInCooldownSeconds": "3601"}, "ScaleInCooldownSeconds"),
    pytest.param({**GOOD, "ScaleInCooldownSeconds": "299.5"}, "ScaleInCooldownSeconds"),
    pytest.param({**GOOD, "ServiceName": 'api", "x": "'}, "ServiceName", id="a quote in the service name"),
    pytest.param({**GOOD, "ServiceName": "s" * 61}, "ServiceName", id="a target id over 64 characters"),
    pytest.param({**GOOD, "ClusterName": 'prod"'}, "ClusterName", id="a quote in the cluster name"),
    pytest.param({**GOOD, "AutoScalingGroupName": "web group"}, "AutoScalingGroupName", id="a space in the group"),
    pytest.param({**GOOD, "TargetGroupFullName": 'targetgroup/api/7"'}, "TargetGroupFullName"),
    pytest.param({**GOOD, "LoadBalancerFullName": 'app/api/5"'}, "LoadBalancerFullName"),
]


@pytest.mark.parametrize(("parameters", "refused_by"), BAD)
def test_a_set_that_would_build_an_invalid_document_is_refused_before_anything_is_created(
    template: dict[str, Any], parameters: dict[str, str], refused_by: str
) -> None:
    problem = document_problem(template, parameters)
    assert problem is not None, "the template would build a document that does what these parameters ask"
    found = refusals(template, parameters)
    assert any(f.startswith(f"{refused_by}:") for f in found), f"not refused by {refused_by} ({problem}): {found}"
    (why,) = [f for f in found if f.startswith(f"{refused_by}:")]
    message = why.split(": ", 1)[1]
    # What the operator reads names a parameter (CloudFormation names a missing one itself).
    assert message.startswith("required") or any(p in message for p in template["Parameters"]), why


def test_min_units_above_max_units_is_the_one_set_rules_cannot_refuse(template: dict[str, Any]) -> None:
    """Pins the gap the template's Rules comment states: no rule function orders two numbers, so this set deploys
    and every execution then fails CannotStartLoop (ScalerExecutionsFailedAlarm, to AlarmEmail). If a later
    CloudFormation gives Rules a comparison, this test fails: add the Rule and turn this into a BAD case."""
    parameters = {**GOOD, "MinUnits": "20", "MaxUnits": "10"}
    assert document_problem(template, parameters) is not None
    assert refusals(template, parameters) == []


def test_an_alarm_email_is_subscribed_to_the_alarm_topic_only_when_given(template: dict[str, Any]) -> None:
    for email, subscribed in [("oncall@example.com", True), ("", False)]:
        parameters = {**PARAMETERS, "AlarmEmail": email}
        translated = translate(parameters)
        (subscription,) = [
            r for r in translated["Resources"].values() if r["Type"] == "AWS::SNS::Subscription"
        ]  # one resource, created or not by its condition
        resolve = Resolver(translated, parameters)
        assert resolve.condition(subscription["Condition"]) is subscribed
        assert subscription["Properties"] == {
            "TopicArn": {"Ref": "NotificationTopic"},
            "Protocol": "email",
            "Endpoint": {"Ref": "AlarmEmail"},
        }
        # ... and that topic is the one every alarm notifies.
        for name, alarm in translated["Resources"].items():
            if alarm["Type"] == "AWS::CloudWatch::Alarm":
                assert alarm["Properties"]["AlarmActions"] == [{"Ref": "NotificationTopic"}], name
    assert refusals(template, {**GOOD, "AlarmEmail": "not an address"}) == [
        "AlarmEmail: AlarmEmail must be one email address (name@example.com) or empty."
    ]


def test_unit_capacity_has_no_default_and_says_how_to_measure_it(template: dict[str, Any]) -> None:
    spec = template["Parameters"]["UnitCapacityRps"]
    assert "Default" not in spec
    description = spec["Description"].lower()
    for advice in ("measure", "load-test", "requestcount"):
        assert advice in description


# Candidate values for the property below: every parameter valid on its own (names may be empty), then at most one
# of them replaced by a value that is not. Left out: values the patterns refuse although the document would take
# them, on purpose (an integer written 150.0 or 1e3, a utilization under the template's 0.05, a capacity under
# 1 rps, names ECS or Auto Scaling would not accept): refusing those is stricter, never unsafe.
VALID: dict[str, list[str]] = {
    "ClusterName": ["", "prod", "c" * 255],
    "ServiceName": ["", "api", "s" * 60],
    "AutoScalingGroupName": ["", "web", "web.group"],
    "TargetGroupFullName": ["", "targetgroup/api/73e2d6bc24d8a067"],
    "MinUnits": ["0", "2", "10000"],
    "MaxUnits": ["1", "150", "10000"],
    "UnitCapacityRps": ["1", "100", "12.5", "1000000"],
    "TargetUtilization": ["0.05", "0.7", "1", "1.0"],
    "LoopIntervalSeconds": ["1", "5", "60"],
    "ScaleInCooldownSeconds": ["0", "300", "3600"],
}
INVALID: list[tuple[str, str]] = [
    ("ClusterName", 'pr"od'),
    ("ClusterName", "c" * 256),
    ("ServiceName", "s" * 61),
    ("ServiceName", "a b"),
    ("AutoScalingGroupName", "w" * 61),
    ("AutoScalingGroupName", "web group"),
    ("TargetGroupFullName", 'targetgroup/a"/1'),
    *[("MinUnits", v) for v in ["2.5", "02", "-1", "10001", ""]],
    *[("MaxUnits", v) for v in ["0", "150.5", "10001", ""]],
    *[("UnitCapacityRps", v) for v in ["0", ".5", "1000000.5", ""]],
    *[("TargetUtilization", v) for v in ["0", ".7", "1.5"]],
    *[("LoopIntervalSeconds", v) for v in ["0", "61", "5.5"]],
    *[("ScaleInCooldownSeconds", v) for v in ["3601", "299.5", "-5"]],
]


PROPERTY = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(
    st.fixed_dictionaries({name: st.sampled_from(values) for name, values in VALID.items()}),
    st.one_of(st.none(), st.sampled_from(INVALID)),
)
def test_every_set_the_template_accepts_builds_a_valid_document_and_every_refused_one_would_not(
    template: dict[str, Any], chosen: dict[str, str], spoiled: tuple[str, str] | None
) -> None:
    """Accepted <=> the document would do what was asked, except the one gap (MinUnits above MaxUnits, both
    otherwise valid), which is accepted and builds an invalid document."""
    parameters = {**chosen, "LoadBalancerFullName": LOAD_BALANCER}
    if spoiled is not None:
        parameters[spoiled[0]] = spoiled[1]
    found = refusals(template, parameters)
    problem = document_problem(template, parameters)
    if not found and problem is not None:
        assert int(parameters["MinUnits"]) > int(parameters["MaxUnits"]), f"accepted, but {problem}"
    if found:
        assert problem is not None, f"refused ({found}) though the document would be valid"


def test_the_good_document_is_the_one_the_deploy_test_runs() -> None:
    """The deploy test's parameters pass every check (its local run uses their document)."""
    template = yaml_parse(TEMPLATE.read_text())
    assert refusals(template, PARAMETERS) == []
    assert json.loads(config_document(template, PARAMETERS))["targets"]


def test_moto_does_not_evaluate_rules_which_is_why_this_file_has_an_oracle() -> None:
    """Evidence for the module docstring: moto's CloudFormation creates a stack whose only Rule is false. If a
    moto upgrade makes this fail, moto evaluates Rules: create the BAD sets on it instead of the oracle."""
    import boto3
    from moto import mock_aws

    template = {
        "Parameters": {"Name": {"Type": "String", "Default": ""}},
        "Rules": {
            "NameGiven": {
                "Assertions": [
                    {
                        "Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Name"}, ""]}]},
                        "AssertDescription": "Name is empty",
                    }
                ]
            }
        },
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "rules-test"}}},
    }
    assert failed_rules(template, {}) == ["NameGiven: Name is empty"]  # CloudFormation would refuse the stack
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        cloudformation.create_stack(StackName="rules", TemplateBody=json.dumps(template))
        (stack,) = cloudformation.describe_stacks(StackName="rules")["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
