"""The deploy test that does not lie: what `sam deploy` would create, checked offline.

moto has no SAM Transform (its CloudFormation silently skips every AWS::Serverless::* resource: a false green),
so the template is first translated here with aws-sam-translator, the library `sam deploy` relies on, after
the rewrite `sam package` does (local CodeUri/DefinitionUri -> s3://). No network: the managed-policy loader
is a stub with fixed ARNs, and the translator gets an explicit boto3 session (region only, no calls).

On the translated template:
1. every AWS::Lambda::Function Handler imports from functions/ and is callable;
2. every `${...}` in each ASL file is supplied by DefinitionSubstitutions and vice versa, each state machine
   loads its ASL from DefinitionS3Location, and each placeholder names the right kind of resource;
3. the schedule, the PushSent rule (with its dead-letter queue) and the bus policy point where they should;
4. IAM: the AWS calls every handler makes are RECORDED during a real local run (scaler loop over an ECS
   service and an Auto Scaling group with a calendar event and a scale-in, then push fast-path runs: valid,
   duplicate, rejected), attributed to the Lambda function running on the calling thread, and compared with
   the translated roles both ways (every call allowed; every grant used, or on a commented allow-list);
5. the translated stack is created on moto's CloudFormation and the resources are looked up.
"""

from __future__ import annotations

import fnmatch
import importlib
import io
import json
import re
import threading
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

import ec2_support
from scaler_support import LOAD_BALANCER, START, Loop, local_aws, process_state_reset
from surge.adapters import clients, store
from surge.core.config import LinkedInstances, SurgeConfig
from surge.core.signals import CalendarEvent
from surge_cli import world
from surge_cli.localaws.harness import current_lambda
from surge_cli.push_client import push_event_entry
from surge_cli.stack import LOCAL_ACCOUNT, LocalStack, check_substitutions, deploy_locally, placeholders

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "infra" / "template.yaml"
EVENTS = REPO / "events"
REGION = "us-east-1"
STACK = "surge"
BUCKET = "surge-artifacts"
PUSH_SERVER_ROLE = "arn:aws:iam::210987654321:role/push-server"

# Both target kinds at once, so every conditional statement of the template is in play. The scaling numbers
# make the arithmetic of the local run easy: one unit per 50 rps (100 rps per unit at 50 %).
PARAMETERS = {
    "ClusterName": "prod",
    "ServiceName": "api",
    "AutoScalingGroupName": "web",
    "InstancesGroupName": ec2_support.GROUP,
    "InstancesCapacityProvider": ec2_support.PROVIDER,
    "LoadBalancerFullName": LOAD_BALANCER,
    "MinUnits": "2",
    "MaxUnits": "50",
    "UnitCapacityRps": "100",
    "TargetUtilization": "0.5",
    "LoopIntervalSeconds": "5",
    "ScaleInCooldownSeconds": "60",
    "PushServerPrincipal": PUSH_SERVER_ROLE,
}

# Managed policies SAM attaches, mapped offline (samtranslator would list every AWS managed policy via IAM).
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}
# The managed policies a role may carry, and why the local run cannot show them being used.
MANAGED_ALLOW_LIST = {
    # Lambda's runtime writes the function's logs (logs:CreateLogGroup/CreateLogStream/PutLogEvents), not the
    # handler; the log group itself is created by the template with a retention.
    MANAGED_POLICIES["AWSLambdaBasicExecutionRole"]: "Lambda runtime logging",
    # Tracing: Active / Tracing.Enabled: the X-Ray daemon of Lambda and Step Functions sends the segments.
    MANAGED_POLICIES["AWSXrayWriteOnlyAccess"]: "X-Ray tracing",
    # Not AWSLambdaSQSQueueExecutionRole (SQS on Resource "*"): the notifier's event source is an explicit
    # EventSourceMapping whose poller permissions are granted inline, on the notification queue only.
}
# Step Functions' CloudWatch Logs delivery (Logging: Destinations): the service calls these when the state
# machine is created/updated, with Resource "*" as AWS documents; no execution makes them.
LOGS_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
# Inline grants of a function that the local run cannot reach, with the reason. Keep this short.
INLINE_ALLOW_LIST: dict[str, dict[str, str]] = {
    "NotifyFunction": {
        "sqs:ReceiveMessage": "Lambda's SQS poller (NotifyEventSource) uses the function's role, not the handler",
        "sqs:DeleteMessage": "Lambda's SQS poller (NotifyEventSource) uses the function's role, not the handler",
        "sqs:GetQueueAttributes": "Lambda's SQS poller (NotifyEventSource) uses the function's role, not the handler",
        "sqs:ChangeMessageVisibility": "Lambda's SQS poller (NotifyEventSource) uses the function's role",
        "kms:GenerateDataKey": "SNS calls KMS for the topic's key on the publisher's behalf (server side)",
        "kms:Decrypt": "SNS calls KMS for the topic's key on the publisher's behalf (server side)",
    },
}
# APIs without resource-level permissions: Resource "*" is the only way to grant them.
NO_RESOURCE_LEVEL = {"cloudwatch:GetMetricData", "autoscaling:DescribeAutoScalingGroups"}
# Grants on every resource of one kind inside one named parent, because the ids cannot be known in advance.
ID_UNKNOWN_IN_ADVANCE = {
    # A container instance's id is minted when its instance registers: the cluster's container instances.
    "ecs:DescribeContainerInstances": "container-instance/{ClusterName}/*",
    "ecs:UpdateContainerInstancesState": "container-instance/{ClusterName}/*",
}
NO_VALUE = object()


# ------------------------------------------------------------------------------------------ translation


class _PolicyLoaderStub:
    """samtranslator's ManagedPolicyLoader without IAM: a fixed name -> ARN map."""

    def load(self) -> dict[str, str]:
        return dict(MANAGED_POLICIES)


def packaged_sam_template() -> dict[str, Any]:
    """infra/template.yaml as `sam package` hands it to CloudFormation: local paths become s3:// URIs.

    The S3 key is the path relative to the repository, so the test can map a DefinitionS3Location back to the
    ASL file `sam package` would upload."""
    document: dict[str, Any] = yaml_parse(TEMPLATE.read_text())

    def s3(local: str) -> str:
        return f"s3://{BUCKET}/{(TEMPLATE.parent / local).resolve().relative_to(REPO).as_posix()}"

    function_globals = document.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = s3(function_globals["CodeUri"])
    for resource in document["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = s3(props["CodeUri"])
        if resource["Type"] == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["DefinitionUri"] = s3(props["DefinitionUri"])
    return document


def translate(parameters: dict[str, str]) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would submit (AWS::Serverless-2016-10-31 expanded)."""
    session = boto3.Session(region_name=REGION)  # only for the region/partition pseudo parameters; no call
    translator = Translator(None, Parser(), boto_session=session)
    return translator.translate(
        packaged_sam_template(),
        parameter_values={**parameters, "AWS::Region": REGION, "AWS::AccountId": LOCAL_ACCOUNT},
        get_managed_policy_map=_PolicyLoaderStub().load,
    )


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate(PARAMETERS)


def of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == type_name}


# ------------------------------------------------------------------------------------ intrinsic resolution


@dataclass
class Resolver:
    """Resolves Ref / Fn::GetAtt / Fn::Sub / Fn::If / Fn::Join of the translated template; Fn::If uses the
    template's Conditions under the given parameters. Unknown names raise (never guessed)."""

    template: dict[str, Any]
    parameters: dict[str, str]
    physical: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        defaults = {n: str(s["Default"]) for n, s in self.template.get("Parameters", {}).items() if "Default" in s}
        self.values = {
            **defaults,
            **self.parameters,
            "AWS::Region": REGION,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK,
            "AWS::URLSuffix": "amazonaws.com",
            **self.physical,
        }

    def lookup(self, name: str) -> str:
        if name not in self.values:
            raise KeyError(f"no value for {name!r} (add it to the physical names)")
        return self.values[name]

    def condition(self, name: str) -> bool:
        return bool(self._evaluate(self.template["Conditions"][name]))

    def _evaluate(self, expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
            ((function, argument),) = expression.items()
            if function == "Fn::Not":
                return not self._evaluate(argument[0])
            if function == "Fn::Equals":
                return self._evaluate(argument[0]) == self._evaluate(argument[1])
            if function == "Fn::And":
                return all(self._evaluate(a) for a in argument)
            if function == "Fn::Or":
                return any(self._evaluate(a) for a in argument)
            if function == "Condition":
                return self.condition(argument)
        return self(expression)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return NO_VALUE if argument == "AWS::NoValue" else self.lookup(argument)
            if function == "Fn::GetAtt":
                target, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.lookup(f"{target}.{attribute}")
            if function == "Fn::If":
                name, when_true, when_false = argument
                return self(when_true if self.condition(name) else when_false)
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self(items))
            if function == "Fn::Sub":
                text, local = (argument, {}) if isinstance(argument, str) else argument
                local_values = {k: str(self(v)) for k, v in local.items()}

                def sub(match: re.Match[str]) -> str:
                    name = match.group(1)
                    if name.startswith("!"):
                        return "${" + name[1:] + "}"
                    return local_values[name] if name in local_values else str(self.lookup(name))

                return re.sub(r"\$\{([^}]+)\}", sub, text)
            if function.startswith("Fn::"):
                raise ValueError(f"unsupported intrinsic {function}")
        return {k: r for k, r in ((k, self(v)) for k, v in value.items()) if r is not NO_VALUE}


def physical_names(template: dict[str, Any], stack: LocalStack) -> dict[str, str]:
    """What Ref/GetAtt return for the resources of the local stack `deploy_locally` created (same names)."""
    prefix = f"arn:aws:{{}}:{REGION}:{LOCAL_ACCOUNT}:"
    names: dict[str, str] = {
        "SurgeTable": stack.table_name,
        "SurgeTable.Arn": prefix.format("dynamodb") + f"table/{stack.table_name}",
        "ConfigParameter": stack.config_parameter,
        "SurgeBus": stack.bus_name,  # moto gap: `!Ref` on an EventBus misbehaves in moto; the template uses Name
        "SurgeBus.Name": stack.bus_name,
        "SurgeBus.Arn": prefix.format("events") + f"event-bus/{stack.bus_name}",
    }
    for logical_id, arn in stack.function_arns.items():
        names |= {logical_id: arn.rsplit(":", 1)[-1], f"{logical_id}.Arn": arn}
    for logical_id, arn in stack.state_machine_arns.items():
        names |= {logical_id: arn, f"{logical_id}.Name": arn.rsplit(":", 1)[-1]}
    for logical_id in of_type(template, "AWS::SQS::Queue"):
        queue = f"{STACK}-{logical_id}"
        names |= {
            logical_id: f"https://sqs.{REGION}.amazonaws.com/{LOCAL_ACCOUNT}/{queue}",
            f"{logical_id}.Arn": prefix.format("sqs") + queue,
            f"{logical_id}.QueueName": queue,
        }
    for logical_id in of_type(template, "AWS::SNS::Topic"):
        names[logical_id] = prefix.format("sns") + f"{STACK}-{logical_id}"
    for logical_id in of_type(template, "AWS::KMS::Key"):  # the local stack creates no key: SNS there is unencrypted
        names |= {logical_id: f"{logical_id}-id", f"{logical_id}.Arn": prefix.format("kms") + f"key/{logical_id}-id"}
    for logical_id in of_type(template, "AWS::Logs::LogGroup"):
        names[f"{logical_id}.Arn"] = f"{prefix.format('logs')}log-group:{logical_id}:*"
    for logical_id in of_type(template, "AWS::Events::Rule"):
        names[f"{logical_id}.Arn"] = prefix.format("events") + f"rule/{stack.bus_name}/{STACK}-{logical_id}"
    return names


# ------------------------------------------------------------------------------------------- 1. handlers


def test_every_function_handler_imports_from_functions(translated: dict[str, Any]) -> None:
    functions = of_type(translated, "AWS::Lambda::Function")
    assert functions, "the translated template has no Lambda functions"
    for logical_id, resource in functions.items():
        props = resource["Properties"]
        module_path, _, attribute = props["Handler"].rpartition(".")
        assert (REPO / "functions" / (module_path.replace(".", "/") + ".py")).is_file(), (
            f"{logical_id}: {props['Handler']} is not a module under functions/ (the CodeUri)"
        )
        handler = getattr(importlib.import_module(module_path), attribute, None)
        assert callable(handler), f"{logical_id}: {props['Handler']} is not callable"
        assert props["Code"] == {"S3Bucket": BUCKET, "S3Key": "functions"}, f"{logical_id}: code is not functions/"
        assert re.fullmatch(r"python3\.(1[2-9]|[2-9]\d)", props["Runtime"]), f"{logical_id}: {props['Runtime']}"


# ---------------------------------------------------------------------------------- 2. ASL and the machines


def asl_path(machine: dict[str, Any]) -> Path:
    props = machine["Properties"]
    assert "Definition" not in props, "the ASL file is the source of truth"
    assert "DefinitionString" not in props, "the ASL file is the source of truth"
    location = props["DefinitionS3Location"]
    assert location["Bucket"] == BUCKET
    return REPO / location["Key"]


def tasks(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every Task state, nested Parallel/Map branches included."""
    for state in definition["States"].values():
        if state["Type"] == "Task":
            yield state
        for branch in [*state.get("Branches", []), *filter(None, [state.get("ItemProcessor", state.get("Iterator"))])]:
            yield from tasks(branch)


@dataclass(frozen=True)
class MachineUse:
    """What a state machine's tasks touch, from its ASL file and DefinitionSubstitutions."""

    functions: frozenset[str]  # logical ids of AWS::Lambda::Function invoked
    queues: frozenset[str]  # logical ids of AWS::SQS::Queue sent to


def machine_use(template: dict[str, Any], logical_id: str) -> MachineUse:
    machine = template["Resources"][logical_id]
    substitutions = machine["Properties"].get("DefinitionSubstitutions", {})
    definition = json.loads(asl_path(machine).read_text())
    functions, queues = set(), set()
    for task in tasks(definition):
        resource, parameters = task["Resource"], task.get("Parameters", {})
        if resource == "arn:aws:states:::lambda:invoke":
            (name,) = placeholders(parameters["FunctionName"])
            target = substitutions[name]
            assert set(target) == {"Fn::GetAtt"}, f"{name}: {target}"
            assert target["Fn::GetAtt"][1] == "Arn", f"{name}: {target}"
            assert template["Resources"][target["Fn::GetAtt"][0]]["Type"] == "AWS::Lambda::Function", name
            functions.add(target["Fn::GetAtt"][0])
        elif resource == "arn:aws:states:::sqs:sendMessage":
            (name,) = placeholders(parameters["QueueUrl"])
            target = substitutions[name]
            assert set(target) == {"Ref"}, f"{name} must be the queue's URL (!Ref): {target}"
            assert template["Resources"][target["Ref"]]["Type"] == "AWS::SQS::Queue", name
            queues.add(target["Ref"])
        else:
            raise AssertionError(f"{logical_id}: no IAM rule for task resource {resource} (teach machine_use)")
    return MachineUse(frozenset(functions), frozenset(queues))


def test_every_asl_placeholder_is_substituted_and_every_substitution_used(translated: dict[str, Any]) -> None:
    machines = of_type(translated, "AWS::StepFunctions::StateMachine")
    files = {asl_path(m) for m in machines.values()}
    assert files == set((REPO / "statemachines").glob("*.asl.json")), "every ASL file is deployed, once"
    for logical_id, machine in machines.items():
        props = machine["Properties"]
        check_substitutions(asl_path(machine).read_text(), props.get("DefinitionSubstitutions", {}))
        assert props["RoleArn"] == {"Fn::GetAtt": [f"{logical_id}Role", "Arn"]}
        assert props["TracingConfiguration"] == {"Enabled": True}
        # Logs go to the template's own log group (which has a retention).
        (destination,) = props["LoggingConfiguration"]["Destinations"]
        group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
        assert translated["Resources"][group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        machine_use(translated, logical_id)  # every task names a resource of the right kind

    scaler = machines["ScalerStateMachine"]["Properties"]
    assert scaler["StateMachineType"] == {"Ref": "StateMachineType"}
    assert machine_use(translated, "ScalerStateMachine").functions == {
        "ClaimLoopFunction",
        "ReadSignalsFunction",
        "DecideCapacityFunction",
        "ApplyCapacityFunction",
    }
    push = machines["PushFastPathStateMachine"]["Properties"]
    assert push["StateMachineType"] == "EXPRESS"
    assert machine_use(translated, "PushFastPathStateMachine") == MachineUse(
        frozenset({"RecordPushFunction", "DecideCapacityFunction", "ApplyCapacityFunction"}),
        frozenset({"PushDeadLetterQueue"}),
    )


# ------------------------------------------------------------------------------ 3. schedule, rule and bus


def test_the_schedule_starts_the_scaler_with_the_budget(translated: dict[str, Any]) -> None:
    (schedule,) = of_type(translated, "AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    resolve = Resolver(translated, PARAMETERS)
    assert props["Target"]["Arn"] == {"Ref": "ScalerStateMachine"}
    assert props["ScheduleExpression"] == "rate(1 minute)"
    assert props["State"] == {"Ref": "ScheduleState"}
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    budget = int(resolve({"Ref": "LoopBudgetSeconds"}))
    assert json.loads(resolve(props["Target"]["Input"])) == {"budget_seconds": budget}
    # The scheduler's role may start this machine and nothing else.
    role = translated["Resources"][props["Target"]["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    assert statements(role) == [{"Action": "states:StartExecution", "Effect": "Allow", "Resource": scaler_ref()}]


def scaler_ref() -> dict[str, str]:
    return {"Ref": "ScalerStateMachine"}


def statements(role_props: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role_props.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def push_fast_path_rules(translated: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge rules that start the push fast path, by logical id."""
    return {
        name: rule
        for name, rule in of_type(translated, "AWS::Events::Rule").items()
        if any(t["Arn"] == {"Ref": "PushFastPathStateMachine"} for t in rule["Properties"]["Targets"])
    }


def test_the_push_rule_is_on_the_surge_bus_and_starts_the_fast_path_with_a_dead_letter_queue(
    translated: dict[str, Any],
) -> None:
    rules = push_fast_path_rules(translated)
    assert len(rules) == 1, f"exactly one rule starts the push fast path: {sorted(rules)}"
    (rule,) = rules.values()
    props = rule["Properties"]
    assert props["EventBusName"] == {"Fn::GetAtt": ["SurgeBus", "Name"]}
    assert props["EventPattern"] == {"source": [{"Ref": "PushEventSource"}], "detail-type": ["PushSent"]}
    (target,) = props["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["PushDeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    role = translated["Resources"][target["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    assert statements(role) == [
        {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": "PushFastPathStateMachine"}}
    ]
    # The dead-letter queue admits EventBridge, for rules of the Surge bus only.
    resolve = Resolver(translated, PARAMETERS, {"SurgeBus.Name": f"{STACK}-bus", "PushDeadLetterQueue.Arn": "dlq"})
    policies = [
        resolve(p["Properties"]["PolicyDocument"])
        for p in of_type(translated, "AWS::SQS::QueuePolicy").values()
        if {"Ref": "PushDeadLetterQueue"} in p["Properties"]["Queues"]
    ]
    (document,) = policies
    (statement,) = document["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == "dlq"
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": f"arn:aws:events:{REGION}:{LOCAL_ACCOUNT}:rule/{STACK}-bus/*"}
    }


def test_a_push_parked_in_the_dead_letter_queue_alarms_however_it_got_there(translated: dict[str, Any]) -> None:
    """EventBridge's dead-letter delivery (the fast path never started: no execution fails, no Surge metric) and
    the fast path's own parking both send to the push dead-letter queue; one alarm watches what is sent to it."""
    (rule,) = push_fast_path_rules(translated).values()
    (target,) = rule["Properties"]["Targets"]
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["PushDeadLetterQueue", "Arn"]}
    machine = translated["Resources"]["PushFastPathStateMachine"]["Properties"]
    assert machine["DefinitionSubstitutions"]["PushDeadLetterQueueUrl"] == {"Ref": "PushDeadLetterQueue"}
    parked = [
        alarm["Properties"]
        for alarm in of_type(translated, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["Namespace"] == "AWS/SQS"
        and alarm["Properties"]["Dimensions"]
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["PushDeadLetterQueue", "QueueName"]}}]
    ]
    assert len(parked) == 1, "exactly one alarm watches the push dead-letter queue"
    (props,) = parked
    assert (props["MetricName"], props["Statistic"], props["Period"]) == ("NumberOfMessagesSent", "Sum", 60)
    assert (props["Threshold"], props["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert props["TreatMissingData"] == "notBreaching"  # SQS publishes nothing for an idle queue
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "NotificationTopic"}]


@pytest.mark.parametrize(("principal", "expected"), [(PUSH_SERVER_ROLE, PUSH_SERVER_ROLE), ("", LOCAL_ACCOUNT)])
def test_the_bus_policy_admits_only_the_push_principal(
    translated: dict[str, Any], principal: str, expected: str
) -> None:
    (policy,) = of_type(translated, "AWS::Events::EventBusPolicy").values()
    resolve = Resolver(
        translated,
        {**PARAMETERS, "PushServerPrincipal": principal},
        {"SurgeBus.Name": f"{STACK}-bus", "SurgeBus.Arn": "bus-arn"},
    )
    props = resolve(policy["Properties"])
    assert props["EventBusName"] == f"{STACK}-bus"
    assert props["Statement"] == {
        "Effect": "Allow",
        "Principal": {"AWS": expected},
        "Action": "events:PutEvents",
        "Resource": "bus-arn",
        "Condition": {"StringEquals": {"events:source": "com.example.push"}},
    }


# ------------------------------------------------------------------------------ 4. IAM from a recorded run


@dataclass(frozen=True)
class Call:
    function: str  # logical id of the Lambda function whose handler made the call
    action: str  # IAM action, e.g. dynamodb:Query
    resources: tuple[str, ...]  # ARNs the call touches ("*" for APIs without resource-level permissions)


# botocore service name -> IAM prefix, where they differ (they do not for any client Surge uses today).
IAM_PREFIX: dict[str, str] = {}
_ANY_ASG = "00000000-0000-0000-0000-000000000000"  # an ASG ARN's uuid is not known to the caller
INSTANCE_GROUPS: dict[str, str] = {}
"""EC2 instance id -> its Auto Scaling group, filled by the run (TerminateInstanceInAutoScalingGroup names only the
instance)."""


def resources_of(action: str, params: dict[str, Any]) -> tuple[str, ...]:
    """The resource ARNs an API call is authorized against (IAM's service authorization reference)."""
    arn = f"arn:aws:{{}}:{REGION}:{LOCAL_ACCOUNT}:"
    service = action.split(":")[0]
    if action in NO_RESOURCE_LEVEL:
        return ("*",)
    if action == "dynamodb:BatchWriteItem":  # authorized per table named
        return tuple(arn.format("dynamodb") + f"table/{name}" for name in sorted(params["RequestItems"]))
    if service == "dynamodb":
        return (arn.format("dynamodb") + f"table/{params['TableName']}",)
    if action == "ssm:GetParameter":
        name = params["Name"] if params["Name"].startswith("/") else "/" + params["Name"]
        return (arn.format("ssm") + f"parameter{name}",)
    if action == "ssm:GetParameters":  # authorized per parameter named
        return tuple(arn.format("ssm") + f"parameter{n if n.startswith('/') else '/' + n}" for n in params["Names"])
    if action == "ecs:DescribeServices":
        return tuple(arn.format("ecs") + f"service/{params['cluster']}/{s}" for s in params["services"])
    if action == "ecs:UpdateService":
        return (arn.format("ecs") + f"service/{params['cluster']}/{params['service']}",)
    if action == "ecs:DescribeCapacityProviders":
        return tuple(arn.format("ecs") + f"capacity-provider/{n}" for n in params["capacityProviders"])
    if action == "ecs:ListContainerInstances":
        return (arn.format("ecs") + f"cluster/{params['cluster']}",)
    if action in ("ecs:DescribeContainerInstances", "ecs:UpdateContainerInstancesState"):
        return tuple(
            c if c.startswith("arn:") else arn.format("ecs") + f"container-instance/{params['cluster']}/{c}"
            for c in params["containerInstances"]
        )
    if action == "autoscaling:TerminateInstanceInAutoScalingGroup":  # authorized against the instance's group
        group = INSTANCE_GROUPS[params["InstanceId"]]
        return (arn.format("autoscaling") + f"autoScalingGroup:{_ANY_ASG}:autoScalingGroupName/{group}",)
    if service == "autoscaling" and "AutoScalingGroupName" in params:
        group = params["AutoScalingGroupName"]
        return (arn.format("autoscaling") + f"autoScalingGroup:{_ANY_ASG}:autoScalingGroupName/{group}",)
    if action == "events:PutEvents":
        buses = {e.get("EventBusName", "default") for e in params["Entries"]}
        return tuple(b if b.startswith("arn:") else arn.format("events") + f"event-bus/{b}" for b in sorted(buses))
    if action == "sns:Publish":
        return (params["TopicArn"],)
    if action == "secretsmanager:GetSecretValue":
        return (params["SecretId"],)
    raise AssertionError(f"no resource rule for {action}: teach resources_of (see IAM's service reference)")


@dataclass
class Recorder:
    """Every AWS call made through surge.adapters.clients, attributed to the Lambda function running."""

    function_by_name: dict[str, str] = field(default_factory=dict)  # physical name -> logical id
    calls: set[Call] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        running = current_lambda()
        if running is None:
            return  # the test itself (setting up the world) or the harness
        service = model.service_model.service_name
        action = f"{IAM_PREFIX.get(service, service)}:{model.name}"
        call = Call(self.function_by_name.get(running, running), action, resources_of(action, params))
        with self.lock:
            self.calls.add(call)

    def by_function(self) -> dict[str, set[Call]]:
        grouped: dict[str, set[Call]] = defaultdict(set)
        for call in self.calls:
            grouped[call.function].add(call)
        return grouped


def record_client_calls(monkeypatch: pytest.MonkeyPatch, recorder: Recorder) -> None:
    """Hook every cached getter of surge.adapters.clients: each client it hands out reports its calls.

    `before-parameter-build` sees the API parameters as the handler passed them, once per call (not per
    retry). The getters keep their `cache_clear`, so `clients.reset()` still works."""
    hooked: set[int] = set()

    def wrap(getter: Callable[[], Any]) -> Callable[[], Any]:
        def hooked_getter() -> Any:
            client = getter()
            if id(client) not in hooked:
                hooked.add(id(client))
                client.meta.events.register("before-parameter-build", recorder.on_call)
            return client

        hooked_getter.cache_clear = getter.cache_clear  # type: ignore[attr-defined]
        return hooked_getter

    getters = [n for n, v in vars(clients).items() if callable(v) and hasattr(v, "cache_clear")]
    assert getters, "surge.adapters.clients has no cached client getters"
    for name in getters:
        monkeypatch.setattr(clients, name, wrap(getattr(clients, name)))


@dataclass
class Run:
    stack: LocalStack
    recorder: Recorder
    invoked: set[str]  # logical ids of the functions whose handlers ran
    physical: dict[str, str]


def template_config(template: dict[str, Any]) -> SurgeConfig:
    """The configuration document the template's ConfigParameter holds for PARAMETERS."""
    value = Resolver(template, PARAMETERS, {"AWS::StackName": STACK})(
        template["Resources"]["ConfigParameter"]["Properties"]["Value"]
    )
    return SurgeConfig.model_validate_json(value)


@pytest.fixture(scope="module")
def run(translated: dict[str, Any]) -> Run:
    """A local run of both state machines that reaches every AWS call the handlers make."""
    # The ECS target as an operator's `surge config apply` makes it an ECS-on-EC2 one (README "ECS on EC2").
    template = template_config(translated)
    linked = {
        "capacity_provider": PARAMETERS["InstancesCapacityProvider"],
        "tasks_per_instance": 4,
        "min_instances": 1,
    }
    config = SurgeConfig(
        targets=[
            t.model_copy(update={"instances": LinkedInstances.model_validate(linked)}) if t.ecs is not None else t
            for t in template.targets
        ]
    )
    asg = next(t for t in config.targets if t.asg is not None)
    recorder = Recorder()
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        mp.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "Surge")
        record_client_calls(mp, recorder)
        with local_aws() as aws:
            stack = deploy_locally(aws, config, stack_name=STACK, parameters=PARAMETERS)
            recorder.function_by_name = {arn.rsplit(":", 1)[-1]: lid for lid, arn in stack.function_arns.items()}
            world.create_auto_scaling_group(aws, asg.asg.group_name, min_units=2, max_units=10, desired_units=2)  # type: ignore[union-attr]
            # ECS on EC2: the service runs on PARAMETERS' InstancesGroupName behind its capacity provider, managed
            # scaling ENABLED at first (Surge raises MinSize: UpdateAutoScalingGroup), then DISABLED before the
            # scale-in (Surge drains and terminates the idle instance) and the pushes (SetDesiredCapacity).
            aws.client("ecs").put_account_setting(name="containerInstanceLongArnFormat", value="enabled")
            ec2_support.create_linked_world(aws, tasks=2, instances=1, managed=True)
            placement = ec2_support.Placement(aws, tasks_per_instance=4)

            def ecs_agent_and_scheduler() -> None:
                placement.sync()
                for instance in world.auto_scaling_group(aws, ec2_support.GROUP)["Instances"]:
                    INSTANCE_GROUPS[instance["InstanceId"]] = ec2_support.GROUP

            ecs_agent_and_scheduler()
            aws.every(1, ecs_agent_and_scheduler, first=aws.now())

            def managed_scaling_off() -> None:
                aws.client("ecs").update_capacity_provider(
                    name=ec2_support.PROVIDER,
                    autoScalingGroupProvider={"managedScaling": {"status": "DISABLED"}},
                )
                # Surge raised MinSize while managed scaling was on; the operator hands the floor back.
                aws.client("autoscaling").update_auto_scaling_group(AutoScalingGroupName=ec2_support.GROUP, MinSize=1)

            aws.at(START + timedelta(seconds=30), managed_scaling_off)
            # 400 rps (8 units) until 11:00, then 100 rps (2 units): scale-out at once (ECS UpdateService, ASG
            # SetDesiredCapacity), scale-in after the 60 s cooldown; a calendar event of 12 units on the group
            # (above its max of 10) raises its limits (UpdateAutoScalingGroup) from 11:02.
            loop = Loop(aws, stack, lambda minute: 400.0 if minute < START else 100.0)
            loop.read = lambda: {"api": world.ecs_desired(aws, "prod", "api")}
            store.put_calendar_event(
                stack.table_name,
                asg.id,
                CalendarEvent(
                    entry_id="sale",
                    name="sale",
                    start_at=START + timedelta(minutes=3),
                    end_at=START + timedelta(minutes=4),
                    units=12,
                    lead_seconds=60,
                ),
            )
            loop.start(record_every_seconds=5)
            aws.run_until(START + timedelta(minutes=4))
            assert loop.value_at("api", START + timedelta(seconds=10)) == 8, "scaled out"
            assert loop.value_at("api", START + timedelta(minutes=4)) == 2, "scaled in"
            group = world.auto_scaling_group(aws, "web")
            assert (group["MaxSize"], group["DesiredCapacity"]) == (12, 12), "calendar raised the group's limits"
            instances = world.auto_scaling_group(aws, ec2_support.GROUP)
            assert (instances["MinSize"], instances["DesiredCapacity"]) == (1, 1), "the idle instance went"

            # The push fast path: a valid push, its duplicate, a rejected one.
            source = Resolver(translated, PARAMETERS).lookup("PushEventSource")
            entry = push_event_entry(audience=100_000, push_id="post-1", bus_name=stack.bus_name, source=source)
            bad = json.loads((EVENTS / "push-sent-bad-audience.json").read_text())
            for put, expected in [
                (entry, "SUCCEEDED"),
                (entry, "SUCCEEDED"),
                (
                    {
                        "Source": bad["source"],
                        "DetailType": bad["detail-type"],
                        "Detail": json.dumps(bad["detail"]),
                        "EventBusName": stack.bus_name,
                    },
                    "FAILED",
                ),
            ]:
                aws.client("events").put_events(Entries=[put])
                (execution,) = stack.deliver_events()
                assert aws.wait_for(execution, timeout_sim_seconds=30)["status"] == expected
            if "NotifyFunction" in stack.function_arns:
                stack.deliver_notifications()  # type: ignore[attr-defined]
            invoked = {recorder.function_by_name[i.function_name] for i in aws.invocations}
            result = Run(stack, recorder, invoked, physical_names(translated, stack))
    # Returned after moto stopped: the moto CloudFormation test below must start from an empty account.
    return result


def grants(template: dict[str, Any], role_id: str, resolve: Resolver) -> list[tuple[str, str]]:
    """(action, resource) pairs the role's inline policies allow, intrinsics resolved."""
    pairs = []
    for statement in resolve(statements(template["Resources"][role_id]["Properties"])):
        assert statement["Effect"] == "Allow", f"{role_id}: only Allow statements are understood: {statement}"
        assert set(statement) <= {"Effect", "Action", "Resource", "Sid"}, f"{role_id}: unsupported {statement}"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        pairs += [(a, r) for a in actions for r in resources]
    return pairs


def allows(granted: list[tuple[str, str]], action: str, resource: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), a.lower()) and fnmatch.fnmatchcase(resource, r) for a, r in granted)


def role_of(template: dict[str, Any], logical_id: str) -> str:
    role = template["Resources"][logical_id]["Properties"]["Role"]
    assert set(role) == {"Fn::GetAtt"}, f"{logical_id}: role {role} is not a role of this template"
    return str(role["Fn::GetAtt"][0])


def test_the_run_reached_every_function(translated: dict[str, Any], run: Run) -> None:
    functions = set(of_type(translated, "AWS::Lambda::Function"))
    assert functions - run.invoked == set(), "functions the run never invoked: their grants cannot be judged"


def test_every_aws_call_of_every_handler_is_allowed_by_its_role(translated: dict[str, Any], run: Run) -> None:
    resolve = Resolver(translated, PARAMETERS, run.physical)
    denied = []
    for function, calls in sorted(run.recorder.by_function().items()):
        granted = grants(translated, role_of(translated, function), resolve)
        denied += [
            f"{function}: {c.action} on {r}"
            for c in sorted(calls, key=str)
            for r in c.resources
            if not allows(granted, c.action, r)
        ]
    assert denied == [], "calls the deployed roles would deny (AccessDenied in production)"


def test_every_grant_is_used_and_no_wider_than_needed(translated: dict[str, Any], run: Run) -> None:
    resolve = Resolver(translated, PARAMETERS, run.physical)
    used = run.recorder.by_function()
    problems = []
    for function in sorted(of_type(translated, "AWS::Lambda::Function")):
        role_id = role_of(translated, function)
        managed = translated["Resources"][role_id]["Properties"].get("ManagedPolicyArns", [])
        problems += [f"{function}: managed policy {arn}" for arn in managed if arn not in MANAGED_ALLOW_LIST]
        actions_used = {c.action for c in used.get(function, set())}
        for action, resource in grants(translated, role_id, resolve):
            if "*" in action or "?" in action:
                problems.append(f"{function}: wildcard action {action}")
            elif action not in actions_used and action not in INLINE_ALLOW_LIST.get(function, {}):
                problems.append(f"{function}: {action} granted, never called")
            if resource == "*" and action not in NO_RESOURCE_LEVEL:
                problems.append(f"{function}: {action} on Resource '*' (the API has resource-level permissions)")
            elif (
                resource != "*"
                and "*" in resource.replace("autoScalingGroup:*:", "autoScalingGroup:uuid:")
                and not resource.endswith(ID_UNKNOWN_IN_ADVANCE.get(action, "?").format(**PARAMETERS))
            ):
                problems.append(f"{function}: {action} on a wildcard resource {resource}")
            elif (
                resource != "*"
                and not any(
                    fnmatch.fnmatchcase(r, resource)
                    for c in used.get(function, set())
                    if c.action == action
                    for r in c.resources
                )
                and action not in INLINE_ALLOW_LIST.get(function, {})
            ):
                problems.append(f"{function}: {action} on {resource}, which no call touched")
    assert problems == [], "grants beyond what the handlers need"


@pytest.mark.parametrize(("without", "service"), [("AutoScalingGroupName", "autoscaling"), ("ServiceName", "ecs")])
def test_a_target_kind_not_configured_gets_no_grants(without: str, service: str) -> None:
    """ECS only (not on linked instances): no autoscaling action anywhere; Auto Scaling group only: no ecs action
    anywhere (linked instances need an ECS service: HasInstances)."""
    parameters = {**PARAMETERS, without: "", "InstancesGroupName": "" if service == "autoscaling" else "api-instances"}
    template = translate(parameters)
    resolve = Resolver(template, parameters, {n: n for n in template["Resources"]} | _attribute_names(template))
    found = [
        f"{role_id}: {action}"
        for role_id in of_type(template, "AWS::IAM::Role")
        for action, _ in grants(template, role_id, resolve)
        if action.startswith(f"{service}:")
    ]
    assert found == [], f"{service} grants without a {service} target"


def _attribute_names(template: dict[str, Any]) -> dict[str, str]:
    return {f"{n}.{a}": f"{n}.{a}" for n in template["Resources"] for a in ("Arn", "Name", "QueueName")}


def test_each_state_machine_role_grants_exactly_what_its_tasks_do(translated: dict[str, Any], run: Run) -> None:
    resolve = Resolver(translated, PARAMETERS, run.physical)
    for logical_id in of_type(translated, "AWS::StepFunctions::StateMachine"):
        use = machine_use(translated, logical_id)
        role_id = translated["Resources"][logical_id]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        role = translated["Resources"][role_id]["Properties"]
        assert set(role.get("ManagedPolicyArns", [])) <= {MANAGED_POLICIES["AWSXrayWriteOnlyAccess"]}, role_id
        granted = grants(translated, role_id, resolve)
        needed = [("lambda:InvokeFunction", run.physical[f"{f}.Arn"]) for f in sorted(use.functions)]
        needed += [("sqs:SendMessage", run.physical[f"{q}.Arn"]) for q in sorted(use.queues)]
        assert [n for n in needed if not allows(granted, *n)] == [], f"{logical_id}: tasks the role would deny"
        extra = sorted({a for a, _ in granted} - {a for a, _ in needed} - LOGS_DELIVERY)
        assert extra == [], f"{logical_id}: actions beyond its tasks and logs delivery"
        for action, resource in granted:
            if action == "lambda:InvokeFunction":
                assert any(fnmatch.fnmatchcase(run.physical[f"{f}.Arn"], resource) for f in use.functions), (
                    f"{logical_id}: may invoke {resource}, which no task invokes"
                )
            if action in LOGS_DELIVERY:
                assert resource == "*"


# ------------------------------------------------------------------------------ 5. moto's CloudFormation


def moto_ready(template: dict[str, Any]) -> dict[str, Any]:
    """The translated template, minus what moto's CloudFormation cannot create (each gap named)."""
    ready = json.loads(json.dumps(template))
    for logical_id in of_type(ready, "AWS::Scheduler::Schedule"):
        # moto gap: AWS::Scheduler::Schedule is not supported by moto's CloudFormation; it is checked on the
        # translated template instead (test_the_schedule_starts_the_scaler_with_the_budget).
        del ready["Resources"][logical_id]
    return ready


def create_on_moto(translated: dict[str, Any], stack_name: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Inside `mock_aws`: upload the functions' code and the ASL files, create the translated template as
    `stack_name` on moto's CloudFormation (asserting CREATE_COMPLETE); the stack and its resources by logical id."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        for path in (REPO / "functions").rglob("*.py"):
            archive.write(path, path.relative_to(REPO / "functions").as_posix())
    s3.put_object(Bucket=BUCKET, Key="functions", Body=code.getvalue())
    for path in (REPO / "statemachines").glob("*.asl.json"):
        s3.put_object(Bucket=BUCKET, Key=path.relative_to(REPO).as_posix(), Body=path.read_bytes())
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(moto_ready(translated)),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    created = {
        r["LogicalResourceId"]: r
        for r in cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    }
    return stack, created


def test_the_translated_stack_creates_on_moto(translated: dict[str, Any]) -> None:
    from moto import mock_aws

    with process_state_reset(), mock_aws():
        _, created = create_on_moto(translated, STACK)
        physical = {k: r["PhysicalResourceId"] for k, r in created.items()}

        lambda_ = boto3.client("lambda", region_name=REGION)
        for logical_id, resource in of_type(translated, "AWS::Lambda::Function").items():
            function = lambda_.get_function(FunctionName=physical[logical_id])["Configuration"]
            assert function["Handler"] == resource["Properties"]["Handler"]
            assert function["Role"].endswith("/" + physical[role_of(translated, logical_id)])
        iam = boto3.client("iam", region_name=REGION)
        for logical_id in of_type(translated, "AWS::IAM::Role"):
            iam.get_role(RoleName=physical[logical_id])
        events = boto3.client("events", region_name=REGION)
        bus = events.describe_event_bus(Name=f"{STACK}-bus")
        assert bus["Name"] == f"{STACK}-bus"
        # The template names the bus with `!GetAtt SurgeBus.Name` everywhere (moto gap: `!Ref` on an
        # AWS::Events::EventBus misbehaves in moto; GetAtt Name works on both).
        rules = events.list_rules(EventBusName=f"{STACK}-bus")["Rules"]
        assert {r["EventPattern"] and json.loads(r["EventPattern"])["detail-type"][0] for r in rules} >= {"PushSent"}
        logs = boto3.client("logs", region_name=REGION)
        groups = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
        for logical_id, resource in of_type(translated, "AWS::Logs::LogGroup").items():
            name = Resolver(translated, PARAMETERS, physical | {"AWS::StackName": STACK})(
                resource["Properties"]["LogGroupName"]
            )
            assert groups[name]["retentionInDays"] == 30, f"{logical_id}: no retention"
        table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=physical["SurgeTable"])
        assert table["Table"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        sqs = boto3.client("sqs", region_name=REGION)
        for logical_id in of_type(translated, "AWS::SQS::Queue"):
            sqs.get_queue_attributes(QueueUrl=physical[logical_id], AttributeNames=["QueueArn"])
        # moto gap: for AWS::StepFunctions::StateMachine moto ignores StateMachineType, LoggingConfiguration,
        # DefinitionSubstitutions and DefinitionS3Location, so only existence and the role are checked here;
        # the definition and substitutions are checked on the translated template above, and the real ASL
        # runs through the Step Functions API in the `run` fixture.
        stepfunctions = boto3.client("stepfunctions", region_name=REGION)
        for logical_id in of_type(translated, "AWS::StepFunctions::StateMachine"):
            machine = stepfunctions.describe_state_machine(stateMachineArn=physical[logical_id])
            assert machine["roleArn"].endswith("/" + physical[f"{logical_id}Role"])


@pytest.mark.parametrize(("value", "scaler_data"), [(None, False), ("false", False), ("true", True)])
def test_the_scaler_logs_execution_data_only_when_asked(value: str | None, scaler_data: bool) -> None:
    """By default the scaler's log group gets every state's events without their input and output (the
    README's costs: about a tenth of the bytes); `ScalerExecutionData=true` adds them. The push path, a few
    executions a day, always logs its data."""
    parameters = PARAMETERS if value is None else {**PARAMETERS, "ScalerExecutionData": value}
    template = translate(parameters)
    resolve = Resolver(template, parameters)
    machines = of_type(template, "AWS::StepFunctions::StateMachine")
    scaler, push = (
        resolve({k: v for k, v in machines[name]["Properties"]["LoggingConfiguration"].items() if k != "Destinations"})
        for name in ("ScalerStateMachine", "PushFastPathStateMachine")
    )
    assert scaler["Level"] == push["Level"] == "ALL"
    assert scaler["IncludeExecutionData"] is scaler_data
    assert push["IncludeExecutionData"] is True
