"""The local sandbox: Surge's stack on a moto server process, a stand-in service and live traffic, on real time.

:class:`Sandbox` starts ``python -m surge_cli.sandbox.server`` (moto's own server, our handlers in-process there),
deploys the template to it through boto3 clients on its endpoint (:func:`surge_cli.stack.deploy_locally`, as the
harness does in-process), creates the stand-in ECS service or Auto Scaling group the scenario's target names, and
then plays, on one driver thread, what AWS would do around the stack:

- EventBridge Scheduler: every 60 s, StartExecution of the scaler with the schedule's input from the template
  (moto stores schedules but never fires them);
- the push rule: moto matches the template's rule (put on its bus with an SQS target by ``deploy_locally``) but
  does not deliver to Step Functions targets, in server mode as in-process; the driver drains that queue every
  second and starts the push fast path with each matched event (:meth:`LocalStack.deliver_events`);
- the notifier's SQS event source: every 60 s the notification queue goes to NotifyFunction in one batch;
- Step Functions' log delivery: every second, the events of each execution of a state machine that logs (moto's
  sends nothing) go into its log group as Step Functions' records (:class:`ExecutionLogDelivery`); the handlers'
  own log lines are shipped to their ``/aws/lambda/<function>`` groups by the server process itself;
- the ALB: each minute's RequestCount (the scenario's traffic, second 0 = the sandbox's start) is put with
  PutMetricData once the minute has closed and the scenario's publication delay has passed, and the ten minutes
  before the start likewise at once (so the loop has signals from its first iteration); the high-resolution metric
  too, if the scenario's target publishes one.

What moto cannot play: the units' start-up time. moto sets an ECS service's runningCount to its desiredCount on
every UpdateService (and to the server process's ``MOTO_ECS_SERVICE_RUNNING`` when it creates the service: the
driver sets it to the initial count), and an Auto Scaling group's instances are InService as soon as its desired
capacity is set; no API call delays either, so the stand-in's running count follows its desired count at once,
not after the scenario's ``startup_seconds``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import boto3

from surge.core.config import SurgeConfig, TargetConfig, TargetKind
from surge_cli import world
from surge_cli.execution_logs import describe_logging
from surge_cli.localaws import LambdaSpec
from surge_cli.localaws.express_logs import put_execution_logs
from surge_cli.localaws.harness import ASSUME_ROLE_POLICY, placeholder_zip
from surge_cli.replay.scenario import LoadedScenario, load_scenario
from surge_cli.sandbox.server import FAKE_CREDENTIALS, HOST, REGION
from surge_cli.stack import LOCAL_ACCOUNT, REPO_ROOT, LocalStack, Resolver, Template, deploy_locally

DEFAULT_SCENARIO = REPO_ROOT / "scenarios" / "sandbox" / "quiet.json"
SCHEDULE_PERIOD_SECONDS = 60
"""EventBridge Scheduler's `rate(1 minute)` (the template's schedule)."""
EVENT_POLL_SECONDS = 1.0
"""How often the driver looks for events the push rule matched (EventBridge delivers within about a second)."""
NOTIFY_PERIOD_SECONDS = 60
"""The notifier's SQS batching window (the template's MaximumBatchingWindowInSeconds)."""
BACKFILL_MINUTES = 10
SERVER_START_TIMEOUT_SECONDS = 120.0
"""Generous: a busy machine's cold imports of moto and its Flask app can take tens of seconds."""
SERVER_STOP_TIMEOUT_SECONDS = 15.0


class SandboxError(RuntimeError):
    """The sandbox could not start (the server process died or never listened)."""


class EndpointAws:
    """What :func:`deploy_locally` and :mod:`surge_cli.world` ask of the harness (``client``, ``region``,
    ``register_lambda``, ``create_state_machine``, ``start_execution``), done through boto3 clients on the sandbox
    server's endpoint, on real time."""

    def __init__(self, endpoint_url: str, region: str = REGION) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._session = boto3.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=region,
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._role_arn: str | None = None
        self._names = itertools.count(1)

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url)
            return self._clients[service]

    def _role(self) -> str:
        if self._role_arn is None:
            iam = self.client("iam")
            try:
                role = iam.create_role(RoleName="surge-sandbox-role", AssumeRolePolicyDocument=ASSUME_ROLE_POLICY)
            except iam.exceptions.EntityAlreadyExistsException:
                role = iam.get_role(RoleName="surge-sandbox-role")
            self._role_arn = str(role["Role"]["Arn"])
        return self._role_arn

    def register_lambda(self, spec: LambdaSpec) -> str:
        response = self.client("lambda").create_function(
            FunctionName=spec.name,
            Runtime=spec.runtime,
            Role=self._role(),
            Handler=spec.handler,
            Code={"ZipFile": placeholder_zip()},
            Environment={"Variables": dict(spec.environment)},
            MemorySize=spec.memory_mb,
            Timeout=spec.timeout_seconds,
        )
        return str(response["FunctionArn"])

    def create_state_machine(
        self, name: str, definition: str, type_: str = "STANDARD", logging: dict[str, Any] | None = None
    ) -> str:
        """CreateStateMachine; ``logging`` is its loggingConfiguration (moto keeps it: the sandbox's log
        delivery reads it back with DescribeStateMachine, as Step Functions acts on the machine's own)."""
        extra = {"loggingConfiguration": logging} if logging is not None else {}
        response = self.client("stepfunctions").create_state_machine(
            name=name, definition=definition, roleArn=self._role(), type=type_, **extra
        )
        return str(response["stateMachineArn"])

    def start_execution(self, state_machine_arn: str, input: Any = None, name: str | None = None) -> str:
        payload = input if isinstance(input, str) else json.dumps({} if input is None else input)
        name = name or f"sandbox-{next(self._names):06d}-{uuid.uuid4().hex[:8]}"
        response = self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=payload
        )
        return str(response["executionArn"])


LISTED_EXECUTIONS = 100
"""One ListExecutions page, newest first: an execution still running behind 100 newer ones of its machine would
be missed (the schedule starts one a minute, each lasting LoopBudgetSeconds, at most 290 s; a push's, seconds)."""


class ExecutionLogDelivery:
    """Step Functions' log delivery, played for every execution of the stack's state machines that log.

    Step Functions sends each history event of an execution, as a record, to the log group the state machine's
    loggingConfiguration names, at its level and with or without execution data, Standard and Express alike,
    best-effort and seconds after the event (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
    moto's Step Functions sends nothing, but keeps every execution's history whatever its type. So each
    :meth:`deliver` (the driver calls it every second) looks at the newest executions of each machine
    (ListExecutions, so one started by anyone on the endpoint counts, not only the driver's), reads the history
    of each one not fully delivered yet (GetExecutionHistory, status read first: a finished execution's history is
    complete), and puts the events it has not put yet with :func:`put_execution_logs`, with the machine's current
    loggingConfiguration (DescribeStateMachine). A running scaler execution's iterations thus reach its group
    while it runs (one stream per minute in which its new events began), and its last ones within a second of
    its end. The type is the machine's as created (moto reports every execution as STANDARD)."""

    def __init__(self, aws: EndpointAws, state_machine_arns: list[str]) -> None:
        self._aws = aws
        self._machines = list(state_machine_arns)
        self._put_up_to: dict[str, int] = {}
        """execution ARN -> the highest history event id looked at (put, or left out by the level)"""
        self._finished: dict[str, set[str]] = {arn: set() for arn in self._machines}
        """state machine ARN -> its executions that ended and were put in full (while ListExecutions shows them)"""

    def deliver(self) -> int:
        """Put every history event not put yet; returns how many log events were put."""
        stepfunctions = self._aws.client("stepfunctions")
        put = 0
        for machine_arn in self._machines:
            machine = describe_logging(machine_arn, stepfunctions)
            if machine.level == "OFF" or machine.log_group is None:
                continue
            listed = stepfunctions.list_executions(stateMachineArn=machine_arn, maxResults=LISTED_EXECUTIONS)
            executions = listed["executions"]
            finished = self._finished[machine_arn]
            finished &= {e["executionArn"] for e in executions}  # what left the page never comes back to it
            for execution in executions:
                arn = str(execution["executionArn"])
                if arn in finished:
                    continue
                ended = execution["status"] != "RUNNING"
                put += self._put_new_events(arn, machine.log_group, machine.level, machine.include_execution_data)
                if ended:
                    finished.add(arn)
                    self._put_up_to.pop(arn, None)
        return put

    def _put_new_events(self, arn: str, log_group: str, level: str, include_execution_data: bool) -> int:
        paginator = self._aws.client("stepfunctions").get_paginator("get_execution_history")
        seen = self._put_up_to.get(arn, 0)
        new = [
            event
            for page in paginator.paginate(executionArn=arn)
            for event in page["events"]
            if int(event["id"]) > seen
        ]
        if not new:
            return 0
        count = put_execution_logs(
            self._aws.client("logs"), log_group, new, arn, level=level, include_execution_data=include_execution_data
        )
        self._put_up_to[arn] = max(int(event["id"]) for event in new)
        return count


@dataclass(frozen=True)
class Schedule:
    """A ScheduleV2 event source of a state machine in the template: its machine and its resolved input."""

    machine: str
    input: str
    enabled: bool


def schedules(template: Template, parameters: dict[str, str]) -> list[Schedule]:
    """The template's EventBridge Scheduler schedules (their `Input` and `State` resolved with the parameters)."""
    resolve = Resolver({}, parameters, REGION, LOCAL_ACCOUNT)
    found = []
    for logical_id, resource in template.resources_of_type("AWS::Serverless::StateMachine").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "ScheduleV2":
                continue
            props = event["Properties"]
            if props.get("ScheduleExpression") != "rate(1 minute)":
                raise SandboxError(f"{logical_id}: the sandbox plays rate(1 minute) schedules only")
            state = resolve(props.get("State", "ENABLED"))
            found.append(Schedule(machine=logical_id, input=resolve(props["Input"]), enabled=state == "ENABLED"))
    return found


@dataclass
class _Series:
    """One published metric: each `period_seconds` of the scenario's traffic, put `delay_seconds` after it closes."""

    period_seconds: int
    delay_seconds: int
    publish: Callable[[datetime, float], None]
    next_start: datetime


@dataclass
class Sandbox:
    """The sandbox's processes and threads. ``start()`` (or ``with``) brings it all up; ``stop()`` ends it all."""

    scenario: LoadedScenario
    stack_name: str = "surge"
    port: int = 0
    log_dir: Path | None = None
    out: TextIO = field(default_factory=lambda: sys.stderr)
    endpoint_url: str = ""
    stack: LocalStack | None = None
    target: TargetConfig | None = None
    started_at: datetime | None = None
    process: subprocess.Popen[bytes] | None = None
    errors: list[str] = field(default_factory=list)
    stopped_on_request: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _log: Any = None

    @property
    def server_log(self) -> Path:
        assert self.log_dir is not None
        return self.log_dir / "server.log"

    def environment(self) -> dict[str, str]:
        """What an operator exports so that every `surge` command talks to the sandbox."""
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_DEFAULT_REGION": REGION, **FAKE_CREDENTIALS}

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        try:
            self._start_server()
            aws = EndpointAws(self.endpoint_url)
            self._deploy(aws)
            self._thread = threading.Thread(target=self._drive, args=(aws,), name="sandbox-driver", daemon=True)
            self._thread.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the driver thread and the server process (SIGTERM, then SIGKILL if it does not exit)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=SERVER_STOP_TIMEOUT_SECONDS)
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=SERVER_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def request_stop(self) -> None:
        """From a signal handler: make :meth:`wait` return (the caller then calls :meth:`stop`)."""
        self.stopped_on_request = True
        self._stop.set()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self) -> None:
        """Block until stop() or until the server process exits."""
        while not self._stop.wait(0.5):
            if not self.alive():
                self.errors.append(f"the moto server process exited (see {self.server_log})")
                return

    # ------------------------------------------------------------------ the server
    def _start_server(self) -> None:
        if self.log_dir is None:
            self.log_dir = Path(tempfile.mkdtemp(prefix="surge-sandbox-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        ready = self.log_dir / "port"
        ready.unlink(missing_ok=True)
        self._log = self.server_log.open("ab")
        environment = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "AWS_PROFILE")}
        # moto's ECS reads this when the stand-in service is created: its tasks are running from the start.
        environment["MOTO_ECS_SERVICE_RUNNING"] = str(self.scenario.scenario.target.initial_units)
        command = [sys.executable, "-m", "surge_cli.sandbox.server", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--ready-file", str(ready), "--parent-pid", str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,  # Ctrl-C in the terminal reaches `surge sandbox`, which stops it in order
        )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
        while not ready.exists():
            if self.process.poll() is not None:
                raise SandboxError(
                    f"the moto server process exited with {self.process.returncode}: see {self.server_log}"
                )
            if time.monotonic() > deadline:
                raise SandboxError(f"the moto server did not listen within {SERVER_START_TIMEOUT_SECONDS:.0f} s")
            time.sleep(0.05)
        self.endpoint_url = f"http://{HOST}:{int(ready.read_text())}"

    # ------------------------------------------------------------------ the stack and its world
    def _deploy(self, aws: EndpointAws) -> None:
        target = self.scenario.scenario.target_config()
        self.target = target
        stack = deploy_locally(aws, SurgeConfig(targets=[target]), stack_name=self.stack_name)  # type: ignore[arg-type]
        self.stack = stack
        initial = target.scaling.initial_units
        if target.kind is TargetKind.ECS:
            assert target.ecs is not None
            world.create_ecs_service(aws, target.ecs.cluster, target.ecs.service, initial)  # type: ignore[arg-type]
        else:
            assert target.asg is not None
            scaling = target.scaling
            world.create_auto_scaling_group(  # type: ignore[arg-type]
                aws, target.asg.group_name, scaling.min_units, scaling.max_units, initial
            )

    def _series(self, aws: EndpointAws, start: datetime) -> list[_Series]:
        assert self.target is not None
        target = self.target
        config = self.scenario.scenario.config
        minute = start.replace(second=0, microsecond=0) - timedelta(minutes=BACKFILL_MINUTES)
        found = [
            _Series(
                period_seconds=60,
                delay_seconds=config.metric_publication_delay_seconds,
                publish=lambda at, requests: world.publish_request_count(
                    aws,  # type: ignore[arg-type]
                    target.load_balancer.load_balancer,
                    at,
                    requests,
                    target.load_balancer.target_group,
                ),
                next_start=minute,
            )
        ]
        metric = target.high_resolution_metric
        if metric is not None:
            found.append(
                _Series(
                    period_seconds=metric.period_seconds,
                    delay_seconds=config.high_resolution_publication_delay_seconds,
                    publish=lambda at, requests: world.publish_high_resolution_count(
                        aws,  # type: ignore[arg-type]
                        metric.namespace,
                        metric.metric_name,
                        dict(metric.dimensions),
                        at,
                        requests,
                    ),
                    next_start=minute,
                )
            )
        return found

    def requests_between(self, start: datetime, seconds: int) -> float:
        """The scenario's requests in [start, start + seconds), its second 0 being the sandbox's start."""
        assert self.started_at is not None
        offset = int((start - self.started_at).total_seconds() // 1)
        return float(sum(self.scenario.demand_at(offset + s) for s in range(seconds)))

    def _drive(self, aws: EndpointAws) -> None:
        """The driver thread: schedule ticks, push-rule deliveries, notifications and metrics, on real time."""
        assert self.stack is not None
        stack = self.stack
        template = Template.load()
        ticks = [s for s in schedules(template, template.parameter_defaults()) if s.enabled]
        now = datetime.now(UTC)
        self.started_at = self.started_at or now
        series = self._series(aws, self.started_at)
        execution_logs = ExecutionLogDelivery(aws, list(stack.state_machine_arns.values()))
        next_tick = next_poll = next_notify = time.monotonic()
        while not self._stop.is_set():
            moment = time.monotonic()
            try:
                if moment >= next_tick:
                    next_tick += SCHEDULE_PERIOD_SECONDS
                    for tick in ticks:
                        arn = stack.state_machine_arns[tick.machine]
                        self._note(f"schedule: started {aws.start_execution(arn, tick.input).rsplit(':', 1)[-1]}")
                if moment >= next_poll:
                    next_poll = moment + EVENT_POLL_SECONDS
                    for arn in stack.deliver_events():
                        self._note(f"push rule: started {arn.rsplit(':', 1)[-1]}")
                    execution_logs.deliver()
                if moment >= next_notify:
                    next_notify = moment + NOTIFY_PERIOD_SECONDS
                    stack.deliver_notifications()
                wall = datetime.now(UTC)
                for metric in series:
                    while metric.next_start + timedelta(seconds=metric.period_seconds + metric.delay_seconds) <= wall:
                        requests = self.requests_between(metric.next_start, metric.period_seconds)
                        metric.publish(metric.next_start, requests)
                        metric.next_start += timedelta(seconds=metric.period_seconds)
            except Exception as error:  # one failed round must not end the sandbox: say it and go on
                if self._stop.is_set():
                    break
                line = f"driver: {type(error).__name__}: {error}"
                self.errors.append(line)
                self._note(line)
                with contextlib.suppress(Exception), self.server_log.open("a") as log:
                    log.write(traceback.format_exc())
            self._stop.wait(max(0.0, min(next_tick, next_poll) - time.monotonic()))

    def _note(self, line: str) -> None:
        with contextlib.suppress(ValueError):  # the stream was closed under us at exit
            self.out.write(f"{datetime.now(UTC):%H:%M:%S} {line}\n")
            self.out.flush()


def load_sandbox_scenario(path: Path | None) -> LoadedScenario:
    return load_scenario(path or DEFAULT_SCENARIO)
