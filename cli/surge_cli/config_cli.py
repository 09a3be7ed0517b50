"""`surge config show|validate|apply|reset`: the configuration the loop uses, and the operator's part of it.

    surge config show [--stack surge] [--json]     # the merged configuration, and where each target comes from
    surge config validate targets.json             # the loop's own model; one line per problem, exit 2
    surge config apply targets.json [--stack S]    # validate, then write the operator's document
    surge config reset [--stack S]                 # remove the operator's document: the template's alone

The template owns `/<stack>/config` (every `make deploy` that changes a parameter rewrites it); `apply` writes
`/<stack>/operator-config`, which no deploy touches. The loop and the push path merge them by target id (the
operator's target wins): see `surge.adapters.config_source`.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

import boto3
import typer
from pydantic import ValidationError
from pydantic_core import InitErrorDetails
from rich.console import Console
from rich.table import Table

from surge.adapters import store
from surge.adapters.config_source import EffectiveConfig, ParameterPart, merge_targets, operator_document_location
from surge.adapters.config_source import parse_part as parse_document_part
from surge.adapters.errors import ConfigInvalidError
from surge.core.config import SurgeConfig, TargetConfig
from surge.core.errors import InvalidInputError, describe_validation_error
from surge_cli.deployed import AWS_EXIT_CODE, one_line_aws_errors, stack_outputs
from surge_cli.ops_cli import CONFIG_OUTPUTS, INVALID_INPUT_EXIT_CODE, output_console, stack_config

MAX_PARAMETER_BYTES = 8_192
"""An SSM parameter value holds at most 8 KB (advanced tier; 4 KB standard), per
https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html.
moto accepts more, AWS does not: a larger document (about 40 targets and more) goes to the Surge table."""
TIER: Final = "Intelligent-Tiering"
"""Standard (free) while the document fits in 4 KB, advanced only when it needs to be
(https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-default-tier.html)."""

config_app = typer.Typer(
    help="The configuration the loop uses: show it, validate or apply an operator document, reset it.",
    no_args_is_help=True,
)

StackOption = Annotated[str, typer.Option(help="deployed stack name (its parameters come from its outputs)")]


class DocumentError(Exception):
    """A configuration file breaks rules; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def problem_lines(error: ValidationError) -> list[str]:
    """One line per problem, each naming the field and (for a bound) the whole allowed range."""
    lines = []
    for problem in error.errors(include_url=False):
        single = ValidationError.from_exception_data(
            error.title,
            [
                InitErrorDetails(
                    type=problem["type"], loc=problem["loc"], input=problem["input"], ctx=problem.get("ctx", {})
                )
            ],
        )
        lines.append(describe_validation_error(single, model=SurgeConfig))
    return lines


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DocumentError([f"(document): key {key!r} appears twice in one object (JSON would keep the last)"])
        seen[key] = value
    return seen


def read_document(path: Path) -> SurgeConfig:
    """A configuration file, validated by the model the loop uses (`surge.core.config.SurgeConfig`)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DocumentError([f"FILE: cannot read {path}: {error.strerror or error}"]) from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DocumentError(
            [f"FILE: {path} is not UTF-8 (byte {raw[error.start]:#04x} at offset {error.start})"]
        ) from error
    try:
        json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as error:
        raise DocumentError(
            [f"(document): not JSON: {error.msg} at line {error.lineno} column {error.colno}"]
        ) from error
    try:
        return SurgeConfig.model_validate_json(text)
    except ValidationError as error:
        raise DocumentError(problem_lines(error)) from error


def operator_document(config: SurgeConfig) -> str:
    """What `apply` writes: the fields the file gave (defaults stay the code's, as in the template's document).
    Up to 500 targets fit (`SurgeConfig`); the compressed size is checked against a table item's all the same."""
    document = config.model_dump_json(exclude_unset=True)
    compressed = len(zlib.compress(document.encode(), 9))
    if compressed > store.MAX_DOCUMENT_BLOB_BYTES:
        limit = store.MAX_DOCUMENT_BLOB_BYTES
        raise DocumentError([f"(document): {compressed:,} bytes compressed, above the {limit:,} a table item holds"])
    return document


def fits_parameter(document: str) -> bool:
    """An SSM parameter holds it (else the table does)."""
    return len(document.encode()) <= MAX_PARAMETER_BYTES


def _fail(problems: list[str]) -> typer.Exit:
    console = Console(stderr=True)
    for line in problems:
        console.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(INVALID_INPUT_EXIT_CODE)


def _read_or_exit(path: Path) -> SurgeConfig:
    try:
        return read_document(path)
    except DocumentError as error:
        raise _fail(error.problems) from error


def _outputs(stack: str) -> dict[str, str]:
    try:
        return stack_outputs(stack, CONFIG_OUTPUTS)
    except InvalidInputError as error:
        raise _fail([str(error)]) from error


# ------------------------------------------------------------------------------------------ commands


@config_app.command("validate")
def validate_command(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="a configuration document (JSON)")],
) -> None:
    """Check a document with the loop's own model; one line per problem (exit 2). Nothing is read or written."""
    config = _read_or_exit(path)
    try:
        document = operator_document(config)
    except DocumentError as error:
        raise _fail(error.problems) from error
    where = (
        ""
        if fits_parameter(document)
        else f" ({len(document.encode()):,} bytes: above an SSM parameter's 8 KB, apply keeps it in the Surge table)"
    )
    typer.echo(f"{path}: valid, {len(config.targets)} target(s): {', '.join(t.id for t in config.targets)}{where}")


@config_app.command("apply")
def apply_command(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="the operator's document (JSON)")],
    stack: StackOption = "surge",
) -> None:
    """Validate FILE, then write it as the operator's document; the next loop execution (within a minute) uses it.

    Its targets are added to the template's, and one with a template target's id replaces it. An invalid
    document, or one that would break a rule together with the template's, writes nothing."""
    config = _read_or_exit(path)
    try:
        document = operator_document(config)
    except DocumentError as error:
        raise _fail(error.problems) from error
    with one_line_aws_errors():
        outputs = _outputs(stack)
        template = _template_part(outputs["ConfigParameterName"])
        try:
            merge_targets(template, list(config.targets))
        except ConfigInvalidError as error:
            raise _fail([str(error)]) from error
        name, version = _write_operator_document(document, outputs)
    template_ids = {t.id for t in template}
    changes = [f"{t.id} ({'overrides the template' if t.id in template_ids else 'added'})" for t in config.targets]
    typer.echo(f"applied to {name} (version {version}): {', '.join(changes)}")
    typer.echo("the next loop execution (within a minute) and every push from now use it")


def _write_operator_document(document: str, outputs: dict[str, str]) -> tuple[str, int]:
    """Write the document where it fits (its SSM parameter, else the table), then remove the other copy: the
    loop takes the newer of the two, so an apply interrupted in between still leaves the new document in force.
    Returns where it went and its version."""
    parameter, table = outputs["OperatorConfigParameterName"], outputs["SurgeTableName"]
    if fits_parameter(document):
        written = boto3.client("ssm").put_parameter(
            Name=parameter,
            Value=document,
            Type="String",
            Tier=TIER,
            Overwrite=True,
            Description="Surge operator configuration (surge config apply); merged with the template's by target id",
        )
        store.delete_operator_config(table)
        return parameter, written["Version"]
    stored = store.put_operator_config(table, document, datetime.now(UTC))
    _delete_parameter(parameter)
    return f"{operator_document_location(table)} ({len(document.encode()):,} bytes: above an SSM parameter's 8 KB)", (
        stored.version
    )


def _delete_parameter(name: str) -> bool:
    ssm = boto3.client("ssm")
    try:
        ssm.delete_parameter(Name=name)
    except ssm.exceptions.ParameterNotFound:
        return False
    return True


@config_app.command("reset")
def reset_command(stack: StackOption = "surge") -> None:
    """Remove the operator's document: the loop goes back to the template's targets alone."""
    with one_line_aws_errors():
        outputs = _outputs(stack)
        name, table = outputs["OperatorConfigParameterName"], outputs["SurgeTableName"]
        removed = [
            where
            for where, gone in (
                (name, _delete_parameter(name)),
                (operator_document_location(table), store.delete_operator_config(table)),
            )
            if gone
        ]
    if not removed:
        typer.echo(f"no operator document at {name}: nothing to remove")
        return
    typer.echo(f"removed {' and '.join(removed)}: the next loop execution uses the template's targets alone")


@config_app.command("show")
def show_command(
    stack: StackOption = "surge",
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object: the configuration and its sources")] = False,
) -> None:
    """The configuration the loop will use, and which document each target comes from."""
    with one_line_aws_errors():
        effective = stack_config(_outputs(stack))
    if as_json:
        typer.echo(json.dumps(show_document(effective), indent=2))
        return
    console = output_console()
    console.print(_part_line("template", effective.template, "make deploy writes it from the template's parameters"))
    if effective.operator is None:
        console.print("operator: none (surge config apply FILE writes one; no deploy overwrites it)", markup=False)
    else:
        console.print(_part_line("operator", effective.operator, "surge config apply writes it; no deploy does"))
    console.print(_targets_table(effective))
    for target in effective.config.targets:
        if effective.overrides_template(target.id):
            console.print(
                f"note: {target.id}: the operator's target replaces the template's; a make deploy that changes the "
                "template's parameters does not change it (surge config apply without it goes back)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


def show_document(effective: EffectiveConfig) -> dict[str, Any]:
    """`surge config show --json`: the merged document as the loop reads it, and where each target comes from."""

    def part(found: ParameterPart | None) -> dict[str, Any] | None:
        if found is None:
            return None
        modified = found.modified_at.isoformat() if found.modified_at else None
        return {"name": found.name, "version": found.version, "modified_at": modified}

    return {
        "config": effective.config.model_dump(mode="json"),
        "sources": [
            {
                "target_id": t.id,
                "source": effective.origin(t.id).value,
                "overrides_template": effective.overrides_template(t.id),
            }
            for t in effective.config.targets
        ],
        "parameters": {"template": part(effective.template), "operator": part(effective.operator)},
    }


def _template_part(name: str) -> list[TargetConfig]:
    """The template's targets now (what the operator's document is merged with)."""
    value = boto3.client("ssm").get_parameter(Name=name)["Parameter"].get("Value", "")
    try:
        return parse_document_part(value, source=f"SSM parameter {name}", allow_empty=True)
    except ConfigInvalidError as error:
        typer.echo(f"error: {error} (the template's document; make deploy rewrites it)", err=True)
        raise typer.Exit(AWS_EXIT_CODE) from error


def _part_line(label: str, part: ParameterPart, writer: str) -> str:
    modified = f", modified {part.modified_at:%Y-%m-%d %H:%M:%S %Z}" if part.modified_at else ""
    ids = ", ".join(t.id for t in part.targets) or "no targets"
    return f"{label}: {part.name} (version {part.version}{modified}): {ids}; {writer}"


def _targets_table(effective: EffectiveConfig) -> Table:
    table = Table(title="targets the loop uses")
    for column in ("target", "kind", "scales", "units", "unit rps", "interval s", "dry run", "from"):
        table.add_column(column)
    for target in effective.config.targets:
        scaling = target.scaling
        scaled = (
            f"{target.ecs.cluster}/{target.ecs.service}" if target.ecs else target.asg.group_name if target.asg else ""
        )
        origin = effective.origin(target.id).value
        if effective.overrides_template(target.id):
            origin += " (overrides the template's)"
        table.add_row(
            target.id,
            target.kind.value,
            scaled,
            f"{scaling.min_units}-{scaling.max_units}",
            f"{scaling.unit_capacity_rps:g}",
            str(scaling.loop_interval_seconds),
            "yes" if scaling.dry_run else "",
            origin,
        )
    return table
