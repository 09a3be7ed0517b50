"""`surge doctor`: what a careful engineer checks in the account before Surge goes live.

    surge doctor [--stack S]

One line per finding, `OK|WARN|FAIL <check>: <finding> (<what to do>)`; exit 1 when any FAIL (something that
would stop Surge working), 0 otherwise. Read-only calls only. The checks:

- config: the documents the loop loads (template's and operator's, merged) are valid;
- every target exists (ECS DescribeServices, ACTIVE; DescribeAutoScalingGroups);
- its ALB RequestCount has datapoints over the last hour with the configured dimensions (GetMetricData), and a
  load balancer shared by several target groups is named with its TargetGroup;
- nothing else scales the same resource: Application Auto Scaling target tracking / step policies and scheduled
  actions on the ECS service (unless suspended in the scalable target's SuspendedState,
  https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-suspend-resume-scaling.html),
  EC2 Auto Scaling policies (unless the group's AlarmNotification process is suspended, which stops target
  tracking, step and simple policies:
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/suspend-resume-considerations.html) and scheduled
  actions (ScheduledActions);
- the push rule accepts the `source` that `surge push` sends (the stack's PushEventSource output);
- the alarm topic has a confirmed subscriber (a pending email subscription delivers nothing).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError

from surge.adapters.config_source import load_effective_config
from surge.adapters.errors import ConfigInvalidError
from surge.core.config import SurgeConfig, TargetConfig, TargetKind
from surge.core.errors import InvalidInputError
from surge_cli.control_cli import StackOption
from surge_cli.deployed import AWS_EXIT_CODE, SETUP_EXIT_CODE, aws_problem, one_line_aws_errors, stack_outputs

OUTPUTS = (
    "ConfigParameterName",
    "OperatorConfigParameterName",
    "SurgeTableName",
    "SurgeBusName",
    "PushEventSource",
    "NotificationTopicArn",
)
METRIC_WINDOW_SECONDS = 3_600
ASG_DYNAMIC_POLICIES = ("TargetTrackingScaling", "StepScaling", "SimpleScaling")


@dataclass(frozen=True)
class Finding:
    level: str  # OK, WARN or FAIL
    check: str
    finding: str
    todo: str = ""

    def line(self) -> str:
        return f"{self.level} {self.check}: {self.finding}" + (f" ({self.todo})" if self.todo else "")


class Clients:
    """The read-only clients the checks use (made once)."""

    def __init__(self) -> None:
        self.ecs = boto3.client("ecs")
        self.autoscaling = boto3.client("autoscaling")
        self.appautoscaling = boto3.client("application-autoscaling")
        self.cloudwatch = boto3.client("cloudwatch")
        self.events = boto3.client("events")
        self.sns = boto3.client("sns")


def _guarded(check: str, run: Callable[[], list[Finding]]) -> list[Finding]:
    """A check the account refuses to answer is a WARN naming the call, not a crash (and not a FAIL: the
    role running Surge may well be allowed what this one is not)."""
    try:
        return run()
    except (ClientError, BotoCoreError) as error:
        return [Finding("WARN", check, f"could not check: {aws_problem(error)[1]}", "rerun with read access")]


# ---------------------------------------------------------------------------------------------- targets
def target_exists(target: TargetConfig, aws: Clients) -> list[Finding]:
    check = f"target {target.id}"
    if target.kind is TargetKind.ECS:
        assert target.ecs is not None
        where = f"ECS service {target.ecs.cluster}/{target.ecs.service}"
        found = aws.ecs.describe_services(cluster=target.ecs.cluster, services=[target.ecs.service])["services"]
        active = [s for s in found if s.get("status") == "ACTIVE"]
        if not active:
            return [Finding("FAIL", check, f"{where} not found (or not ACTIVE)", "check ecs.cluster and ecs.service")]
        return [Finding("OK", check, f"{where} is ACTIVE, desired {active[0].get('desiredCount')}")]
    assert target.asg is not None
    name = target.asg.group_name
    groups = aws.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    if not groups:
        return [Finding("FAIL", check, f"Auto Scaling group {name} not found", "check asg.group_name")]
    group = groups[0]
    return [
        Finding(
            "OK",
            check,
            f"Auto Scaling group {name}: desired {group['DesiredCapacity']}, "
            f"min {group['MinSize']}, max {group['MaxSize']}",
        )
    ]


def alb_metric(target: TargetConfig, aws: Clients, now: datetime) -> list[Finding]:
    check = f"target {target.id} metric"
    if target.load_balancer is None:
        return [Finding("WARN", check, "no load_balancer: Surge scales this target on pushes and the calendar only")]
    dimensions = [{"Name": "LoadBalancer", "Value": target.load_balancer.load_balancer}]
    if target.load_balancer.target_group:
        dimensions.append({"Name": "TargetGroup", "Value": target.load_balancer.target_group})
    shown = ", ".join(f"{d['Name']}={d['Value']}" for d in dimensions)
    metric = {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount", "Dimensions": dimensions}
    results = aws.cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "requests", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}],
        StartTime=now - timedelta(seconds=METRIC_WINDOW_SECONDS),
        EndTime=now,
    )["MetricDataResults"]
    datapoints = sum(len(r.get("Values", [])) for r in results)
    if not datapoints:
        return [
            Finding(
                "FAIL",
                check,
                f"no AWS/ApplicationELB RequestCount datapoint in the last hour for {shown}",
                "check load_balancer (the ALB's full name, app/NAME/ID) and target_group (targetgroup/NAME/ID); "
                "an ALB publishes nothing for a minute without requests",
            )
        ]
    findings = [Finding("OK", check, f"{datapoints} RequestCount minutes in the last hour for {shown}")]
    if not target.load_balancer.target_group:
        listed = aws.cloudwatch.list_metrics(
            Namespace="AWS/ApplicationELB", MetricName="RequestCount", Dimensions=[dimensions[0]]
        )["Metrics"]
        groups = {d["Value"] for m in listed for d in m.get("Dimensions", []) if d["Name"] == "TargetGroup"}
        if len(groups) > 1:
            findings.append(
                Finding(
                    "WARN",
                    check,
                    f"the ALB serves {len(groups)} target groups and Surge counts the requests of all of them",
                    "set load_balancer.target_group to this target's targetgroup/NAME/ID",
                )
            )
    return findings


def ecs_conflicts(target: TargetConfig, aws: Clients) -> list[Finding]:
    assert target.ecs is not None
    check = f"target {target.id} other scaling"
    resource = f"service/{target.ecs.cluster}/{target.ecs.service}"
    dimension = "ecs:service:DesiredCount"
    scalable = aws.appautoscaling.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[resource], ScalableDimension=dimension
    )["ScalableTargets"]
    if not scalable:
        return [Finding("OK", check, f"no Application Auto Scaling target on {resource}")]
    suspended = scalable[0].get("SuspendedState") or {}
    suspend = (
        f"suspend it: aws application-autoscaling register-scalable-target --service-namespace ecs "
        f"--resource-id {resource} --scalable-dimension {dimension} --suspended-state "
        "DynamicScalingInSuspended=true,DynamicScalingOutSuspended=true,ScheduledScalingSuspended=true"
    )
    dynamic_off = bool(suspended.get("DynamicScalingInSuspended")) and bool(suspended.get("DynamicScalingOutSuspended"))
    findings = []
    policies = aws.appautoscaling.describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=resource, ScalableDimension=dimension
    )["ScalingPolicies"]
    for policy in policies:
        what = f"Application Auto Scaling {policy['PolicyType']} policy {policy['PolicyName']!r} on {resource}"
        if dynamic_off:
            findings.append(Finding("OK", check, f"{what} is suspended"))
        else:
            findings.append(Finding("FAIL", check, f"{what} would fight Surge over desiredCount", suspend))
    actions = aws.appautoscaling.describe_scheduled_actions(
        ServiceNamespace="ecs", ResourceId=resource, ScalableDimension=dimension
    )["ScheduledActions"]
    for action in actions:
        what = f"Application Auto Scaling scheduled action {action['ScheduledActionName']!r} on {resource}"
        if suspended.get("ScheduledScalingSuspended"):
            findings.append(Finding("OK", check, f"{what} is suspended"))
        else:
            findings.append(
                Finding("WARN", check, f"{what} changes the min/max capacity under Surge (use surge calendar)", suspend)
            )
    return findings or [Finding("OK", check, f"no scaling policy or scheduled action on {resource}")]


def asg_conflicts(target: TargetConfig, aws: Clients) -> list[Finding]:
    assert target.asg is not None
    check = f"target {target.id} other scaling"
    name = target.asg.group_name
    groups = aws.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    if not groups:
        return []  # target_exists says so
    suspended = {p["ProcessName"] for p in groups[0].get("SuspendedProcesses", [])}
    findings = []
    for policy in aws.autoscaling.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"]:
        kind = str(policy.get("PolicyType", "SimpleScaling"))
        what = f"EC2 Auto Scaling {kind} policy {policy['PolicyName']!r} on {name}"
        if policy.get("Enabled") is False:
            findings.append(Finding("OK", check, f"{what} is disabled"))
        elif kind in ASG_DYNAMIC_POLICIES and "AlarmNotification" in suspended:
            findings.append(Finding("OK", check, f"{what} is suspended (AlarmNotification)"))
        elif kind in ASG_DYNAMIC_POLICIES:
            todo = (
                f"suspend: aws autoscaling suspend-processes --auto-scaling-group-name {name} "
                "--scaling-processes AlarmNotification"
            )
            findings.append(Finding("FAIL", check, f"{what} would fight Surge over the desired capacity", todo))
        else:
            todo = "set its mode to ForecastOnly, or disable it"
            findings.append(Finding("WARN", check, f"{what} changes the capacity under Surge", todo))
    for action in aws.autoscaling.describe_scheduled_actions(AutoScalingGroupName=name)["ScheduledUpdateGroupActions"]:
        what = f"EC2 Auto Scaling scheduled action {action['ScheduledActionName']!r} on {name}"
        if "ScheduledActions" in suspended:
            findings.append(Finding("OK", check, f"{what} is suspended"))
        else:
            todo = (
                f"use surge calendar instead, or: aws autoscaling suspend-processes --auto-scaling-group-name {name} "
                "--scaling-processes ScheduledActions"
            )
            findings.append(Finding("WARN", check, f"{what} changes the capacity under Surge", todo))
    return findings or [Finding("OK", check, f"no scaling policy or scheduled action on {name}")]


# ---------------------------------------------------------------------------------------------- stack
def push_rule(outputs: dict[str, str], aws: Clients) -> list[Finding]:
    check = "push rule"
    bus, source = outputs["SurgeBusName"], outputs["PushEventSource"]
    rules = [r for page in aws.events.get_paginator("list_rules").paginate(EventBusName=bus) for r in page["Rules"]]
    pushes = []
    for rule in rules:
        pattern = json.loads(rule.get("EventPattern") or "{}")
        if "PushSent" in pattern.get("detail-type", []):
            pushes.append((rule, pattern.get("source", [])))
    if not pushes:
        return [Finding("FAIL", check, f"no rule on bus {bus} takes PushSent events", "redeploy the stack")]
    findings = []
    for rule, sources in pushes:
        if rule.get("State") != "ENABLED":
            findings.append(Finding("FAIL", check, f"rule {rule['Name']} is {rule.get('State')}", "enable it"))
        elif source in sources:
            findings.append(Finding("OK", check, f"rule {rule['Name']} takes source {source} (what surge push sends)"))
        else:
            findings.append(
                Finding(
                    "FAIL",
                    check,
                    f"rule {rule['Name']} takes source {sources} but surge push sends {source!r} (PushEventSource)",
                    "redeploy with the push server's source as PushEventSource",
                )
            )
    return findings


def alarm_subscribers(outputs: dict[str, str], aws: Clients) -> list[Finding]:
    check = "alarms"
    topic = outputs["NotificationTopicArn"]
    pages = aws.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
    subscriptions = [s for page in pages for s in page["Subscriptions"]]
    pending = [s for s in subscriptions if s["SubscriptionArn"] == "PendingConfirmation"]
    confirmed = [s for s in subscriptions if s["SubscriptionArn"] not in ("PendingConfirmation", "Deleted")]
    subscribe = (
        f'make deploy PARAMS="... AlarmEmail=oncall@example.com", or aws sns subscribe --topic-arn {topic} '
        "--protocol email --notification-endpoint ADDRESS"
    )
    if confirmed:
        shown = ", ".join(f"{s['Protocol']}:{s['Endpoint']}" for s in confirmed)
        return [Finding("OK", check, f"the alarm topic has {len(confirmed)} subscriber(s): {shown}")]
    if pending:
        todo = "click the link in the email AWS sent (valid for two days), or subscribe again"
        return [
            Finding("WARN", check, f"{len(pending)} subscription(s) pending confirmation: alarms reach nobody", todo)
        ]
    return [Finding("WARN", check, f"no subscriber on {topic}: alarms reach nobody", subscribe)]


def run_checks(outputs: dict[str, str], now: datetime, aws: Clients) -> Iterator[Finding]:
    try:
        loaded = load_effective_config(
            outputs["ConfigParameterName"], outputs["OperatorConfigParameterName"], table=outputs["SurgeTableName"]
        )
    except ConfigInvalidError as error:
        yield Finding("FAIL", "config", str(error), "fix it with surge config apply, or redeploy")
        config = SurgeConfig.model_construct(targets=[])
    else:
        config = loaded.config
        yield Finding(
            "OK", "config", f"{len(config.targets)} target(s) valid: {', '.join(t.id for t in config.targets)}"
        )
    for target in config.targets:
        yield from _guarded(f"target {target.id}", lambda t=target: target_exists(t, aws))  # type: ignore[misc]
        yield from _guarded(f"target {target.id} metric", lambda t=target: alb_metric(t, aws, now))  # type: ignore[misc]
        conflicts = ecs_conflicts if target.kind is TargetKind.ECS else asg_conflicts
        yield from _guarded(f"target {target.id} other scaling", lambda t=target, c=conflicts: c(t, aws))  # type: ignore[misc]
        if target.scaling.dry_run:
            yield Finding("WARN", f"target {target.id}", "dry_run is on: Surge decides and changes nothing")
    yield from _guarded("push rule", lambda: push_rule(outputs, aws))
    yield from _guarded("alarms", lambda: alarm_subscribers(outputs, aws))


def doctor_command(stack: StackOption = "surge") -> None:
    """Check the account before going live: config, targets, metrics, other scaling, push rule, alarms."""
    now = datetime.now(UTC)
    with one_line_aws_errors():
        try:
            outputs = stack_outputs(stack, OUTPUTS)
        except InvalidInputError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(SETUP_EXIT_CODE) from error
        findings = list(run_checks(outputs, now, Clients()))
    for finding in findings:
        typer.echo(finding.line())
    if any(f.level == "FAIL" for f in findings):
        raise typer.Exit(AWS_EXIT_CODE)
