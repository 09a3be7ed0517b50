"""Where the wall time of a replay goes: the AWS calls the handlers make, the handlers' own code, the rest.

Usage: python bench/breakdown.py [SCENARIO.json]   (default: scenarios/noisy-flat.json, policy surge; replayed
once to warm up, then once timed)

The replay runs as `make bench` runs it (the real state machine on moto, the scenario's own latency profile),
with two timers around it, read with `time.perf_counter` on the thread that does the work (the harness runs one
flow at a time, so the timed spans of different threads do not overlap):

* every AWS API call through botocore (`BaseClient._make_api_call`: botocore's request building, signing and
  response parsing, and moto's request parsing, backend and response serialization), counted for the Lambda
  function whose handler made it (`surge_cli.localaws.harness.current_lambda`), or as made outside any handler
  (the world's set-up and metric publishing, the driver's StartExecution, Step Functions' own service calls);
  the latency model's simulated wait before each call is outside this timer;
* every handler run (`LocalAws._run_handler`: the Powertools decorators, the pydantic models, the decision core
  and the handler's AWS calls).

`rest` is the wall time minus those: moto's Step Functions interpreter running the ASL, the harness (the
simulated clock, the flows' threads, the Lambda invoke glue) and the world's simulation. The timers add two
`perf_counter` reads per call; the figure is one replay on this machine (noisy from run to run by ~10 %).
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.client

from surge_cli.localaws.harness import LocalAws, current_lambda
from surge_cli.replay.run import replay
from surge_cli.replay.scenario import LoadedScenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Split:
    """Timed spans of one replay (seconds of wall time) and the AWS calls counted in them."""

    handler_aws_seconds: float = 0.0
    handler_aws_calls: dict[str, int] = field(default_factory=dict)
    """Per "service.Operation": the calls the handlers made."""
    outside_aws_seconds: float = 0.0
    outside_aws_calls: int = 0
    handler_seconds: float = 0.0
    """Handler runs, their AWS calls included."""
    handler_runs: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_call(self, operation: str, seconds: float, in_handler: bool) -> None:
        with self._lock:
            if in_handler:
                self.handler_aws_seconds += seconds
                self.handler_aws_calls[operation] = self.handler_aws_calls.get(operation, 0) + 1
            else:
                self.outside_aws_seconds += seconds
                self.outside_aws_calls += 1

    def add_run(self, seconds: float) -> None:
        with self._lock:
            self.handler_seconds += seconds
            self.handler_runs += 1


@contextmanager
def timed(split: Split) -> Iterator[Split]:
    """Time every AWS call and every handler run into `split` for the block (installed before the harness
    patches `_make_api_call` over it, so the latency model's wait stays outside the call's timer)."""
    make_api_call: Callable[..., Any] = botocore.client.BaseClient.__dict__["_make_api_call"]
    run_handler: Callable[..., Any] = LocalAws.__dict__["_run_handler"]
    clock = time.perf_counter

    @functools.wraps(make_api_call)  # the harness's seam check reads the wrapped source and signature
    def _make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        started = clock()
        try:
            return make_api_call(self, operation_name, api_params)
        finally:
            operation = f"{self.meta.service_model.service_name}.{operation_name}"
            split.add_call(operation, clock() - started, current_lambda() is not None)

    @functools.wraps(run_handler)
    def _run_handler(self: LocalAws, *args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return run_handler(self, *args, **kwargs)
        finally:
            split.add_run(clock() - started)

    botocore.client.BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
    LocalAws._run_handler = _run_handler  # type: ignore[method-assign]
    try:
        yield split
    finally:
        botocore.client.BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
        LocalAws._run_handler = run_handler  # type: ignore[method-assign]


def breakdown(loaded: LoadedScenario, policy: str = "surge") -> dict[str, Any]:
    """Replay `loaded` under `policy` once with the timers on; the split of its wall time (seconds)."""
    with timed(Split()) as split:
        _, results = replay(loaded, [policy])
    wall = results[0]["replay_wall_seconds"]
    handler_code = split.handler_seconds - split.handler_aws_seconds
    rest = wall - split.handler_seconds - split.outside_aws_seconds
    calls = sum(split.handler_aws_calls.values())
    return {
        "scenario": loaded.scenario.name,
        "policy": policy,
        "simulated_seconds": loaded.scenario.duration_seconds,
        "wall_seconds": round(wall, 2),
        "handler_aws_seconds": round(split.handler_aws_seconds, 2),
        "handler_aws_calls": calls,
        "handler_aws_ms_per_call": round(1000 * split.handler_aws_seconds / calls, 2) if calls else 0.0,
        "handler_aws_calls_by_operation": dict(sorted(split.handler_aws_calls.items(), key=lambda kv: -kv[1])),
        "handler_code_seconds": round(handler_code, 2),
        "handler_runs": split.handler_runs,
        "outside_aws_seconds": round(split.outside_aws_seconds, 2),
        "outside_aws_calls": split.outside_aws_calls,
        "rest_seconds": round(rest, 2),
        "wall_without_aws_calls_seconds": round(wall - split.handler_aws_seconds - split.outside_aws_seconds, 2),
        "state_transitions": results[0]["state_transitions"],
    }


def print_breakdown(console: Any, row: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"Where the wall time of {row['scenario']} ({row['policy']}) goes, this machine")
    for column in ("part", "wall s", "share", "what"):
        table.add_column(column, justify="left" if column in ("part", "what") else "right")
    wall = row["wall_seconds"] or 1.0
    per_op = ", ".join(f"{op} {n}" for op, n in row["handler_aws_calls_by_operation"].items())
    parts = (
        (
            "AWS calls by handlers",
            row["handler_aws_seconds"],
            f"{row['handler_aws_calls']} calls, {row['handler_aws_ms_per_call']} ms each (boto3 + moto): {per_op}",
        ),
        ("handlers' own code", row["handler_code_seconds"], f"{row['handler_runs']} runs"),
        ("AWS calls outside handlers", row["outside_aws_seconds"], f"{row['outside_aws_calls']} calls (set-up, world)"),
        (
            "rest",
            row["rest_seconds"],
            f"moto's ASL interpreter, harness, world ({row['state_transitions']} transitions)",
        ),
    )
    for part, seconds, what in parts:
        table.add_row(part, f"{seconds:.2f}", f"{100 * seconds / wall:.0f} %", what)
    table.add_row("wall", f"{row['wall_seconds']:.2f}", "100 %", f"{row['simulated_seconds']} simulated s")
    console.print(table)
    console.print(f"with every AWS call free: {row['wall_without_aws_calls_seconds']:.2f} s", style="dim")


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    args = sys.argv[1:] if argv is None else argv
    loaded = load_scenario(Path(args[0]) if args else ROOT / "scenarios" / "noisy-flat.json")
    replay(loaded, ["surge"])  # warm: the first replay of a process also imports moto's modules and parses the ASL
    print_breakdown(Console(width=170), breakdown(loaded))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
