"""`surge doctor` against a locally deployed stack: the go-live checks, with conflicting policies planted."""

from __future__ import annotations

from datetime import timedelta

from typer.testing import CliRunner

from scaler_support import LOAD_BALANCER, START, asg_target, deploy, ecs_target, plant_cpu_target_tracking
from surge_cli import world
from surge_cli.localaws import LocalAws
from surge_cli.main import app
from surge_cli.stack import LocalStack

runner = CliRunner()
NOW = START + timedelta(minutes=30)
WEB_ALB = "app/web-alb/73e2d6bc24d8a067"


def _stack(aws: LocalAws) -> LocalStack:
    """An ECS service and an Auto Scaling group, each behind its own ALB; 30 minutes of traffic on the api's."""
    stack = deploy(aws, ecs_target("api"), asg_target("web", load_balancer=WEB_ALB))
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    world.create_auto_scaling_group(aws, "web", min_units=2, max_units=50, desired_units=2)
    for minute in range(30):
        world.publish_request_count(aws, LOAD_BALANCER, START + timedelta(minutes=minute), 60_000)
    return stack


def _plant_conflicts(aws: LocalAws) -> None:
    """What a service often has before Surge: ECS target tracking on CPU, and a step policy on the group."""
    plant_cpu_target_tracking(aws.client("application-autoscaling"), "prod", "api")
    aws.client("autoscaling").put_scaling_policy(
        AutoScalingGroupName="web",
        PolicyName="cpu-step",
        PolicyType="StepScaling",
        AdjustmentType="ChangeInCapacity",
        StepAdjustments=[{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 2}],
    )


def _doctor() -> tuple[int, list[str]]:
    result = runner.invoke(app, ["doctor"])
    assert not result.stderr, result.stderr
    return result.exit_code, result.stdout.splitlines()


def test_doctor_fails_on_policies_that_would_fight_surge_and_says_how_to_suspend_them(aws: LocalAws) -> None:
    _stack(aws)
    _plant_conflicts(aws)
    aws.run_until(NOW)

    code, lines = _doctor()

    assert code == 1
    assert lines == [
        "OK config: 2 target(s) valid: api, web",
        "OK target api: ECS service prod/api is ACTIVE, desired 2",
        "OK target api metric: 30 RequestCount minutes in the last hour for LoadBalancer=app/api-alb/50dc6c495c0c9188",
        "FAIL target api other scaling: Application Auto Scaling TargetTrackingScaling policy 'cpu-tracking' on "
        "service/prod/api would fight Surge over desiredCount (suspend it: aws application-autoscaling "
        "register-scalable-target --service-namespace ecs --resource-id service/prod/api --scalable-dimension "
        "ecs:service:DesiredCount --suspended-state "
        "DynamicScalingInSuspended=true,DynamicScalingOutSuspended=true,ScheduledScalingSuspended=true)",
        "OK target web: Auto Scaling group web: desired 2, min 2, max 50",
        f"FAIL target web metric: no AWS/ApplicationELB RequestCount datapoint in the last hour for "
        f"LoadBalancer={WEB_ALB} (check load_balancer (the ALB's full name, app/NAME/ID) and target_group "
        "(targetgroup/NAME/ID); an ALB publishes nothing for a minute without requests)",
        "FAIL target web other scaling: EC2 Auto Scaling StepScaling policy 'cpu-step' on web would fight Surge over "
        "the desired capacity (suspend: aws autoscaling suspend-processes --auto-scaling-group-name web "
        "--scaling-processes AlarmNotification)",
        "OK push rule: rule surge-PushFastPathStateMachine-PushSent takes source com.example.push (what surge push "
        "sends)",
        "WARN alarms: no subscriber on arn:aws:sns:us-east-1:123456789012:surge-NotificationTopic: alarms reach "
        'nobody (make deploy PARAMS="... AlarmEmail=oncall@example.com", or aws sns subscribe --topic-arn '
        "arn:aws:sns:us-east-1:123456789012:surge-NotificationTopic --protocol email --notification-endpoint ADDRESS)",
    ]


def test_doctor_passes_once_the_other_scaling_is_suspended(aws: LocalAws) -> None:
    stack = _stack(aws)
    _plant_conflicts(aws)
    for minute in range(30):
        world.publish_request_count(aws, WEB_ALB, START + timedelta(minutes=minute), 6_000)
    aws.run_until(NOW)
    # The suspensions doctor proposed, and a subscriber on the alarm topic.
    aws.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/prod/api",
        ScalableDimension="ecs:service:DesiredCount",
        SuspendedState={
            "DynamicScalingInSuspended": True,
            "DynamicScalingOutSuspended": True,
            "ScheduledScalingSuspended": True,
        },
    )
    aws.client("autoscaling").suspend_processes(AutoScalingGroupName="web", ScalingProcesses=["AlarmNotification"])
    topic = stack.outputs["NotificationTopicArn"]
    aws.client("sns").subscribe(TopicArn=topic, Protocol="email", Endpoint="oncall@example.com")

    code, lines = _doctor()

    assert code == 0, lines
    assert [line.split(" ", 1)[0] for line in lines] == ["OK"] * len(lines)
    assert "OK target api other scaling: Application Auto Scaling TargetTrackingScaling policy 'cpu-tracking' on " \
        "service/prod/api is suspended" in lines  # fmt: skip
    assert "OK target web other scaling: EC2 Auto Scaling StepScaling policy 'cpu-step' on web is suspended " \
        "(AlarmNotification)" in lines  # fmt: skip
    assert "OK alarms: the alarm topic has 1 subscriber(s): email:oncall@example.com" in lines


def test_doctor_fails_when_the_push_rule_does_not_take_what_surge_push_sends(aws: LocalAws) -> None:
    stack = _stack(aws)
    aws.run_until(NOW)
    rule = "surge-PushFastPathStateMachine-PushSent"
    pattern = '{"source": ["com.example.other"], "detail-type": ["PushSent"]}'
    aws.client("events").put_rule(Name=rule, EventBusName=stack.bus_name, EventPattern=pattern)

    code, lines = _doctor()

    assert code == 1
    assert (
        f"FAIL push rule: rule {rule} takes source ['com.example.other'] but surge push sends 'com.example.push' "
        "(PushEventSource) (redeploy with the push server's source as PushEventSource)"
    ) in lines


def test_doctor_of_an_unknown_stack_is_one_line_and_exit_2(aws: LocalAws) -> None:
    result = runner.invoke(app, ["doctor", "--stack", "nope"])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: stack: no CloudFormation stack 'nope'"), line
