"""Run real ASL on moto 5.2.5 with in-process Lambda handlers and a discrete-event clock.

Test/replay support only: never shipped to Lambda. Usage::

    with LocalAws(start=datetime(2026, 1, 21, 11, 0, tzinfo=UTC)) as aws:
        fn = aws.register_lambda(LambdaSpec(name="surge-read-signals", handler="surge.handlers.read_signals.handler"))
        sm = aws.create_state_machine("surge-scaler", definition, type_="EXPRESS")
        ex = aws.start_execution(sm, {"x": 1})
        aws.at(aws.now() + timedelta(seconds=17), lambda: aws.start_execution(sm, {"push": True}))
        result = aws.wait_for(ex)          # advances simulated time until the execution ends

Inside the ``with``: moto's ``mock_aws`` with Step Functions execution on, fake credentials,
``TZ=UTC``, and time-machine frozen at the simulated instant (``datetime.now()`` and ``time.time()``
in handlers read simulated time). Simulated time moves only in the driver calls (``run_until``,
``wait_for``), only when every live flow is blocked (see :mod:`.clock`). The moto internals patched are
listed in :mod:`.seams`.

How long things take is the ``latency`` profile's business (:mod:`.latency`; default ``"none"``, the
idealised world where every step is instantaneous). With a profile, every step that takes time in AWS takes
simulated time: StartExecution to the first state (per state machine type), a Task's Lambda invoke (a cold
start when no warm execution environment of that function is free: never run, reclaimed after the idle
window, or busy with another invocation), every AWS API call a handler makes (per service and operation),
the handler's own compute, and any ``time.sleep`` in a handler (its own, or botocore's retry back-off). A
handler whose simulated duration exceeds its function's timeout fails with ``Sandbox.Timedout``. The
handler's ``datetime.now()`` sees the time advance; ``context.get_remaining_time_in_millis()`` counts
simulated time.

Lambda environment variables are process-global: all registered functions share ONE environment
namespace. A variable two functions set to different values (or one already set differently in the
process) raises ``ValueError`` at registration. Variables are restored on exit.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import itertools
import json
import os
import random
import sys
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from .clock import FlowKey, HarnessStalledError, SimClock, Timer, dump_threads
from .containers import per_thread_metric_sets
from .latency import PROFILES, LatencyModel, LatencyProfile, ProfileName
from .seams import check_seams, current_flow_key, execution_history, install

__all__ = [
    "HarnessError",
    "HarnessStalledError",
    "Invocation",
    "LambdaContext",
    "LambdaSpec",
    "LocalAws",
    "Periodic",
    "current_lambda",
    "running_lambda",
]

GC_FIRST_THRESHOLD = 50_000
"""The cyclic collector's first-generation threshold while a LocalAws world is open (Python's default: 700)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
ASSUME_ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["states.amazonaws.com", "lambda.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
_active_lock = threading.Lock()
_active: LocalAws | None = None
_running = threading.local()


def current_lambda() -> str | None:
    """Name of the Lambda function whose handler is running on THIS thread, or None.

    Handlers run in-process on the execution worker threads (one handler at a time per thread), so a botocore
    event hook can attribute each AWS call to the function that made it (tests/test_deploy.py does, to compare
    the calls with each function's IAM role).
    """
    name: str | None = getattr(_running, "function_name", None)
    return name


@contextlib.contextmanager
def running_lambda(function_name: str) -> Iterator[None]:
    """Mark THIS thread as running `function_name`'s handler (what :func:`current_lambda` returns) for the
    block. Every in-process Lambda path sets it: the harness's and the sandbox server's."""
    _running.function_name = function_name
    try:
        yield
    finally:
        _running.function_name = None


_shared_botocore: Any = None


def _botocore_session() -> Any:
    """One botocore session per process: a fresh one re-reads botocore's endpoint data (~0.3 s)."""
    global _shared_botocore
    if _shared_botocore is None:
        import botocore.session

        _shared_botocore = botocore.session.get_session()
    return _shared_botocore


class HarnessError(RuntimeError):
    """The harness itself failed (an execution thread crashed, an execution never ended, ...)."""


def _to_us(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError(f"simulated instants must be timezone-aware, got naive {when!r}")
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def placeholder_zip() -> bytes:
    """The code zip CreateFunction requires (the handler itself runs in-process)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", "code runs in-process from the function's handler path\n")
    return buf.getvalue()


@dataclass(frozen=True)
class LambdaSpec:
    """A Lambda function whose handler runs in-process.

    ``handler`` is Lambda's Handler string: ``"surge.handlers.read_signals.handler"`` or
    ``"pkg/mod.handler"`` (module path, then the function name). ``code_dir``, if given, is put on
    ``sys.path`` (for the duration of the harness) so the module imports.
    """

    name: str
    handler: str
    environment: Mapping[str, str] = field(default_factory=dict)
    memory_mb: int = 128
    timeout_seconds: int = 3
    runtime: str = "python3.12"
    code_dir: str | os.PathLike[str] | None = None


@dataclass(frozen=True)
class Invocation:
    """One in-process Lambda invocation, for cost models."""

    function_name: str
    sim_start: datetime  # simulated instant the invocation was requested (before invoke overhead / init)
    wall_seconds: float  # real duration of the handler call (includes a real cold import on first call)
    memory_mb: int
    errored: bool
    error_type: str | None
    request_id: str
    cold_start: bool  # a new execution environment (the latency model's init time was spent)
    sim_seconds: float = 0.0  # simulated duration of the handler itself (its AWS calls, compute, sleeps)

    @property
    def gb_seconds(self) -> float:
        """Memory x real duration (no 1 ms rounding): a wall-time proxy for billed duration."""
        return self.memory_mb / 1024 * self.wall_seconds


@dataclass
class LambdaContext:
    """The subset of Lambda's context object handlers and Powertools use."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    timeout_ms: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.perf_counter, repr=False)
    _clock: SimClock | None = field(default=None, repr=False)
    _started_us: int = field(default=0, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        """Timeout minus the SIMULATED time the handler has taken (its AWS calls, compute and sleeps)."""
        if self._clock is None:
            elapsed_ms = int((time.perf_counter() - self._started) * 1000)
        else:
            elapsed_ms = (self._clock.now_us() - self._started_us) // 1000
        return max(0, self.timeout_ms - elapsed_ms)


class Periodic:
    """Handle of :meth:`LocalAws.every`; ``cancel()`` stops further ticks."""

    def __init__(self) -> None:
        self.cancelled = False
        self.timer: Timer | None = None

    def cancel(self) -> None:
        self.cancelled = True
        if self.timer is not None:
            self.timer.cancel()


@dataclass
class _Environment:
    """One Lambda execution environment of a function: busy with one invocation at a time."""

    last_used_us: int
    busy: bool = True


@dataclass
class _ExecutionRecord:
    worker: Any
    arn: str
    finished: bool = False
    error: BaseException | None = None
    started: bool = False  # its thread exists (an execution start can wait for the latency model's delay)


class LocalAws:
    """Context manager: moto + in-process Lambda + discrete-event clock. One active at a time.

    ``stall_timeout`` is the REAL time the driver waits for every flow to block before raising
    :class:`HarnessStalledError` with all thread stacks. ``seed`` seeds Retry ``JitterStrategy: FULL``,
    Lambda request ids and the latency jitter. ``latency`` is a profile (or its name, see
    :mod:`.latency`); ``interleave_seed`` releases flows due at the same instant in a seeded order.
    """

    def __init__(
        self,
        start: datetime,
        region: str = "us-east-1",
        *,
        seed: int = 0,
        stall_timeout: float = 30.0,
        latency: LatencyProfile | ProfileName = "none",
        interleave_seed: int | None = None,
    ) -> None:
        self.region = region
        self._start_us = _to_us(start)
        self.stall_timeout = stall_timeout
        self.rng = random.Random(seed)
        profile = PROFILES[latency] if isinstance(latency, str) else latency
        self.latency = LatencyModel(profile, seed)
        self.clock = SimClock(
            self._start_us,
            on_advance=self._shift_time,
            stall_timeout=stall_timeout,
            interleave_seed=interleave_seed,
        )
        self._environments: dict[str, list[_Environment]] = {}
        self._lock = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self._traveller: Any = None
        self._exec_seq = itertools.count()
        self._name_seq = itertools.count(1)
        self._executions: dict[str, _ExecutionRecord] = {}
        self._invocations: list[Invocation] = []
        self._specs: dict[str, LambdaSpec] = {}
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._env_owner: dict[str, str] = {}
        self._clients: dict[str, Any] = {}
        self._role_arn: str | None = None
        self._zip = placeholder_zip()
        self._end_listeners: dict[str, Callable[[str], None]] = {}
        self._machine_types: dict[str, str] = {}
        """state machine ARN -> the type it was created with (moto's executions all report STANDARD)"""
        self.session: Any = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalAws:
        global _active
        with _active_lock:
            if _active is not None:
                raise HarnessError("another LocalAws is already active in this process")
            _active = self
        stack = contextlib.ExitStack()
        try:
            stack.callback(self._deactivate)
            # moto's imports, a deploy and every simulated minute allocate objects by the million, few of them in
            # cycles: the collector's default first threshold (700 allocations) ran it thousands of times a replay
            # (a replay's set-up took 3.6 s, 2.1 s with 50,000). Restored when the world closes.
            stack.callback(gc.set_threshold, *gc.get_threshold())
            gc.set_threshold(GC_FIRST_THRESHOLD, *gc.get_threshold()[1:])
            check_seams()
            import boto3
            import time_machine
            from moto import mock_aws

            stack.callback(time.tzset)  # LIFO: runs after TZ is restored below
            env = {"TZ": "UTC", **_FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
            self._set_env(stack, env)
            time.tzset()
            mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
            mock.start()
            stack.callback(mock.stop)
            travel = time_machine.travel(_from_us(self._start_us), tick=False)
            self._traveller = travel.start()
            stack.callback(travel.stop)
            stack.callback(install(self))
            stack.callback(per_thread_metric_sets())  # one invocation per environment: see .containers
            self.session = boto3.Session(botocore_session=_botocore_session(), region_name=self.region)
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is None:
            return
        try:
            stuck = self._shutdown()
        finally:
            stack.close()
        if stuck and exc is None:
            raise HarnessError(f"flows still alive after exit: {stuck}\n{dump_threads()}")

    @staticmethod
    def _deactivate() -> None:
        global _active
        with _active_lock:
            _active = None

    def _set_env(self, stack: contextlib.ExitStack, values: Mapping[str, str]) -> None:
        saved = {k: os.environ.get(k) for k in values}

        def restore() -> None:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

        stack.callback(restore)
        os.environ.update(values)

    def _shutdown(self) -> list[str]:
        """Stop running executions, release every sleeper, wait (real time) for flows to end."""
        deadline = time.perf_counter() + self.stall_timeout
        first = True
        while True:
            with self._lock:
                pending = [r for r in self._executions.values() if not r.finished]
            for record in pending:
                env = record.worker.env
                if env is not None and env.is_running():
                    env.set_stop(stop_date=self.now(), cause="LocalAws exited", error="LocalAws.Shutdown")
            if first:
                self.clock.shutdown()  # after the stops, so loops end instead of spinning
                first = False
                with self._lock:  # a start still waiting for its delay never comes now: its timer is gone
                    for record in pending:
                        if not record.started:
                            record.finished = True
            if not pending and self.clock.wait_idle(0):
                return []
            if time.perf_counter() > deadline:
                return [r.arn for r in pending] or [f"busy tokens: {self.clock.describe()}"]
            time.sleep(0.002)

    def _require_active(self) -> None:
        if self._stack is None:
            raise HarnessError("LocalAws is not active: use it as a context manager")

    # ------------------------------------------------------------------ clock
    def _shift_time(self, delta_us: int) -> None:
        self._traveller.shift(timedelta(microseconds=delta_us))

    def now(self) -> datetime:
        """The simulated clock, as an aware UTC datetime."""
        return _from_us(self.clock.now_us())

    def at(self, when: datetime, callback: Callable[[], object]) -> Timer:
        """Run ``callback()`` on the driver thread at simulated ``when`` (before sleepers due then).
        It may start executions, put metrics, schedule more events. Returns a cancellable handle."""

        def fire() -> None:
            callback()

        return self.clock.call_at(_to_us(when), fire)

    def every(self, period_seconds: float, callback: Callable[[], object], first: datetime | None = None) -> Periodic:
        """Run ``callback()`` every ``period_seconds`` simulated seconds, first at ``first``
        (default: now + period), e.g. an EventBridge schedule."""
        period_us = round(period_seconds * 1_000_000)
        if period_us <= 0:
            raise ValueError("period_seconds must be positive")
        handle = Periodic()

        def schedule(when_us: int) -> None:
            def fire() -> None:
                if handle.cancelled:
                    return
                schedule(when_us + period_us)
                callback()

            handle.timer = self.clock.call_at(when_us, fire)

        schedule(_to_us(first) if first is not None else self.clock.now_us() + period_us)
        return handle

    def run_until(self, when: datetime) -> None:
        """Advance simulated time to ``when``: run due events and wake sleepers in order."""
        self._require_active()
        limit = _to_us(when)
        if limit < self.clock.now_us():
            raise ValueError(f"cannot run until {when.isoformat()}: the clock is at {self.now().isoformat()}")
        while self.clock.step(limit):
            self._raise_background()
        self.clock.run_until(limit)
        self._raise_background()

    def wait_for(self, execution_arn: str, timeout_sim_seconds: float = 600) -> dict[str, Any]:
        """Advance the clock until the execution ends; return its ``describe_execution`` dict.
        Raises ``TimeoutError`` if it is still running ``timeout_sim_seconds`` of simulated time later
        (the clock is then at that instant)."""
        self._require_active()
        limit = self.clock.now_us() + round(timeout_sim_seconds * 1_000_000)
        while True:
            self.clock.wait_quiescent()
            self._raise_background()
            with self._lock:
                record = self._executions.get(execution_arn)
            if record is not None and record.finished:
                break
            if record is None and self._describe(execution_arn)["status"] != "RUNNING":
                break
            if not self.clock.step(limit):
                self.clock.run_until(limit)
                nxt = self.clock.next_due_us()
                why = (
                    "nothing is scheduled (blocked outside simulated time?)"
                    if nxt is None
                    else f"next event at {_from_us(nxt).isoformat()}"
                )
                raise TimeoutError(
                    f"{execution_arn} still running at {self.now().isoformat()} after "
                    f"{timeout_sim_seconds} simulated s; {why}"
                )
        return self._describe(execution_arn)

    def _raise_background(self) -> None:
        with self._lock:
            failed = [r for r in self._executions.values() if r.error is not None]
            for r in failed:
                r.error, error = None, r.error
                raise HarnessError(f"execution thread for {r.arn} crashed: {error!r}") from error

    # ------------------------------------------------------------------ AWS helpers
    def client(self, service: str) -> Any:
        """A boto3 client bound to moto (cached per service; use from the driver thread)."""
        self._require_active()
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    def _role(self) -> str:
        if self._role_arn is None:
            role = self.client("iam").create_role(
                RoleName="surge-local-harness-role", AssumeRolePolicyDocument=ASSUME_ROLE_POLICY
            )
            self._role_arn = str(role["Role"]["Arn"])
        return self._role_arn

    def register_lambda(self, spec: LambdaSpec) -> str:
        """Create the function in moto and map it to its in-process handler; return its ARN.
        Its environment variables are set process-wide now (see the module docstring)."""
        self._require_active()
        assert self._stack is not None
        if spec.name in self._specs:
            raise ValueError(f"Lambda {spec.name!r} already registered")
        self._claim_env(spec.name, spec.environment)
        if spec.code_dir is not None:
            code_dir = str(Path(spec.code_dir).resolve())
            if code_dir not in sys.path:
                sys.path.insert(0, code_dir)

                def drop_path() -> None:
                    if code_dir in sys.path:
                        sys.path.remove(code_dir)

                self._stack.callback(drop_path)
        self._specs[spec.name] = spec
        response = self.client("lambda").create_function(
            FunctionName=spec.name,
            Runtime=spec.runtime,
            Role=self._role(),
            Handler=spec.handler,
            Code={"ZipFile": self._zip},
            Environment={"Variables": dict(spec.environment)},
            MemorySize=spec.memory_mb,
            Timeout=spec.timeout_seconds,
        )
        return str(response["FunctionArn"])

    def _claim_env(self, function_name: str, environment: Mapping[str, str]) -> None:
        assert self._stack is not None
        with self._lock:
            for key, value in environment.items():
                current = os.environ.get(key)
                if key in self._env_owner:
                    if current != value:
                        raise ValueError(
                            f"environment variable {key}={value!r} for Lambda {function_name!r} collides "
                            f"with {key}={current!r} set for {self._env_owner[key]!r}: all in-process "
                            "Lambda functions share one environment"
                        )
                    continue
                if current is not None and current != value:
                    raise ValueError(
                        f"environment variable {key}={value!r} for Lambda {function_name!r} collides with "
                        f"the process's {key}={current!r}: all in-process Lambda functions share one environment"
                    )
                self._env_owner[key] = function_name
                self._set_env(self._stack, {key: value})

    def create_state_machine(
        self,
        name: str,
        definition: str | Mapping[str, Any],
        type_: str = "STANDARD",
        substitutions: Mapping[str, str] | None = None,
        logging: Mapping[str, Any] | None = None,
    ) -> str:
        """Create a state machine (and the IAM role it needs); return its ARN.
        ``substitutions`` replaces ``${Key}`` in the definition, like DefinitionSubstitutions; ``logging`` is
        CreateStateMachine's loggingConfiguration (moto stores and describes it, and sends no log)."""
        self._require_active()
        body = definition if isinstance(definition, str) else json.dumps(definition)
        for key, value in (substitutions or {}).items():
            body = body.replace("${" + key + "}", value)
        extra = {"loggingConfiguration": dict(logging)} if logging is not None else {}
        response = self.client("stepfunctions").create_state_machine(
            name=name, definition=body, roleArn=self._role(), type=type_, **extra
        )
        arn = str(response["stateMachineArn"])
        with self._lock:
            self._machine_types[arn] = type_
        return arn

    def start_execution(self, state_machine_arn: str, input: Any = None, name: str | None = None) -> str:
        """Start an execution now (simulated); ``input`` is JSON-encoded unless already a str.
        A unique name is generated if none is given. Returns the execution ARN."""
        self._require_active()
        if name is None:
            name = f"local-{next(self._name_seq):06d}"
        payload = input if isinstance(input, str) else json.dumps({} if input is None else input)
        response = self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=payload
        )
        return str(response["executionArn"])

    def _describe(self, execution_arn: str) -> dict[str, Any]:
        response = dict(self.client("stepfunctions").describe_execution(executionArn=execution_arn))
        response.pop("ResponseMetadata", None)
        return response

    def describe(self, execution_arn: str) -> dict[str, Any]:
        """``describe_execution`` without advancing the clock."""
        self._require_active()
        return self._describe(execution_arn)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """All history events of an execution (``get_execution_history``, paginated)."""
        self._require_active()
        paginator = self.client("stepfunctions").get_paginator("get_execution_history")
        return [dict(e) for page in paginator.paginate(executionArn=execution_arn) for e in page["events"]]

    def history_events(self, execution_arn: str) -> list[dict[str, Any]]:
        """The same events as :meth:`history` (boto3's ``get_execution_history`` shape: ``type``,
        ``timestamp`` as an aware UTC datetime, ``id``, ``previousEventId``, the ``*EventDetails``),
        read straight from moto's Step Functions backend: no boto3 request and no pass through moto's
        response encoder (the slow part of :meth:`history`). Safe on a running execution (a snapshot).
        A moto seam: see :func:`.seams.execution_history`."""
        self._require_active()
        return execution_history(execution_arn)

    @property
    def invocations(self) -> list[Invocation]:
        """Snapshot of every in-process Lambda invocation so far, in call order."""
        with self._lock:
            return list(self._invocations)

    # ------------------------------------------------------------------ called by the seams
    def on_execution_start(self, worker: Any) -> FlowKey:
        arn = str(worker._evaluation_details.execution_details.arn)
        with self._lock:
            self._executions[arn] = _ExecutionRecord(worker=worker, arn=arn)
            return (next(self._exec_seq),)

    def on_execution_thread_start(self, worker: Any) -> None:
        arn = str(worker._evaluation_details.execution_details.arn)
        with self._lock:
            self._executions[arn].started = True

    def add_execution_end_listener(self, key: str, listener: Callable[[str], None]) -> None:
        """Call ``listener(execution_arn)`` when an execution ends (succeeded, failed, ...), on its own thread while
        it still counts as running (the driver sees what the listener wrote before it sees the end). An error
        in the listener is raised by the driver like a crashed execution thread. A second listener with the
        same ``key`` replaces the first."""
        self._end_listeners[key] = listener

    def on_execution_end(self, worker: Any, error: BaseException | None) -> None:
        arn = str(worker._evaluation_details.execution_details.arn)
        if error is None and self._end_listeners:
            try:
                for listener in list(self._end_listeners.values()):
                    listener(arn)
            except Exception as exc:
                error = exc
        with self._lock:
            record = self._executions[arn]
            record.finished = True
            record.error = error

    def execution_start_delay(self, machine_type: str, machine_arn: str = "") -> float:
        """Simulated seconds from StartExecution to the first state (drawn on the starting thread). The type is
        the one the state machine was created with: moto's interpreter reports STANDARD for every execution."""
        with self._lock:
            machine_type = self._machine_types.get(machine_arn, machine_type)
            return self.latency.execution_start(machine_type, machine_arn.rsplit(":", 1)[-1])

    def before_api_call(self, service: str, operation: str) -> None:
        """An AWS API call made by a handler: the calling flow waits the call's latency (simulated)."""
        caller = getattr(_running, "function_name", None)
        if caller is None:
            return
        with self._lock:
            seconds = self.latency.api_call(service, operation, caller)
        self.clock.sleep(seconds, key=current_flow_key())

    def handler_sleep(self, seconds: float) -> bool:
        """``time.sleep`` on a handler's thread is simulated time (True); anywhere else it stays real (False)."""
        if getattr(_running, "function_name", None) is None:
            return False
        self.clock.sleep(seconds, key=current_flow_key())
        return True

    def _take_environment(self, function_name: str) -> tuple[_Environment, bool]:
        """A free warm execution environment of the function (most recently used first), or a new one (cold)."""
        now_us = self.clock.now_us()
        idle_us = self.latency.profile.lambda_idle_seconds * 1_000_000
        with self._lock:
            pool = self._environments.setdefault(function_name, [])
            pool[:] = [e for e in pool if e.busy or now_us - e.last_used_us <= idle_us]
            free = [e for e in pool if not e.busy]
            if free:
                warm = max(free, key=lambda e: e.last_used_us)
                warm.busy = True
                return warm, False
            fresh = _Environment(last_used_us=now_us)
            pool.append(fresh)
            return fresh, True

    def _give_back_environment(self, environment: _Environment) -> None:
        with self._lock:
            environment.busy = False
            environment.last_used_us = self.clock.now_us()

    def _resolve_handler(self, handler: str) -> tuple[Callable[[Any, Any], Any], bool]:
        key = handler
        cached = self._handlers.get(key)
        if cached is not None:
            return cached, False
        func = import_handler(handler)
        self._handlers[key] = func
        return func, True

    def invoke_lambda(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        """Replacement body of ``LambdaFunction._invoke_lambda``: (payload, errored, logs)."""
        if isinstance(event, str | bytes):
            with contextlib.suppress(ValueError):
                event = json.loads(event)
        name = str(fn.function_name)
        memory_mb = int(fn.memory_size)
        timeout_seconds = int(fn.timeout)
        with self._lock:
            request_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        sim_start = self.now()
        environment, cold = self._take_environment(name)
        key = current_flow_key()
        with self._lock:
            overhead_seconds = self.latency.lambda_invoke(cold=cold, function=name)
        self.clock.sleep(overhead_seconds, key=key)
        handler_started_us = self.clock.now_us()
        started = time.perf_counter()
        error_type: str | None = None
        try:
            payload = self._run_handler(fn, name, event, request_id, memory_mb, handler_started_us, started)
        except Exception as exc:
            error_type, payload = handler_error(exc)
        wall = time.perf_counter() - started
        with self._lock:
            compute_seconds = self.latency.handler_compute(name)
        self.clock.sleep(compute_seconds, key=key)
        sim_seconds = (self.clock.now_us() - handler_started_us) / 1_000_000
        if sim_seconds > timeout_seconds:  # Lambda would have stopped it: the caller sees the timeout
            error_type = "Sandbox.Timedout"
            payload = json.dumps(
                {
                    "errorMessage": f"{sim_start:%Y-%m-%dT%H:%M:%S.%fZ} {request_id} Task timed out after "
                    f"{timeout_seconds:.2f} seconds",
                    "errorType": error_type,
                    "stackTrace": [],
                }
            )
        self._give_back_environment(environment)
        with self._lock:
            self._invocations.append(
                Invocation(
                    function_name=name,
                    sim_start=sim_start,
                    wall_seconds=wall,
                    memory_mb=memory_mb,
                    errored=error_type is not None,
                    error_type=error_type,
                    request_id=request_id,
                    cold_start=cold,
                    sim_seconds=sim_seconds,
                )
            )
        return payload, error_type is not None, ""

    def _run_handler(
        self,
        fn: Any,
        name: str,
        event: Any,
        request_id: str,
        memory_mb: int,
        handler_started_us: int,
        started: float,
    ) -> str:
        if name not in self._specs:  # created outside register_lambda (e.g. CloudFormation)
            try:
                self._claim_env(name, dict(fn.environment_vars))
            except ValueError as exc:
                raise _LambdaRuntimeError("Harness.EnvironmentCollision", str(exc)) from exc
        func, _ = self._resolve_handler(str(fn.handler))
        sim_start = _from_us(handler_started_us)
        context = LambdaContext(
            function_name=name,
            invoked_function_arn=str(fn.function_arn),
            memory_limit_in_mb=memory_mb,
            aws_request_id=request_id,
            timeout_ms=int(fn.timeout) * 1000,
            log_group_name=f"/aws/lambda/{name}",
            log_stream_name=f"{sim_start:%Y/%m/%d}/[$LATEST]{request_id.replace('-', '')}",
            _started=started,
            _clock=self.clock,
            _started_us=handler_started_us,
        )
        with running_lambda(name):
            result = func(event, context)
        return marshal_result(result)


class _LambdaRuntimeError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def import_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Lambda's Handler string (``"surge.handlers.read_signals.handler"`` or ``"pkg/mod.handler"``) imported
    as Lambda's Python runtime would; its failures are the runtime's errors (``Runtime.ImportModuleError``...)."""
    module_path, _, func_name = handler.rpartition(".")
    if not module_path or not func_name:
        raise _LambdaRuntimeError("Runtime.MalformedHandlerName", f"Bad handler '{handler}'")
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise _LambdaRuntimeError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_path}': {exc}"
        ) from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise _LambdaRuntimeError("Runtime.HandlerNotFound", f"Handler '{func_name}' missing on module '{module_path}'")
    return func  # type: ignore[no-any-return]


def marshal_result(result: Any) -> str:
    """A handler's return value as Lambda's response payload (``Runtime.MarshalError`` if it is not JSON)."""
    try:
        return json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise _LambdaRuntimeError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc


def handler_error(exc: Exception) -> tuple[str, str]:
    """A failed invocation as Lambda reports it: (errorType, the error payload). Step Functions names the
    Task's error after ``errorType``: the exception's class, or the runtime's error."""
    if isinstance(exc, _LambdaRuntimeError):
        return exc.error_type, json.dumps({"errorMessage": exc.message, "errorType": exc.error_type, "stackTrace": []})
    error_type = type(exc).__name__
    payload = {"errorMessage": str(exc), "errorType": error_type, "stackTrace": traceback.format_tb(exc.__traceback__)}
    return error_type, json.dumps(payload)
