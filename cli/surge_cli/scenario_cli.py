"""`surge scenario`: a replay scenario from what AWS recorded.

    surge scenario from-alb-logs ./alb-logs/ --out launch.json \\
        --target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef
    surge scenario from-cloudwatch request-count.json --out launch.json [--id m1] [--fill-gaps zero]

Both write S.json and its traffic S.csv (`t_seconds,rps`, one row per second, referenced relatively) beside it.
Nothing is written unless everything is valid: the two files are staged in a temporary folder next to S.json,
the staged scenario is validated as `load_scenario` does, then both are renamed into place. The `target` block holds
placeholders unless given with the target options; stderr names every field still to edit. Bad input exits 2
with one line naming the file and line (or field, or datapoint); nothing is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, cast

import typer

from surge_cli.replay.scenario import ReplayConfig, ScenarioError, parse_scenario
from surge_cli.scenario_import import (
    DEFAULT_MAX_BAD_FRACTION,
    DEFAULT_MAX_BAD_LINES,
    FILL_RULES,
    AlbLogCount,
    BadLineLimits,
    FillRule,
    MetricExpansion,
    MetricSeries,
    PerSecondTraffic,
    ScenarioImportError,
    TargetChoices,
    TargetDraft,
    alb_traffic,
    count_alb_requests,
    describe_fill,
    describe_spreading,
    describe_target_groups,
    draft_target,
    expand_metric,
    read_metric_data,
    scenario_document,
    traffic_csv_text,
    utc_text,
)

BAD_INPUT_EXIT = 2
FAILURE_EXIT = 1
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)

scenario_app = typer.Typer(
    help="Build a replay scenario from recorded traffic: ALB access logs or CloudWatch get-metric-data output.",
    no_args_is_help=True,
)


# --------------------------------------------------------------------------------------------- writing


def check_out_path(out: Path) -> None:
    """`--out` must name a .json file in an existing folder (the CSV goes beside it)."""
    if out.suffix.lower() != ".json":
        raise ScenarioImportError(f"--out: {out} must name a .json file (the traffic CSV is written beside it)")
    if out.is_dir():
        raise ScenarioImportError(f"--out: {out} is a directory")
    if not out.parent.is_dir():
        raise ScenarioImportError(f"--out: folder {out.parent} does not exist")


def write_scenario(out: Path, name: str | None, traffic: PerSecondTraffic, choices: TargetChoices) -> TargetDraft:
    """Write S.json and S.csv atomically (both or neither); returns the target block with its placeholders."""
    csv_path = out.with_suffix(".csv")
    draft = draft_target(traffic, choices, ReplayConfig().target_utilization)
    document = scenario_document(name if name is not None else out.stem, traffic, draft.target, csv_path.name)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.stem}.", dir=out.parent))
    try:
        text = json.dumps(document, indent=2) + "\n"
        (staging / csv_path.name).write_text(traffic_csv_text(traffic))
        (staging / out.name).write_text(text)
        # what load_scenario(out) will do, on the exact bytes about to be installed (errors name --out)
        parse_scenario(json.loads(text), base_dir=staging, path=out)
        os.replace(staging / csv_path.name, csv_path)
        os.replace(staging / out.name, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return draft


def _placeholder_lines(out: Path, draft: TargetDraft) -> list[str]:
    """One stderr line naming every placeholder field the user must edit (none if all were given)."""
    if not draft.placeholders:
        return []
    fields = ", ".join(f"target.{field}" for field in draft.placeholders)
    return [f"placeholders: edit {fields} in {out} before replaying ({draft.derivation})"]


def _wrote_line(out: Path, traffic: PerSecondTraffic) -> str:
    return (
        f"wrote {out} and {out.with_suffix('.csv').name}: {traffic.duration_seconds} s from "
        f"{utc_text(traffic.start_epoch_second)}, {traffic.total_requests:,.0f} requests, "
        f"peak {traffic.peak_rps:.4g} rps, mean {traffic.mean_rps:.4g} rps"
    )


# ------------------------------------------------------------------------------------------ errors


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _run(action: Callable[[], tuple[list[str], list[str]]]) -> None:
    """Run `action` (stdout lines, stderr lines); an error is one stderr line and exit 2 (bad input) or 1."""
    try:
        report, warnings = action()
    except (ScenarioImportError, ScenarioError) as error:
        raise _fail(str(error), BAD_INPUT_EXIT) from error
    except OSError as error:
        raise _fail(f"{error.filename or 'output'}: {error.strerror or error}", FAILURE_EXIT) from error
    for line in report:
        typer.echo(line)
    for line in warnings:
        typer.echo(line, err=True)


# ------------------------------------------------------------------------------------------ options

OutOption = Annotated[
    Path,
    typer.Option("--out", metavar="S.json", help="Scenario to write; its traffic goes to S.csv beside it."),
]
NameOption = Annotated[str | None, typer.Option("--name", help="Scenario name (default: the --out file's name).")]
KindOption = Annotated[str | None, typer.Option("--kind", help="target.kind: ecs or asg (default: placeholder ecs).")]
CapacityOption = Annotated[
    float | None,
    typer.Option(
        "--unit-capacity-rps", help="target.unit_capacity_rps: rps one unit serves (default: placeholder 100)."
    ),
]
MinUnitsOption = Annotated[int | None, typer.Option("--min-units", help="target.min_units (default: placeholder 1).")]
MaxUnitsOption = Annotated[
    int | None, typer.Option("--max-units", help="target.max_units (default: 2 x the peak's needs, a placeholder).")
]
InitialUnitsOption = Annotated[
    int | None,
    typer.Option("--initial-units", help="target.initial_units (default: the first 60 s at 70 % utilization)."),
]
StartupOption = Annotated[
    int | None, typer.Option("--startup-seconds", help="target.startup_seconds (default: placeholder 60).")
]


def _choices(
    kind: str | None,
    unit_capacity_rps: float | None,
    min_units: int | None,
    max_units: int | None,
    initial_units: int | None,
    startup_seconds: int | None,
) -> TargetChoices:
    return TargetChoices(
        kind=kind,
        unit_capacity_rps=unit_capacity_rps,
        min_units=min_units,
        max_units=max_units,
        initial_units=initial_units,
        startup_seconds=startup_seconds,
    )


# ---------------------------------------------------------------------------------------- ALB logs


@scenario_app.command("from-alb-logs")
def from_alb_logs_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILES_OR_DIR...",
            help="ALB access logs (.log or .log.gz, as ALB writes them to S3), or folders of them (recursive).",
            show_default=False,
        ),
    ],
    out: OutOption,
    target_group: Annotated[
        str | None, typer.Option("--target-group", metavar="ARN", help="Keep only entries of this target_group_arn.")
    ] = None,
    max_bad_lines: Annotated[
        int, typer.Option("--max-bad-lines", help="Bad lines tolerated (or --max-bad-fraction, whichever is more).")
    ] = DEFAULT_MAX_BAD_LINES,
    max_bad_fraction: Annotated[
        float, typer.Option("--max-bad-fraction", help="Share of lines that may be bad (0.01 = 1 %).")
    ] = DEFAULT_MAX_BAD_FRACTION,
    name: NameOption = None,
    kind: KindOption = None,
    unit_capacity_rps: CapacityOption = None,
    min_units: MinUnitsOption = None,
    max_units: MaxUnitsOption = None,
    initial_units: InitialUnitsOption = None,
    startup_seconds: StartupOption = None,
) -> None:
    """Requests per second counted by each entry's request_creation_time (when ALB received the request)."""
    choices = _choices(kind, unit_capacity_rps, min_units, max_units, initial_units, startup_seconds)

    def action() -> tuple[list[str], list[str]]:
        check_out_path(out)
        limits = BadLineLimits(max_bad_lines, max_bad_fraction)
        count = count_alb_requests(paths, target_group)
        traffic = alb_traffic(count, limits, target_group)
        draft = write_scenario(out, name, traffic, choices)
        report = [_alb_read_line(count, target_group), _wrote_line(out, traffic)]
        return report, [*_alb_warnings(count, limits, target_group), *_placeholder_lines(out, draft)]

    _run(action)


def _alb_read_line(count: AlbLogCount, target_group: str | None) -> str:
    other = count.entries - count.counted
    parts = [
        f"read {len(count.files)} file(s), {count.lines} line(s): {count.entries} ALB entries",
        f"{count.counted} counted in the second of their request_creation_time",
    ]
    if target_group is not None:
        parts.append(f"{other} of other target groups left out")
    parts.append(f"{count.bad_lines} bad line(s) skipped")
    return ", ".join(parts)


def _alb_warnings(count: AlbLogCount, limits: BadLineLimits, target_group: str | None) -> list[str]:
    warnings: list[str] = []
    if count.bad_lines:
        warnings.append(
            f"warning: skipped {count.bad_lines} bad line(s) of {count.lines} (tolerated up to {limits.describe()}); "
            f"the first {len(count.first_bad_lines)}:"
        )
        warnings += [f"  {bad}" for bad in count.first_bad_lines]
    if target_group is None and len(count.entries_by_target_group) > 1:
        warnings.append(
            f"warning: entries of {len(count.entries_by_target_group)} target groups counted together "
            f"({describe_target_groups(count.entries_by_target_group)}); keep one with --target-group ARN"
        )
    return warnings


# -------------------------------------------------------------------------------------- CloudWatch


@scenario_app.command("from-cloudwatch")
def from_cloudwatch_command(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE.json", help="What `aws cloudwatch get-metric-data` printed (JSON).", show_default=False
        ),
    ],
    out: OutOption,
    metric_id: Annotated[str | None, typer.Option("--id", help="The result's Id, when the file has several.")] = None,
    period_seconds: Annotated[
        int | None, typer.Option("--period-seconds", help="The query's period (default: the timestamps' spacing).")
    ] = None,
    fill_gaps: Annotated[
        str,
        typer.Option(
            "--fill-gaps",
            help="Missing periods: refuse, zero (ALB publishes no datapoint without requests), previous or linear.",
        ),
    ] = "refuse",
    name: NameOption = None,
    kind: KindOption = None,
    unit_capacity_rps: CapacityOption = None,
    min_units: MinUnitsOption = None,
    max_units: MaxUnitsOption = None,
    initial_units: InitialUnitsOption = None,
    startup_seconds: StartupOption = None,
) -> None:
    """A RequestCount (Sum, 60 s) or custom request-count metric (Sum, 1-60 s), spread evenly to per-second rps."""
    choices = _choices(kind, unit_capacity_rps, min_units, max_units, initial_units, startup_seconds)

    def action() -> tuple[list[str], list[str]]:
        check_out_path(out)
        if out.resolve() == file.resolve():
            raise ScenarioImportError(f"--out: {out} is the input file; write it elsewhere")
        if fill_gaps not in FILL_RULES:
            raise ScenarioImportError(f"--fill-gaps: must be one of {', '.join(FILL_RULES)} (got: {fill_gaps!r})")
        series = read_metric_data(_read_json(file), str(file), metric_id)
        try:
            expansion = expand_metric(series, period_seconds, cast(FillRule, fill_gaps))
        except ScenarioImportError as error:
            raise ScenarioImportError(f"{file}: result {series.metric_id}: {error}") from error
        draft = write_scenario(out, name, expansion.traffic, choices)
        report = [
            _metric_read_line(series, expansion),
            describe_spreading(expansion),
            describe_fill(expansion),
            _wrote_line(out, expansion.traffic),
        ]
        if expansion.period_seconds in HIGH_RESOLUTION_PERIODS:
            report.append(
                f"hint: the metric has {expansion.period_seconds} s periods; to replay Surge reading it, set "
                f'"config": {{"high_resolution_metric_period_seconds": {expansion.period_seconds}}} in {out}'
            )
        return report, [*_metric_warnings(series), *_placeholder_lines(out, draft)]

    _run(action)


def _read_json(path: Path) -> object:
    try:
        text = path.read_text()
    except FileNotFoundError as error:
        raise ScenarioImportError(f"{path}: no such file") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioImportError(f"{path}: cannot read: {error}") from error
    try:
        return cast(object, json.loads(text))
    except json.JSONDecodeError as error:
        raise ScenarioImportError(f"{path}: not valid JSON: line {error.lineno}: {error.msg}") from error


def _metric_read_line(series: MetricSeries, expansion: MetricExpansion) -> str:
    pages = f" ({series.pages} pages of Id {series.metric_id} merged)" if series.pages > 1 else ""
    source = "inferred from the spacing of the timestamps" if expansion.period_inferred else "from --period-seconds"
    return (
        f"result {series.metric_id} ({series.label}): {expansion.datapoints} datapoint(s){pages}, "
        f"period {expansion.period_seconds} s ({source})"
    )


def _metric_warnings(series: MetricSeries) -> list[str]:
    warnings: list[str] = []
    incomplete = [
        *([f"result {series.metric_id} has StatusCode PartialData"] if series.status_code == "PartialData" else []),
        *(["the output has a NextToken"] if series.next_token else []),
    ]
    if incomplete:
        warnings.append(
            f"warning: {' and '.join(incomplete)}: CloudWatch holds more datapoints than this file (by default the "
            "newest come first, so the oldest are missing); the scenario covers only the datapoints present. "
            "Let the AWS CLI paginate (no --max-items/--no-paginate) or narrow --start-time/--end-time"
        )
    warnings += [f"warning: CloudWatch message: {message}" for message in series.messages]
    return warnings


__all__ = ["check_out_path", "scenario_app", "write_scenario"]
