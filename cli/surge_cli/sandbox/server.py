"""The sandbox's AWS: moto's own server in a process of its own, running our handlers when Lambda is invoked.

    python -m surge_cli.sandbox.server --port 0 --ready-file PATH

Listens on 127.0.0.1 (``--port 0``: a free port, written to ``--ready-file`` once the server accepts connections).
Inside this process, moto's Step Functions executes state machines (its ASL interpreter, as in the harness) on REAL
time, and Lambda's Invoke runs the function's Python handler in-process (the harness's Lambda seam, without its
simulated clock): moto's Lambda would need Docker. The handlers' boto3 clients, and the Step Functions
interpreter's own, call this same server (``AWS_ENDPOINT_URL`` and ``MOTO_PORT`` set here before any handler
runs). SIGTERM or SIGINT stops the server; the process then exits, and so it does once its ``--parent-pid`` is gone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from types import FrameType
from typing import Any

from surge_cli.localaws import LambdaContext, check_seams
from surge_cli.localaws.harness import handler_error, import_handler, marshal_result

HOST = "127.0.0.1"
REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}


class InProcessLambda:
    """Lambda's Invoke, played in this process on real time: the function's handler is imported and called on
    the request's thread, with the function's environment variables (one namespace for every function, as in the
    harness: two functions may not set one variable to different values)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, str] = {}
        self._handlers: dict[str, Any] = {}

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
            return marshal_result(func(event, context)), False, ""
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
    install_lambda_seam(InProcessLambda())
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    bound = server.get_host_and_port()[1]
    # Before any request can run a handler or a state machine: both call this server back.
    os.environ["AWS_ENDPOINT_URL"] = f"http://{HOST}:{bound}"
    os.environ["MOTO_PORT"] = str(bound)  # moto's Step Functions interpreter builds its clients on localhost:MOTO_PORT
    stop = threading.Event()

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
