"""The fault table: one row per fault, each row's id a promise an operator can hold Surge to.

Every row runs the real scaler ASL (and, for pushes, the push fast path) on moto with the real handlers and a
simulated clock, and injects its fault at the boto3 level (botocore `before-call` hooks on the cached clients
of `surge.adapters.clients`), never by editing a handler. The world is the same for every row:

- an ECS service (or an Auto Scaling group) at 20 units; one unit per 50 rps; min 2, max 50;
- 1,000 rps (20 units) until 11:01, then 1,500 rps (30 units); 11:01's datapoint appears at 11:02:30;
- the schedule starts a 55 s loop execution every minute; the world is sampled every simulated second.

Each row asserts: (a) capacity never below what the signals known at that moment required (allowing one loop
interval plus Retry back-off) and never above max; (b) the current or the next scheduled execution recovers
(the run ends at the capacity the signals require); (c) a metric, a log line or an execution status an alarm
can watch was emitted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

import surge.handlers.decide_capacity as decide_capacity_handler
from scaler_support import START, Loop, asg_target, deploy, ecs_target
from surge import steps
from surge.adapters import clients, store
from surge.core.signals import Hold
from surge_cli import world
from surge_cli.localaws import LocalAws
from surge_cli.push_client import push_event_entry
from surge_cli.stack import LocalStack, Template

pytestmark = pytest.mark.statemachine

END = START + timedelta(minutes=3, seconds=30)
FAULT_UNTIL = START + timedelta(seconds=40)
"""Time-boxed faults last through most of the first execution."""
MAX_UNITS = 50
SLACK = timedelta(seconds=15)
"""A requirement must be met within one loop interval (5 s) plus the Retry back-off (at most 1+2+4 s)."""
SOURCE = Template.load().parameter_defaults()["PushEventSource"]


def traffic(minute: datetime) -> float:
    return 1500.0 if minute >= START + timedelta(minutes=1) else 1000.0


def base_requirement(when: datetime) -> int:
    """What the signals known at `when` require: 20 units, 30 once 11:01's 1,500 rps is published."""
    return 30 if when >= START + timedelta(minutes=2, seconds=30) else 20


# ------------------------------------------------------------------------------------------ the world


@dataclass
class Run:
    aws: LocalAws
    stack: LocalStack
    loop: Loop
    target: str
    monkeypatch: pytest.MonkeyPatch
    records: list[logging.LogRecord] = field(default_factory=list)
    emf_metrics: list[str] = field(default_factory=list)
    capacity_calls: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def executions_ending(self) -> dict[str, str]:
        """Execution ARN -> the last state it entered (e.g. AnotherLoopTookOver), for finished ones."""
        ended = {}
        for arn in self.loop.executions:
            if self.aws.describe(arn)["status"] == "RUNNING":
                continue
            names = [
                e["stateEnteredEventDetails"]["name"] for e in self.aws.history(arn) if "stateEnteredEventDetails" in e
            ]
            ended[arn] = names[-1]
        return ended

    def statuses(self) -> list[str]:
        return [self.aws.describe(arn)["status"] for arn in self.loop.executions]

    def logged(self, predicate: Callable[[logging.LogRecord], bool]) -> bool:
        return any(predicate(r) for r in self.records)


class _Recorder(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, operation)


def hook(client: Any, event: str, handler: Callable[..., Any]) -> None:
    client.meta.events.register(f"before-call.{event}", handler)


def fail_while(run: Run, until: datetime, make_error: Callable[[], Exception]) -> Callable[..., None]:
    """A hook that raises `make_error()` while the simulated clock is before `until`."""

    def handler(**_: Any) -> None:
        if run.aws.now() < until:
            run.extra["injected"] = run.extra.get("injected", 0) + 1
            raise make_error()

    return handler


def fail_times(run: Run, times: int, make_error: Callable[[], Exception]) -> Callable[..., None]:
    """A hook that raises `make_error()` on its first `times` calls, then lets calls through."""

    def handler(**_: Any) -> None:
        if run.extra.get("injected", 0) < times:
            run.extra["injected"] = run.extra.get("injected", 0) + 1
            raise make_error()

    return handler


def record_capacity_calls(run: Run) -> None:
    def note(name: str) -> Callable[..., None]:
        return lambda **_: run.capacity_calls.append(name)

    hook(clients.ecs(), "ecs.UpdateService", note("ecs:UpdateService"))
    hook(clients.autoscaling(), "auto-scaling.SetDesiredCapacity", note("autoscaling:SetDesiredCapacity"))
    hook(clients.autoscaling(), "auto-scaling.UpdateAutoScalingGroup", note("autoscaling:UpdateAutoScalingGroup"))


# ------------------------------------------------------------------------------------- fault injectors


def cloudwatch_error(run: Run) -> None:
    make = lambda: client_error("InternalServiceError", "GetMetricData")  # noqa: E731
    hook(clients.cloudwatch(), "cloudwatch.GetMetricData", fail_while(run, FAULT_UNTIL, make))


def cloudwatch_throttled(run: Run) -> None:
    make = lambda: client_error("Throttling", "GetMetricData")  # noqa: E731
    hook(clients.cloudwatch(), "cloudwatch.GetMetricData", fail_while(run, FAULT_UNTIL, make))


def cloudwatch_empty(run: Run) -> None:
    def empty(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if run.aws.now() >= FAULT_UNTIL:
            return None
        run.extra["injected"] = run.extra.get("injected", 0) + 1
        # What CloudWatch answers for a metric with no datapoints in the window (query `alb0` is the target's).
        result = {"Id": "alb0", "Label": run.target, "Timestamps": [], "Values": [], "StatusCode": "Complete"}
        return AWSResponse("https://monitoring.local", 200, {}, None), {"MetricDataResults": [result], "Messages": []}

    hook(clients.cloudwatch(), "cloudwatch.GetMetricData", empty)


def ecs_throttled(run: Run) -> None:
    make = lambda: client_error("ThrottlingException", "UpdateService")  # noqa: E731
    hook(clients.ecs(), "ecs.UpdateService", fail_times(run, 3, make))


def asg_throttled(run: Run) -> None:
    make_set = lambda: client_error("Throttling", "SetDesiredCapacity")  # noqa: E731
    make_update = lambda: client_error("Throttling", "UpdateAutoScalingGroup")  # noqa: E731
    hook(clients.autoscaling(), "auto-scaling.SetDesiredCapacity", fail_times(run, 3, make_set))
    hook(clients.autoscaling(), "auto-scaling.UpdateAutoScalingGroup", fail_times(run, 3, make_update))


def decide_raises(run: Run) -> None:
    real = steps.decide

    def broken(*args: Any, **kwargs: Any) -> Any:
        if run.extra.get("injected", 0) < 5:
            run.extra["injected"] = run.extra.get("injected", 0) + 1
            raise RuntimeError("injected: the decision core crashed")
        return real(*args, **kwargs)

    run.monkeypatch.setattr(steps, "decide", broken)


HOLD = Hold(
    push_id="p-held",
    units=25,
    sized_for_rps=1250.0,
    started_at=START - timedelta(minutes=1),
    min_until=START + timedelta(minutes=30),
    max_until=START + timedelta(minutes=60),
    audience=25_000,
)


def dynamodb_query_down(run: Run) -> None:
    store.put_hold(run.stack.table_name, run.target, HOLD)
    make = lambda: client_error("InternalServerError", "Query")  # noqa: E731
    hook(clients.dynamodb(), "dynamodb.Query", fail_while(run, FAULT_UNTIL, make))


def pushes_duplicated_and_out_of_order(run: Run) -> None:
    bus = run.stack.bus_name
    # p-2 (sent second, 100,000 people: (1,000 + 1,000) / 50 = 40 units) arrives first, then the older p-1,
    # then p-2 again.
    newer = push_event_entry(audience=100_000, push_id="p-2", bus_name=bus, source=SOURCE, sent_at=START)
    older = push_event_entry(
        audience=20_000, push_id="p-1", bus_name=bus, source=SOURCE, sent_at=START - timedelta(seconds=5)
    )

    def deliver(*entries: dict[str, Any]) -> Callable[[], None]:
        def put() -> None:
            events = run.aws.client("events")
            for entry in entries:
                events.put_events(Entries=[entry])
            run.extra.setdefault("push_executions", []).extend(run.stack.deliver_events())

        return put

    run.aws.at(START + timedelta(seconds=10), deliver(newer))
    run.aws.at(START + timedelta(seconds=12), deliver(older, newer))
    run.aws.at(START + timedelta(seconds=30), deliver(newer))


def overlapping_loops(run: Run) -> None:
    # The schedule starts one execution at 11:00:00; start a second at the same instant and a third 20 s later.
    run.aws.at(START, run.loop.start_execution)
    run.aws.at(START + timedelta(seconds=20), run.loop.start_execution)


def skewed_decide_clock(skew_seconds: int) -> Callable[[Run], None]:
    def inject(run: Run) -> None:
        real = datetime

        class SkewedDatetime(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
                return real.now(tz) + timedelta(seconds=skew_seconds)

        run.monkeypatch.setattr(decide_capacity_handler, "datetime", SkewedDatetime)

    return inject


class SandboxTimedout(Exception):  # noqa: N818 - named after Lambda's own error below
    """Lambda's timeout: the runtime kills the handler; Step Functions sees `Sandbox.Timedout`."""


SandboxTimedout.__name__ = "Sandbox.Timedout"


def apply_times_out(run: Run) -> None:
    # A hung UpdateService call until the function's timeout, twice; the harness reports the exception class
    # name as Lambda's errorType, so Step Functions sees exactly `Sandbox.Timedout`.
    make = lambda: SandboxTimedout("Task timed out after 20.00 seconds")  # noqa: E731
    hook(clients.ecs(), "ecs.UpdateService", fail_times(run, 2, make))


# ------------------------------------------------------------------------------------- row assertions


def emitted(*names: str) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        missing = [n for n in names if n not in run.emf_metrics]
        assert not missing, f"metrics {missing} not emitted (saw {sorted(set(run.emf_metrics))})"

    return check


def check_signal_missing_logged(run: Run) -> None:
    emitted("LoopIterations")(run)
    assert run.extra["injected"] >= 8, "every iteration of the outage read no datapoint"
    reasons = [getattr(r, "decision", {}).get("reason") for r in run.records]
    assert "signal_missing" in reasons, "the decision log names the missing signal"
    assert "FAILED" not in run.statuses()


def check_retried_in_history(error: str, attempts: int) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        failures: list[datetime] = []
        scheduled: list[datetime] = []
        for arn in run.loop.executions:
            for e in run.aws.history(arn):
                details = e.get("taskFailedEventDetails") or e.get("lambdaFunctionFailedEventDetails")
                if e["type"] in ("TaskFailed", "LambdaFunctionFailed") and error in json.dumps(details):
                    failures.append(e["timestamp"])
                elif e["type"] == "TaskScheduled" and failures:
                    scheduled.append(e["timestamp"])
        assert len(failures) == attempts, f"history shows {len(failures)} failed attempts, want {attempts}"
        retried = [when for when in scheduled if failures[0] <= when <= failures[-1] + timedelta(seconds=8)]
        assert len(retried) >= attempts, "each failed attempt was retried by the state's Retry"
        assert retried[-1] > failures[0], "the retries backed off on the simulated clock"
        assert run.extra["injected"] == attempts
        assert "FAILED" not in run.statuses(), "the Retry recovered within the execution"
        emitted("ScaleOut")(run)

    return check


def check_failed_execution_then_recovery(run: Run) -> None:
    statuses = run.statuses()
    assert statuses[0] == "FAILED", "five failed iterations fail the execution: the ExecutionsFailed alarm fires"
    assert run.aws.describe(run.loop.executions[0])["error"] == "TooManyFailedIterations"
    assert "SUCCEEDED" in statuses[1:], "the next scheduled execution recovers"


def check_dynamodb_hold(run: Run) -> None:
    emitted("SignalReadErrors")(run)
    assert run.logged(lambda r: "could not be read" in r.getMessage())
    assert run.extra["injected"] >= 5


def check_pushes(run: Run) -> None:
    executions = run.extra["push_executions"]
    assert len(executions) == 4
    results = [run.aws.wait_for(arn, timeout_sim_seconds=30) for arn in executions]
    assert [r["status"] for r in results] == ["SUCCEEDED"] * 4
    paths = [
        [e["stateEnteredEventDetails"]["name"] for e in run.aws.history(arn) if "stateEnteredEventDetails" in e]
        for arn in executions
    ]
    assert paths[0][-1] == "PushApplied"  # p-2: 40 units at once
    assert paths[2][-1] == "AlreadyHandled"  # p-2 again (delivered with p-1)
    assert paths[3][-1] == "AlreadyHandled"  # p-2 a third time
    holds = {h.push_id: h.units for h in store.read_target_items(run.stack.table_name, run.target).holds}
    assert holds == {"p-2": 40, "p-1": 40}, "the late, smaller push never sizes below the current count"
    assert run.capacity_calls.count("ecs:UpdateService") == 1, "duplicates and the older push call nothing"
    emitted("PushesRecorded", "PushDuplicates")(run)


def check_overlap(run: Run) -> None:
    first, second = run.loop.executions[:2]
    third = run.loop.executions[2]
    assert run.aws.describe(third)["startDate"] - run.aws.describe(first)["startDate"] == timedelta(seconds=20)
    endings = run.executions_ending()
    assert {endings[first], endings[second]} <= {"AnotherLoopTookOver", "AnotherLoopIsRunning"}
    values = [units for _, units in run.loop.series(run.target)]
    assert values == sorted(values), "capacity never oscillates"
    assert run.capacity_calls.count("ecs:UpdateService") == 1, "exactly one loop acted on the one change"
    assert "FAILED" not in run.statuses()
    emitted("LoopIterations")(run)


def check_skew(run: Run) -> None:
    assert "FAILED" not in run.statuses()
    emitted("LoopIterations", "ScaleOut")(run)


def check_timeout(run: Run) -> None:
    timed_out = [i for i in run.aws.invocations if i.error_type == "Sandbox.Timedout"]
    assert len(timed_out) == 2
    caught = [
        e
        for arn in run.loop.executions
        for e in run.aws.history(arn)
        if e["type"] == "TaskFailed" and e["taskFailedEventDetails"].get("error") == "Sandbox.Timedout"
    ]
    assert len(caught) == 2, "each timeout is a failed task in the execution history"
    assert "FAILED" not in run.statuses(), "the loop went on: the next iteration applied the change"
    emitted("LoopIterations", "ScaleOut")(run)


# ------------------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Fault:
    inject: Callable[[Run], None]
    check: Callable[[Run], None]
    kind: str = "ecs"
    floor: Callable[[datetime], int] = base_requirement
    final_units: int = 30
    initial_units: int = 20


def _hold_floor(when: datetime) -> int:
    """The push hold (25 units) was applied before the outage: it must survive the outage."""
    return max(25, base_requirement(when))


def _push_floor(when: datetime) -> int:
    return 40 if when >= START + timedelta(seconds=10) else base_requirement(when)


FAULTS = [
    pytest.param(
        Fault(cloudwatch_error, emitted("SignalReadErrors", "LoopIterations")),
        id="cloudwatch-GetMetricData-error: capacity held, loop goes on, SignalReadErrors emitted",
    ),
    pytest.param(
        Fault(cloudwatch_throttled, emitted("SignalReadErrors", "LoopIterations")),
        id="cloudwatch-GetMetricData-throttled: capacity held, loop goes on, SignalReadErrors emitted",
    ),
    pytest.param(
        Fault(cloudwatch_empty, check_signal_missing_logged),
        id="cloudwatch-no-datapoints: capacity held, decision logged with reason signal_missing",
    ),
    pytest.param(
        Fault(ecs_throttled, check_retried_in_history("CapacityApiThrottledError", 3)),
        id="ecs-UpdateService-throttled-3x: ASL Retry backs off on the clock, then applies; retries in history",
    ),
    pytest.param(
        Fault(asg_throttled, check_retried_in_history("CapacityApiThrottledError", 3), kind="asg"),
        id="autoscaling-SetDesiredCapacity-throttled-3x: ASL Retry backs off, then applies; retries in history",
    ),
    pytest.param(
        Fault(decide_raises, check_failed_execution_then_recovery),
        id="handler-exception-5x: capacity untouched, execution FAILED (alarm), next scheduled execution recovers",
    ),
    pytest.param(
        Fault(dynamodb_query_down, check_dynamodb_hold, floor=_hold_floor, initial_units=25),
        id="dynamodb-Query-unavailable: holds unreadable, capacity held (no scale-in), SignalReadErrors emitted",
    ),
    pytest.param(
        Fault(pushes_duplicated_and_out_of_order, check_pushes, floor=_push_floor, final_units=40),
        id="push-duplicate-and-out-of-order: one hold per push id, larger wins, no extra call, PushDuplicates",
    ),
    pytest.param(
        Fault(overlapping_loops, check_overlap),
        id="two-loops-at-once-and-a-third-20s-later: newest acts alone, older end AnotherLoop*, no oscillation",
    ),
    pytest.param(
        Fault(skewed_decide_clock(+60), check_skew),
        id="decide-clock-60s-ahead: capacity never below the signals' requirement, loop goes on",
    ),
    pytest.param(
        Fault(skewed_decide_clock(-60), check_skew),
        id="decide-clock-60s-behind: capacity never below the signals' requirement, loop goes on",
    ),
    pytest.param(
        Fault(apply_times_out, check_timeout),
        id="lambda-timeout-as-Sandbox.Timedout-2x (no real timeout on moto): iteration caught, next one applies",
    ),
]


def _emf_metric_names(stdout: str) -> list[str]:
    names = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            document = json.loads(line)
        except ValueError:
            continue
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            names.extend(m["Name"] for m in directive.get("Metrics", []))
    return names


@pytest.mark.parametrize("fault", FAULTS)
def test_fault(
    fault: Fault, aws: LocalAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if fault.kind == "ecs":
        stack = deploy(aws, ecs_target(max_units=MAX_UNITS))
        world.create_ecs_service(aws, "prod", "api", desired_units=fault.initial_units)
        target = "api"
    else:
        stack = deploy(aws, asg_target(max_units=MAX_UNITS))
        world.create_auto_scaling_group(aws, "web", min_units=2, max_units=MAX_UNITS, desired_units=fault.initial_units)
        target = "web"
    loop = Loop(aws, stack, traffic)
    if fault.kind == "ecs":
        loop.read = lambda: {target: world.ecs_desired(aws, "prod", "api")}
    else:
        loop.read = lambda: {target: world.auto_scaling_group(aws, "web")["DesiredCapacity"]}
    run = Run(aws=aws, stack=stack, loop=loop, target=target, monkeypatch=monkeypatch)
    recorder = _Recorder(run.records)
    surge_logger = logging.getLogger("surge")
    surge_logger.addHandler(recorder)
    try:
        record_capacity_calls(run)
        fault.inject(run)
        loop.start()
        aws.run_until(END)
    finally:
        surge_logger.removeHandler(recorder)
    run.emf_metrics = _emf_metric_names(capsys.readouterr().out)

    # (a) never below what the known signals required, never above max
    for when, units in loop.series(target):
        required = fault.floor(when - SLACK)
        assert required <= units, f"{units} units at {when:%H:%M:%S}, the signals required {required}"
        assert units <= MAX_UNITS, (when, units)
    # (b) the current or the next execution recovered: the run ends where the signals say
    assert loop.value_at(target, END) == fault.final_units
    # (c) what an alarm watches
    fault.check(run)


def test_the_fault_table_covers_every_fault_of_the_issue() -> None:
    ids = " ".join(p.id for p in FAULTS if p.id is not None)
    for fault in ("GetMetricData-error", "throttled", "no-datapoints", "ecs-", "autoscaling-", "handler-exception"):
        assert fault in ids
    for fault in ("dynamodb", "duplicate-and-out-of-order", "two-loops", "clock", "timeout"):
        assert fault in ids
