"""`surge sandbox`: Surge's stack on a local moto server process, a stand-in service and live traffic, until Ctrl-C.

    surge sandbox [--scenario S.json] [--stack NAME] [--port N]

Every operator command then works against it unchanged, once the printed `export` line is pasted into a shell
(boto3 sends every call to `AWS_ENDPOINT_URL`). See :mod:`surge_cli.sandbox.driver` for what runs.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, NoReturn

import typer

from surge.core.config import TargetKind
from surge_cli.replay.scenario import ScenarioError
from surge_cli.sandbox.driver import Sandbox, SandboxError, load_sandbox_scenario

INVALID_INPUT_EXIT_CODE = 2
FAILURE_EXIT_CODE = 1


def _fail(line: str, code: int) -> NoReturn:
    typer.echo(f"error: {line}", err=True)
    raise typer.Exit(code)


def sandbox_command(
    scenario: Annotated[
        Path | None, typer.Option(help="traffic to feed the stand-in service (default: a quiet bundled one)")
    ] = None,
    stack: Annotated[str, typer.Option(help="the stack's name, as `--stack` of every other command")] = "surge",
    port: Annotated[int, typer.Option(help="port of the moto server on 127.0.0.1 (0: any free port)")] = 0,
    log_dir: Annotated[
        Path | None, typer.Option(help="where the server's log (our handlers' logs too) goes (default: a temp dir)")
    ] = None,
) -> None:
    """Run Surge locally: a moto server process with the stack deployed, a stand-in service, traffic, the loop."""
    if not 0 <= port <= 65_535:
        _fail(f"--port: {port} is outside 0..65535", INVALID_INPUT_EXIT_CODE)
    try:
        loaded = load_sandbox_scenario(scenario)
    except ScenarioError as error:
        _fail(f"--scenario: {error}", INVALID_INPUT_EXIT_CODE)
    sandbox = Sandbox(loaded, stack_name=stack, port=port, log_dir=log_dir, out=sys.stdout)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        sandbox.request_stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            sandbox.start()
        except SandboxError as error:
            _fail(str(error), FAILURE_EXIT_CODE)
        _describe(sandbox)
        sandbox.wait()
    finally:
        sandbox.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
    if sandbox.errors and not sandbox.stopped_on_request:
        _fail(sandbox.errors[-1], FAILURE_EXIT_CODE)
    typer.echo("sandbox stopped: the moto server process and the driver thread are gone")


def _describe(sandbox: Sandbox) -> None:
    target = sandbox.target
    assert target is not None
    assert sandbox.process is not None
    if target.kind is TargetKind.ECS:
        assert target.ecs is not None
        stand_in = f"ECS service {target.ecs.service} in cluster {target.ecs.cluster}"
    else:
        assert target.asg is not None
        stand_in = f"Auto Scaling group {target.asg.group_name}"
    scenario = sandbox.scenario.scenario
    exports = " ".join(f"{key}={value}" for key, value in sandbox.environment().items())
    typer.echo(
        f"Surge sandbox: stack {sandbox.stack_name} on a moto server at {sandbox.endpoint_url} "
        f"(pid {sandbox.process.pid}; log {sandbox.server_log})\n"
        f"stand-in: {stand_in}, target {target.id}, {target.scaling.initial_units} units; "
        f"traffic: scenario {scenario.name}\n"
        "In another shell:\n"
        f"  export {exports}\n"
        f"  surge status --stack {sandbox.stack_name}\n"
        f"  surge push --stack {sandbox.stack_name} --target {target.id} --audience 50000 --id first-push --wait\n"
        "Ctrl-C stops the sandbox.",
    )
