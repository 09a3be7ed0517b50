"""Replay what AWS recorded: ALB access logs or CloudWatch `get-metric-data` output -> per-second traffic.

Pure parsing and aggregation (no typer); `surge_cli.scenario_cli` is the `surge scenario` command that writes
the scenario. Every error is a `ScenarioImportError` whose message is one line naming the file and the line,
field or datapoint.

ALB access logs follow AWS's documented entry syntax ("Access log entries", "Syntax"):
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html#access-log-entry-syntax
Fields are delimited by spaces; `request`, `user_agent`, `trace_id` and the other quoted fields are enclosed in
double quotes and may contain spaces; a field without a value is `-`; new fields are appended at the end ("You
should ignore any fields at the end of the log entry that you were not expecting"). The stdlib `csv` module
with a space delimiter splits that exactly (a `\\"` inside a quoted field is an escaped quote; an unterminated
quote is an error, not a line swallowed). A request is counted in the second of its `request_creation_time`
(when the load balancer received it), not of `time` (when the response was sent; for WebSockets, when the
connection closed). AWS logs requests "on a best-effort basis", so the counts can be slightly low.

CloudWatch: each datapoint of a get-metric-data result is a Sum of requests over the period starting at its
timestamp; it is spread evenly over that period's seconds (rps = Sum / period). Missing periods inside the range
are refused unless a named fill rule is chosen (`FILL_RULES`), and the fill is counted and reported.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast, get_args

from surge_cli.replay.scenario import MAX_DURATION_SECONDS

MAX_NAMED_BAD_LINES = 3
DEFAULT_MAX_BAD_LINES = 10
DEFAULT_MAX_BAD_FRACTION = 0.01
MAX_METRIC_PERIOD_SECONDS = 60
MAX_UNITS = 10_000

PLACEHOLDER_KIND = "ecs"
PLACEHOLDER_UNIT_CAPACITY_RPS = 100.0
PLACEHOLDER_MIN_UNITS = 1
PLACEHOLDER_STARTUP_SECONDS = 60
INITIAL_WINDOW_SECONDS = 60
MAX_UNITS_HEADROOM = 2.0

FillRule = Literal["refuse", "zero", "previous", "linear"]
FILL_RULES: tuple[str, ...] = get_args(FillRule)
FILL_RULE_MEANINGS: dict[str, str] = {
    "zero": "0 requests (ALB publishes no RequestCount datapoint for a minute without requests)",
    "previous": "the rate of the period before the gap, repeated",
    "linear": "a straight line between the rates of the periods either side of the gap",
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_SECOND = timedelta(seconds=1)
_GZIP_MAGIC = b"\x1f\x8b"
_LOG_SUFFIXES = (".log", ".log.gz")

# The documented fields, in order (same page as above). Older entries end earlier; newer ones append more.
ALB_LOG_FIELDS = (
    "type",
    "time",
    "elb",
    "client:port",
    "target:port",
    "request_processing_time",
    "target_processing_time",
    "response_processing_time",
    "elb_status_code",
    "target_status_code",
    "received_bytes",
    "sent_bytes",
    "request",
    "user_agent",
    "ssl_cipher",
    "ssl_protocol",
    "target_group_arn",
    "trace_id",
    "domain_name",
    "chosen_cert_arn",
    "matched_rule_priority",
    "request_creation_time",
    "actions_executed",
    "redirect_url",
    "error_reason",
    "target:port_list",
    "target_status_code_list",
    "classification",
    "classification_reason",
    "conn_trace_id",
)
_TIME = ALB_LOG_FIELDS.index("time")
_ELB = ALB_LOG_FIELDS.index("elb")
_TARGET_GROUP_ARN = ALB_LOG_FIELDS.index("target_group_arn")
_REQUEST_CREATION_TIME = ALB_LOG_FIELDS.index("request_creation_time")
REQUIRED_ALB_FIELDS = _REQUEST_CREATION_TIME + 1


class ScenarioImportError(ValueError):
    """The input cannot become a scenario; the message is one line naming the file, line, field or datapoint."""


# ALB's quoting as csv reader options: `\"` inside a quoted field is a quote; an unterminated quote is an error.
_ALB_CSV_OPTIONS: dict[str, Any] = {
    "delimiter": " ",
    "quotechar": '"',
    "escapechar": "\\",
    "doublequote": False,
    "skipinitialspace": False,
    "strict": True,
}


# ------------------------------------------------------------------------------------- per-second traffic


@dataclass(frozen=True)
class PerSecondTraffic:
    """Requests per second from `start_epoch_second` on, one value per second."""

    start_epoch_second: int
    rps: list[float]

    @property
    def start(self) -> datetime:
        return _EPOCH + timedelta(seconds=self.start_epoch_second)

    @property
    def duration_seconds(self) -> int:
        return len(self.rps)

    @property
    def peak_rps(self) -> float:
        return max(self.rps)

    @property
    def mean_rps(self) -> float:
        return sum(self.rps) / len(self.rps)

    @property
    def total_requests(self) -> float:
        return sum(self.rps)


def utc_text(epoch_second: int) -> str:
    """`2024-01-15T10:00:00Z`: an aware UTC ISO 8601 time."""
    return (_EPOCH + timedelta(seconds=epoch_second)).strftime("%Y-%m-%dT%H:%M:%SZ")


def traffic_from_counts(requests_by_second: Mapping[int, int]) -> PerSecondTraffic:
    """From the first second seen to the last; a second without requests counts 0."""
    if not requests_by_second:
        raise ScenarioImportError("no requests to replay")
    first, last = min(requests_by_second), max(requests_by_second)
    _check_span(first, last - first + 1)
    return PerSecondTraffic(first, [float(requests_by_second.get(second, 0)) for second in range(first, last + 1)])


def _check_span(first_epoch_second: int, duration_seconds: int) -> None:
    if duration_seconds > MAX_DURATION_SECONDS:
        raise ScenarioImportError(
            f"the traffic spans {duration_seconds} s (from {utc_text(first_epoch_second)} to "
            f"{utc_text(first_epoch_second + duration_seconds - 1)}), more than a scenario's "
            f"{MAX_DURATION_SECONDS} s (7 days): give fewer files or a shorter range"
        )


def _epoch_second(text: str, name: str) -> int:
    """The whole second (floor) of an aware ISO 8601 time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"{name} {_shown(text)} is not an ISO 8601 time") from error
    if moment.utcoffset() is None:
        raise ValueError(f"{name} {_shown(text)} has no UTC offset")
    return (moment.replace(microsecond=0) - _EPOCH) // _ONE_SECOND


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


# ---------------------------------------------------------------------------------------- ALB access logs


@dataclass(frozen=True)
class AlbEntry:
    request_creation_epoch_second: int
    target_group_arn: str


@dataclass(frozen=True)
class BadLine:
    path: Path
    line_number: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path} line {self.line_number}: {self.reason}"


@dataclass
class AlbLogCount:
    """What reading the logs found: per-second counts of the kept entries, and every line accounted for."""

    files: list[Path]
    requests_by_second: Counter[int] = field(default_factory=Counter)
    lines: int = 0
    bad_lines: int = 0
    first_bad_lines: list[BadLine] = field(default_factory=list)
    entries_by_target_group: Counter[str] = field(default_factory=Counter)

    @property
    def entries(self) -> int:
        return self.lines - self.bad_lines

    @property
    def counted(self) -> int:
        return sum(self.requests_by_second.values())

    def add_bad(self, bad: BadLine) -> None:
        self.bad_lines += 1
        if len(self.first_bad_lines) < MAX_NAMED_BAD_LINES:
            self.first_bad_lines.append(bad)


@dataclass(frozen=True)
class BadLineLimits:
    """Bad lines are tolerated up to `max_lines` lines or `max_fraction` of all lines, whichever allows more."""

    max_lines: int = DEFAULT_MAX_BAD_LINES
    max_fraction: float = DEFAULT_MAX_BAD_FRACTION

    def __post_init__(self) -> None:
        if self.max_lines < 0:
            raise ScenarioImportError(f"--max-bad-lines: must be >= 0 (got: {self.max_lines})")
        if not 0 <= self.max_fraction <= 1:
            raise ScenarioImportError(f"--max-bad-fraction: must be within [0, 1] (got: {self.max_fraction})")

    def exceeded(self, bad_lines: int, lines: int) -> bool:
        return bad_lines > self.max_lines and bad_lines > self.max_fraction * lines

    def describe(self) -> str:
        return f"--max-bad-lines {self.max_lines} or --max-bad-fraction {self.max_fraction:g}"


def parse_alb_entry(line: str) -> AlbEntry:
    """One access log line; ValueError says why it is not an ALB entry (extra trailing fields are fine)."""
    try:
        fields = next(csv.reader((line,), **_ALB_CSV_OPTIONS), [])
    except csv.Error as error:
        raise ValueError(f"not an ALB access log entry: {error}") from error
    if len(fields) < REQUIRED_ALB_FIELDS:
        raise ValueError(
            f"{len(fields)} fields, an ALB access log entry has at least {REQUIRED_ALB_FIELDS} "
            "(through request_creation_time)"
        )
    if not fields[_ELB].startswith("app/"):
        raise ValueError(f"elb {_shown(fields[_ELB])} is not an Application Load Balancer (app/...)")
    _epoch_second(fields[_TIME], "time")
    second = _epoch_second(fields[_REQUEST_CREATION_TIME], "request_creation_time")
    return AlbEntry(request_creation_epoch_second=second, target_group_arn=fields[_TARGET_GROUP_ARN])


def find_log_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given, and every `.log`/`.log.gz` under a directory (recursively), each once, sorted per directory."""
    found: dict[Path, Path] = {}
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(_LOG_SUFFIXES))
            if not inside:
                raise ScenarioImportError(f"{path}: no .log or .log.gz file in this directory (searched recursively)")
            for each in inside:
                found.setdefault(each.resolve(), each)
        elif path.is_file():
            found.setdefault(path.resolve(), path)
        elif path.exists():
            raise ScenarioImportError(f"{path}: not a regular file or a directory")
        else:
            raise ScenarioImportError(f"{path}: no such file or directory")
    return list(found.values())


def log_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a plain or gzip-compressed log (told apart by the gzip magic bytes)."""
    try:
        raw = path.open("rb")
    except OSError as error:
        raise ScenarioImportError(f"{path}: cannot read: {error.strerror}") from error
    number = 0
    with raw:
        try:
            gzipped = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            stream = cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb")) if gzipped else raw
            with io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="\n") as text:
                for number, line in enumerate(text, start=1):
                    yield number, line.rstrip("\r\n")
        except (OSError, EOFError, zlib.error) as error:
            raise ScenarioImportError(
                f"{path}: cannot read {'past line ' + str(number) if number else 'it'}: {error}"
            ) from error


def count_alb_requests(paths: Sequence[Path], target_group_arn: str | None = None) -> AlbLogCount:
    """Every line of every file: entries counted per second of request_creation_time, bad lines recorded."""
    result = AlbLogCount(files=find_log_files(paths))
    for path in result.files:
        for line_number, line in log_lines(path):
            if not line.strip():
                continue
            result.lines += 1
            try:
                entry = parse_alb_entry(line)
            except ValueError as error:
                result.add_bad(BadLine(path, line_number, str(error)))
                continue
            result.entries_by_target_group[entry.target_group_arn] += 1
            if target_group_arn is None or entry.target_group_arn == target_group_arn:
                result.requests_by_second[entry.request_creation_epoch_second] += 1
    return result


def alb_traffic(count: AlbLogCount, limits: BadLineLimits, target_group_arn: str | None = None) -> PerSecondTraffic:
    """The per-second traffic, or one error line: empty input, too many bad lines, no entry of the target group."""
    if count.lines == 0:
        files = ", ".join(str(path) for path in count.files[:3]) + (" ..." if len(count.files) > 3 else "")
        raise ScenarioImportError(f"no ALB access log entries: {len(count.files)} file(s) with no lines ({files})")
    first_bad = count.first_bad_lines[0] if count.first_bad_lines else None
    if count.entries == 0:
        raise ScenarioImportError(
            f"no valid ALB access log entry in {count.lines} line(s); first bad line: {first_bad}"
        )
    if limits.exceeded(count.bad_lines, count.lines):
        raise ScenarioImportError(
            f"{count.bad_lines} of {count.lines} lines are not ALB access log entries (more than "
            f"{limits.describe()} allows); first bad line: {first_bad}"
        )
    if target_group_arn is not None and count.counted == 0:
        raise ScenarioImportError(
            f"--target-group: no entry has target_group_arn {target_group_arn} "
            f"(the logs have: {describe_target_groups(count.entries_by_target_group)})"
        )
    return traffic_from_counts(count.requests_by_second)


def describe_target_groups(entries_by_target_group: Counter[str], limit: int = 3) -> str:
    shown = [f"{arn} ({entries})" for arn, entries in entries_by_target_group.most_common(limit)]
    more = len(entries_by_target_group) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


# ------------------------------------------------------------------------------------- CloudWatch metrics


@dataclass(frozen=True)
class MetricSeries:
    """One get-metric-data result (its pages merged): Sum per period start (epoch second)."""

    metric_id: str
    label: str
    sums_by_second: dict[int, float]
    pages: int
    status_code: str
    next_token: bool
    messages: list[str]


@dataclass(frozen=True)
class MetricExpansion:
    traffic: PerSecondTraffic
    period_seconds: int
    period_inferred: bool
    datapoints: int
    missing_period_starts: list[int]
    fill_rule: FillRule


def read_metric_data(document: object, source: str, metric_id: str | None = None) -> MetricSeries:
    """The chosen result of `aws cloudwatch get-metric-data` JSON (results with the same Id are pages: merged)."""
    if not isinstance(document, dict) or not isinstance(document.get("MetricDataResults"), list):
        raise ScenarioImportError(
            f"{source}: not `aws cloudwatch get-metric-data` output (no MetricDataResults list at the top)"
        )
    pages_by_id: dict[str, list[tuple[int, dict[str, object]]]] = {}
    for index, result in enumerate(document["MetricDataResults"]):
        where = f"{source}: MetricDataResults[{index}]"
        if not isinstance(result, dict) or not isinstance(result.get("Id"), str):
            raise ScenarioImportError(f"{where}: not a get-metric-data result (no Id)")
        pages_by_id.setdefault(result["Id"], []).append((index, result))
    if not pages_by_id:
        raise ScenarioImportError(f"{source}: MetricDataResults is empty: the query returned no result")
    ids = ", ".join(pages_by_id)
    if metric_id is None:
        if len(pages_by_id) > 1:
            raise ScenarioImportError(f"{source}: {len(pages_by_id)} results ({ids}): choose one with --id")
        metric_id = next(iter(pages_by_id))
    if metric_id not in pages_by_id:
        raise ScenarioImportError(f"--id: no result with Id {metric_id!r} in {source} (it has: {ids})")
    return _merge_pages(source, metric_id, pages_by_id[metric_id], document)


def _merge_pages(
    source: str, metric_id: str, pages: list[tuple[int, dict[str, object]]], document: dict[str, object]
) -> MetricSeries:
    sums: dict[int, float] = {}
    status_code = ""
    messages = _messages(document.get("Messages"))
    for index, page in pages:
        where = f"{source}: MetricDataResults[{index}]"
        timestamps, values = page.get("Timestamps"), page.get("Values")
        if not isinstance(timestamps, list) or not isinstance(values, list):
            raise ScenarioImportError(f"{where}: not a get-metric-data result (Timestamps and Values must be lists)")
        if len(timestamps) != len(values):
            raise ScenarioImportError(
                f"{where}: {len(timestamps)} Timestamps but {len(values)} Values (they must pair up)"
            )
        status = page.get("StatusCode")
        if not isinstance(status, str):
            raise ScenarioImportError(f"{where}.StatusCode: missing (not get-metric-data output)")
        if status not in ("Complete", "PartialData"):
            raise ScenarioImportError(
                f"{where}.StatusCode: {status} for result {metric_id}: CloudWatch did not return its datapoints "
                "(only Complete or PartialData can be replayed)"
            )
        status_code = status
        messages += _messages(page.get("Messages"))
        for position, (stamp, value) in enumerate(zip(timestamps, values, strict=True)):
            second = _datapoint_second(stamp, f"{where}.Timestamps[{position}]")
            amount = _datapoint_value(value, f"{where}.Values[{position}]")
            if second in sums and sums[second] != amount:
                raise ScenarioImportError(
                    f"{where}.Timestamps[{position}]: {stamp} appears twice with different values "
                    f"({sums[second]:g} and {amount:g})"
                )
            sums[second] = amount
    if not sums:
        raise ScenarioImportError(f"{source}: result {metric_id} has no datapoints")
    label = pages[0][1].get("Label")
    return MetricSeries(
        metric_id=metric_id,
        label=label if isinstance(label, str) else metric_id,
        sums_by_second=sums,
        pages=len(pages),
        status_code=status_code,
        next_token=isinstance(document.get("NextToken"), str) and bool(document.get("NextToken")),
        messages=messages,
    )


def _messages(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [
        f"{item.get('Code', '?')}: {item.get('Value', '')}" if isinstance(item, dict) else str(item) for item in value
    ]


def _datapoint_second(stamp: object, where: str) -> int:
    if not isinstance(stamp, str):
        raise ScenarioImportError(f"{where}: must be an ISO 8601 string (got: {stamp!r})")
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError as error:
        raise ScenarioImportError(f"{where}: {stamp!r} is not an ISO 8601 time") from error
    if moment.utcoffset() is None:
        raise ScenarioImportError(f"{where}: {stamp!r} has no UTC offset")
    if moment.microsecond:
        raise ScenarioImportError(f"{where}: {stamp!r} is not on a whole second (periods start on whole seconds)")
    return (moment - _EPOCH) // _ONE_SECOND


def _datapoint_value(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ScenarioImportError(f"{where}: must be a request count (a number >= 0) (got: {value!r})")
    return float(value)


def infer_period_seconds(period_starts: Sequence[int]) -> int:
    """The spacing of the timestamps: the smallest gap between two consecutive ones."""
    if len(period_starts) < 2:
        raise ScenarioImportError("only one datapoint: its period cannot be inferred, give --period-seconds")
    return min(later - earlier for earlier, later in pairwise(period_starts))


def expand_metric(
    series: MetricSeries, period_seconds: int | None = None, fill_rule: FillRule = "refuse"
) -> MetricExpansion:
    """Each period's Sum spread evenly over its seconds; missing periods refused or filled by `fill_rule`."""
    starts = sorted(series.sums_by_second)
    inferred = period_seconds is None
    period = infer_period_seconds(starts) if period_seconds is None else period_seconds
    if not 1 <= period <= MAX_METRIC_PERIOD_SECONDS:
        how = "the datapoints are" if inferred else "--period-seconds is"
        raise ScenarioImportError(
            f"{how} {period} s apart: a replay needs periods of 1-{MAX_METRIC_PERIOD_SECONDS} s "
            "(run get-metric-data with --period 60, or finer for a high-resolution metric)"
        )
    first = starts[0]
    for start in starts:
        if (start - first) % period:
            raise ScenarioImportError(
                f"datapoint {utc_text(start)} is not a whole number of {period} s periods after the first "
                f"({utc_text(first)}): the timestamps are not evenly spaced"
                + ("" if not inferred else "; give --period-seconds")
            )
    periods = (starts[-1] - first) // period + 1
    _check_span(first, periods * period)
    rates: list[float | None] = [None] * periods
    for start, total in series.sums_by_second.items():
        rates[(start - first) // period] = total / period
    missing = [index for index, rate in enumerate(rates) if rate is None]
    if missing and fill_rule == "refuse":
        raise ScenarioImportError(
            f"{len(missing)} of {periods} periods of {period} s have no datapoint (first missing: "
            f"{utc_text(first + missing[0] * period)}); choose a rule with --fill-gaps "
            f"{'|'.join(rule for rule in FILL_RULES if rule != 'refuse')}"
        )
    filled = _fill(rates, fill_rule)
    rps = [rate for rate in filled for _ in range(period)]
    return MetricExpansion(
        traffic=PerSecondTraffic(first, rps),
        period_seconds=period,
        period_inferred=inferred,
        datapoints=len(starts),
        missing_period_starts=[first + index * period for index in missing],
        fill_rule=fill_rule,
    )


def _fill(rates: list[float | None], rule: FillRule) -> list[float]:
    """Missing rates by rule; the first and the last period always have a datapoint."""
    next_known: list[float] = [0.0] * len(rates)
    next_index: list[int] = [0] * len(rates)
    upcoming, upcoming_index = 0.0, len(rates)
    for index in range(len(rates) - 1, -1, -1):
        rate = rates[index]
        if rate is not None:
            upcoming, upcoming_index = rate, index
        next_known[index], next_index[index] = upcoming, upcoming_index
    filled: list[float] = []
    previous, previous_index = 0.0, -1
    for index, rate in enumerate(rates):
        if rate is not None:
            previous, previous_index = rate, index
            filled.append(rate)
        elif rule == "zero":
            filled.append(0.0)
        elif rule == "previous":
            filled.append(previous)
        else:
            share = (index - previous_index) / (next_index[index] - previous_index)
            filled.append(previous + (next_known[index] - previous) * share)
    return filled


def describe_spreading(expansion: MetricExpansion) -> str:
    period = expansion.period_seconds
    return (
        f"each {period} s datapoint is read as a Sum of requests and spread evenly over its {period} seconds "
        f"(rps = Sum / {period}); the JSON does not say which statistic was asked for, so it must be Sum"
    )


def describe_fill(expansion: MetricExpansion) -> str:
    missing = expansion.missing_period_starts
    if not missing:
        return "no period is missing between the first and the last datapoint"
    period = expansion.period_seconds
    return (
        f"filled {len(missing)} missing {period} s period(s) ({len(missing) * period} s, first at "
        f"{utc_text(missing[0])}) with rule {expansion.fill_rule!r}: {FILL_RULE_MEANINGS[expansion.fill_rule]}"
    )


# ----------------------------------------------------------------------------------------------- scenario


@dataclass(frozen=True)
class TargetChoices:
    """Target fields given on the command line; None -> a placeholder (or a value derived from one)."""

    kind: str | None = None
    unit_capacity_rps: float | None = None
    min_units: int | None = None
    max_units: int | None = None
    initial_units: int | None = None
    startup_seconds: int | None = None


@dataclass(frozen=True)
class TargetDraft:
    target: dict[str, object]
    placeholders: list[str]
    derivation: str


def draft_target(traffic: PerSecondTraffic, choices: TargetChoices, target_utilization: float) -> TargetDraft:
    """The `target` block: given values, else placeholders; initial and max units derived from the traffic.

    initial_units serves the mean rps of the first INITIAL_WINDOW_SECONDS at `target_utilization` of
    unit_capacity_rps; max_units is MAX_UNITS_HEADROOM times what the per-second peak needs. Derived from the
    placeholder capacity they are placeholders too; initial_units derived from a given capacity is not.
    """
    capacity = PLACEHOLDER_UNIT_CAPACITY_RPS if choices.unit_capacity_rps is None else choices.unit_capacity_rps
    if not math.isfinite(capacity) or capacity <= 0:
        raise ScenarioImportError(f"--unit-capacity-rps: must be a number > 0 (got: {capacity})")
    per_unit_rps = capacity * target_utilization
    window = traffic.rps[:INITIAL_WINDOW_SECONDS]
    initial_needed = max(1, math.ceil(sum(window) / len(window) / per_unit_rps))
    peak_needed = max(1, math.ceil(traffic.peak_rps / per_unit_rps))
    min_units = choices.min_units if choices.min_units is not None else PLACEHOLDER_MIN_UNITS
    max_units = choices.max_units
    if max_units is None:
        max_units = min(MAX_UNITS, max(min_units, initial_needed, math.ceil(MAX_UNITS_HEADROOM * peak_needed)))
    initial_units = choices.initial_units
    if initial_units is None:
        initial_units = min(max(initial_needed, min_units), max_units)
    target: dict[str, object] = {
        "kind": PLACEHOLDER_KIND if choices.kind is None else choices.kind,
        "initial_units": initial_units,
        "min_units": min_units,
        "max_units": max_units,
        "unit_capacity_rps": capacity,
        "startup_seconds": (
            choices.startup_seconds if choices.startup_seconds is not None else PLACEHOLDER_STARTUP_SECONDS
        ),
    }
    placeholders = [
        name
        for name, missing in (
            ("kind", choices.kind is None),
            ("unit_capacity_rps", choices.unit_capacity_rps is None),
            ("min_units", choices.min_units is None),
            ("max_units", choices.max_units is None),
            ("initial_units", choices.initial_units is None and choices.unit_capacity_rps is None),
            ("startup_seconds", choices.startup_seconds is None),
        )
        if missing
    ]
    derivation = (
        f"initial_units serves the first {len(window)} s (mean {sum(window) / len(window):.4g} rps) and max_units "
        f"{MAX_UNITS_HEADROOM:g} x the peak ({traffic.peak_rps:.4g} rps), at {target_utilization:.0%} of "
        f"unit_capacity_rps {capacity:g}"
    )
    return TargetDraft(target=target, placeholders=placeholders, derivation=derivation)


def scenario_document(
    name: str, traffic: PerSecondTraffic, target: dict[str, object], csv_name: str
) -> dict[str, object]:
    return {
        "name": name,
        "start": utc_text(traffic.start_epoch_second),
        "duration_seconds": traffic.duration_seconds,
        "target": target,
        "traffic": {"csv": csv_name},
    }


def traffic_csv_text(traffic: PerSecondTraffic) -> str:
    """`t_seconds,rps`, one row per second (the scenario format repeats the last row for a missing second)."""
    rows = [f"{t_seconds},{_number(rps)}" for t_seconds, rps in enumerate(traffic.rps)]
    return "t_seconds,rps\n" + "\n".join(rows) + "\n"


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


__all__ = [
    "ALB_LOG_FIELDS",
    "DEFAULT_MAX_BAD_FRACTION",
    "DEFAULT_MAX_BAD_LINES",
    "FILL_RULES",
    "AlbLogCount",
    "BadLine",
    "BadLineLimits",
    "FillRule",
    "MetricExpansion",
    "MetricSeries",
    "PerSecondTraffic",
    "ScenarioImportError",
    "TargetChoices",
    "TargetDraft",
    "alb_traffic",
    "count_alb_requests",
    "draft_target",
    "expand_metric",
    "find_log_files",
    "infer_period_seconds",
    "log_lines",
    "parse_alb_entry",
    "read_metric_data",
    "scenario_document",
    "traffic_csv_text",
    "traffic_from_counts",
]
