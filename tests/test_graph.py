"""`surge graph`: the state machines drawn from their ASL, and an execution's path marked from its history.

The path tests read the DOT source that is handed to Graphviz's `dot`: a visited state is filled and shows its
visit count, a taken transition is bold and coloured, everything else stays grey. One test runs the real scaler
on LocalAws through a traffic spike, so the history is what Step Functions (moto) records.

Set SURGE_WRITE_DOCS_GRAPH=1 to also (re)write docs/graph-scaler.png from that real history.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from scaler_support import START, Loop, deploy, ecs_target
from surge_cli import world
from surge_cli.graph import (
    STATE_MACHINE_FILES,
    build_graph,
    drawn_states,
    dump_history,
    fetch_execution,
    fetch_history,
    graph_command,
    load_definition,
    load_history,
    render_graph,
    rule_text,
)
from surge_cli.localaws import LocalAws

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS_GRAPH = REPO_ROOT / "docs" / "graph-scaler.png"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TAKEN_COLOUR = "#1f6feb"


def test_graphviz_dot_is_installed() -> None:
    """No skip: without `dot` nothing here can render. Install with `apt-get install -y graphviz`."""
    assert shutil.which("dot"), "Graphviz's `dot` is missing: apt-get update && apt-get install -y graphviz"


# --------------------------------------------------------------------------------------------- helpers
def definition(name: str) -> dict[str, Any]:
    return load_definition(name)[0]


def node_attrs(source: str, name: str) -> str:
    match = re.search(rf'^\t+"?{re.escape(name)}"? \[(.*)\]$', source, re.MULTILINE)
    assert match, f"no node {name} in the DOT source"
    return match.group(1)


def edge_attrs(source: str, tail: str, head: str) -> list[str]:
    pattern = rf'^\t"?{re.escape(tail)}"? -> "?{re.escape(head)}"? \[(.*)\]$'
    found = re.findall(pattern, source, re.MULTILINE)
    assert found, f"no edge {tail} -> {head} in the DOT source"
    return found


def is_bold(attrs: str) -> bool:
    return "bold" in attrs and TAKEN_COLOUR in attrs


def visits(attrs: str) -> int:
    match = re.search(r"(\d+) visits?<", attrs)
    return int(match.group(1)) if match else 0


def synthetic_history(entries: list[tuple[str, str]], outcome: str) -> list[dict[str, Any]]:
    """Events as get_execution_history returns them: (state type, name) entries; 'Task!' is a failed task."""
    events: list[dict[str, Any]] = [{"id": 1, "type": "ExecutionStarted", "timestamp": "2026-01-21T11:00:00+00:00"}]

    def add(kind: str, **details: Any) -> None:
        events.append({"id": len(events) + 1, "type": kind, "timestamp": "2026-01-21T11:00:01+00:00", **details})

    for state_type, name in entries:
        failed = state_type.endswith("!")
        state_type = state_type.rstrip("!")
        add(f"{state_type}StateEntered", stateEnteredEventDetails={"name": name})
        if failed:
            add("TaskFailed", taskFailedEventDetails={"error": "SurgeTransientError"})
            continue
        add(f"{state_type}StateExited", stateExitedEventDetails={"name": name})
    add(f"Execution{outcome}")
    return events


PUSH_FAILED = [
    ("Task", "RecordPushHold"),
    ("Choice", "IsNewPush"),
    ("Parallel", "ScaleOutAndRecordTheOtherShards"),
    ("Choice", "IsThisShardNew"),
    ("Choice", "AreThereOtherShards"),
    ("Task!", "DecideCapacity"),
    ("Pass", "NoOtherShards"),
    ("Pass", "ThisShardNotApplied"),
    ("Choice", "WasThisShardApplied"),
    ("Choice", "CanTheLoopApplyIt"),
    ("Fail", "LeaveItToTheLoop"),
]


def cli() -> typer.Typer:
    app = typer.Typer(add_completion=False)

    @app.callback()
    def main() -> None:
        """Test app: `graph` is a sub-command as in surge_cli.main."""

    app.command("graph")(graph_command)
    return app


# ------------------------------------------------------------------------------------ no history
@pytest.mark.parametrize("name", sorted(STATE_MACHINE_FILES))
def test_each_state_machine_renders_with_every_state(name: str, tmp_path: Path) -> None:
    asl = definition(name)
    out = render_graph(asl, None, tmp_path / f"{name}.png", name)

    assert out.read_bytes().startswith(PNG_MAGIC)
    assert out.stat().st_size > 20_000
    source = build_graph(asl).source
    for state in drawn_states(asl):
        node_attrs(source, state)
    assert "visit" not in source, "no history, no visit counts"


def test_shapes_choice_rules_and_catch_edges_follow_the_asl() -> None:
    source = build_graph(definition("scaler")).source

    assert "shape=diamond" in node_attrs(source, "RouteDecision")
    assert "shape=hexagon" in node_attrs(source, "WaitInterval")
    assert "shape=parallelogram" in node_attrs(source, "CountFailedIteration")
    assert "shape=octagon" in node_attrs(source, "LoopFailing")
    assert "peripheries=2" in node_attrs(source, "HandOverToNextExecution")
    assert "rounded" in node_attrs(source, "ReadSignals")
    assert "route == scale_out" in edge_attrs(source, "RouteDecision", "ScaleOutNow")[0]
    assert "stop_reason == budget_spent" in edge_attrs(source, "KeepLooping", "HandOverToNextExecution")[0]
    assert "count >= 5" in edge_attrs(source, "TooManyFailedIterations", "LoopFailing")[0]
    assert "otherwise" in edge_attrs(source, "RouteDecision", "ShardDone")[0]
    catch = edge_attrs(source, "ReadSignals", "ShardFailed")[0]
    assert "dashed" in catch
    assert "States.ALL" in catch
    # The Map's iteration is drawn in a box of its own, entered from the Map and leading back to it.
    assert "subgraph cluster_ScaleEveryShard" in source
    assert "each item" in edge_attrs(source, "ScaleEveryShard", "ReadSignals")[0]
    assert "item done" in edge_attrs(source, "ShardDone", "ScaleEveryShard")[0]
    push = build_graph(definition("push-fast-path")).source
    assert any("PushRejectedError" in attrs for attrs in edge_attrs(push, "RecordPushHold", "SendToDeadLetterQueue"))


def test_rule_text_reads_compound_rules() -> None:
    assert rule_text({"Variable": "$.a.b", "NumericLessThan": 3, "Next": "X"}) == "b < 3"
    assert rule_text({"Variable": "$.x", "IsPresent": False, "Next": "X"}) == "x is absent"
    assert rule_text({"Variable": "$.x", "StringEqualsPath": "$.y", "Next": "X"}) == "x == y"
    assert rule_text({"Not": {"Variable": "$.ok", "BooleanEquals": True}, "Next": "X"}) == "not (ok == true)"
    either = {"Or": [{"Variable": "$.a", "StringEquals": "p"}, {"Variable": "$.a", "StringEquals": "q"}]}
    assert rule_text({**either, "Next": "X"}) == "a == p or a == q"


def test_svg_output_by_suffix(tmp_path: Path) -> None:
    out = render_graph(definition("push-fast-path"), None, tmp_path / "push.svg", None)
    assert "<svg" in out.read_text()


# ---------------------------------------------------------------------------------- with a history
def test_a_failed_execution_ends_red_and_its_catch_edge_is_the_one_taken() -> None:
    history = synthetic_history(PUSH_FAILED, "Failed")
    source = build_graph(definition("push-fast-path"), history).source

    final = node_attrs(source, "LeaveItToTheLoop")
    assert "#cf222e" in final, "failure is red"
    assert "filled" in final
    assert visits(final) == 1
    assert visits(node_attrs(source, "ScaleOutForPush")) == 0
    assert "filled" not in node_attrs(source, "ScaleOutForPush")
    assert [is_bold(attrs) for attrs in edge_attrs(source, "DecideCapacity", "ThisShardNotApplied")] == [True]
    assert [is_bold(attrs) for attrs in edge_attrs(source, "CanTheLoopApplyIt", "LeaveItToTheLoop")] == [True]
    assert not is_bold(edge_attrs(source, "CanTheLoopApplyIt", "KeepSizedPushForRedrive")[0])
    assert not is_bold(edge_attrs(source, "DecideCapacity", "ScaleOutForPush")[0])
    assert is_bold(edge_attrs(source, "IsNewPush", "ScaleOutAndRecordTheOtherShards")[0])
    # The Parallel's branches are drawn in a box of their own, entered from the Parallel and leading back to it.
    assert "subgraph cluster_ScaleOutAndRecordTheOtherShards" in source
    assert is_bold(edge_attrs(source, "ScaleOutAndRecordTheOtherShards", "IsThisShardNew")[0])
    assert is_bold(edge_attrs(source, "ThisShardNotApplied", "ScaleOutAndRecordTheOtherShards")[0])
    assert is_bold(edge_attrs(source, "NoOtherShards", "ScaleOutAndRecordTheOtherShards")[0])
    assert "branch done" in edge_attrs(source, "ThisShardNotApplied", "ScaleOutAndRecordTheOtherShards")[0]
    assert "execution failed" in source, "the legend names the outcome"


def test_history_option_renders_a_saved_history(tmp_path: Path) -> None:
    saved = dump_history(synthetic_history(PUSH_FAILED, "Failed"), tmp_path / "history.json")
    bare = tmp_path / "events.json"
    bare.write_text(json.dumps(load_history(saved)))
    for history in (saved, bare):
        out = tmp_path / f"{history.stem}.png"
        args = ["graph", "--history", str(history), "--state-machine", "push-fast-path", "--out", str(out)]
        result = CliRunner().invoke(cli(), args)
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--history", "{tmp}/missing.json"], "history file not found"),
        (["--state-machine", "nope"], "unknown state machine 'nope'"),
        (["--state-machine", "{tmp}/missing.asl.json"], "state machine file not found"),
        (["--history", "{tmp}/bad.json"], "cannot read history file"),
        (["--history", "{tmp}/push.json"], "check --state-machine"),
        (["--history", "{tmp}/push.json", "--execution", "arn:aws:states:x"], "not both"),
        (["--out", "{tmp}/graph.jpg"], "must end in .png or .svg"),
    ],
)
def test_bad_input_exits_2_with_a_one_line_message(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    dump_history(synthetic_history(PUSH_FAILED, "Failed"), tmp_path / "push.json")
    argv = ["graph", "--out", str(tmp_path / "graph.png"), *[arg.format(tmp=tmp_path) for arg in args]]

    result = CliRunner().invoke(cli(), argv)

    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "graph.png").exists()


# ------------------------------------------------------------------------- a real scaler execution


def spike(minute: Any) -> float:
    """100 rps, then 1,000 rps from 11:00 (visible at 11:01:30): the 11:01 execution scales out."""
    return 1000.0 if START <= minute < START + timedelta(minutes=5) else 100.0


def scale_out_execution(aws: LocalAws) -> str:
    """Run the scaler for ~2 simulated minutes: one execution from 11:01:00 that sees the spike at 11:01:30.
    The scaler is EXPRESS (the template's default): its events go to its log group, where --execution reads them."""
    stack = deploy(aws, ecs_target(), express_logs=True)
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    loop = Loop(aws, stack, spike)
    loop.start(schedule=False)
    aws.run_until(START + timedelta(minutes=1))
    loop.start_execution()
    assert aws.wait_for(loop.executions[0], timeout_sim_seconds=120)["status"] == "SUCCEEDED"
    assert world.ecs_desired(aws, "prod", "api") == 20, "the execution scaled out"
    return loop.executions[0]


@pytest.mark.statemachine
def test_a_real_scaler_history_marks_exactly_the_path_taken(aws: LocalAws, tmp_path: Path) -> None:
    arn = scale_out_execution(aws)
    history = aws.history(arn)
    asl = definition("scaler")
    source = build_graph(asl, history).source

    visited = {"ClaimLoop", "IsThisTheOnlyLoop", "ScaleEveryShard", "ReadSignals", "DecideCapacity"}
    visited |= {"RouteDecision", "ScaleOutNow", "ShardDone", "WaitInterval", "CheckLease", "KeepLooping"}
    visited |= {"HandOverToNextExecution"}
    states = drawn_states(asl)
    marked = {state for state in states if "filled" in node_attrs(source, state)}
    assert marked == visited
    assert {state for state in states if visits(node_attrs(source, state))} == visited
    assert visits(node_attrs(source, "ScaleOutNow")) == 1
    assert visits(node_attrs(source, "ReadSignals")) == visits(node_attrs(source, "ScaleEveryShard")) > 5
    assert visits(node_attrs(source, "CheckLease")) == visits(node_attrs(source, "KeepLooping")) > 5
    assert visits(node_attrs(source, "HandOverToNextExecution")) == 1
    assert "#1a7f37" in node_attrs(source, "HandOverToNextExecution"), "success is green"

    for tail, head in [
        ("ScaleEveryShard", "ReadSignals"),
        ("RouteDecision", "ScaleOutNow"),
        ("ScaleOutNow", "ShardDone"),
        ("RouteDecision", "ShardDone"),
        ("ShardDone", "ScaleEveryShard"),
        ("ScaleEveryShard", "WaitInterval"),
        ("WaitInterval", "CheckLease"),
        ("KeepLooping", "ScaleEveryShard"),
        ("KeepLooping", "HandOverToNextExecution"),
    ]:
        assert all(is_bold(attrs) for attrs in edge_attrs(source, tail, head)), f"{tail} -> {head}"
    for tail, head in [
        ("RouteDecision", "CooldownBeforeScaleIn"),
        ("ReadSignals", "ShardFailed"),
        ("CheckLease", "CountFailedIteration"),
        ("IsScaleInStillWanted", "ScaleIn"),
        ("ScaleIn", "ShardDone"),
    ]:
        assert not any(is_bold(attrs) for attrs in edge_attrs(source, tail, head)), f"{tail} -> {head}"

    # The same history through the command, as a saved file and straight from the (moto) account.
    assert fetch_history(arn, aws.client("stepfunctions")) == history
    saved = dump_history(history, tmp_path / "history.json")
    for option, value in (("--history", str(saved)), ("--execution", arn)):
        out = tmp_path / f"{option.strip('-')}.png"
        result = CliRunner().invoke(cli(), ["graph", option, value, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(PNG_MAGIC)

    if os.environ.get("SURGE_WRITE_DOCS_GRAPH") == "1":
        write_docs_graph(asl, history)


def write_docs_graph(asl: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """docs/graph-scaler.png for the README, shrunk to a palette PNG so it stays well under 300 KB."""
    from PIL import Image

    title = "Surge scaler: one execution through a traffic spike (scale-out, then steady until the budget is spent)"
    render_graph(asl, history, DOCS_GRAPH, title)
    with Image.open(DOCS_GRAPH) as image:
        image.convert("RGB").quantize(colors=64).save(DOCS_GRAPH, optimize=True)
    assert DOCS_GRAPH.stat().st_size < 300_000


# ----------------------------------------------------------------- an EXPRESS execution, from its log group
def two_express_executions(aws: LocalAws) -> tuple[Any, list[str]]:
    """The EXPRESS scaler (the template's default) run twice, each execution's events put into its log group as
    Step Functions delivers them: 11:01 scales out on the spike, 11:02 stays steady."""
    stack = deploy(aws, ecs_target(), express_logs=True)
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    loop = Loop(aws, stack, spike)
    loop.start(schedule=False)
    for minute in (1, 2):
        aws.run_until(START + timedelta(minutes=minute))
        loop.start_execution()
        assert aws.wait_for(loop.executions[-1], timeout_sim_seconds=120)["status"] == "SUCCEEDED"
    return stack, loop.executions


@pytest.mark.statemachine
def test_an_express_execution_is_drawn_from_its_log_group(aws: LocalAws, tmp_path: Path) -> None:
    stack, (first, second) = two_express_executions(aws)
    sfn = aws.client("stepfunctions")
    assert sfn.describe_state_machine(stateMachineArn=stack.scaler_arn)["type"] == "EXPRESS"
    records = [
        json.loads(e["message"])
        for page in aws.client("logs")
        .get_paginator("filter_log_events")
        .paginate(logGroupName=stack.log_groups["ScalerStateMachine"])
        for e in page["events"]
    ]
    assert {r["execution_arn"] for r in records} == {first, second}, "both executions share the group"
    assert set(records[0]) == {
        "id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn", "redrive_count"
    }  # fmt: skip

    definition_, name, history = fetch_execution(first, sfn, aws.client("logs"))
    assert name == "surge-ScalerStateMachine"
    asl = definition("scaler")
    from_logs = build_graph(definition_, history).source
    from_history = build_graph(asl, aws.history(first)).source
    assert from_logs == from_history, "the same path as Step Functions' own history of that execution"
    assert visits(node_attrs(from_logs, "ScaleOutNow")) == 1, "the first execution, not the second (steady)"

    out = tmp_path / "express.png"
    result = CliRunner().invoke(cli(), ["graph", "--execution", first, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(PNG_MAGIC)


@pytest.mark.statemachine
def test_an_express_execution_not_in_its_log_group_is_one_line_exit_1(aws: LocalAws, tmp_path: Path) -> None:
    stack = deploy(aws, ecs_target())  # no log delivery: the group stays empty
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    execution = aws.start_execution(stack.scaler_arn, {"budget_seconds": 5})
    aws.wait_for(execution, timeout_sim_seconds=60)
    group = stack.log_groups["ScalerStateMachine"]

    def graph(arn: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli(), ["graph", "--execution", arn, "--out", str(tmp_path / "g.png")])
        (line,) = result.stderr.splitlines()
        return result.exit_code, line

    code, line = graph(execution)
    assert (code, f"no logs in {group} yet" in line) == (1, True), line
    aws.client("logs").create_log_stream(logGroupName=group, logStreamName="another-execution")
    code, line = graph(execution)
    assert (code, f"not found in {group} (its retention, since 2025-12-22T11:00:05Z)" in line) == (1, True), line
    code, line = graph("arn:aws:states:us-east-1:123456789012:stateMachine:x")
    assert (code, "is not an execution ARN" in line) == (2, True), line
    assert not (tmp_path / "g.png").exists()


@pytest.mark.parametrize(("level", "message"), [("ERROR", "logs at level ERROR"), (None, "logs nothing")])
def test_an_express_machine_that_does_not_log_every_state_is_one_line_exit_1(
    aws: LocalAws, tmp_path: Path, level: str | None, message: str
) -> None:
    group = "/aws/vendedlogs/states/quiet"
    aws.client("logs").create_log_group(logGroupName=group)
    logging = None
    if level is not None:
        arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"
        destination = {"cloudWatchLogsLogGroup": {"logGroupArn": arn}}
        logging = {"level": level, "includeExecutionData": False, "destinations": [destination]}
    pass_only = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    machine = aws.create_state_machine("quiet", pass_only, type_="EXPRESS", logging=logging)
    execution = aws.start_execution(machine)
    aws.wait_for(execution)

    result = CliRunner().invoke(cli(), ["graph", "--execution", execution, "--out", str(tmp_path / "g.png")])

    assert result.exit_code == 1, result.output
    (line,) = result.stderr.splitlines()
    assert message in line, line
    assert "set Logging Level ALL" in line, line


@pytest.mark.statemachine
def test_a_standard_execution_is_drawn_from_get_execution_history(aws: LocalAws, tmp_path: Path) -> None:
    stack = deploy(aws, ecs_target(), parameters={"StateMachineType": "STANDARD"})  # nothing in the log group
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    execution = aws.start_execution(stack.scaler_arn, {"budget_seconds": 5})
    assert aws.wait_for(execution, timeout_sim_seconds=60)["status"] == "SUCCEEDED"

    out = tmp_path / "standard.png"
    result = CliRunner().invoke(cli(), ["graph", "--execution", execution, "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(PNG_MAGIC)
