"""Surge's SAM template, read and stood up on local AWS (moto) through the harness.

The template is the source of truth: function handlers, their environment, the state machine's ASL file and
its DefinitionSubstitutions all come from `infra/template.yaml`, so a test that runs the local stack runs
what `make deploy` would deploy. Only the intrinsic functions the template uses are resolved; anything else
raises, so a template change that this module does not understand fails loudly instead of silently.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from surge.core.config import SurgeConfig
from surge_cli.localaws import LambdaSpec, LocalAws

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "infra" / "template.yaml"
LOCAL_ACCOUNT = "123456789012"
"""moto's default account id."""
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
SUB_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")
"""A `${Name}` of Fn::Sub: also a pseudo parameter (`${AWS::StackName}`) or an attribute (`${Bus.Name}`)."""


class TemplateError(Exception):
    """The template uses something the local stack cannot resolve, or an ASL placeholder is unmatched."""


@dataclass(frozen=True)
class FunctionDef:
    logical_id: str
    handler: str
    environment: dict[str, Any]
    memory_mb: int
    timeout_seconds: int


@dataclass(frozen=True)
class RuleDef:
    """An EventBridgeRule event source of a state machine."""

    name: str
    bus: Any
    pattern: dict[str, Any]


@dataclass(frozen=True)
class StateMachineDef:
    logical_id: str
    definition_path: Path
    substitutions: dict[str, Any]
    machine_type: Any
    rules: list[RuleDef]
    logging: dict[str, Any] | None = None
    """The state machine's Logging property (level, execution data, the log group), as the template has it."""


class Template:
    """A parsed SAM template (intrinsics kept as CloudFormation's JSON form)."""

    def __init__(self, document: dict[str, Any], path: Path) -> None:
        self.document = document
        self.path = path

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH) -> Template:
        return cls(yaml_parse(path.read_text()), path)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.document["Resources"]
        return resources

    def parameter_defaults(self) -> dict[str, str]:
        return {
            name: str(spec["Default"])
            for name, spec in self.document.get("Parameters", {}).items()
            if "Default" in spec
        }

    def resources_of_type(self, type_name: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == type_name}

    def functions(self) -> list[FunctionDef]:
        defaults = self.document.get("Globals", {}).get("Function", {})
        found = []
        for name, resource in self.resources_of_type("AWS::Serverless::Function").items():
            props = resource.get("Properties", {})
            environment = {
                **defaults.get("Environment", {}).get("Variables", {}),
                **props.get("Environment", {}).get("Variables", {}),
            }
            found.append(
                FunctionDef(
                    logical_id=name,
                    handler=props.get("Handler", defaults.get("Handler")),
                    environment=environment,
                    memory_mb=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
                    timeout_seconds=int(props.get("Timeout", defaults.get("Timeout", 3))),
                )
            )
        return found

    def state_machines(self) -> list[StateMachineDef]:
        found = []
        for name, resource in self.resources_of_type("AWS::Serverless::StateMachine").items():
            props = resource["Properties"]
            rules = [
                RuleDef(
                    name=event_name, bus=event["Properties"]["EventBusName"], pattern=event["Properties"]["Pattern"]
                )
                for event_name, event in props.get("Events", {}).items()
                if event["Type"] == "EventBridgeRule"
            ]
            found.append(
                StateMachineDef(
                    logical_id=name,
                    definition_path=(self.path.parent / props["DefinitionUri"]).resolve(),
                    substitutions=dict(props.get("DefinitionSubstitutions", {})),
                    machine_type=props.get("Type", "STANDARD"),
                    rules=rules,
                    logging=props.get("Logging"),
                )
            )
        return found

    def resolver(self, physical: dict[str, str], parameters: dict[str, str], region: str, account: str) -> Resolver:
        """A Resolver over this template's Conditions."""
        return Resolver(physical, parameters, region, account, self.document.get("Conditions"))

    def state_machine(self, logical_id: str) -> StateMachineDef:
        for machine in self.state_machines():
            if machine.logical_id == logical_id:
                return machine
        raise TemplateError(f"no AWS::Serverless::StateMachine {logical_id!r} in {self.path}")


def placeholders(definition_text: str) -> set[str]:
    """Every `${Name}` in an ASL file."""
    return set(PLACEHOLDER.findall(definition_text))


def check_substitutions(definition_text: str, substitutions: dict[str, Any]) -> None:
    """Every placeholder is supplied by DefinitionSubstitutions, and every substitution is used."""
    used = placeholders(definition_text)
    missing = sorted(used - substitutions.keys())
    unused = sorted(substitutions.keys() - used)
    if missing or unused:
        raise TemplateError(f"ASL placeholders without a substitution: {missing}; substitutions never used: {unused}")


def substitute(definition_text: str, values: dict[str, str]) -> str:
    check_substitutions(definition_text, values)
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], definition_text)


class Resolver:
    """Resolves Ref / Fn::GetAtt / Fn::Sub against known physical values and parameters, and Fn::If on the
    template's Conditions (Fn::Equals / Fn::Not / Fn::And / Fn::Or / Condition over those values)."""

    def __init__(
        self,
        physical: dict[str, str],
        parameters: dict[str, str],
        region: str,
        account: str,
        conditions: dict[str, Any] | None = None,
    ) -> None:
        self.values = {
            **parameters,
            **physical,
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
        }
        self.conditions = conditions or {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise TemplateError(f"the template has no condition {name!r}")
        return self._holds(self.conditions[name])

    def _holds(self, expression: Any) -> bool:
        if isinstance(expression, dict) and len(expression) == 1:
            ((function, argument),) = expression.items()
            if function == "Fn::Equals":
                return self(argument[0]) == self(argument[1])
            if function == "Fn::Not":
                return not self._holds(argument[0])
            if function == "Fn::And":
                return all(self._holds(part) for part in argument)
            if function == "Fn::Or":
                return any(self._holds(part) for part in argument)
            if function == "Condition":
                return self.condition(argument)
        raise TemplateError(f"the local stack cannot evaluate the condition {expression!r}")

    def __call__(self, value: Any) -> str:
        if isinstance(value, str | int | float | bool):
            return str(value).lower() if isinstance(value, bool) else str(value)
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self._lookup(argument)
            if function == "Fn::GetAtt":
                target, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self._lookup(f"{target}.{attribute}")
            if function == "Fn::Sub" and isinstance(argument, str):
                return SUB_PLACEHOLDER.sub(lambda m: self._lookup(m.group(1)), argument)
            if function == "Fn::If":
                name, when_true, when_false = argument
                return self(when_true if self.condition(name) else when_false)
        raise TemplateError(f"the local stack cannot resolve {value!r}")

    def _lookup(self, name: str) -> str:
        if name not in self.values:
            raise TemplateError(f"the local stack has no value for {name!r}")
        return self.values[name]


@dataclass
class LocalStack:
    """What `deploy_locally` created, by the template's logical ids."""

    aws: LocalAws
    stack_name: str
    table_name: str
    config_parameter: str
    bus_name: str
    operator_config_parameter: str = ""
    """Written by `surge config apply` only: not a resource of the stack (see surge.adapters.config_source)."""
    outputs: dict[str, str] = field(default_factory=dict)
    """The stack's CloudFormation outputs, as `surge ... --stack NAME` reads them (DescribeStacks)."""
    dead_letter_queue_url: str = ""
    queue_urls: dict[str, str] = field(default_factory=dict)
    function_arns: dict[str, str] = field(default_factory=dict)
    state_machine_arns: dict[str, str] = field(default_factory=dict)
    rule_queues: dict[str, tuple[str, str]] = field(default_factory=dict)
    """rule name -> (SQS queue URL that stands in for the rule's target, state machine logical id)"""
    log_groups: dict[str, str] = field(default_factory=dict)
    """state machine logical id -> the log group its Logging names (created here: moto's CloudFormation and
    Step Functions ignore LoggingConfiguration)"""

    @property
    def scaler_arn(self) -> str:
        return self.state_machine_arns["ScalerStateMachine"]

    @property
    def push_fast_path_arn(self) -> str:
        return self.state_machine_arns["PushFastPathStateMachine"]

    def deliver_notifications(self) -> list[dict[str, Any]]:
        """Play the SQS event source mapping of the notifier: every message waiting in the notification queue
        goes to NotifyFunction in one batch (as one 60 s batching window would); returns its responses."""
        sqs = self.aws.client("sqs")
        url = self.queue_urls["NotificationQueue"]
        records: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                event = json.loads(message["Body"])
                event.setdefault("account", LOCAL_ACCOUNT)  # moto gap: forwarded events lack `account`
                records.append(_sqs_record({**message, "Body": json.dumps(event)}, url, self.aws.region))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if not records:
            return []
        response = self.aws.client("lambda").invoke(
            FunctionName=self.function_arns["NotifyFunction"], Payload=json.dumps({"Records": records})
        )
        payload = json.loads(response["Payload"].read())
        if "FunctionError" in response:
            raise RuntimeError(f"NotifyFunction failed: {payload}")
        return [payload]

    def deliver_events(self) -> list[str]:
        """Play the EventBridge rules' part: start the target execution for every event a rule matched, now.

        moto stores rules and matches patterns but never delivers to Step Functions targets, so each rule of
        the template is put on moto's bus with an SQS target; here the queue is drained and each matched event
        starts the state machine the template names, with the event as its input (as EventBridge does).
        """
        return [self.aws.start_execution(arn, event) for arn, event in self._matched_events()]

    def deliver_events_later(self) -> list[float]:
        """As :meth:`deliver_events`, but each target execution starts after EventBridge's delivery latency
        (drawn from the harness's latency model, per event), as on AWS. Returns the delays, in seconds."""
        delays = []
        for arn, event in self._matched_events():
            delay = self.aws.latency.eventbridge_delivery(arn)
            delays.append(delay)
            self.aws.at(
                self.aws.now() + timedelta(seconds=delay),
                lambda arn=arn, event=event: self.aws.start_execution(arn, event),  # type: ignore[misc]
            )
        return delays

    def _matched_events(self) -> list[tuple[str, dict[str, Any]]]:
        sqs = self.aws.client("sqs")
        matched = []
        for queue_url, machine in self.rule_queues.values():
            while True:
                messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    event = json.loads(message["Body"])
                    # moto gap: the event moto forwards to a target lacks EventBridge's `account` field.
                    event.setdefault("account", LOCAL_ACCOUNT)
                    matched.append((self.state_machine_arns[machine], event))
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return matched

    def put_config(self, config: SurgeConfig) -> None:
        self.aws.client("ssm").put_parameter(
            Name=self.config_parameter, Value=config.model_dump_json(), Type="String", Overwrite=True
        )


def deploy_locally(
    aws: LocalAws,
    config: SurgeConfig,
    *,
    template: Template | None = None,
    stack_name: str = "surge",
    parameters: dict[str, str] | None = None,
    express_logs: bool = False,
) -> LocalStack:
    """Create the template's table, config parameter, bus, functions and state machines on moto.

    `config` stands for the document the template's parameters generate. Called again for the same stack in
    the same world, it is an update, as `make deploy` with changed parameters: what exists is kept, and
    CloudFormation (moto's) rewrites the template's config parameter, a resource of the stack, with the new
    document. A change the local stack cannot update (a function's environment) raises instead.

    Each state machine gets the Logging of the template (its log group created, its loggingConfiguration given
    to CreateStateMachine). With `express_logs`, every EXPRESS execution's events are put into that group
    when it ends, as Step Functions delivers them (`surge_cli.localaws.express_logs`), and the lines the
    handlers log into their functions' groups, as Lambda does (`surge_cli.localaws.function_logs`): what
    `surge graph --execution`, `surge status` and `surge decisions` read. Off by default: a replay does not
    need them.
    """
    template = template or Template.load()
    params = {**template.parameter_defaults(), **(parameters or {})}
    region = aws.region
    account = LOCAL_ACCOUNT

    table_name = f"{stack_name}-SurgeTable"
    table_props = template.resources["SurgeTable"]["Properties"]
    dynamodb = aws.client("dynamodb")
    with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):  # an update: the table stays
        dynamodb.create_table(
            TableName=table_name,
            AttributeDefinitions=table_props["AttributeDefinitions"],
            KeySchema=table_props["KeySchema"],
            BillingMode=table_props["BillingMode"],
        )
    config_parameter = f"/{stack_name}/config"
    bus_name = f"{stack_name}-bus"
    events = aws.client("events")
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=bus_name)
    stack = LocalStack(
        aws=aws, stack_name=stack_name, table_name=table_name, config_parameter=config_parameter, bus_name=bus_name
    )
    physical: dict[str, str] = {}
    sqs = aws.client("sqs")
    for logical_id in template.resources_of_type("AWS::SQS::Queue"):
        name = f"{stack_name}-{logical_id}"
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        physical |= {logical_id: url, f"{logical_id}.Arn": _queue_arn(aws, url), f"{logical_id}.QueueName": name}
        stack.queue_urls[logical_id] = url
    stack.dead_letter_queue_url = stack.queue_urls["PushDeadLetterQueue"]
    for logical_id in template.resources_of_type("AWS::SNS::Topic"):
        physical[logical_id] = aws.client("sns").create_topic(Name=f"{stack_name}-{logical_id}")["TopicArn"]

    physical |= {
        "SurgeTable": table_name,
        "SurgeTable.Arn": f"arn:aws:dynamodb:{region}:{account}:table/{table_name}",
        "ConfigParameter": config_parameter,
        "SurgeBus.Name": bus_name,
        "SurgeBus.Arn": f"arn:aws:events:{region}:{account}:event-bus/{bus_name}",
        "AWS::StackName": stack_name,
    }
    resolve = template.resolver(physical, params, region, account)
    for function in template.functions():
        name = f"{stack_name}-{function.logical_id}"
        environment = {key: resolve(value) for key, value in function.environment.items()}
        arn = _existing_function(aws, name, environment) or aws.register_lambda(
            LambdaSpec(
                name=name,
                handler=function.handler,
                environment=environment,
                memory_mb=function.memory_mb,
                timeout_seconds=function.timeout_seconds,
            )
        )
        stack.function_arns[function.logical_id] = arn
        physical[function.logical_id] = name
        physical[f"{function.logical_id}.Arn"] = arn

    resolve = template.resolver(physical, params, region, account)
    _create_function_log_groups(stack, template, physical, resolve)
    for logical_id, rule in template.resources_of_type("AWS::Events::Rule").items():
        _put_plain_rule(stack, logical_id, rule["Properties"], resolve)
    logging_configs: dict[str, dict[str, Any]] = {}
    machine_types: dict[str, str] = {}
    for machine in template.state_machines():
        machine_types[machine.logical_id] = resolve(machine.machine_type)
        if machine.logging is not None:
            logging_configs[machine.logical_id] = _logging_configuration(stack, template, machine, physical, resolve)
    resolve = template.resolver(physical, params, region, account)
    for machine in template.state_machines():
        values = {key: resolve(value) for key, value in machine.substitutions.items()}
        definition = substitute(machine.definition_path.read_text(), values)
        json.loads(definition)  # a substitution must never break the JSON
        # CreateStateMachine with the same name and definition returns the existing one (an update).
        stack.state_machine_arns[machine.logical_id] = aws.create_state_machine(
            f"{stack_name}-{machine.logical_id}",
            definition,
            type_=machine_types[machine.logical_id],
            logging=logging_configs.get(machine.logical_id),
        )
        for rule in machine.rules:
            _put_rule(stack, machine.logical_id, rule, resolve)
        physical[machine.logical_id] = stack.state_machine_arns[machine.logical_id]
    _put_stack(stack, template, template.resolver(physical, params, region, account), config)
    if express_logs:
        express = {key: value for key, value in logging_configs.items() if machine_types[key] == "EXPRESS"}
        _deliver_express_logs(stack, express)
        _deliver_function_logs(stack)
    return stack


def _logging_configuration(
    stack: LocalStack, template: Template, machine: StateMachineDef, physical: dict[str, str], resolve: Resolver
) -> dict[str, Any]:
    """Create the log group a state machine's Logging names (with its retention) and return the
    loggingConfiguration CreateStateMachine takes. The group's ARN ends in `:*`, as CloudFormation's
    `!GetAtt LogGroup.Arn` does (and Step Functions requires)."""
    assert machine.logging is not None
    logging = machine.logging
    destinations = []
    for destination in logging.get("Destinations", []):
        get_att = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"]  # !GetAtt Group.Arn
        logical_id = str(get_att[0] if isinstance(get_att, list) else get_att.split(".", 1)[0])
        props = template.resources[logical_id]["Properties"]
        name = resolve(props["LogGroupName"])
        logs = stack.aws.client("logs")
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in props:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(resolve(props["RetentionInDays"])))
        arn = f"arn:aws:logs:{stack.aws.region}:{LOCAL_ACCOUNT}:log-group:{name}:*"
        physical |= {logical_id: name, f"{logical_id}.Arn": arn}
        stack.log_groups[machine.logical_id] = name
        destinations.append({"cloudWatchLogsLogGroup": {"logGroupArn": arn}})
    return {
        "level": resolve(logging.get("Level", "OFF")),
        "includeExecutionData": resolve(logging.get("IncludeExecutionData", False)) == "true",
        "destinations": destinations,
    }


def _create_function_log_groups(
    stack: LocalStack, template: Template, physical: dict[str, str], resolve: Resolver
) -> None:
    """The template's `/aws/lambda/<function>` groups, with their retention (Lambda writes there)."""
    logs = stack.aws.client("logs")
    for logical_id, group in template.resources_of_type("AWS::Logs::LogGroup").items():
        props = group["Properties"]
        if not str(props["LogGroupName"].get("Fn::Sub", "")).startswith("/aws/lambda/"):
            continue  # a state machine's group: created with its Logging
        name = resolve(props["LogGroupName"])
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=name)
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(resolve(props["RetentionInDays"])))
        physical[logical_id] = name


def _deliver_express_logs(stack: LocalStack, logging_configs: dict[str, dict[str, Any]]) -> None:
    """Put every execution of the stack's EXPRESS state machines (`logging_configs`' keys) into its log group
    when it ends. (The type is the template's: moto's executions all say STANDARD.)"""
    from surge_cli.localaws.express_logs import put_execution_logs

    logs = stack.aws.client("logs")  # made here, on the driver thread; boto3 clients are thread-safe
    by_arn = {stack.state_machine_arns[logical_id]: logical_id for logical_id in logging_configs}

    def deliver(execution_arn: str) -> None:
        parts = execution_arn.split(":")  # arn:aws:states:<region>:<account>:execution:<machine>:<name>
        logical_id = by_arn.get(":".join([*parts[:5], "stateMachine", parts[6]]))
        if logical_id is None:
            return
        config = logging_configs[logical_id]
        put_execution_logs(
            logs,
            stack.log_groups[logical_id],
            stack.aws.history_events(execution_arn),
            execution_arn,
            level=config["level"],
            include_execution_data=config["includeExecutionData"],
        )

    stack.aws.add_execution_end_listener(f"express-logs:{stack.stack_name}", deliver)


def _deliver_function_logs(stack: LocalStack) -> None:
    """Put the lines the handlers log into their functions' log groups, as Lambda does, whenever an execution
    ends (`surge decisions` reads DecideCapacity's). One collector per process: a new stack's replaces the last."""
    from surge.observability import logger
    from surge_cli.localaws.function_logs import FunctionLogs

    global _function_logs
    handler_logger = logging.getLogger(logger.name)
    if _function_logs is not None:
        handler_logger.removeHandler(_function_logs)
    formatter = next((h.formatter for h in handler_logger.handlers if h.formatter is not None), None)
    _function_logs = collector = FunctionLogs(formatter)
    handler_logger.addHandler(collector)
    logs = stack.aws.client("logs")
    stack.aws.add_execution_end_listener("function-logs", lambda _arn: collector.flush_to(logs))


_function_logs: logging.Handler | None = None


def _existing_function(aws: LocalAws, name: str, environment: dict[str, str]) -> str | None:
    """The ARN of a function an earlier deploy of the stack created, if any (an update keeps it)."""
    lambda_ = aws.client("lambda")
    try:
        found = lambda_.get_function_configuration(FunctionName=name)
    except lambda_.exceptions.ResourceNotFoundException:
        return None
    if found.get("Environment", {}).get("Variables", {}) != environment:
        raise TemplateError(f"{name}: the local stack cannot change a function's environment on an update")
    return str(found["FunctionArn"])


def _put_stack(stack: LocalStack, template: Template, resolve: Resolver, config: SurgeConfig) -> None:
    """The CloudFormation stack `surge ... --stack NAME` finds: the template's config parameter as its resource
    (so an update rewrites it as CloudFormation does) and the template's outputs, resolved.

    Outputs naming something the local stack does not create (an alarm, a dashboard) are left out: a command
    that needs one says the stack has no such output."""
    outputs: dict[str, dict[str, str]] = {}
    for key, spec in template.document.get("Outputs", {}).items():
        try:
            outputs[key] = {"Value": resolve(spec["Value"])}
        except TemplateError:
            continue
    props = template.resources["ConfigParameter"]["Properties"]
    parameter = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {
            "Name": stack.config_parameter,
            "Type": props["Type"],
            "Tier": props["Tier"],
            "Description": props["Description"],
            "Value": config.model_dump_json(),
        },
    }
    body = json.dumps({"Resources": {"ConfigParameter": parameter}, "Outputs": outputs})
    cloudformation = stack.aws.client("cloudformation")
    try:
        cloudformation.describe_stacks(StackName=stack.stack_name)
    except cloudformation.exceptions.ClientError:
        cloudformation.create_stack(StackName=stack.stack_name, TemplateBody=body)
    else:
        cloudformation.update_stack(StackName=stack.stack_name, TemplateBody=body)
    described = cloudformation.describe_stacks(StackName=stack.stack_name)["Stacks"][0]
    stack.outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    stack.operator_config_parameter = stack.outputs["OperatorConfigParameterName"]


def _sqs_record(message: dict[str, Any], queue_url: str, region: str) -> dict[str, Any]:
    """An SQS message in the shape Lambda's SQS event source hands to a function."""
    now_ms = "1768993200000"
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now_ms,
            "SenderId": LOCAL_ACCOUNT,
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{region}:{LOCAL_ACCOUNT}:{queue_url.rsplit('/', 1)[-1]}",
        "awsRegion": region,
    }


def _queue_arn(aws: LocalAws, url: str) -> str:
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attributes["QueueArn"])


def _put_plain_rule(stack: LocalStack, logical_id: str, props: dict[str, Any], resolve: Resolver) -> None:
    """An AWS::Events::Rule with its real targets (moto delivers to SQS targets itself)."""
    events = stack.aws.client("events")
    bus = resolve(props["EventBusName"])
    name = f"{stack.stack_name}-{logical_id}"
    events.put_rule(
        Name=name, EventBusName=bus, EventPattern=json.dumps(resolve_pattern(props["EventPattern"], resolve))
    )
    targets = [{"Id": t["Id"], "Arn": resolve(t["Arn"])} for t in props["Targets"]]
    events.put_targets(Rule=name, EventBusName=bus, Targets=targets)


def resolve_pattern(pattern: Any, resolve: Resolver) -> Any:
    """An event pattern with its intrinsics (e.g. `!Ref PushEventSource`) resolved."""
    if isinstance(pattern, list):
        return [resolve_pattern(item, resolve) for item in pattern]
    if isinstance(pattern, dict):
        if len(pattern) == 1 and next(iter(pattern)) in ("Ref", "Fn::GetAtt", "Fn::Sub"):
            return resolve(pattern)
        return {key: resolve_pattern(value, resolve) for key, value in pattern.items()}
    return pattern


def _put_rule(stack: LocalStack, machine: str, rule: RuleDef, resolve: Resolver) -> None:
    """The template's rule on moto's bus, its target replaced by an SQS queue that `deliver_events` drains."""
    aws = stack.aws
    name = f"{stack.stack_name}-{machine}-{rule.name}"
    queue_url = aws.client("sqs").create_queue(QueueName=f"{name}-target")["QueueUrl"]
    queue_arn = _queue_arn(aws, queue_url)
    events = aws.client("events")
    bus = resolve(rule.bus)
    events.put_rule(
        Name=name, EventBusName=bus, EventPattern=json.dumps(resolve_pattern(rule.pattern, resolve)), State="ENABLED"
    )
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "target", "Arn": queue_arn}])
    stack.rule_queues[rule.name] = (queue_url, machine)
