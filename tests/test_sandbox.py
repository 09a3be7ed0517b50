"""The local sandbox: the operator commands against a real moto server process, on real time.

One sandbox (server process + driver thread) serves the module; the tests run in file order on it, as an operator
would: status first, then a push that scales the stand-in service, then what can be done with its hold. Nothing
here measures speed: every wait is for a condition, with a generous deadline that only turns a hang into a failure.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from typer.testing import CliRunner

from scaler_support import plant_cpu_target_tracking, process_state_reset
from surge.core.config import SurgeConfig
from surge.core.plan import AppliedChange
from surge_cli.execution_logs import ExecutionLogsError, describe_logging
from surge_cli.graph import ExecutionPath, execution_path, fetch_definition, fetch_execution
from surge_cli.main import app
from surge_cli.push_outcome import BeforeSending, wait_for_outcome
from surge_cli.sandbox.driver import Sandbox, load_sandbox_scenario

pytestmark = pytest.mark.statemachine

runner = CliRunner()
DEADLINE_SECONDS = 120.0
"""Generous on purpose: reaching it means something hangs, not that the machine is slow."""
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], what: str, deadline: float = DEADLINE_SECONDS) -> T:
    """Poll `probe` until it returns something (not None/False), or fail naming `what`."""
    end = time.monotonic() + deadline
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > end:
            pytest.fail(f"{what}: not within {deadline:.0f} s")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(load_sandbox_scenario(None), log_dir=tmp_path_factory.mktemp("sandbox")) as running:
        yield running
    assert not running.errors, running.errors


@pytest.fixture
def endpoint(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The environment an operator exports after `surge sandbox` (and fresh cached clients to match it)."""
    for key, value in sandbox.environment().items():
        monkeypatch.setenv(key, value)
    with process_state_reset():
        yield sandbox


def client(sandbox: Sandbox, service: str) -> Any:
    return boto3.client(service, endpoint_url=sandbox.endpoint_url, region_name="us-east-1")


def status() -> dict[str, Any]:
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def only_target(view: dict[str, Any]) -> dict[str, Any]:
    (target,) = view["targets"]
    assert isinstance(target, dict)
    return target


def test_status_shows_the_stand_in_service_and_the_loop_the_schedule_started(endpoint: Sandbox) -> None:
    view = eventually(lambda: (s := status())["loop"]["lease_owner"] and s, "a scheduled loop holds the lease")
    target = only_target(view)
    assert (target["target_id"], target["desired_units"], target["running_units"]) == ("api", 2, 2)
    assert ":execution:surge-ScalerStateMachine:sandbox-" in view["loop"]["lease_owner"]
    # The driver's minutes reach CloudWatch: the loop's signal is the scenario's 60 rps.
    with_demand = eventually(lambda: (t := only_target(status()))["demand_rps"] and t, "the ALB minutes arrive")
    assert with_demand["demand_rps"] == pytest.approx(60.0, abs=3.0)
    text = runner.invoke(app, ["status"])
    assert text.exit_code == 0, text.output
    assert "api (ecs): desired 2, running 2; Surge wants 2" in text.stdout


def scaler_executions(sandbox: Sandbox, status: str | None = None) -> list[str]:
    """The scaler's executions (newest first), as moto's Step Functions lists them."""
    assert sandbox.stack is not None
    listed = client(sandbox, "stepfunctions").list_executions(stateMachineArn=sandbox.stack.scaler_arn)["executions"]
    return [e["executionArn"] for e in listed if status is None or e["status"] == status]


def test_status_json_has_the_loops_last_iteration_from_the_scalers_log_group(endpoint: Sandbox) -> None:
    """The loop line reads the newest DecideCapacity exit in the scaler's group: the sandbox delivers its records
    while the execution runs, as Step Functions does, seconds after each event."""
    loop = eventually(lambda: (s := status()["loop"])["last_iteration_at"] and s, "the loop's last iteration")

    assert "problem" not in loop, loop
    assert loop["last_iteration_execution"] in scaler_executions(endpoint)
    assert datetime.fromisoformat(loop["last_iteration_at"]) >= endpoint.started_at.replace(microsecond=0)  # type: ignore[union-attr]
    assert loop["executions_failed_last_hour"]["count"] == 0
    text = runner.invoke(app, ["status"])
    assert text.exit_code == 0, text.output
    assert f"loop: last iteration {loop['last_iteration_at'][:16]}" in text.stdout


def test_decisions_json_lists_the_loops_no_change_decisions_with_their_reasons(endpoint: Sandbox) -> None:
    """DecideCapacity's own INFO lines reach its function's group (the server process ships the handlers' lines)."""

    def decisions() -> list[dict[str, Any]]:
        result = runner.invoke(app, ["decisions", "--json", "--target", "api"])
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.stdout.splitlines()]

    rows = eventually(decisions, "a decision in DecideCapacity's log group")

    steady = [row for row in rows if row["action"] == "steady"]
    assert steady, rows
    row = steady[0]
    assert (row["target_id"], row["source"], row["reason"]) == ("api", "loop", "at_target")
    assert (row["current_desired_units"], row["desired_units"]) == (2, 2)
    assert row["execution_arn"] in scaler_executions(endpoint)
    text = runner.invoke(app, ["decisions", "--target", "api"])
    assert text.exit_code == 0, text.output
    assert " api loop: steady 2 -> 2 [at_target]: " in text.stdout.splitlines()[0]


def test_push_wait_reports_the_scale_out_and_status_shows_the_stand_in_scaled(endpoint: Sandbox) -> None:
    result = runner.invoke(app, ["push", "--target", "api", "--audience", "50000", "--id", "first-push", "--wait"])

    assert result.exit_code == 0, result.output
    sent, outcome = result.stdout.splitlines()
    assert sent.startswith("PushSent first-push (50,000 notified) put on surge-bus: event ")
    assert outcome.startswith("push first-push: api scaled 2 -> 11 (hold until "), outcome
    services = client(endpoint, "ecs").describe_services(cluster="replay", services=["api"])["services"]
    assert services[0]["desiredCount"] == 11, "the stand-in service itself was scaled"
    target = only_target(status())
    assert (target["desired_units"], target["running_units"]) == (11, 11)
    text = runner.invoke(app, ["status"]).stdout
    assert "api (ecs): desired 11, running 11; Surge wants 11 [at_target, push]" in text
    assert "hold first-push: 11 units until at least" in text


def test_the_same_push_again_is_already_handled_and_changes_nothing(endpoint: Sandbox) -> None:
    result = runner.invoke(app, ["push", "--target", "api", "--audience", "90000", "--id", "first-push", "--wait"])

    assert result.exit_code == 0, result.output
    outcome = result.stdout.splitlines()[1]
    assert outcome.startswith("push first-push: api already handled: push first-push was recorded at "), outcome
    assert outcome.endswith("; nothing changed")
    assert only_target(status())["desired_units"] == 11


def test_journal_json_lists_the_push_scale_out(endpoint: Sandbox) -> None:
    result = runner.invoke(app, ["journal", "--json", "--since", "1h"])

    assert result.exit_code == 0, result.output
    entries = [AppliedChange.model_validate_json(line) for line in result.stdout.splitlines()]
    pushed = [e for e in entries if "first-push" in e.decision.active_holds]
    assert pushed, entries
    assert (pushed[0].from_units, pushed[0].to_units, pushed[0].api_calls) == (2, 11, ["ecs:UpdateService"])
    assert pushed[0].decision.winner.value == "push"


def test_hold_list_and_release(endpoint: Sandbox) -> None:
    listed = json.loads(runner.invoke(app, ["hold", "list", "--json"]).stdout)
    assert [(h["push_id"], h["target_id"], h["units"], h["active"]) for h in listed] == [
        ("first-push", "api", 11, True)
    ]

    released = runner.invoke(app, ["hold", "release", "first-push", "--target", "api"])

    assert released.exit_code == 0, released.output
    assert released.stdout.startswith("api: released hold first-push (11 units, sized for ")
    (after,) = json.loads(runner.invoke(app, ["hold", "list", "--json"]).stdout)
    assert (after["status"], after["active"]) == ("released", False)
    assert after["released_by"]


def test_pause_and_resume(endpoint: Sandbox) -> None:
    paused = runner.invoke(app, ["pause", "--target", "api", "--reason", "trying the sandbox"])
    assert paused.exit_code == 0, paused.output
    assert paused.stdout.startswith("api: paused since ")
    (row,) = json.loads(runner.invoke(app, ["paused", "--json"]).stdout)
    assert (row["target_id"], row["paused"], row["reason"]) == ("api", True, "trying the sandbox")

    resumed = runner.invoke(app, ["resume", "--target", "api"])

    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout.startswith("api: resumed (was paused since ")
    (row,) = json.loads(runner.invoke(app, ["paused", "--json"]).stdout)
    assert row == {"target_id": "api", "paused": False}


def test_config_show_validate_and_apply(endpoint: Sandbox, tmp_path: Path) -> None:
    shown = json.loads(runner.invoke(app, ["config", "show", "--json"]).stdout)
    assert [(s["target_id"], s["source"]) for s in shown["sources"]] == [("api", "template")]
    assert endpoint.target is not None
    document = SurgeConfig(targets=[endpoint.target]).model_dump(mode="json")
    path = tmp_path / "targets.json"
    path.write_text(json.dumps(document))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"targets": [{**document["targets"][0], "id": ""}]}))

    assert runner.invoke(app, ["config", "validate", str(path)]).exit_code == 0
    refused = runner.invoke(app, ["config", "validate", str(broken)])
    assert refused.exit_code == 2, refused.output
    applied = runner.invoke(app, ["config", "apply", str(path)])

    assert applied.exit_code == 0, applied.output
    assert applied.stdout.splitlines()[0].startswith("applied to /surge/operator-config (version 1): api (overrides")
    shown = json.loads(runner.invoke(app, ["config", "show", "--json"]).stdout)
    assert [(s["target_id"], s["source"]) for s in shown["sources"]] == [("api", "operator")]


def test_a_rejected_push_is_reported_with_its_reason(endpoint: Sandbox) -> None:
    """A push the fast path refuses (the CLI itself never sends one: it validates first) is kept under its event id."""
    assert endpoint.stack is not None
    assert endpoint.target is not None
    entry = {
        "Source": endpoint.stack.outputs["PushEventSource"],
        "DetailType": "PushSent",
        "Detail": json.dumps({"push_id": "bad-push", "audience": -5, "sent_at": "2026-01-21T11:00:00Z"}),
        "EventBusName": endpoint.stack.bus_name,
    }
    sent_at = datetime.now(UTC)
    (put,) = client(endpoint, "events").put_events(Entries=[entry])["Entries"]

    outcome = wait_for_outcome(
        table=endpoint.stack.table_name,
        event_id=put["EventId"],
        push_id="bad-push",
        targets=[endpoint.target],
        before=BeforeSending(holds={}, desired_units={}),
        sent_at=sent_at,
        wait_seconds=DEADLINE_SECONDS,
    )

    assert outcome is not None, "the rejection was recorded"
    assert not outcome.ok
    assert outcome.line.startswith("push bad-push rejected: detail.audience: "), outcome.line


def test_no_outcome_in_time_is_none(endpoint: Sandbox) -> None:
    assert endpoint.stack is not None
    assert endpoint.target is not None
    outcome = wait_for_outcome(
        table=endpoint.stack.table_name,
        event_id="never-sent",
        push_id="never-sent",
        targets=[endpoint.target],
        before=BeforeSending(holds={}, desired_units={}),
        sent_at=datetime.now(UTC),
        wait_seconds=1,
    )
    assert outcome is None


def test_graph_execution_draws_a_finished_express_scaler_execution_from_its_log_group(
    endpoint: Sandbox, tmp_path: Path
) -> None:
    """An EXPRESS execution has no history in Step Functions on AWS: `surge graph --execution` reads its records
    from the scaler's log group, which the sandbox filled; the path drawn is the one moto's history holds."""
    finished = eventually(lambda: scaler_executions(endpoint, "SUCCEEDED"), "a scaler execution has ended")[-1]
    sfn, logs = client(endpoint, "stepfunctions"), client(endpoint, "logs")

    def from_logs() -> ExecutionPath | None:
        try:
            definition, _, history = fetch_execution(finished, sfn, logs)
        except ExecutionLogsError:
            return None  # nothing delivered yet
        path = execution_path(definition, history)
        return path if path.status == "SUCCEEDED" else None  # its last records are a second late

    path = eventually(from_logs, "the end of the execution in the scaler's log group")
    out = tmp_path / "x.png"
    result = runner.invoke(app, ["graph", "--execution", finished, "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert out.read_bytes().startswith(b"\x89PNG")
    assert describe_logging(endpoint.stack.scaler_arn, sfn).machine_type == "EXPRESS"  # type: ignore[union-attr]
    assert path.entries[:5] == ["ClaimLoop", "IsThisTheOnlyLoop", "ScaleEveryShard", "ReadSignals", "DecideCapacity"]
    assert {"RouteDecision", "WaitInterval", "HandOverToNextExecution"} <= set(path.entries)
    definition, name = fetch_definition(finished, sfn)
    assert name == "surge-ScalerStateMachine"
    truth = sfn.get_execution_history(executionArn=finished)["events"]
    assert path == execution_path(definition, truth), "the log group holds the very execution moto ran"


def test_the_logs_honour_each_state_machines_execution_data_setting(endpoint: Sandbox) -> None:
    """The template's ScalerExecutionData=false: the scaler's records carry no state input or output; the push
    fast path logs with execution data (the push test above ran one)."""
    assert endpoint.stack is not None
    logs = client(endpoint, "logs")

    def records(group: str) -> list[dict[str, Any]]:
        events = logs.filter_log_events(logGroupName=group)["events"]
        return [json.loads(event["message"]) for event in events]

    groups = endpoint.stack.log_groups
    scaler = records(groups["ScalerStateMachine"])
    started = eventually(
        lambda: [r for r in records(groups["PushFastPathStateMachine"]) if r["type"] == "ExecutionStarted"],
        "the push fast path's records",
    )

    assert any(r["type"] == "TaskStateExited" for r in scaler)
    assert not [r for r in scaler if {"input", "output", "parameters"} & set(r["details"])]
    assert any('"first-push"' in r["details"]["input"] for r in started), started


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--wait-seconds", "0"], "error: --wait-seconds: 0 is outside 1..600 (seconds)"),
        (["--wait-seconds", "601"], "error: --wait-seconds: 601 is outside 1..600 (seconds)"),
    ],
)
def test_push_wait_bad_input_is_one_line_exit_2_and_sends_nothing(
    endpoint: Sandbox, args: list[str], expected: str
) -> None:
    before = len(client(endpoint, "stepfunctions").list_executions(stateMachineArn=_fast_path(endpoint))["executions"])
    result = runner.invoke(app, ["push", "--target", "api", "--audience", "10", "--id", "x", "--wait", *args])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [expected]
    time.sleep(2)  # two of the driver's polls: a push it had been sent would have started the fast path by now
    after = client(endpoint, "stepfunctions").list_executions(stateMachineArn=_fast_path(endpoint))["executions"]
    assert len(after) == before


def _fast_path(sandbox: Sandbox) -> str:
    assert sandbox.stack is not None
    return sandbox.stack.push_fast_path_arn


SERVICE = {
    "ServiceNamespace": "ecs",
    "ResourceId": "service/replay/api",
    "ScalableDimension": "ecs:service:DesiredCount",
}


def test_doctor_fails_on_a_target_tracking_policy_planted_on_the_stand_in_service(endpoint: Sandbox) -> None:
    """As deployed, the sandbox passes every check (once the driver's first ALB minutes are in); one Application
    Auto Scaling target-tracking policy on the stand-in service is one FAIL line and exit 1."""
    eventually(lambda: runner.invoke(app, ["doctor"]).exit_code == 0, "surge doctor passes on the sandbox")
    appas = client(endpoint, "application-autoscaling")
    plant_cpu_target_tracking(appas, "replay", "api")
    try:
        result = runner.invoke(app, ["doctor"])
    finally:
        appas.delete_scaling_policy(**SERVICE, PolicyName="cpu-tracking")
        appas.deregister_scalable_target(**SERVICE)

    assert result.exit_code == 1, result.output
    assert not result.stderr
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert fails == [
        "FAIL target api other scaling: Application Auto Scaling TargetTrackingScaling policy 'cpu-tracking' on "
        "service/replay/api would fight Surge over desiredCount (suspend it: aws application-autoscaling "
        "register-scalable-target --service-namespace ecs --resource-id service/replay/api --scalable-dimension "
        "ecs:service:DesiredCount --suspended-state "
        "DynamicScalingInSuspended=true,DynamicScalingOutSuspended=true,ScheduledScalingSuspended=true)"
    ]
    assert runner.invoke(app, ["doctor"]).exit_code == 0, "passes again once the policy is gone"


# ---------------------------------------------------------------------------------------------- stopping


def _gone(pid: int) -> bool:
    """The process has exited (a zombie not reaped yet counts: it runs nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _start_cli(tmp_path: Path) -> tuple[subprocess.Popen[str], int, str]:
    """`surge sandbox` as a newcomer runs it; returns the process, the server's pid and its endpoint."""
    command = [sys.executable, "-c", "from surge_cli.main import app; app()", "sandbox", "--log-dir", str(tmp_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    header = process.stdout.readline()
    if "pid " not in header:
        process.kill()
        pytest.fail(f"no header from surge sandbox: {header}{process.stdout.read()}")
    pid = int(header.split("pid ", 1)[1].split(";", 1)[0])
    endpoint = header.split("moto server at ", 1)[1].split(" ", 1)[0]
    return process, pid, endpoint


def test_ctrl_c_stops_the_server_process_and_the_driver(tmp_path: Path) -> None:
    process, server_pid, endpoint = _start_cli(tmp_path)
    try:
        assert not _gone(server_pid)
        stacks = boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1").describe_stacks()
        assert [s["StackName"] for s in stacks["Stacks"]] == ["surge"]

        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=DEADLINE_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert output.rstrip().endswith("sandbox stopped: the moto server process and the driver thread are gone")
    eventually(lambda: _gone(server_pid), "the server process has exited")


def test_the_server_exits_when_surge_sandbox_is_killed_outright(tmp_path: Path) -> None:
    process, server_pid, _ = _start_cli(tmp_path)
    process.kill()  # SIGKILL: no handler runs, nothing is stopped in order
    process.wait(timeout=DEADLINE_SECONDS)
    eventually(lambda: _gone(server_pid), "the orphaned server process has exited")


def test_stop_ends_the_driver_thread_and_the_server(tmp_path: Path) -> None:
    sandbox = Sandbox(load_sandbox_scenario(None), log_dir=tmp_path)
    sandbox.start()
    process, thread = sandbox.process, sandbox._thread
    assert process is not None
    assert thread is not None
    assert thread.is_alive()
    assert process.poll() is None

    sandbox.stop()

    assert process.poll() is not None, "the server process has exited"
    assert not thread.is_alive(), "the driver thread has ended"
    assert not sandbox.alive()
