"""`surge graph`: draw a state machine from its ASL and mark the path one execution took.

The drawing is made by Graphviz's `dot` (Debian package `graphviz`) through the `graphviz` Python library.
States are shaped by type (Task box, Choice diamond, Wait hexagon, Pass parallelogram, Succeed double
ellipse, Fail octagon); Choice edges carry a short text of their rule, Catch edges are dashed and carry the
error names. A Map's iteration (the scaler's shard of targets) is drawn inside a dashed box under the Map, and a
Parallel's branches (the push path's first shard and the other shards) inside one under the Parallel.
Given an execution history (``get_execution_history`` events, local or real), visited states are
filled and show their visit count, the transitions taken (consecutive state entries) are thick and coloured,
the final state is green (succeeded) or red (failed), and a legend explains the marks.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import graphviz  # type: ignore[import-untyped]
import typer

from surge_cli.deployed import AWS_EXIT_CODE, one_line_aws_errors
from surge_cli.execution_logs import (
    ExecutionLogsError,
    describe_logging,
    execution_records,
    history_from_records,
    require_level,
    state_machine_arn_of,
)

INVALID_INPUT_EXIT_CODE = 2
MISSING_TOOL_EXIT_CODE = 1
STATE_MACHINES_DIR = Path(__file__).resolve().parents[2] / "statemachines"
STATE_MACHINE_FILES = {
    "scaler": STATE_MACHINES_DIR / "scaler.asl.json",
    "push-fast-path": STATE_MACHINES_DIR / "push_fast_path.asl.json",
}
OUTPUT_FORMATS = {".png": "png", ".svg": "svg"}
START_NODE = "__start__"
END_NODE = "__end__"
LEGEND_NODE = "__legend__"

# Colours: a visited state is blue, the final state green (succeeded) / red (failed) / amber (still running).
VISITED_FILL = "#cfe3ff"
VISITED_LINE = "#1f4e9c"
TAKEN_EDGE = "#1f6feb"
UNVISITED_LINE = "#9aa0a6"
UNVISITED_TEXT = "#6e7781"
UNTAKEN_EDGE = "#b8bec6"
UNKNOWN_EDGE = "#8250df"
OUTCOME_STYLES = {
    "SUCCEEDED": ("#c9f2cf", "#1a7f37"),
    "FAILED": ("#ffd2d0", "#cf222e"),
    "RUNNING": ("#fff1c2", "#bf8700"),
}

SHAPES: dict[str, dict[str, str]] = {
    "Task": {"shape": "box", "style": "rounded"},
    "Choice": {"shape": "diamond"},
    "Wait": {"shape": "hexagon"},
    "Pass": {"shape": "parallelogram"},
    "Succeed": {"shape": "ellipse", "peripheries": "2"},
    "Fail": {"shape": "octagon", "peripheries": "2"},
    "Parallel": {"shape": "box3d"},
    "Map": {"shape": "box3d"},
}

# Choice operators -> short text; type checks (IsString, IsPresent...) are dropped when a comparison on the
# same variable follows them in an And, so `stop_reason is present and ... == budget_spent` reads `== budget_spent`.
COMPARISONS = {  # longest suffix first: NumericGreaterThanEquals is >=, not ==
    "GreaterThanEquals": ">=",
    "LessThanEquals": "<=",
    "GreaterThan": ">",
    "LessThan": "<",
    "Equals": "==",
    "Matches": "matches",
}
TYPE_TESTS = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")


class GraphInputError(Exception):
    """A history file, state machine name or output path the command cannot use (exit code 2)."""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # "next", "choice", "default", "catch", "start", "end", "iterate" (a Map into its iteration),
    # or "history" (taken but not in the ASL)
    label: str = ""


@dataclass
class ExecutionPath:
    """What an execution did: state entries in order, and how it ended."""

    entries: list[str] = field(default_factory=list)
    taken: Counter[tuple[str, str]] = field(default_factory=Counter)
    caught: set[tuple[str, str]] = field(default_factory=set)
    status: str = "RUNNING"

    @property
    def visits(self) -> Counter[str]:
        return Counter(self.entries)

    @property
    def final_state(self) -> str | None:
        return self.entries[-1] if self.entries else None


# ---------------------------------------------------------------------------------------------- ASL -> edges
def state_edges(definition: Mapping[str, Any]) -> list[Edge]:
    """Every transition the ASL allows, plus the start edge and the end edges (a Map's iteration or a Parallel's
    branch: from the Map or Parallel into its first state, and from its last states back to it)."""
    edges = [Edge(START_NODE, str(definition["StartAt"]), "start")]
    states = drawn_states(definition)
    for name, (state, scope) in states.items():
        scope_type = states[scope][0].get("Type") if scope is not None else None
        edges.extend(_edges_of(name, state, scope, "branch done" if scope_type == "Parallel" else "item done"))
        for program in _inner_programs(state):
            label = "branch" if state.get("Type") == "Parallel" else "each item"
            edges.append(Edge(name, str(program["StartAt"]), "iterate", label))
    return edges


def drawn_states(definition: Mapping[str, Any]) -> dict[str, tuple[Mapping[str, Any], str | None]]:
    """Every state drawn, with the Map or Parallel whose iteration or branch it belongs to (None: a top-level
    state)."""
    found: dict[str, tuple[Mapping[str, Any], str | None]] = {}

    def visit(states: Mapping[str, Any], scope: str | None) -> None:
        for name, state in states.items():
            found[name] = (state, scope)
            for program in _inner_programs(state):
                visit(program.get("States", {}), name)

    visit(definition["States"], None)
    return found


def _inner_programs(state: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A Map's iteration, or a Parallel's branches."""
    if state.get("Type") == "Map":
        programs = [state.get("ItemProcessor") or state.get("Iterator")]
    elif state.get("Type") == "Parallel":
        programs = list(state.get("Branches", []))
    else:
        return []
    return [p for p in programs if isinstance(p, Mapping) and "StartAt" in p]


def _edges_of(
    name: str, state: Mapping[str, Any], scope: str | None = None, end_label: str = "item done"
) -> list[Edge]:
    edges: list[Edge] = []
    if "Next" in state:
        edges.append(Edge(name, state["Next"], "next"))
    if state.get("End"):
        edges.append(Edge(name, END_NODE, "end") if scope is None else Edge(name, scope, "end", end_label))
    for rule in state.get("Choices", []):
        edges.append(Edge(name, rule["Next"], "choice", rule_text(rule)))
    if "Default" in state:
        edges.append(Edge(name, state["Default"], "default", "otherwise"))
    for catcher in state.get("Catch", []):
        edges.append(Edge(name, catcher["Next"], "catch", ", ".join(catcher.get("ErrorEquals", []))))
    return edges


def rule_text(rule: Mapping[str, Any]) -> str:
    """A short, readable text of a Choice rule, e.g. ``route == scale_out``."""
    if "And" in rule:
        return " and ".join(rule_text(part) for part in _without_redundant_type_tests(rule["And"]))
    if "Or" in rule:
        return " or ".join(rule_text(part) for part in rule["Or"])
    if "Not" in rule:
        return f"not ({rule_text(rule['Not'])})"
    variable = _short_path(str(rule.get("Variable", "$")))
    for key, value in rule.items():
        if key in ("Variable", "Next"):
            continue
        return f"{variable} {_operator_text(key, value)}"
    return variable


def _without_redundant_type_tests(parts: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    compared = {part.get("Variable") for part in parts if not _is_type_test(part)}
    kept = [part for part in parts if not (_is_type_test(part) and part.get("Variable") in compared)]
    return kept or list(parts)


def _is_type_test(rule: Mapping[str, Any]) -> bool:
    return "Variable" in rule and any(key in rule for key in TYPE_TESTS)


def _operator_text(operator: str, value: Any) -> str:
    if operator in TYPE_TESTS:
        word = operator.removeprefix("Is").lower()
        if operator == "IsPresent":
            return "is present" if value else "is absent"
        return f"is {word}" if value else f"is not {word}"
    is_path = operator.endswith("Path")
    base = operator.removesuffix("Path")
    for suffix, symbol in COMPARISONS.items():
        if base.endswith(suffix):
            shown = _short_path(str(value)) if is_path else _value_text(value)
            return f"{symbol} {shown}"
    return f"{operator} {_value_text(value)}"


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _short_path(path: str) -> str:
    """``$.plan.route`` -> ``route``; ``$$.Execution.Id`` -> ``Id``; ``$`` stays ``$``."""
    tail = path.rstrip("]").split(".")[-1]
    return tail or path


# --------------------------------------------------------------------------------------- history -> path
def execution_path(definition: Mapping[str, Any], history: Iterable[Mapping[str, Any]]) -> ExecutionPath:
    """The states an execution entered (top-level ones and those of a Map's iterations), the transitions between
    them and its outcome. A Map's iterations run side by side and their events interleave: each entry's
    transition comes from the latest earlier entry that the ASL lets lead to it."""
    states = drawn_states(definition)
    allowed = {(edge.source, edge.target) for edge in state_edges(definition)}
    events = sorted(history, key=lambda event: int(event.get("id", 0)))
    path = ExecutionPath()
    failed_since_entry = False
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            name = str(event.get("stateEnteredEventDetails", {}).get("name", ""))
            if name not in states:
                continue
            _record_entry(path, name, failed_since_entry, allowed)
            failed_since_entry = False
        elif kind.endswith(("Failed", "TimedOut")) and not kind.startswith(("Execution", "MapIteration", "MapState")):
            failed_since_entry = True
        path.status = _status_after(kind, path.status)
    return path


_LOOK_BACK = 400
"""Entries searched for a state's predecessor (a Map's iterations interleave at most this deep)."""


def _record_entry(path: ExecutionPath, name: str, after_failure: bool, allowed: set[tuple[str, str]]) -> None:
    if path.entries:
        earlier = path.entries[-1 : -_LOOK_BACK - 1 : -1]
        source = next((entry for entry in earlier if (entry, name) in allowed), path.entries[-1])
        step = (source, name)
        path.taken[step] += 1
        if after_failure:
            path.caught.add(step)
    path.entries.append(name)


def execution_status(history: Iterable[Mapping[str, Any]]) -> str:
    """SUCCEEDED, FAILED (failed, timed out or aborted) or RUNNING."""
    status = "RUNNING"
    for event in sorted(history, key=lambda event: int(event.get("id", 0))):
        status = _status_after(str(event.get("type", "")), status)
    return status


def _status_after(event_type: str, status: str) -> str:
    if event_type == "ExecutionSucceeded":
        return "SUCCEEDED"
    if event_type in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
        return "FAILED"
    return status


def _taken_edges(edges: list[Edge], path: ExecutionPath, definition: Mapping[str, Any]) -> tuple[set[Edge], list[Edge]]:
    """The ASL edges the path took, and the transitions it took that the ASL does not have."""
    taken: set[Edge] = set()
    unknown: list[Edge] = []
    for source, target in sorted(path.taken):
        candidates = [edge for edge in edges if (edge.source, edge.target) == (source, target)]
        wanted_catch = (source, target) in path.caught
        preferred = [edge for edge in candidates if (edge.kind == "catch") == wanted_catch] or candidates
        if preferred:
            taken.update(preferred)
        else:
            unknown.append(Edge(source, target, "history", "not in this definition"))
    if path.entries:
        taken.add(Edge(START_NODE, path.entries[0], "start"))
        final = definition["States"].get(path.entries[-1], {})
        for edge in edges:
            if edge.kind == "end" and edge.target != END_NODE and path.visits[edge.source]:
                taken.add(edge)  # an iteration's last state, back to its Map
        if final.get("End") and path.status == "SUCCEEDED":
            taken.add(Edge(path.entries[-1], END_NODE, "end"))
    return taken, unknown


# ------------------------------------------------------------------------------------------- drawing
def build_graph(
    definition: Mapping[str, Any], history: Iterable[Mapping[str, Any]] | None = None, title: str | None = None
) -> graphviz.Digraph:
    """The Graphviz graph of a state machine; with a history, the execution's path marked on it."""
    if not isinstance(definition.get("States"), Mapping) or "StartAt" not in definition:
        raise GraphInputError("not an ASL definition: it needs StartAt and States")
    edges = state_edges(definition)
    path = execution_path(definition, history) if history is not None else None
    taken, unknown = _taken_edges(edges, path, definition) if path is not None else (set(), [])
    graph = _new_graph(title)
    _add_terminals(graph, edges, path)
    states = drawn_states(definition)
    for name, (state, scope) in states.items():
        if scope is None:
            graph.node(name, **_node_attrs(name, state, path))
    for scope in dict.fromkeys(scope for _, scope in states.values() if scope is not None):
        with graph.subgraph(name=f"cluster_{scope}") as box:
            parallel = states[scope][0].get("Type") == "Parallel"
            kind = "its branches side by side" if parallel else "one iteration per item"
            box.attr(label=f"{scope}: {kind}", style="dashed,rounded", color="#8c959f",
                     fontsize="10", labeljust="l")  # fmt: skip
            for name, (state, inner_scope) in states.items():
                if inner_scope == scope:
                    box.node(name, **_node_attrs(name, state, path))
    for edge in edges + unknown:
        times = path.taken[(edge.source, edge.target)] if path is not None else 0
        graph.edge(edge.source, edge.target, **_edge_attrs(edge, edge in taken or edge.kind == "history", times, path))
    graph.node(LEGEND_NODE, label=_legend(path), shape="plaintext", margin="0")
    return graph


def _new_graph(title: str | None) -> graphviz.Digraph:
    graph = graphviz.Digraph("state_machine")
    graph.attr(rankdir="TB", nodesep="0.35", ranksep="0.45", fontname="DejaVu Sans", dpi="96", newrank="true")
    if title:
        graph.attr(label=title, labelloc="t", fontsize="18")
    graph.attr("node", fontname="DejaVu Sans", fontsize="11", margin="0.12,0.06")
    graph.attr("edge", fontname="DejaVu Sans", fontsize="9", arrowsize="0.7")
    return graph


def _add_terminals(graph: graphviz.Digraph, edges: list[Edge], path: ExecutionPath | None) -> None:
    started = path is not None and bool(path.entries)
    colour = TAKEN_EDGE if started or path is None else UNVISITED_LINE
    graph.node(START_NODE, label="start", shape="circle", style="filled", fillcolor=colour, fontcolor="white",
               color=colour, width="0.5", fixedsize="true", fontsize="9")  # fmt: skip
    if any(edge.kind == "end" for edge in edges):
        graph.node(END_NODE, label="end", shape="doublecircle", width="0.45", fixedsize="true", fontsize="9")


def _node_attrs(name: str, state: Mapping[str, Any], path: ExecutionPath | None) -> dict[str, str]:
    state_type = str(state.get("Type", "Task"))
    attrs = {**SHAPES.get(state_type, {"shape": "box"})}
    visits = path.visits[name] if path is not None else 0
    attrs["label"] = _node_label(name, state_type, visits, path is not None)
    if path is None:
        return attrs
    styles = [attrs["style"]] if "style" in attrs else []
    if visits == 0:
        attrs.update(color=UNVISITED_LINE, fontcolor=UNVISITED_TEXT)
        return attrs
    fill, line, width = VISITED_FILL, VISITED_LINE, "1.6"
    if name == path.final_state:
        fill, line = OUTCOME_STYLES[path.status]
        width = "3.5"
    attrs.update(style=",".join([*styles, "filled"]), fillcolor=fill, color=line, penwidth=width)
    return attrs


def _node_label(name: str, state_type: str, visits: int, with_history: bool) -> str:
    count = ""
    if with_history and visits:
        count = f'<br/><font point-size="10"><b>{visits} visit{"s" if visits != 1 else ""}</b></font>'
    return f'<<b>{_html(name)}</b><br/><font point-size="9">{state_type}</font>{count}>'


def _edge_attrs(edge: Edge, taken: bool, times: int, path: ExecutionPath | None) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if edge.label:
        attrs["label"] = f" {edge.label} "
    if edge.kind == "catch":
        attrs.update(style="dashed", fontcolor="#a40e26")
    if edge.kind == "default":
        attrs["fontcolor"] = "#57606a"
    if path is None:
        attrs["color"] = "#a40e26" if edge.kind == "catch" else "#444c56"
        return attrs
    if edge.kind == "history":
        attrs.update(color=UNKNOWN_EDGE, penwidth="3", style="dotted,bold")
    elif taken:
        attrs.update(color=TAKEN_EDGE, penwidth="3.2", style=_bold(attrs.get("style")), arrowsize="1")
        if times > 1:
            attrs.update(label=f"{attrs.get('label', '').rstrip()} ({times}x) ", fontcolor=TAKEN_EDGE)
    else:
        attrs.update(color=UNTAKEN_EDGE)
    return attrs


def _bold(style: str | None) -> str:
    return f"{style},bold" if style else "bold"


def _legend(path: ExecutionPath | None) -> str:
    rows = [_line_row("#a40e26", "- - -&#9654;", "Catch, labelled with the errors it catches")]
    if path is not None:
        fill, line = OUTCOME_STYLES[path.status]
        rows = [
            _swatch_row(VISITED_FILL, VISITED_LINE, "visited state, with its number of visits"),
            _swatch_row(fill, line, f"final state: execution {path.status.lower()}"),
            _swatch_row("white", UNVISITED_LINE, "state not visited"),
            _line_row(TAKEN_EDGE, "&#9473;&#9473;&#9654;", "transition taken (how often, when more than once)"),
            *rows,
        ]
    header = '<tr><td colspan="2"><b>Legend</b></td></tr>'
    table = '<table border="1" cellborder="0" cellspacing="3" cellpadding="2" color="#8c959f">'
    return f"<{table}{header}{''.join(rows)}</table>>"


def _swatch_row(fill: str, line: str, text: str) -> str:
    swatch = f'<td bgcolor="{fill}" border="2" color="{line}" width="26"> </td>'
    return f'<tr>{swatch}<td align="left"><font point-size="10">{text}</font></td></tr>'


def _line_row(colour: str, glyphs: str, text: str) -> str:
    sample = f'<td><font color="{colour}" point-size="11"><b>{glyphs}</b></font></td>'
    return f'<tr>{sample}<td align="left"><font point-size="10">{text}</font></td></tr>'


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_graph(
    definition: Mapping[str, Any], history: list[dict[str, Any]] | None, out: Path, title: str | None = None
) -> Path:
    """Render the state machine (with the execution's path when a history is given) to ``out`` (.png or .svg)."""
    output_format = OUTPUT_FORMATS.get(out.suffix.lower())
    if output_format is None:
        raise GraphInputError(f"--out must end in .png or .svg, not {out.name!r}")
    image = build_graph(definition, history, title).pipe(format=output_format)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(image)
    return out


# ------------------------------------------------------------------------------------------ inputs
def _read_json(path: Path, what: str) -> Any:
    """A JSON file's content; a missing or unreadable file is a GraphInputError naming it."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as error:
        raise GraphInputError(f"{what} not found: {path}") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GraphInputError(f"cannot read {what} {path}: {error}") from error


def load_history(path: Path) -> list[dict[str, Any]]:
    """History events from a JSON file: the ``get_execution_history`` response or a bare list of events."""
    document = _read_json(path, "history file")
    events = document.get("events") if isinstance(document, dict) else document
    if not isinstance(events, list) or not all(isinstance(event, dict) and "type" in event for event in events):
        raise GraphInputError(f"{path}: expected {{'events': [...]}} or a list of history events with a 'type'")
    return events


def dump_history(events: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Write events as ``{"events": [...]}``, datetimes as ISO strings (what :func:`load_history` reads)."""
    path.write_text(json.dumps({"events": list(events)}, indent=1, default=_iso))
    return path


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def fetch_history(execution_arn: str, client: Any) -> list[dict[str, Any]]:
    """All events of an execution from a real (or moto) Step Functions client, page by page."""
    paginator = client.get_paginator("get_execution_history")
    pages = paginator.paginate(executionArn=execution_arn, includeExecutionData=False)
    return [dict(event) for page in pages for event in page["events"]]


def fetch_definition(execution_arn: str, client: Any) -> tuple[dict[str, Any], str]:
    """The ASL (and name) of the state machine version an execution ran."""
    described = client.describe_state_machine_for_execution(executionArn=execution_arn)
    definition: dict[str, Any] = json.loads(described["definition"])
    return definition, str(described.get("name", ""))


def load_definition(state_machine: str) -> tuple[dict[str, Any], str]:
    """The ASL of ``scaler``, ``push-fast-path`` or a ``PATH.asl.json`` file, and a name for the title."""
    path = STATE_MACHINE_FILES.get(state_machine)
    if path is None:
        if not state_machine.endswith(".json"):
            names = ", ".join(STATE_MACHINE_FILES)
            raise GraphInputError(f"unknown state machine {state_machine!r}: use {names} or a PATH.asl.json")
        path = Path(state_machine)
    definition = _read_json(path, "state machine file")
    if not isinstance(definition, dict) or "States" not in definition or "StartAt" not in definition:
        raise GraphInputError(f"{path}: not an ASL definition (no StartAt/States)")
    return definition, path.name.removesuffix(".json").removesuffix(".asl")


def check_history_matches(definition: Mapping[str, Any], history: Sequence[Mapping[str, Any]], name: str) -> None:
    """Refuse a history that entered states this definition does not have (the wrong --state-machine)."""
    entered = {
        str(event.get("stateEnteredEventDetails", {}).get("name"))
        for event in history
        if str(event.get("type", "")).endswith("StateEntered")
    }
    unknown = sorted(entered - _all_state_names(definition))
    if unknown:
        shown = ", ".join(unknown[:3]) + (", ..." if len(unknown) > 3 else "")
        raise GraphInputError(f"the history entered states that {name} does not have ({shown}): check --state-machine")


def _all_state_names(definition: Mapping[str, Any]) -> set[str]:
    """Top-level states and those nested in Parallel branches and Map iterators."""
    names: set[str] = set()
    for name, state in definition.get("States", {}).items():
        names.add(name)
        nested = [*state.get("Branches", []), state.get("Iterator"), state.get("ItemProcessor")]
        for inner in filter(None, nested):
            names |= _all_state_names(inner)
    return names


def _stepfunctions_client() -> Any:
    import boto3

    return boto3.client("stepfunctions")


def _logs_client() -> Any:
    import boto3

    return boto3.client("logs")


def fetch_execution(
    execution_arn: str, stepfunctions: Any, logs: Any
) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """The definition, name and history of an execution: STANDARD from GetExecutionHistory; EXPRESS (the ARN's
    ``:express:`` form, or DescribeStateMachine's type), which Step Functions keeps no history of, rebuilt from
    the state machine's log group (``surge_cli.execution_logs``)."""
    try:
        machine_arn = state_machine_arn_of(execution_arn)
    except ValueError as error:
        raise GraphInputError(str(error)) from None
    machine = describe_logging(machine_arn, stepfunctions)
    if ":express:" not in execution_arn and machine.machine_type != "EXPRESS":
        definition, name = fetch_definition(execution_arn, stepfunctions)
        return definition, name, fetch_history(execution_arn, stepfunctions)
    require_level(machine, "ALL", "graph --execution of an EXPRESS execution")
    records = execution_records(logs, machine, execution_arn, datetime.now(UTC))
    return machine.definition, machine.name, history_from_records(records)


# ------------------------------------------------------------------------------------------ command
def graph_command(
    out: Annotated[Path, typer.Option("--out", help="image to write: FILE.png or FILE.svg")],
    execution: Annotated[
        str | None,
        typer.Option(
            "--execution",
            metavar="ARN",
            help="mark this execution's path (real account; EXPRESS executions from the state machine's log group)",
        ),
    ] = None,
    history_file: Annotated[
        Path | None, typer.Option("--history", metavar="FILE.json", help="mark the path of a saved history")
    ] = None,
    state_machine: Annotated[
        str,
        typer.Option(metavar="scaler|push-fast-path|PATH.asl.json", help="the ASL to draw (ignored with --execution)"),
    ] = "scaler",
    title: Annotated[str | None, typer.Option(help="title above the graph")] = None,
) -> None:
    """Draw a state machine, marking the path one execution took (from --execution or --history)."""
    try:
        with one_line_aws_errors():
            definition, name, history = _inputs(execution, history_file, state_machine)
        written = render_graph(definition, history, out, title or _default_title(name, execution, history))
    except GraphInputError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(INVALID_INPUT_EXIT_CODE) from error
    except ExecutionLogsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(AWS_EXIT_CODE) from error
    except graphviz.ExecutableNotFound as error:
        typer.echo("error: Graphviz's `dot` is not installed (apt-get install -y graphviz)", err=True)
        raise typer.Exit(MISSING_TOOL_EXIT_CODE) from error
    typer.echo(str(written))


def _inputs(
    execution: str | None, history_file: Path | None, state_machine: str
) -> tuple[dict[str, Any], str, list[dict[str, Any]] | None]:
    if execution is not None and history_file is not None:
        raise GraphInputError("give --execution or --history, not both")
    if execution is not None:
        return fetch_execution(execution, _stepfunctions_client(), _logs_client())
    definition, name = load_definition(state_machine)
    history = load_history(history_file) if history_file is not None else None
    if history is not None:
        check_history_matches(definition, history, name)
    return definition, name, history


def _default_title(name: str, execution: str | None, history: list[dict[str, Any]] | None) -> str:
    if history is None:
        return name
    status = execution_status(history).lower()
    which = execution.rsplit(":", 1)[-1] if execution else "saved history"
    return f"{name}: {which} ({status})"
