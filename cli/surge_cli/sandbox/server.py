"""The sandbox's AWS: moto's own server in a process of its own, running our handlers when Lambda is invoked.

    python -m surge_cli.sandbox.server --port 0 --ready-file PATH

Listens on 127.0.0.1 (``--port 0``: a free port, written to ``--ready-file`` once the server accepts connections).
Inside this process, moto's Step Functions executes state machines (its ASL interpreter, as in the harness) on REAL
time, and Lambda's Invoke runs the function's Python handler in-process (the harness's Lambda seam, without its
simulated clock): moto's Lambda would need Docker. The handlers' boto3 clients, and the Step Functions
interpreter's own, call this same server (``AWS_ENDPOINT_URL`` and ``MOTO_PORT`` set here before any handler
runs). SIGTERM or SIGINT stops the server; the process then exits, and so it does once its ``--parent-pid`` is gone.

What Lambda ships to CloudWatch Logs, this process ships too: every line a handler logs (Powertools' Logger) goes
to its function's group ``/aws/lambda/<function>`` (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html),
collected by :class:`surge_cli.localaws.function_logs.FunctionLogs` (the thread -> function attribution the
harness uses, :func:`surge_cli.localaws.harness.running_lambda`) and put with PutLogEvents through a client on
this server's own endpoint by a thread of its own every second, so writing them adds nothing to a handler's
latency (Lambda too delivers them asynchronously, seconds later).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from types import FrameType
from typing import Any

from surge_cli.localaws import LambdaContext, check_seams
from surge_cli.localaws.function_logs import FunctionLogs
from surge_cli.localaws.harness import handler_error, import_handler, marshal_result, running_lambda

HOST = "127.0.0.1"
REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}
FUNCTION_LOGS_PERIOD_SECONDS = 1.0
"""How often the handlers' collected lines are put into their groups (Lambda delivers within seconds)."""


class FunctionLogShipper:
    """The handlers' log lines to their functions' groups, as Lambda ships a function's stdout.

    The collector goes on the handlers' Logger once a handler has been imported (the Logger is built at that
    import, with the function's environment already set, exactly as before); :meth:`ship` runs on its own
    thread and puts what was collected every :data:`FUNCTION_LOGS_PERIOD_SECONDS`, and once more at the end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._collector: FunctionLogs | None = None

    def attach(self) -> None:
        with self._lock:
            if self._collector is not None:
                return
            from surge.observability import logger

            handler_logger = logging.getLogger(logger.name)
            formatter = next((h.formatter for h in handler_logger.handlers if h.formatter is not None), None)
            self._collector = FunctionLogs(formatter)
            handler_logger.addHandler(self._collector)

    def flush(self, logs: Any) -> int:
        collector = self._collector
        return 0 if collector is None else collector.flush_to(logs)

    def ship(self, endpoint_url: str, stop: threading.Event) -> None:
        import boto3

        logs = boto3.client("logs", endpoint_url=endpoint_url, region_name=REGION)
        while True:
            finished = stop.wait(FUNCTION_LOGS_PERIOD_SECONDS)
            try:
                self.flush(logs)
            except Exception as error:  # best-effort, as Lambda's delivery: say it and go on
                print(f"function logs: {type(error).__name__}: {error}", flush=True)
            if finished:
                return


class InProcessLambda:
    """Lambda's Invoke, played in this process on real time: the function's handler is imported and called on
    the request's thread, with the function's environment variables (one namespace for every function, as in the
    harness: two functions may not set one variable to different values)."""

    def __init__(self, logs: FunctionLogShipper | None = None) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, str] = {}
        self._handlers: dict[str, Any] = {}
        self._logs = logs

    def _claim_environment(self, name: str, variables: dict[str, str]) -> None:
        with self._lock:
            for key, value in variables.items():
                current = os.environ.get(key)
                if current is not None and current != value:
                    owner = self._owners.get(key, "the sandbox process")
                    raise ValueError(
                        f"environment variable {key}={value!r} for Lambda {name!r} collides with {key}={current!r} "
                        f"set for {owner}: all in-process Lambda functions share one environment"
                    )
                self._owners.setdefault(key, name)
                os.environ[key] = value

    def invoke(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        """Replacement body of moto's ``LambdaFunction._invoke_lambda``: (payload, errored, logs)."""
        if isinstance(event, str | bytes):
            with contextlib.suppress(ValueError):
                event = json.loads(event)
        name = str(fn.function_name)
        request_id = str(uuid.uuid4())
        context = LambdaContext(
            function_name=name,
            invoked_function_arn=str(fn.function_arn),
            memory_limit_in_mb=int(fn.memory_size),
            aws_request_id=request_id,
            timeout_ms=int(fn.timeout) * 1000,
            log_group_name=f"/aws/lambda/{name}",
            log_stream_name=time.strftime("%Y/%m/%d/[$LATEST]") + request_id.replace("-", ""),
        )
        try:
            self._claim_environment(name, dict(fn.environment_vars))
            handler = str(fn.handler)
            with self._lock:
                func = self._handlers.get(handler)
            if func is None:
                func = import_handler(handler)
                with self._lock:
                    self._handlers[handler] = func
                if self._logs is not None:
                    self._logs.attach()
            with running_lambda(name):
                result = func(event, context)
            return marshal_result(result), False, ""
        except Exception as exc:
            _, payload = handler_error(exc)
            return payload, True, ""


def install_lambda_seam(runner: InProcessLambda) -> None:
    """moto's Lambda runs ``runner`` instead of a Docker container (the seam :func:`check_seams` verifies)."""
    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        return runner.invoke(self, event)

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]


def serve(port: int, ready_file: Path | None, parent_pid: int | None = None) -> None:
    check_seams()
    os.environ.update({"TZ": "UTC", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, **FAKE_CREDENTIALS})
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray daemon here
    time.tzset()
    from moto.core.config import default_user_config
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    default_user_config["stepfunctions"]["execute_state_machine"] = True  # what mock_aws(config=...) sets
    function_logs = FunctionLogShipper()
    install_lambda_seam(InProcessLambda(function_logs))
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    bound = server.get_host_and_port()[1]
    # Before any request can run a handler or a state machine: both call this server back.
    os.environ["AWS_ENDPOINT_URL"] = f"http://{HOST}:{bound}"
    os.environ["MOTO_PORT"] = str(bound)  # moto's Step Functions interpreter builds its clients on localhost:MOTO_PORT
    stop = threading.Event()
    shipping = threading.Event()
    shipper = threading.Thread(
        target=function_logs.ship, args=(os.environ["AWS_ENDPOINT_URL"], shipping), name="function-logs", daemon=True
    )
    shipper.start()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if ready_file is not None:
        partial = ready_file.with_suffix(".partial")
        partial.write_text(str(bound))
        partial.replace(ready_file)  # the reader never sees a half-written port
    print(f"moto server listening on {HOST}:{bound} (pid {os.getpid()})", flush=True)
    while not stop.wait(1.0):
        if parent_pid is not None and os.getppid() != parent_pid:
            break  # whoever started the sandbox is gone (even killed outright): nothing is left running
    shipping.set()  # the last lines, while the server still answers
    shipper.join(timeout=10.0)
    server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--ready-file", type=Path, default=None, help="the bound port is written here when ready")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this parent process is gone")
    args = parser.parse_args(argv)
    serve(args.port, args.ready_file, args.parent_pid)


if __name__ == "__main__":
    main()
