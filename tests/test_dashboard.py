"""The alarms and the dashboard watch what the handlers really print, and only this stack's metrics.

A local run of the real state machines (two targets, a CloudWatch outage that makes ReadSignals count
SignalReadErrors, a valid and a rejected push) records every EMF document the handlers print on stdout (Powertools
writes CloudWatch's Embedded Metric Format there; CloudWatch turns each into metrics). The stack is called
`surge-blue`, not the default, so a dimension taken from a constant instead of the stack could not pass.

Then the translated template is created on moto's CloudFormation, whose own Fn::Sub fills the dashboard body, and
the body is read back from moto's CloudWatch: it must be JSON, and every metric it shows (plain, or found by a
SEARCH expression) must be one the run printed with exactly those dimensions. The alarms on Surge metrics are held
to the same. Specs: EMF https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html,
SEARCH https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/search-expression-syntax.html.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from scaler_support import START, Loop, asg_target, ecs_target, local_aws, process_state_reset
from surge import observability
from surge.adapters import clients
from surge.core.config import SurgeConfig
from surge_cli import world
from surge_cli.push_client import push_event_entry
from surge_cli.stack import deploy_locally
from test_deploy import EVENTS, PARAMETERS, REGION, Resolver, create_on_moto, of_type, translate

STACK = "surge-blue"
Metric = tuple[str, str, frozenset[tuple[str, str]]]
"""(namespace, metric name, dimensions) as CloudWatch identifies a metric."""


def emf_metrics(stdout: str) -> list[Metric]:
    """Every metric of every EMF document in the output, once per document (repeats kept)."""
    found = []
    for line in stdout.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, str(document[name])) for name in dimension_set)
                found += [(directive["Namespace"], m["Name"], dimensions) for m in directive["Metrics"]]
    return found


@dataclass
class Run:
    printed: list[Metric]
    loop_iterations: int


@pytest.fixture(scope="module")
def run() -> Run:
    """Three simulated minutes of the loop over an ECS service and an Auto Scaling group, CloudWatch failing for
    the first 20 s, then a valid push and a rejected one."""
    config = SurgeConfig(targets=[ecs_target("api"), asg_target("web")])
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        mp.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "Surge")
        with local_aws() as aws, contextlib.redirect_stdout(out):
            stack = deploy_locally(aws, config, stack_name=STACK, parameters=PARAMETERS)
            world.create_ecs_service(aws, "prod", "api", desired_units=2)
            world.create_auto_scaling_group(aws, "web", min_units=2, max_units=50, desired_units=2)

            def cloudwatch_down(**_: Any) -> None:
                if aws.now() < START + timedelta(seconds=20):
                    error = {"Error": {"Code": "InternalServiceError", "Message": "injected"}}
                    raise ClientError(error, "GetMetricData")

            clients.cloudwatch().meta.events.register("before-call.cloudwatch.GetMetricData", cloudwatch_down)
            loop = Loop(aws, stack, lambda minute: 400.0)
            loop.start(record_every_seconds=30)
            aws.run_until(START + timedelta(minutes=2))
            bad = json.loads((EVENTS / "push-sent-bad-audience.json").read_text())
            for entry in [
                push_event_entry(audience=10_000, push_id="post-1", bus_name=stack.bus_name, source="com.example.push"),
                {
                    "Source": bad["source"],
                    "DetailType": bad["detail-type"],
                    "Detail": json.dumps(bad["detail"]),
                    "EventBusName": stack.bus_name,
                },
            ]:
                aws.client("events").put_events(Entries=[entry])
                (execution,) = stack.deliver_events()
                aws.wait_for(execution, timeout_sim_seconds=30)
            aws.run_until(START + timedelta(minutes=3))
    printed = emf_metrics(out.getvalue())
    iterations = sum(1 for ns, name, _ in printed if (ns, name) == ("Surge", "LoopIterations"))
    return Run(printed=printed, loop_iterations=iterations)


def test_every_surge_metric_carries_this_stacks_name(run: Run) -> None:
    assert run.loop_iterations >= 20, "the loop ran (about 11 iterations a minute)"
    names = {name for _, name, _ in run.printed}
    assert {"LoopIterations", "SignalReadErrors", "PushesRejected", *observability.TARGET_GAUGES} <= names
    for namespace, name, dimensions in run.printed:
        assert namespace == "Surge", name
        assert dict(dimensions)["Stack"] == STACK, f"{name} without this stack's Stack dimension: {dimensions}"
        assert dict(dimensions)["service"] == "surge", name


def test_each_target_gets_its_gauges_once_per_decision(run: Run) -> None:
    """DecideCapacity prints one gauge set per target each time it decides (the loop's iterations and the push
    fast path's decisions alike, as LoopIterations counts them): 5 custom metrics per target."""
    per_target: Counter[tuple[str, str]] = Counter()
    for _, name, dimensions in run.printed:
        labels = dict(dimensions)
        if name in observability.TARGET_GAUGES:
            assert set(labels) == {"service", "Stack", "Target"}, f"{name}: {labels}"
            per_target[(labels["Target"], name)] += 1
        else:
            assert set(labels) == {"service", "Stack"}, f"{name}: {labels}"
    for target in ("api", "web"):
        # Always known: the floors and the desired count read from the service or group.
        for gauge in ("DesiredUnits", "RunningUnits", "PushFloorUnits", "CalendarFloorUnits"):
            assert per_target[(target, gauge)] == run.loop_iterations, (target, gauge)
        # Unknown while CloudWatch was down (left out, never a made-up 0), known once it answered.
        assert 0 < per_target[(target, "DemandRps")] < run.loop_iterations, target
    distinct = {(t, n) for t, n in per_target}
    assert len(distinct) == 2 * len(observability.TARGET_GAUGES)


@pytest.fixture(scope="module")
def moto_stack() -> dict[str, Any]:
    """The translated template created on moto's CloudFormation as `surge-blue`: its dashboard body (moto's own
    Fn::Sub filled it), its outputs and its physical ids."""
    from moto import mock_aws

    with process_state_reset(), mock_aws():
        described, created = create_on_moto(translate(PARAMETERS), STACK)
        physical = {logical_id: r["PhysicalResourceId"] for logical_id, r in created.items()}
        body = boto3.client("cloudwatch", region_name=REGION).get_dashboard(DashboardName=physical["SurgeDashboard"])
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
        return {"body": body["DashboardBody"], "outputs": outputs, "physical": physical}


SEARCH = re.compile(r"^SEARCH\('\{(?P<schema>[^}]*)\} (?P<terms>[^']*)', '(?P<stat>\w+)', (?P<period>\d+)\)$")
TERM = re.compile(r'(\w+)="([^"]*)"')


def shown_metrics(body: dict[str, Any]) -> list[tuple[str, str, dict[str, str], bool]]:
    """(namespace, metric name, dimensions, exact) for every line of every metric widget. A SEARCH expression gives
    the dimension names of its schema, with the values its terms fix ("" for the others), and exact=False."""
    shown = []
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        for line in widget["properties"]["metrics"]:
            if isinstance(line[0], dict):
                (expression,) = line
                match = SEARCH.match(expression["expression"])
                assert match, f"not a SEARCH expression this test understands: {expression['expression']}"
                namespace, *dimension_names = match["schema"].split(",")
                terms = dict(TERM.findall(match["terms"]))
                dimensions = {d: terms.get(d, "") for d in dimension_names}
                shown.append((namespace, terms["MetricName"], dimensions, False))
            else:
                namespace, name, *rest = line
                pairs = [item for item in rest if not isinstance(item, dict)]
                shown.append((namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)), True))
    return shown


def test_the_dashboard_body_is_json_and_shows_only_metrics_the_handlers_print(
    run: Run, moto_stack: dict[str, Any]
) -> None:
    body = json.loads(moto_stack["body"])
    physical = moto_stack["physical"]
    machines = {physical["ScalerStateMachine"], physical["PushFastPathStateMachine"]}
    printed = {(ns, name, dict(dims).get("Stack", ""), frozenset(dict(dims))) for ns, name, dims in run.printed}
    exact = set(run.printed)
    shown = shown_metrics(body)
    for namespace, name, dimensions, is_exact in shown:
        if namespace == "AWS/States":  # Step Functions' own metric, on this stack's state machines
            assert name == "ExecutionsFailed"
            assert set(dimensions) == {"StateMachineArn"}
            assert dimensions["StateMachineArn"] in machines, dimensions
        elif is_exact:
            assert (namespace, name, frozenset(dimensions.items())) in exact, f"never printed: {name} {dimensions}"
        else:
            assert dimensions["Stack"] == STACK, f"{name}: not this stack's"
            assert (namespace, name, STACK, frozenset(dimensions)) in printed, f"never printed: {name} {dimensions}"
    on_dashboard = {name for _, name, _, _ in shown}
    assert {*observability.TARGET_GAUGES, "LoopIterations", "SignalReadErrors", "ExecutionsFailed"} <= on_dashboard
    # Every label of a SEARCH line names its target (a dynamic label: Fn::Sub's ${!...} left a literal ${...}).
    searches = [line[0] for w in body["widgets"] if w["type"] == "metric" for line in w["properties"]["metrics"]]
    labels = [s["label"] for s in searches if isinstance(s, dict)]
    assert len(labels) == len(observability.TARGET_GAUGES)
    assert all(label.endswith(" ${PROP('Dim.Target')}") for label in labels), labels


def test_the_stack_outputs_the_dashboard_url(moto_stack: dict[str, Any]) -> None:
    name = moto_stack["physical"]["SurgeDashboard"]
    assert name == f"{STACK}-{REGION}"
    assert moto_stack["outputs"]["DashboardUrl"] == (
        f"https://console.aws.amazon.com/cloudwatch/home?region={REGION}#dashboards:name={name}"
    )


def test_every_alarm_on_a_surge_metric_watches_one_the_handlers_print(run: Run) -> None:
    translated = translate(PARAMETERS)
    resolve = Resolver(translated, PARAMETERS, {"AWS::StackName": STACK})
    surge_alarms = 0
    for name, alarm in of_type(translated, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        if props["Namespace"] != "Surge":
            continue
        surge_alarms += 1
        dimensions = frozenset((d["Name"], resolve(d["Value"])) for d in props["Dimensions"])
        assert ("Surge", props["MetricName"], dimensions) in set(run.printed), f"{name} watches nothing printed"
    assert surge_alarms >= 2


def test_every_function_takes_namespace_service_and_stack_from_the_template() -> None:
    translated = translate(PARAMETERS)
    for name, function in of_type(translated, "AWS::Lambda::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == observability.NAMESPACE, name
        assert variables["POWERTOOLS_SERVICE_NAME"] == observability.SERVICE, name
        assert variables[observability.STACK_ENVIRONMENT_VARIABLE] == {"Ref": "AWS::StackName"}, name


@pytest.mark.parametrize("with_arguments", [False, True])
def test_log_metrics_adds_the_stack_dimension_however_it_decorates(
    with_arguments: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`@metrics.log_metrics` (every handler) and `@metrics.log_metrics(...)` alike."""
    monkeypatch.setenv(observability.STACK_ENVIRONMENT_VARIABLE, "surge-green")

    def handler(event: Any, context: Any) -> str:
        observability.metrics.add_metric(name="Probe", unit="Count", value=1)
        return "done"

    decorated = (
        observability.metrics.log_metrics(raise_on_empty_metrics=True)(handler)
        if with_arguments
        else (observability.metrics.log_metrics(handler))
    )
    assert decorated({}, None) == "done"
    assert emf_metrics(capsys.readouterr().out) == [
        ("Surge", "Probe", frozenset({("service", "surge"), ("Stack", "surge-green")}))
    ]
