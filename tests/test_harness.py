"""The local execution harness: real ASL on moto 5.2.5, in-process Lambda, discrete-event clock."""

from __future__ import annotations

import importlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from surge_cli.localaws import (
    HarnessStalledError,
    LambdaSpec,
    LocalAws,
    SeamMovedError,
    check_seams,
)
from surge_cli.localaws.latency import LatencyProfile
from surge_cli.replay.policies.surge import history_instant

pytestmark = pytest.mark.statemachine

FIXTURES = Path(__file__).parent / "fixtures" / "harness"
START = datetime(2026, 1, 21, 11, 0, tzinfo=UTC)
HANDLERS = "harness_toy_handlers"


@pytest.fixture(autouse=True)
def _fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws(start=START, region="us-east-1", stall_timeout=10) as harness:
        yield harness


def _lambda(aws: LocalAws, name: str, func: str, **kwargs: Any) -> str:
    return aws.register_lambda(LambdaSpec(name=name, handler=f"{HANDLERS}.{func}", code_dir=FIXTURES, **kwargs))


def _machine(aws: LocalAws, name: str, fixture: str, **arns: str) -> str:
    return aws.create_state_machine(name, (FIXTURES / fixture).read_text(), substitutions=arns)


def _outputs(aws: LocalAws, execution_arn: str) -> list[dict[str, Any]]:
    """Outputs of every successful Lambda task of an execution, in history order."""
    outs = []
    for event in aws.history(execution_arn):
        details = event.get("lambdaFunctionSucceededEventDetails") or event.get("taskSucceededEventDetails")
        if details:
            payload = json.loads(details["output"])
            outs.append(payload.get("Payload", payload))
    return outs


def _at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def test_toy_loop_advances_exactly_and_handlers_read_the_simulated_clock(aws: LocalAws) -> None:
    n = 12
    tick = _lambda(aws, "toy-tick", "tick", environment={"TOY_GREETING": "hello"}, memory_mb=256)
    machine = _machine(aws, "toy-loop", "loop.asl.json", TickArn=tick)

    wall = time.perf_counter()
    result = aws.wait_for(aws.start_execution(machine, {"n": n, "seconds": 5}), timeout_sim_seconds=600)
    wall = time.perf_counter() - wall

    assert result["status"] == "SUCCEEDED"
    assert aws.now() == _at(n * 5)  # exactly N waits of 5 s, nothing else took simulated time
    assert wall < 5
    output = json.loads(result["output"])
    assert output["count"] == n + 1
    assert (output["greeting"], output["function_name"], output["memory_mb"]) == ("hello", "toy-tick", 256)
    assert 0 < output["remaining_ms"] <= 3000

    seen = _outputs(aws, result["executionArn"])
    expected = [_at(5 * k) for k in range(n + 1)]
    assert [datetime.fromisoformat(o["now"]) for o in seen] == expected
    assert [datetime.fromtimestamp(o["epoch"], UTC) for o in seen] == expected
    assert [datetime.fromisoformat(o["naive_now"]) for o in seen] == [e.replace(tzinfo=None) for e in expected]

    calls = aws.invocations
    assert [c.sim_start for c in calls] == expected
    assert {(c.function_name, c.memory_mb, c.errored) for c in calls} == {("toy-tick", 256, False)}
    assert [c.cold_start for c in calls] == [True] + [False] * n
    assert all(c.wall_seconds >= 0 and c.gb_seconds == c.wall_seconds / 4 for c in calls)


def test_retry_by_exception_class_name_with_backoff_then_catch(aws: LocalAws) -> None:
    flaky = _lambda(aws, "toy-flaky", "flaky")
    throttled = _lambda(aws, "toy-throttled", "always_throttled")
    machine = _machine(aws, "toy-retry", "retry.asl.json", FlakyArn=flaky, ThrottledArn=throttled)

    result = aws.wait_for(aws.start_execution(machine, {}), timeout_sim_seconds=60)

    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["flaky"]["attempt"] == 2  # failed twice with ThrottlingError, retried by class name
    assert output["error"]["Error"] == "ThrottlingError"  # caught once retries were exhausted
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "still throttled"

    calls = aws.invocations
    assert [(c.function_name, c.errored, c.error_type) for c in calls] == [
        ("toy-flaky", True, "ThrottlingError"),
        ("toy-flaky", True, "ThrottlingError"),
        ("toy-flaky", False, None),
        ("toy-throttled", True, "ThrottlingError"),
        ("toy-throttled", True, "ThrottlingError"),
        ("toy-throttled", True, "ThrottlingError"),
    ]
    gaps = [b.sim_start - a.sim_start for a, b in itertools.pairwise(calls)]
    # FULL jitter: each back-off is uniform in [0, IntervalSeconds * BackoffRate**k].
    assert timedelta(0) < gaps[0] <= timedelta(seconds=2)
    assert timedelta(0) < gaps[1] <= timedelta(seconds=4)
    assert gaps[2] == timedelta(0)
    # No jitter: exactly IntervalSeconds, then x BackoffRate (the first Retrier did not match).
    assert gaps[3:] == [timedelta(seconds=1), timedelta(seconds=3)]
    assert aws.now() == calls[-1].sim_start  # the clock moved by the back-offs only


def test_full_jitter_is_reproducible_with_the_same_seed() -> None:
    def backoffs(seed: int) -> list[datetime]:
        with LocalAws(start=START, seed=seed) as aws:
            flaky = _lambda(aws, "toy-flaky", "flaky")
            throttled = _lambda(aws, "toy-throttled", "always_throttled")
            machine = _machine(aws, "toy-retry", "retry.asl.json", FlakyArn=flaky, ThrottledArn=throttled)
            aws.wait_for(aws.start_execution(machine, {}))
            return [c.sim_start for c in aws.invocations]

    first = backoffs(7)
    assert len(first) == 6
    assert backoffs(7) == first


def _two_executions_at_once() -> tuple[list[tuple[str, float]], dict[str, Any], dict[str, Any], dict[str, Any]]:
    with LocalAws(start=START, stall_timeout=10) as aws:
        tick = _lambda(aws, "toy-tick", "tick")
        echo = _lambda(aws, "toy-echo", "echo")
        loop = _machine(aws, "toy-loop", "loop.asl.json", TickArn=tick)
        fast = _machine(aws, "toy-fast", "fast_path.asl.json", EchoArn=echo)
        started: dict[str, str] = {}

        def push(name: str) -> None:
            started[name] = aws.start_execution(fast, {"push": name}, name=name)

        long_arn = aws.start_execution(loop, {"n": 12, "seconds": 5})
        aws.at(_at(17), lambda: push("push-17"))
        aws.at(_at(15), lambda: push("push-15"))  # same instant as a loop wake-up: events run first

        long = aws.wait_for(long_arn, timeout_sim_seconds=600)
        assert aws.now() == _at(60)
        short17 = aws.wait_for(started["push-17"], timeout_sim_seconds=1)
        short15 = aws.wait_for(started["push-15"], timeout_sim_seconds=1)
        order = [(c.function_name, (c.sim_start - START).total_seconds()) for c in aws.invocations]
        return order, long, short17, short15


def test_two_executions_at_once_keep_causality_and_a_deterministic_order() -> None:
    order, long, short17, short15 = _two_executions_at_once()

    assert long["status"] == short17["status"] == short15["status"] == "SUCCEEDED"
    assert datetime.fromisoformat(json.loads(short17["output"])["now"]) == _at(17)
    assert datetime.fromisoformat(json.loads(short15["output"])["now"]) == _at(15)
    assert short17["startDate"] == _at(17)
    loop_ticks = [("toy-tick", 5.0 * k) for k in range(13)]
    assert order == [*loop_ticks[:3], ("toy-echo", 15.0), loop_ticks[3], ("toy-echo", 17.0), *loop_ticks[4:]]
    assert _two_executions_at_once()[0] == order


def test_parallel_and_map_inside_a_waiting_loop(aws: LocalAws) -> None:
    tick = _lambda(aws, "toy-tick", "tick")
    echo = _lambda(aws, "toy-echo", "echo")
    machine = _machine(aws, "toy-fan", "fan_loop.asl.json", TickArn=tick, EchoArn=echo)

    n = 3
    result = aws.wait_for(aws.start_execution(machine, {"n": n, "seconds": 5, "items": [1, 4]}))

    assert result["status"] == "SUCCEEDED"
    # Per iteration: Parallel max(2, 3) s, then Map max(1, 4) s, then Wait 5 s.
    assert aws.now() == _at(12 * n)
    calls = sorted(((c.sim_start - START).total_seconds(), c.function_name) for c in aws.invocations)
    expected = []
    for k in range(n):
        base = 12.0 * k
        expected += [(base, "toy-tick"), (base + 2, "toy-echo"), (base + 4, "toy-echo"), (base + 7, "toy-echo")]
    assert calls == [*expected, (12.0 * n, "toy-tick")]


def test_run_until_runs_periodic_events_and_exit_stops_running_executions() -> None:
    seen: list[datetime] = []
    with LocalAws(start=START) as aws:
        tick = _lambda(aws, "toy-tick", "tick")
        loop = _machine(aws, "toy-loop", "loop.asl.json", TickArn=tick)
        forever = aws.start_execution(loop, {"n": 10**9, "seconds": 5})
        handle = aws.every(20, lambda: seen.append(aws.now()), first=_at(10))
        aws.run_until(_at(50))
        assert aws.now() == _at(50)
        handle.cancel()
        aws.run_until(_at(100))
        assert aws.describe(forever)["status"] == "RUNNING"
        assert len(aws.invocations) == 21  # ticks at 0, 5, ..., 100
        wall = time.perf_counter()
    assert time.perf_counter() - wall < 2  # exit stopped the endless loop instead of hanging
    assert seen == [_at(10), _at(30), _at(50)]
    assert not [t for t in threading.enumerate() if t.name.startswith("sfn-execution-")]


def test_state_machine_timeout_runs_on_the_simulated_clock(aws: LocalAws) -> None:
    machine = _machine(aws, "toy-timeout", "timeout.asl.json")
    result = aws.wait_for(aws.start_execution(machine, None))
    assert result["status"] == "TIMED_OUT"
    assert aws.now() == _at(30)


def test_timestamp_waits_compare_against_the_simulated_clock(aws: LocalAws) -> None:
    machine = aws.create_state_machine(
        "toy-until",
        {
            "StartAt": "Until",
            "States": {"Until": {"Type": "Wait", "TimestampPath": "$.at", "End": True}},
        },
    )
    result = aws.wait_for(aws.start_execution(machine, {"at": "2026-01-21T11:00:42Z"}))
    assert result["status"] == "SUCCEEDED"
    assert aws.now() == _at(42)


def test_wait_for_raises_when_the_execution_outlives_the_simulated_timeout(aws: LocalAws) -> None:
    tick = _lambda(aws, "toy-tick", "tick")
    loop = _machine(aws, "toy-loop", "loop.asl.json", TickArn=tick)
    with pytest.raises(TimeoutError, match="still running"):
        aws.wait_for(aws.start_execution(loop, {"n": 100, "seconds": 5}), timeout_sim_seconds=22)
    assert aws.now() == _at(22)
    with pytest.raises(ValueError, match="cannot run until"):
        aws.run_until(_at(21))


def test_environment_variables_are_shared_and_collisions_raise(aws: LocalAws) -> None:
    _lambda(aws, "toy-a", "tick", environment={"TOY_GREETING": "hello", "TOY_SHARED": "x"})
    _lambda(aws, "toy-b", "tick", environment={"TOY_SHARED": "x"})  # same value: fine
    with pytest.raises(ValueError, match="TOY_GREETING"):
        _lambda(aws, "toy-c", "tick", environment={"TOY_GREETING": "bonjour"})


def test_a_flow_blocked_outside_simulated_time_raises_with_thread_stacks() -> None:
    # No race with a busy machine: the stall is declared only once the handler has said it is blocked (a cold
    # worker thread can take seconds to get there); only then does the harness get a short stall timeout.
    with LocalAws(start=START) as aws:
        fn = _lambda(aws, "toy-blocked", "blocked")
        machine = aws.create_state_machine(
            "toy-blocked", {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": fn, "End": True}}}
        )
        gates = importlib.import_module(HANDLERS).GATES
        gates["stall"], gates["stall-entered"] = threading.Event(), threading.Event()
        try:
            execution = aws.start_execution(machine, {"gate": "stall"})
            assert gates["stall-entered"].wait(timeout=300), "the handler never started"
            aws.clock.stall_timeout = 0.5
            with pytest.raises(HarnessStalledError, match=r"(?s)no quiescence.*in blocked"):
                aws.wait_for(execution)
        finally:
            gates.pop("stall-entered")
            gates.pop("stall").set()


def test_seams_hold_on_the_pinned_moto() -> None:
    check_seams()


def test_seam_check_fails_loudly_when_a_seam_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.eval.environment import Environment

    monkeypatch.delattr(WaitFunction, "_wait_interval")
    monkeypatch.setattr(Environment, "set_stop", lambda self, stop_date: None)
    with pytest.raises(SeamMovedError) as caught:
        check_seams()
    message = str(caught.value)
    assert message.startswith("moto seam moved: ")
    assert "WaitFunction._wait_interval is missing" in message
    assert "Environment.set_stop signature is ('self', 'stop_date')" in message
    assert "pin moto==5.2.5" in message
    with pytest.raises(SeamMovedError):  # checked on harness start, before anything is patched
        LocalAws(start=START).__enter__()

    monkeypatch.undo()
    with LocalAws(start=START) as aws:  # a failed start left nothing behind
        assert aws.now() == START


def test_history_events_match_boto3_get_execution_history(aws: LocalAws) -> None:
    flaky = _lambda(aws, "toy-flaky", "flaky")
    throttled = _lambda(aws, "toy-throttled", "always_throttled")
    tick = _lambda(aws, "toy-tick", "tick")
    echo = _lambda(aws, "toy-echo", "echo")
    retry = _machine(aws, "toy-retry", "retry.asl.json", FlakyArn=flaky, ThrottledArn=throttled)
    fan = _machine(aws, "toy-fan", "fan_loop.asl.json", TickArn=tick, EchoArn=echo)
    arns = [aws.start_execution(retry, {}), aws.start_execution(fan, {"n": 1, "seconds": 5, "items": [1, 4]})]
    for arn in arns:
        aws.wait_for(arn)

    for arn in arns:  # Task/Lambda scheduled/failed/succeeded, Retry, Catch, Parallel, Map, Wait events
        events = aws.history_events(arn)
        assert events == aws.history(arn)
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        assert all(type(e["timestamp"]) is datetime and e["timestamp"].utcoffset() == timedelta(0) for e in events)
        assert events[0]["type"] == "ExecutionStarted"
        assert events[0]["timestamp"] == START
    with pytest.raises(ValueError, match="not a Step Functions execution ARN"):
        aws.history_events("local-000001")


def test_executions_of_one_definition_share_a_cached_program_and_jsonpath_parses(aws: LocalAws) -> None:
    from jsonpath_ng.jsonpath import Child
    from moto.stepfunctions.parser.asl.utils import json_path

    from surge_cli.localaws import seams

    flaky = _lambda(aws, "toy-flaky", "flaky")
    throttled = _lambda(aws, "toy-throttled", "always_throttled")
    machine = _machine(aws, "toy-retry", "retry.asl.json", FlakyArn=flaky, ThrottledArn=throttled)
    before = seams.parsed_program.cache_info()

    # Three executions at the same instant evaluate ONE program object at once; Retry keys its attempt
    # counter with the components' heap_key, so a shared program must not mix their retries up.
    arns = [aws.start_execution(machine, {}) for _ in range(3)]
    results = [aws.wait_for(arn, timeout_sim_seconds=60) for arn in arns]

    after = seams.parsed_program.cache_info()
    assert after.misses - before.misses <= 1
    assert after.hits - before.hits >= 2
    for result in results:
        assert result["status"] == "SUCCEEDED"
        output = json.loads(result["output"])
        assert output["flaky"]["attempt"] == 2
        assert output["error"]["Error"] == "ThrottlingError"
    per_execution = [("toy-flaky", True), ("toy-flaky", True), ("toy-flaky", False), *3 * [("toy-throttled", True)]]
    assert sorted((c.function_name, c.errored) for c in aws.invocations) == sorted(3 * per_execution)

    # extract_json's parse is cached while the harness is active; the cached expression is reused.
    assert json_path.parse("$.a.b") is json_path.parse("$.a.b")
    assert isinstance(json_path.parse("$.a.b"), Child)
    assert json_path.extract_json("$.a.b", {"a": {"b": 1}}) == 1


def test_caches_and_history_fail_loudly_when_their_seams_move(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    def extract_json(path: str, data: Any) -> Any:  # no longer calls the module's parse()
        return data

    monkeypatch.setattr(json_path, "extract_json", extract_json)
    monkeypatch.delattr(ExecutionWorker, "_get_evaluation_entrypoint")
    monkeypatch.setattr(EvalComponent, "heap_key", property(lambda self: "fixed"))
    monkeypatch.setattr(EventManager, "get_event_history", lambda self: list(self._history_event_list))
    with pytest.raises(SeamMovedError) as caught:
        check_seams()
    message = str(caught.value)
    assert "json_path.extract_json no longer contains 'input_expr = parse(path)'" in message
    assert "ExecutionWorker._get_evaluation_entrypoint is missing" in message
    assert "EvalComponent.heap_key.fget no longer contains 'self.__heap_key = long_uid()'" in message
    assert "EventManager.get_event_history no longer contains 'with self._mutex:'" in message


def test_uninstall_restores_the_cached_seams() -> None:
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    originals = (json_path.parse, result_path.parse, ExecutionWorker.__dict__["_get_evaluation_entrypoint"])
    with LocalAws(start=START):
        assert json_path.parse is not originals[0]
        assert result_path.parse is not originals[1]
        assert ExecutionWorker.__dict__["_get_evaluation_entrypoint"] is not originals[2]
    assert (json_path.parse, result_path.parse, ExecutionWorker.__dict__["_get_evaluation_entrypoint"]) == originals


# ------------------------------------------------------------------------------------------ latency model
def _profile(**changes: Any) -> LatencyProfile:
    """A jitter-free profile with round figures, so every instant below is exact."""
    base = {
        "name": "typical",
        "eventbridge_delivery_seconds": 0.5,
        "scheduler_delivery_seconds": 1.0,
        "express_start_seconds": 0.05,
        "standard_start_seconds": 0.25,
        "lambda_invoke_seconds": 0.1,
        "lambda_cold_start_seconds": 1.0,
        "lambda_idle_seconds": 600.0,
        "handler_compute_seconds": 0.0,
        "api_call_seconds": {"dynamodb.ListTables": 0.2},
        "default_api_call_seconds": 0.0,
        "jitter": 0.0,
    }
    return LatencyProfile(**{**base, **changes})  # type: ignore[arg-type]


ONE_TASK = {
    "StartAt": "Work",
    "States": {"Work": {"Type": "Task", "Resource": "${WorkArn}", "TimeoutSeconds": 8, "End": True}},
}


def test_every_step_takes_its_simulated_time_and_the_handler_sees_it() -> None:
    with LocalAws(start=START, stall_timeout=10, latency=_profile()) as aws:
        work = _lambda(aws, "toy-sleepy", "sleepy", timeout_seconds=10)
        machine = aws.create_state_machine("toy-one", ONE_TASK, substitutions={"WorkArn": work})
        first = aws.wait_for(aws.start_execution(machine, {"sleep": 2}))
        output = json.loads(first["output"])
        # STANDARD start 0.25 + invoke 0.1 + cold init 1.0 -> the handler starts at 1.35 s; its sleep (2 s) and
        # its DynamoDB call (0.2 s) are simulated time it sees on its own clock.
        assert datetime.fromisoformat(output["before"]) == _at(1.35)
        assert datetime.fromisoformat(output["slept"]) == _at(3.35)
        assert datetime.fromisoformat(output["after"]) == _at(3.55)
        assert output["remaining_ms"] == 10_000 - 2_200
        assert aws.now() == _at(3.55)
        # The environment is warm now: the next invocation pays no init.
        aws.wait_for(aws.start_execution(machine, {"sleep": 0}))
        warm, cold = [i for i in aws.invocations if not i.cold_start], [i for i in aws.invocations if i.cold_start]
    assert len(cold) == 1
    assert len(warm) == 1
    assert warm[0].sim_seconds == pytest.approx(0.2)
    assert cold[0].sim_seconds == pytest.approx(2.2)


def test_an_express_execution_starts_with_the_express_start_latency() -> None:
    """moto's interpreter reports every execution as STANDARD; the start latency follows the type the state
    machine was created with (0.05 s EXPRESS, 0.25 s STANDARD in this profile)."""
    with LocalAws(start=START, stall_timeout=10, latency=_profile()) as aws:
        work = _lambda(aws, "toy-sleepy", "sleepy", timeout_seconds=10)
        starts = {}
        for type_ in ("EXPRESS", "STANDARD"):
            machine = aws.create_state_machine(f"toy-{type_}", ONE_TASK, substitutions={"WorkArn": work}, type_=type_)
            started = aws.now()
            arn = aws.start_execution(machine, {"sleep": 0})
            aws.wait_for(arn)
            (entered,) = [e for e in aws.history_events(arn) if e["type"] == "TaskStateEntered"]
            starts[type_] = (history_instant(entered["timestamp"]) - started).total_seconds()
    assert starts == {"EXPRESS": pytest.approx(0.05), "STANDARD": pytest.approx(0.25)}


def test_a_busy_or_reclaimed_environment_means_a_cold_start() -> None:
    with LocalAws(start=START, stall_timeout=10, latency=_profile(lambda_idle_seconds=60.0)) as aws:
        work = _lambda(aws, "toy-sleepy", "sleepy", timeout_seconds=10)
        machine = aws.create_state_machine("toy-one", ONE_TASK, substitutions={"WorkArn": work})
        # Two executions at once: the second invocation finds the first environment busy.
        both = [aws.start_execution(machine, {"sleep": 3}) for _ in range(2)]
        for arn in both:
            aws.wait_for(arn)
        aws.run_until(aws.now() + timedelta(seconds=30))  # idle 30 s < 60 s: still warm
        aws.wait_for(aws.start_execution(machine, {"sleep": 0}))
        aws.run_until(aws.now() + timedelta(seconds=61))  # idle past the window: reclaimed
        aws.wait_for(aws.start_execution(machine, {"sleep": 0}))
        colds = [i.cold_start for i in aws.invocations]
    assert colds == [True, True, False, True]


def test_a_handler_past_its_timeout_fails_with_sandbox_timedout() -> None:
    with LocalAws(start=START, stall_timeout=10, latency=_profile()) as aws:
        work = _lambda(aws, "toy-sleepy", "sleepy", timeout_seconds=3)
        machine = aws.create_state_machine("toy-one", ONE_TASK, substitutions={"WorkArn": work})
        result = aws.wait_for(aws.start_execution(machine, {"sleep": 5}))
    assert result["status"] == "FAILED"
    assert result["error"] == "Sandbox.Timedout"


def test_a_task_timeout_runs_on_the_simulated_clock() -> None:
    with LocalAws(start=START, stall_timeout=10, latency=_profile()) as aws:
        work = _lambda(aws, "toy-sleepy", "sleepy", timeout_seconds=30)
        machine = aws.create_state_machine("toy-one", ONE_TASK, substitutions={"WorkArn": work})
        result = aws.wait_for(aws.start_execution(machine, {"sleep": 20}))
        ended = aws.now()
    # The Task's TimeoutSeconds (8 s) ends it 0.25 s (start) + 8 s in, not the handler's 21 s.
    assert result["status"] == "FAILED"
    assert result["error"] == "States.Timeout"
    assert ended == _at(8.25)


def test_an_execution_still_waiting_for_its_start_delay_does_not_hold_up_the_exit() -> None:
    started = time.perf_counter()
    with LocalAws(start=START, stall_timeout=10, latency=_profile()) as aws:
        machine = aws.create_state_machine("toy-wait", {"StartAt": "W", "States": {"W": {"Type": "Succeed"}}})
        arn = aws.start_execution(machine, None)  # its first state is 0.25 s away; the harness exits now
        assert aws.describe(arn)["status"] == "RUNNING"
    assert time.perf_counter() - started < 5  # no wait for a flow that never began (stall timeout is 10 s)


def test_each_thread_has_its_own_powertools_metric_set_as_each_lambda_environment_has(aws: LocalAws) -> None:
    """Concurrent invocations (a Map's shards) run in threads: one's flush must neither print nor clear the
    metrics another is adding (on AWS they are in two execution environments)."""
    from surge.observability import metrics

    added, cleared = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def first_invocation() -> None:
        metrics.add_metric(name="FirstOnly", unit="Count", value=1)
        added.set()
        cleared.wait()
        seen["first"] = metrics.serialize_metric_set()
        metrics.clear_metrics()

    def second_invocation() -> None:
        added.wait()
        seen["second"] = dict(metrics.provider.metric_set)
        metrics.clear_metrics()  # what its flush does at the end of the invocation
        cleared.set()

    threads = [threading.Thread(target=first_invocation), threading.Thread(target=second_invocation)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen["second"] == {}
    names = [m["Name"] for m in seen["first"]["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert names == ["FirstOnly"]
    assert seen["first"]["service"] == "surge"


def test_the_shared_metric_sets_are_back_once_the_world_closes() -> None:
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    with LocalAws(start=datetime(2026, 1, 1, tzinfo=UTC)):
        assert "metric_set" in AmazonCloudWatchEMFProvider.__dict__
    assert "metric_set" not in AmazonCloudWatchEMFProvider.__dict__


# ------------------------------------------------------------------------------------------ speed seams
MAP_OF_INVOKES = {
    "StartAt": "Items",
    "States": {
        "Items": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 40,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Echo",
                "States": {
                    "Echo": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": "${EchoArn}", "Payload.$": "$"},
                        "OutputPath": "$.Payload.input",
                        "End": True,
                    }
                },
            },
            "End": True,
        }
    },
}


def test_a_map_starts_one_worker_per_item_not_max_concurrency_workers(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto starts MaxConcurrency (40) workers for a Map of two items; the 38 without a job only cost threads,
    flows and frames. The harness starts one per item, up to MaxConcurrency, and the Map's output is the same."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker import (
        IterationWorker,
    )

    started: list[int] = []
    orig_eval = IterationWorker.eval

    def counted_eval(self: Any) -> None:
        started.append(1)
        orig_eval(self)

    monkeypatch.setattr(IterationWorker, "eval", counted_eval)
    echo = _lambda(aws, "toy-echo", "echo")
    machine = aws.create_state_machine("toy-map", MAP_OF_INVOKES, substitutions={"EchoArn": echo})
    result = aws.wait_for(aws.start_execution(machine, {"items": [1, 2]}))
    # Each worker starts in its turn: with no latency the first may take both items before the second's turn
    # comes, which then finds none left and ends.
    aws.run_until(aws.now())

    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == [1, 2]
    assert len(started) == 2


def test_a_lambda_invoke_task_reaches_moto_lambda_without_the_http_round_trip_and_returns_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A `lambda:invoke` Task calls moto's Lambda backend directly (no boto3 request, signing, werkzeug environ,
    response serialization): the execution's history is the same as by boto3, a handler's error keeps its class
    name, and an unknown function still fails with the API's error."""
    from moto.awslambda.responses import LambdaResponse

    from surge_cli.localaws import seams

    http_invokes: list[int] = []
    orig_invoke = LambdaResponse.invoke

    def counted_invoke(self: Any) -> Any:
        http_invokes.append(1)
        return orig_invoke(self)

    failing = {
        "StartAt": "Fail",
        "States": {
            "Fail": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${Arn}", "Payload": {}},
                "End": True,
            }
        },
    }

    def run() -> tuple[list[tuple[str, Any]], dict[str, Any], dict[str, Any]]:
        with LocalAws(start=START, stall_timeout=10) as aws, pytest.MonkeyPatch.context() as counting:
            counting.setattr(LambdaResponse, "invoke", counted_invoke)  # after the seam check
            echo = _lambda(aws, "toy-echo", "echo")
            throttled = _lambda(aws, "toy-throttled", "always_throttled")
            machine = aws.create_state_machine("toy-map", MAP_OF_INVOKES, substitutions={"EchoArn": echo})
            arn = aws.start_execution(machine, {"items": [7]})  # one item: no interleaving of two workers' events
            aws.wait_for(arn)
            events = [(e["type"], {k: v for k, v in e.items() if k.endswith("EventDetails")}) for e in aws.history(arn)]
            raised = aws.wait_for(
                aws.start_execution(
                    aws.create_state_machine("toy-raise", failing, substitutions={"Arn": throttled}), {}
                )
            )
            missing = aws.wait_for(
                aws.start_execution(
                    aws.create_state_machine("toy-missing", failing, substitutions={"Arn": echo + "-gone"}), {}
                )
            )
            return events, raised, missing

    direct = run()
    assert len(http_invokes) == 1  # the unknown function only: it goes the boto3 way for the API's error
    monkeypatch.setattr(seams, "_direct_lambda_invoke", lambda parameters, region: None)  # the boto3 way
    by_boto3 = run()
    assert len(http_invokes) == 1 + 3
    assert direct[0] == by_boto3[0]
    assert any(kind == "TaskSucceeded" for kind, _ in direct[0])
    assert (direct[1]["status"], direct[1]["error"]) == ("FAILED", "ThrottlingError")
    assert (direct[2]["status"], direct[2]["error"]) == (by_boto3[2]["status"], by_boto3[2]["error"])
    assert direct[2]["error"] == "Lambda.ResourceNotFoundException"


def test_state_data_is_copied_as_json_and_anything_else_by_deepcopy() -> None:
    from surge_cli.localaws.seams import json_copy

    data = {"a": [1, 2.5, {"b": None, "c": True}], "s": "x", "t": (1, [2]), "set": {3}}
    copied = json_copy(data)
    assert copied == data
    copied["a"][2]["b"] = "changed"
    copied["t"][1].append(9)
    assert data["a"][2]["b"] is None
    assert data["t"] == (1, [2])
    assert copied["t"] is not data["t"]
    assert copied["set"] is not data["set"]


_EVERY_KIND_OF_ATTRIBUTE: dict[str, Any] = {
    "pk": {"S": "TARGET#api"},
    "sk": {"S": "state"},
    "empty": {"S": ""},
    "doc": {"S": '{"units": 16, "note": "caf\u00e9 \u2603"}'},
    "version": {"N": "7"},
    "ratio": {"N": "-0.25"},
    "on": {"BOOL": True},
    "off": {"BOOL": False},
    "nothing": {"NULL": True},
    "names": {"SS": ["a", "b"]},
    "counts": {"NS": ["1", "2.5"]},
    "blob": {"B": b"\x00\xffraw"},
    "blobs": {"BS": [b"x", b"y"]},
    "map": {"M": {"s": {"S": "x"}, "n": {"N": "1"}, "inner": {"M": {"b": {"B": b"z"}}}, "list": {"L": [{"S": "y"}]}}},
    "list": {"L": [{"N": "3"}, {"NULL": True}, {"M": {}}, {"L": []}, {"SS": ["q"]}, {"B": b"w"}]},
}


def _dynamodb_reads(client: Any) -> list[dict[str, Any]]:
    client.create_table(
        TableName="kinds",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName="kinds", Item=_EVERY_KIND_OF_ATTRIBUTE)
    client.put_item(TableName="kinds", Item={"pk": {"S": "TARGET#api"}, "sk": {"S": "hold#1"}, "n": {"N": "1"}})
    key = {"pk": {"S": "TARGET#api"}, "sk": {"S": "state"}}
    reads = [
        client.get_item(TableName="kinds", Key=key, ConsistentRead=True),
        client.query(
            TableName="kinds",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "TARGET#api"}},
        ),
        client.batch_get_item(RequestItems={"kinds": {"Keys": [key]}}),
        client.scan(TableName="kinds", Limit=1),
        client.update_item(
            TableName="kinds",
            Key=key,
            UpdateExpression="SET version = :v",
            ReturnValues="ALL_NEW",
            ExpressionAttributeValues={":v": {"N": "8"}},
        ),
    ]
    for read in reads:
        read.pop("ResponseMetadata")
    return reads


def test_dynamodb_attribute_values_read_through_the_world_equal_moto_s_own_serialization() -> None:
    """The AttributeValue seam writes plain members as they are: every kind of attribute, read by GetItem, Query,
    BatchGetItem, Scan and UpdateItem in a world, comes back exactly as from moto without the seam."""
    import boto3
    from moto import mock_aws

    from surge_cli.localaws.seams import plain_attribute_value

    with mock_aws():
        stock = _dynamodb_reads(boto3.client("dynamodb", region_name="us-east-1"))
    with LocalAws(start=START) as world:
        seamed = _dynamodb_reads(world.client("dynamodb"))
    assert seamed == stock
    assert seamed[0]["Item"] == _EVERY_KIND_OF_ATTRIBUTE
    assert plain_attribute_value({"S": "x"}) == {"S": "x"}
    assert plain_attribute_value({"B": b"x"}) is None  # base64 on the wire: moto's own way
    assert plain_attribute_value({"M": {}}) is None
    assert plain_attribute_value({"S": "x", "N": "1"}) is None  # not an AttributeValue: moto's own way


def test_the_speed_seams_are_installed_while_a_world_is_open_and_restored_after() -> None:
    import moto.core.responses
    import moto.stepfunctions.parser.models as parser_models
    from moto.core.serialize import BaseJSONSerializer
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.eval import states

    from surge_cli.localaws.seams import JSON_COPY_MODULES

    def current() -> tuple[Any, ...]:
        modules = [importlib.import_module(name) for name in JSON_COPY_MODULES]
        return (
            lambda_eval_utils._invoke_lambda_function,
            moto.core.responses.method_names_from_class,
            parser_models.AmazonStateLanguageParser,
            BaseJSONSerializer.__dict__["_serialize_type_structure"],
            *(module.copy for module in modules),
        )

    before = current()
    with LocalAws(start=START):
        during = current()
        assert states.copy.deepcopy({"a": [1]}) == {"a": [1]}
        assert all(a is not b for a, b in zip(before, during, strict=True))
    assert current() == before


def test_the_speed_seams_fail_loudly_when_moto_moves_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component import (
        InlineIterationComponent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    monkeypatch.setattr(
        lambda_eval_utils,
        "execute_lambda_function_integration",
        lambda env, parameters, region, state_credentials: None,
    )
    monkeypatch.setattr(InlineIterationComponent, "_eval_body", lambda self, env: None)
    with pytest.raises(SeamMovedError) as caught:
        check_seams()
    message = str(caught.value)
    assert (
        "execute_lambda_function_integration no longer contains 'invocation_response = _invoke_lambda_function('"
        in message
    )
    assert "InlineIterationComponent._eval_body no longer contains 'for _ in range(number_of_workers):'" in message


def test_create_state_machine_and_its_executions_parse_the_definition_once(aws: LocalAws) -> None:
    from surge_cli.localaws import seams

    definition = {"StartAt": "Only", "States": {"Only": {"Type": "Pass", "Result": {"unique": 4242}, "End": True}}}
    before = seams.parsed_program.cache_info()
    machine = aws.create_state_machine("toy-parse-once", definition)
    results = [aws.wait_for(aws.start_execution(machine, {})) for _ in range(2)]
    after = seams.parsed_program.cache_info()

    assert [json.loads(r["output"]) for r in results] == [{"unique": 4242}] * 2
    assert after.misses - before.misses == 1  # CreateStateMachine's validation; both executions hit
    assert after.hits - before.hits == 2
    with pytest.raises(Exception, match="CreateStateMachine operation: ASLParserException"):
        aws.create_state_machine("toy-invalid", {"StartAt": "Nowhere", "States": {"Only": {"Type": "Nope"}}})


def test_callers_at_the_same_time_share_one_parse_of_a_definition() -> None:
    from surge_cli.localaws import seams

    definition = json.dumps({"StartAt": "Only", "States": {"Only": {"Type": "Pass", "Result": 7171, "End": True}}})
    before = seams.parsed_program.cache_info()
    start = threading.Barrier(3)

    def parse() -> Any:
        start.wait()
        return seams.shared_program(definition)

    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(parse())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = seams.parsed_program.cache_info()

    assert len(results) == 3
    assert all(program is results[0] for program in results)
    assert after.misses - before.misses == 1


def _map_item_instants(worker_delay_seconds: Any) -> list[tuple[int, str]]:
    """A Map of 12 items on 4 workers under a jittered latency profile. Each worker takes an item after
    10 ms x its index of *real* time, then waits `worker_delay_seconds(worker_index)` more before going on (thread
    scheduling, made to differ between runs: the items are taken in the same order, their Lambdas invoked in
    another). Returns each item with the simulated instant its Lambda saw."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool

    from surge_cli.localaws import seams

    definition = json.loads(json.dumps(MAP_OF_INVOKES))
    definition["States"]["Items"]["MaxConcurrency"] = 4
    definition["States"]["Items"]["ItemProcessor"]["States"]["Echo"].pop("OutputPath")
    definition["States"]["Items"]["ItemProcessor"]["States"]["Echo"]["ResultSelector"] = {
        "input.$": "$.Payload.input",
        "now.$": "$.Payload.now",
    }
    orig_next_job = JobPool.next_job

    def scheduled_next_job(self: Any) -> Any:
        worker = seams.current_flow_key()[-1]
        time.sleep(0.01 * worker)
        job = orig_next_job(self)
        time.sleep(worker_delay_seconds(worker))
        return job

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(JobPool, "next_job", scheduled_next_job)
        with LocalAws(start=START, stall_timeout=10, latency=_profile(jitter=0.5)) as aws:
            echo = _lambda(aws, "toy-echo", "echo")
            machine = aws.create_state_machine("toy-map", definition, substitutions={"EchoArn": echo})
            result = aws.wait_for(aws.start_execution(machine, {"items": list(range(12))}))
    assert result["status"] == "SUCCEEDED"
    return [(item["input"], item["now"]) for item in json.loads(result["output"])]


def test_a_maps_workers_start_in_turn_so_thread_scheduling_changes_nothing() -> None:
    """Workers started together would run side by side until each first waits for simulated time: which worker
    takes which item, and which latency draw its Lambda gets, would follow thread scheduling, and a fleet replay
    (more shards than MaxConcurrency) would not repeat itself. Each starts in its turn, in key order."""
    first_workers_first = _map_item_instants(lambda worker: 0.0)
    last_workers_first = _map_item_instants(lambda worker: 0.05 * (4 - worker))

    assert [item for item, _ in first_workers_first] == list(range(12))
    assert len({instant for _, instant in first_workers_first}) > 1, "jitter: the items' instants differ"
    assert last_workers_first == first_workers_first
