"""Operator control without a redeploy: pause and resume a target, list and release push holds.

    surge pause [--target T] [--stack S] [--reason TEXT]     # no --target: every target of the config
    surge resume [--target T] [--stack S]
    surge paused [--stack S] [--json]                        # which targets are paused, since when, by whom
    surge hold list [--target T] [--stack S] [--json]
    surge hold release PUSH_ID [--target T] [--stack S]

A pause is its own item in the Surge table (`TARGET#<id>` / `PAUSE`), written and deleted only here: the loop
reads it with the target's other items in ReadSignals (and ApplyCapacity again before it acts), so no state write
of a flow can lose it. A paused target is still read and decided (`reason: paused`, the explanation says what it
would have done), and its capacity is changed by nothing: not the loop, the push fast path or the calendar. A
push to a paused target still records its hold, which counts once the target is resumed.

A released hold stays in the table with who released it and when, and stops counting at once; the loop then
scales in under its usual rules (after the scale-in cooldown, in steps, never below what the demand needs).

The table and the config parameter come from the stack's outputs (`SurgeTableName`, `ConfigParameterName`);
`--table` and `--config-parameter` override them. Bad input: one line naming the field, exit 2, nothing written.
AWS errors: one line, exit 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NoReturn

import boto3
import typer

from surge.adapters import store
from surge.adapters.config_source import load_config, load_effective_config
from surge.adapters.errors import ConfigInvalidError
from surge.adapters.metrics_reader import read_request_metrics
from surge.core.config import SurgeConfig, TargetConfig
from surge.core.decision import hold_is_active, window_peak_rps
from surge.core.errors import InvalidInputError
from surge.core.signals import Hold, Pause, TargetSignals
from surge_cli.deployed import AWS_EXIT_CODE, one_line_aws_errors, stack_outputs, utc_text

BAD_INPUT_EXIT_CODE = 2

MAX_REASON_CHARACTERS = 512
MAX_PUSH_ID_CHARACTERS = 128
RELEASE_ATTEMPTS = 3
"""Re-read and release again when the hold item changes between the read and the write (it rarely does)."""

StackOption = Annotated[str, typer.Option("--stack", help="deployed stack name (table and config from its outputs)")]
TableOption = Annotated[str | None, typer.Option("--table", help="the Surge table (default: the stack's)")]
ParameterOption = Annotated[
    str | None, typer.Option("--config-parameter", help="the SSM config parameter (default: the stack's)")
]
TargetOption = Annotated[str | None, typer.Option("--target", help="target id (default: every target of the config)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of one line per item")]


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


# ------------------------------------------------------------------------------------------ where


@dataclass(frozen=True)
class Deployed:
    """Where a deployed Surge keeps its items (the table) and its targets (the SSM config document)."""

    table: str
    config: SurgeConfig

    def targets(self, target_id: str | None) -> list[TargetConfig]:
        """The one target asked for (an unknown one is refused, naming the known ones), or every target."""
        if target_id is None:
            return list(self.config.targets)
        try:
            return [self.config.target(target_id)]
        except KeyError as error:
            raise InvalidInputError(f"--target: {error.args[0]}") from None


def deployed(stack: str, table: str | None, config_parameter: str | None) -> Deployed:
    """The table and the parsed config document, from the overrides or else the stack's outputs."""
    wanted = tuple(
        key for key, given in (("SurgeTableName", table), ("ConfigParameterName", config_parameter)) if given is None
    )
    outputs = stack_outputs(stack, wanted) if wanted else {}
    parameter = config_parameter or outputs["ConfigParameterName"]
    # With the stack's own config, the targets the loop uses: the template's and the operator's documents merged
    # (`surge config apply`); an explicit --config-parameter is that document alone.
    operator = outputs.get("OperatorConfigParameterName") if config_parameter is None else None
    table = table or outputs["SurgeTableName"]
    try:
        config = load_effective_config(parameter, operator, table=table).config if operator else load_config(parameter)
    except ConfigInvalidError as error:
        _fail(f"the config document cannot be read: {error}", AWS_EXIT_CODE)
    return Deployed(table=table, config=config)


def deployed_targets(
    stack: str, table: str | None, config_parameter: str | None, target_id: str | None
) -> tuple[str, list[TargetConfig]]:
    """The table and the targets a command acts on (`--target`, or every target), each problem one line."""
    where = _run_setup(lambda: deployed(stack, table, config_parameter))
    return where.table, _run_setup(lambda: where.targets(target_id))


def caller_arn() -> str:
    """Who is running the command: recorded with a pause or a release. STS GetCallerIdentity needs no permission
    (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html)."""
    arn: str = boto3.client("sts").get_caller_identity()["Arn"]
    return arn


def _run_setup(action: Any) -> Any:
    """Bad input (a name, a range) exits 2 with its one line, before anything is written."""
    try:
        return action()
    except InvalidInputError as error:
        _fail(str(error), BAD_INPUT_EXIT_CODE)


# ---------------------------------------------------------------------------------- pause / resume


def check_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    broken = "\n" in reason or "\r" in reason
    if broken or not 1 <= len(reason) <= MAX_REASON_CHARACTERS:
        got = f"{len(reason)} characters" + (" with a line break" if broken else "")
        raise InvalidInputError(f"--reason: {got}; allowed: 1-{MAX_REASON_CHARACTERS} characters on one line")
    return reason


def _describe_pause(pause: Pause) -> str:
    return f"since {utc_text(pause.paused_at)} by {pause.paused_by}" + (f" ({pause.reason})" if pause.reason else "")


def pause_command(
    target: TargetOption = None,
    stack: StackOption = "surge",
    reason: Annotated[str | None, typer.Option("--reason", help="why (shown in every decision while paused)")] = None,
    table: TableOption = None,
    config_parameter: ParameterOption = None,
) -> None:
    """Pause a target (or every target): it is still read and decided, and nothing changes its capacity."""
    now = datetime.now(UTC)
    with one_line_aws_errors():
        checked = _run_setup(lambda: check_reason(reason))
        where_table, targets = deployed_targets(stack, table, config_parameter, target)
        pause = Pause(paused_at=now, paused_by=caller_arn(), reason=checked)
        for each in targets:
            existing = store.put_pause(where_table, each.id, pause)
            if existing is not None:
                typer.echo(f"{each.id}: already paused {_describe_pause(existing)}; unchanged")
                continue
            typer.echo(
                f"{each.id}: paused {_describe_pause(pause)}. It is still read and decided; nothing changes its "
                f"capacity until `surge resume --target {each.id}`."
            )


def resume_command(
    target: TargetOption = None,
    stack: StackOption = "surge",
    table: TableOption = None,
    config_parameter: ParameterOption = None,
) -> None:
    """Resume a paused target (or every target): it acts again at the loop's next iteration."""
    with one_line_aws_errors():
        where_table, targets = deployed_targets(stack, table, config_parameter, target)
        for each in targets:
            removed = store.delete_pause(where_table, each.id)
            if removed is None:
                typer.echo(f"{each.id}: was not paused; nothing to do")
                continue
            typer.echo(
                f"{each.id}: resumed (was paused {_describe_pause(removed)}); it acts again at the next iteration "
                f"(within {each.scaling.loop_interval_seconds} s)"
            )


def paused_command(
    stack: StackOption = "surge",
    table: TableOption = None,
    config_parameter: ParameterOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show whether each target is paused, since when and by whom."""
    with one_line_aws_errors():
        where = _run_setup(lambda: deployed(stack, table, config_parameter))
        found = {t.id: _items(where.table, t.id).pause for t in where.config.targets}
    if as_json:
        document = [
            {"target_id": target_id, "paused": pause is not None, **(pause.model_dump(mode="json") if pause else {})}
            for target_id, pause in found.items()
        ]
        typer.echo(json.dumps(document, indent=2))
        return
    for target_id, pause in found.items():
        typer.echo(f"{target_id}: " + (f"paused {_describe_pause(pause)}" if pause else "not paused"))


def _items(table: str, target_id: str) -> store.TargetItems:
    items = store.read_target_items(table, target_id)
    if items.error is not None:
        _fail(f"cannot read the items of target {target_id!r}: {items.error}", AWS_EXIT_CODE)
    return items


# ------------------------------------------------------------------------------------------ holds

hold_app = typer.Typer(no_args_is_help=True, help="Push holds: list them, release a mis-sized one.")


def hold_status(hold: Hold, now: datetime, peak_rps: float | None) -> str:
    """`active` when the loop counts the hold now (`surge.core.decision.hold_is_active`, on the same demand),
    else why not: `released`, `ended` (past max_until), `subsided` (past min_until, the demand over one cooldown
    below half of what it was sized for), `not started`."""
    if hold.released_at is not None:
        return "released"
    if now < hold.started_at:
        return "not started"
    if now >= hold.max_until:
        return "ended"
    return "active" if hold_is_active(hold, now, peak_rps) else "subsided"


def sizing_text(hold: Hold) -> str:
    """How the push was sized (`surge.core.push.size_push_hold`): demand at the push + audience x rate."""
    if hold.audience <= 0:
        return f"sized for {hold.sized_for_rps:,.0f} rps -> {hold.units} units"
    rate = (hold.sized_for_rps - hold.baseline_rps) / hold.audience
    return (
        f"{hold.baseline_rps:,.0f} rps at the push + {hold.audience:,} notified x {rate:.4g} rps each = "
        f"{hold.sized_for_rps:,.0f} rps -> {hold.units} units (never below the count then, within min/max)"
    )


def hold_row(target_id: str, hold: Hold, status: str) -> dict[str, Any]:
    return {
        "push_id": hold.push_id,
        "target_id": target_id,
        "units": hold.units,
        "sized_for_rps": hold.sized_for_rps,
        "baseline_rps": hold.baseline_rps,
        "audience": hold.audience,
        "started_at": utc_text(hold.started_at),
        "min_until": utc_text(hold.min_until),
        "max_until": utc_text(hold.max_until),
        "status": status,
        "active": status == "active",
        "sizing": sizing_text(hold),
        "released_at": utc_text(hold.released_at) if hold.released_at else None,
        "released_by": hold.released_by,
        "calibrated": hold.calibrated,
    }


def _peak_rps(targets: list[TargetConfig], now: datetime) -> dict[str, float | None]:
    """Each target's peak demand over its scale-in cooldown, read as the loop reads it (None: no evidence, and a
    hold past its minimum then still counts, as in the loop)."""
    readings = read_request_metrics(SurgeConfig(targets=targets), now)
    peaks: dict[str, float | None] = {}
    for target in targets:
        signals = TargetSignals(
            target_id=target.id,
            request_samples=readings.request_samples.get(target.id, []),
            high_resolution_samples=readings.high_resolution_samples.get(target.id, []),
        )
        cooldown = timedelta(seconds=target.scaling.scale_in_cooldown_seconds)
        peaks[target.id] = window_peak_rps(signals, target.scaling, now - cooldown, now)
    return peaks


@hold_app.command("list")
def hold_list_command(
    target: TargetOption = None,
    stack: StackOption = "surge",
    table: TableOption = None,
    config_parameter: ParameterOption = None,
    as_json: JsonOption = False,
) -> None:
    """List every push hold in the table (oldest first), and whether the loop counts it now."""
    now = datetime.now(UTC)
    with one_line_aws_errors():
        where_table, targets = deployed_targets(stack, table, config_parameter, target)
        holds = [(t, h) for t in targets for h in _items(where_table, t.id).holds]
        with_holds = [t for t in targets if any(each is t for each, _ in holds)]
        peaks = _peak_rps(with_holds, now) if with_holds else {}
    rows = [
        hold_row(t.id, h, hold_status(h, now, peaks.get(t.id)))
        for t, h in sorted(holds, key=lambda pair: (pair[1].started_at, pair[0].id))
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no push holds")
    for row in rows:
        released = f" (released {row['released_at']} by {row['released_by']})" if row["released_at"] else ""
        typer.echo(
            f"{row['target_id']}  {row['push_id']}  {row['units']} units  {row['status']}{released}  "
            f"started {row['started_at']}  min_until {row['min_until']}  max_until {row['max_until']}  "
            f"audience {row['audience']:,}  sized: {row['sizing']}"
        )


def check_push_id(push_id: str) -> str:
    if not 1 <= len(push_id) <= MAX_PUSH_ID_CHARACTERS:
        raise InvalidInputError(
            f"PUSH_ID: {len(push_id)} characters; allowed: 1-{MAX_PUSH_ID_CHARACTERS} (as `surge hold list` shows)"
        )
    return push_id


@hold_app.command("release")
def hold_release_command(
    push_id: Annotated[str, typer.Argument(metavar="PUSH_ID", help="the push id, as `surge hold list` shows it")],
    target: TargetOption = None,
    stack: StackOption = "surge",
    table: TableOption = None,
    config_parameter: ParameterOption = None,
) -> None:
    """Release a push's hold (on one target, or on every target that has it): it stops counting at once."""
    now = datetime.now(UTC)
    with one_line_aws_errors():
        checked = _run_setup(lambda: check_push_id(push_id))
        where_table, targets = deployed_targets(stack, table, config_parameter, target)
        found = [(t, read) for t in targets if (read := store.read_hold(where_table, t.id, checked)) is not None]
        if not found:
            searched = ", ".join(t.id for t in targets)
            _fail(
                f"PUSH_ID: no hold {checked!r} on target {searched} (see `surge hold list`); nothing changed",
                BAD_INPUT_EXIT_CODE,
            )
        by = caller_arn()
        for each, (hold, doc) in found:
            typer.echo(_release_one(where_table, each, hold, doc, now, by))


def _release_one(table: str, target: TargetConfig, hold: Hold, doc: str, now: datetime, by: str) -> str:
    for _ in range(RELEASE_ATTEMPTS):
        if hold.released_at is not None:
            return (
                f"{target.id}: hold {hold.push_id} already released {utc_text(hold.released_at)} by {hold.released_by}"
            )
        if now >= hold.max_until:
            return f"{target.id}: hold {hold.push_id} already ended at {utc_text(hold.max_until)}; nothing to release"
        try:
            released = store.release_hold(table, target.id, hold, doc, now, by)
        except store.HoldChangedError:
            again = store.read_hold(table, target.id, hold.push_id)
            if again is None:
                return f"{target.id}: hold {hold.push_id} is gone (expired meanwhile); nothing to release"
            hold, doc = again
            continue
        scaling = target.scaling
        return (
            f"{target.id}: released hold {released.push_id} ({released.units} units, sized for "
            f"{released.sized_for_rps:,.0f} rps) at {utc_text(now)} by {by}. It no longer counts: the loop scales in "
            f"after its {scaling.scale_in_cooldown_seconds} s cooldown, at most {scaling.max_scale_in_step_units} "
            f"units every {scaling.scale_in_step_interval_seconds} s, never below what the demand needs."
        )
    _fail(f"hold {hold.push_id!r} of target {target.id!r} kept changing; try again", AWS_EXIT_CODE)
