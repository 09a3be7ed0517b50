"""What Lambda ships to a function's log group, for the local stack (moto's Lambda runs nothing, so writes nothing).

In AWS, every line a function writes to stdout goes to its log group `/aws/lambda/<function name>` (one stream per
execution environment; https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html). Our handlers
log through Powertools' Logger, one JSON object per line. Here a `logging.Handler` on that logger keeps each line
a handler writes with the function running it (`harness.current_lambda`, thread by thread) and the simulated
instant, formatted by the Logger's own formatter; `flush` puts the lines collected so far into each function's
group with PutLogEvents. Flushing is the caller's (the local stack does it when an execution ends, off any
handler's thread, so writing the logs adds no simulated time to a handler).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from surge_cli.localaws.express_logs import batches
from surge_cli.localaws.harness import current_lambda

STREAM = "local/[$LATEST]surge"
"""One stream for every environment (AWS names one per execution environment; nothing here reads the name)."""


@dataclass(frozen=True)
class _Line:
    function_name: str
    timestamp_ms: int
    message: str


class FunctionLogs(logging.Handler):
    """Collects the lines handlers log, by function, until `flush(logs_client)` writes them."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(level=logging.NOTSET)
        if formatter is not None:
            self.setFormatter(formatter)
        self._lines: list[_Line] = []
        self._guard = threading.Lock()
        self._streams: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        function_name = current_lambda()
        if function_name is None:  # not a handler's line (the test, the driver)
            return
        line = _Line(function_name, int(record.created * 1000), self.format(record))
        with self._guard:
            self._lines.append(line)

    def flush_to(self, logs: Any) -> int:
        """Put every collected line into `/aws/lambda/<function>`, oldest first; returns how many."""
        with self._guard:
            lines, self._lines = self._lines, []
        by_function: dict[str, list[_Line]] = {}
        for line in sorted(lines, key=lambda line: line.timestamp_ms):
            by_function.setdefault(line.function_name, []).append(line)
        for function_name, own in by_function.items():
            group = f"/aws/lambda/{function_name}"
            self._ensure_stream(logs, group)
            events = [{"timestamp": line.timestamp_ms, "message": line.message} for line in own]
            for batch in batches(events):
                logs.put_log_events(logGroupName=group, logStreamName=STREAM, logEvents=batch)
        return len(lines)

    def _ensure_stream(self, logs: Any, group: str) -> None:
        if group in self._streams:
            return
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)  # the template creates it; a function outside it may not
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=group, logStreamName=STREAM)
        self._streams.add(group)
