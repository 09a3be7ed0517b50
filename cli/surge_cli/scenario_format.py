"""The field tables of docs/scenario-format.md, generated from the scenario models so the document cannot drift.

Types, defaults and ranges come from the pydantic models of `surge_cli.replay.scenario` (their JSON schema and
their defaults); what a field means comes from `MEANINGS` below, which must name every field and nothing else
(a new field without a meaning is an error here, and `tests/test_scenario_format.py` fails). Rewrite the tables
with `make scenario-format` (`python -m surge_cli.scenario_format docs/scenario-format.md`); `--check` only
says whether they are current.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from surge.core.config import DEFAULT_PUSH_SAFETY_FACTOR
from surge_cli.replay.scenario import (
    CalendarEntry,
    CsvTraffic,
    FleetTarget,
    InlineTraffic,
    InstancesSpec,
    MetricGap,
    Push,
    ReplayConfig,
    Scenario,
    TargetSpec,
)


@dataclass(frozen=True)
class Section:
    """One table: the fields of `model`, each shown as `prefix + name`."""

    block: str
    model: type[BaseModel]
    prefix: str


SECTIONS: tuple[Section, ...] = (
    Section("scenario", Scenario, ""),
    Section("target", TargetSpec, "target."),
    Section("target-instances", InstancesSpec, "target.instances."),
    Section("traffic-csv", CsvTraffic, "traffic."),
    Section("traffic-inline", InlineTraffic, "traffic."),
    Section("targets", FleetTarget, "targets[]."),
    Section("targets-traffic-csv", CsvTraffic, "targets[].traffic."),
    Section("targets-traffic-inline", InlineTraffic, "targets[].traffic."),
    Section("pushes", Push, "pushes[]."),
    Section("calendar", CalendarEntry, "calendar[]."),
    Section("config", ReplayConfig, "config."),
    Section("metric-gaps", MetricGap, "config.metric_gaps[]."),
)

_MEANINGS: dict[str, str] = {
    "name": "the scenario's name, shown in the table and the `--json` output",
    "start": (
        "the replay's wall-clock start, ISO 8601 with a UTC offset (`2026-01-21T20:00:00+09:00`); between "
        "2000-01-01 and 2199-12-31"
    ),
    "duration_seconds": "how long the replay runs (at most 7 days)",
    "target": "the scaled fleet: [target](#target); required unless `targets`",
    "traffic": (
        "the demand: a [CSV file](#traffic-a-csv-file) or [inline values](#traffic-inline-values); required with "
        "`target`, not with `targets`"
    ),
    "targets": (
        "instead of `target` and `traffic`: several fleets scaled by one Surge loop, each with its own id and "
        "traffic: [targets](#targets)"
    ),
    "pushes": "the push server's notifications: [pushes](#pushes)",
    "calendar": "pre-announced events: [calendar](#calendar)",
    "config": "Surge's settings and the world's parameters: [config](#config)",
    "target.kind": "`ecs`: the units are an ECS service's tasks; `asg`: an EC2 Auto Scaling group's instances",
    "target.initial_units": "units in service at t = 0; within [`min_units`, `max_units`]",
    "target.min_units": "no policy goes below it; at most `max_units`",
    "target.max_units": "no policy goes above it",
    "target.unit_capacity_rps": (
        "requests per second one in-service unit serves; demand above the in-service capacity is dropped"
    ),
    "target.startup_seconds": (
        "a unit asked for serves this long later (with `instances`: a task placed on an instance serves this long "
        "after its placement)"
    ),
    "target.instances": (
        "`ecs` only: the tasks run on EC2 instances, an Auto Scaling group behind a capacity provider with managed "
        "scaling: [instances](#targetinstances); none: the tasks start wherever they are asked for (Fargate)"
    ),
    "target.instances.tasks_per_instance": "how many tasks fit one instance (its task slots)",
    "target.instances.startup_seconds": (
        "an instance launched takes this long to come into service (registered with the cluster); tasks are "
        "placed only on instances in service"
    ),
    "target.instances.initial_units": (
        "instances in service at t = 0, running the initial tasks binpacked; within [`min_units`, `max_units`], "
        "and the target's `initial_units` must fit them (at most `initial_units` x `tasks_per_instance`)"
    ),
    "target.instances.min_units": "the group's MinSize (and the floor Surge returns it to)",
    "target.instances.max_units": "the group's MaxSize; at least `min_units`",
    "traffic.csv": (
        "path of a CSV file with columns `t_seconds,rps`, relative to the scenario file's folder "
        "([rules](#the-traffic-csv))"
    ),
    "traffic.rps": "requests per second from t = 0, each value (finite) for `resolution_seconds`",
    "traffic.resolution_seconds": "how many seconds each `rps` value lasts",
    "pushes[].at_seconds": "when the push server calls `PutEvents`, seconds after `start`; before `duration_seconds`",
    "pushes[].audience": "devices the notification goes to; Surge sizes the scale-out from it",
    "pushes[].id": (
        "the push's id; the same id listed twice, with the same audience, is one push delivered twice (two "
        "`PutEvents`, which must act once); a reused id with another audience is an error"
    ),
    "pushes[].true_rps_per_audience": (
        "informational: the rate per audience member the traffic was generated from (the truth), against which "
        "the operator's guess `config.push_rps_per_audience` is judged"
    ),
    "pushes[].target_id": (
        "with `targets` only: the id of the target the push is for; none: every target (a `PushSent` event "
        "naming no target holds them all)"
    ),
    "calendar[].name": "the event's name",
    "calendar[].start": "with a UTC offset, or a naive wall-clock time in `time_zone`",
    "calendar[].end": "as `start`; after `start`",
    "calendar[].time_zone": (
        "an IANA time zone (`Asia/Seoul`); required when `start` or `end` has no UTC offset; a wall-clock time "
        "that does not exist there (skipped by daylight saving) is an error"
    ),
    "calendar[].units": "units held from `start - lead_seconds` until `end`",
    "calendar[].lead_seconds": "how long before `start` the units are asked for",
    "calendar[].target_id": "with `targets`, required: the id of the target the entry is for; with `target`, none",
    "config.loop_interval_seconds": "seconds between two iterations of Surge's loop",
    "config.target_utilization": "the share of a unit's capacity Surge sizes for",
    "config.push_rps_per_audience": "the operator's guess: requests per second per audience member after a push",
    "config.push_safety_factor": (
        f"size a push for this multiple of the guessed rate; none: Surge's default ({DEFAULT_PUSH_SAFETY_FACTOR})"
    ),
    "config.push_min_hold_seconds": (
        "a push's hold never falls below the observed peak's need before this; at most `push_hold_seconds`"
    ),
    "config.push_hold_seconds": "a push's hold ends at the latest this long after the push",
    "config.scale_in_cooldown_seconds": "the window of demand a scale-in must hold over",
    "config.metric_publication_delay_seconds": "an ALB minute's RequestCount appears this long after it closes",
    "config.metric_gaps": "ALB minutes without a datapoint: [metric gaps](#configmetric_gaps)",
    "config.latency": (
        "how long each AWS step takes ([the latency world](../README.md#the-latency-world); `none`: every step "
        "instantaneous); `surge replay --latency` overrides it"
    ),
    "config.seed": "seeds the latency jitter and the order of flows due at the same instant",
    "config.high_resolution_metric_period_seconds": (
        "the application publishes a request count at StorageResolution=1 with this period, and the target reads "
        "it as its `high_resolution_metric`; none: no such metric"
    ),
    "config.high_resolution_publication_delay_seconds": (
        "the high-resolution datapoint appears this long after its period closes"
    ),
    "config.alb_first_publication_share": (
        "below 1, an ALB minute first appears with this share of its requests and is revised upward "
        "`alb_revision_delay_seconds` later (CloudWatch's newest datapoint can be incomplete when first read)"
    ),
    "config.alb_revision_delay_seconds": "the rest of a partial ALB minute appears this long after the first part",
    "config.metric_gaps[].start_seconds": "the first ALB minute without a datapoint starts at or after this",
    "config.metric_gaps[].end_seconds": "minutes starting before this have no datapoint; after `start_seconds`",
}


MEANINGS: Mapping[str, str] = {
    **_MEANINGS,
    "targets[].id": (
        "the target's id in Surge's configuration (its ECS service or Auto Scaling group, its load balancer and "
        "its high-resolution metric are named after it); unique among `targets`"
    ),
    "targets[].traffic": (
        "this target's demand: a [CSV file](#traffic-a-csv-file) or [inline values](#traffic-inline-values)"
    ),
    **{
        f"targets[].{name}": _MEANINGS[f"target.{name}"]
        for name in ("kind", "initial_units", "min_units", "max_units", "unit_capacity_rps", "startup_seconds")
    },
    **{f"targets[].{key}": meaning for key, meaning in _MEANINGS.items() if key.startswith("traffic.")},
}
"""`targets[]` items are `target`s with an id and their own `traffic`: the same meanings."""


class FormatError(ValueError):
    """The models and MEANINGS disagree, or the document lacks a block."""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _definition(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    reference = schema.get("$ref")
    if isinstance(reference, str):
        definition: Mapping[str, Any] = root["$defs"][reference.rsplit("/", 1)[-1]]
        return definition
    return schema


def _kind_and_allowed(schema: Mapping[str, Any], root: Mapping[str, Any]) -> tuple[str, str]:
    """A JSON schema property as (type, allowed values)."""
    for union in ("anyOf", "oneOf"):
        if union in schema:
            options = [option for option in schema[union] if option.get("type") != "null"]
            nullable = len(options) < len(schema[union])
            described = [_kind_and_allowed(option, root) for option in options]
            kind = " or ".join(dict.fromkeys(kind for kind, _ in described))
            allowed = "; ".join(allowed for _, allowed in described if allowed)
            return (f"{kind} or none" if nullable else kind), allowed
    if "$ref" in schema:
        return "object", ""
    if "enum" in schema:
        kind = {"string": "string", "integer": "integer"}.get(str(schema.get("type")), "value")
        return kind, ", ".join(f"`{value}`" for value in schema["enum"])
    if "const" in schema:
        return str(schema.get("type", "value")), f"`{schema['const']}`"
    kind = str(schema.get("type", "value"))
    if kind == "array":
        item_kind, item_allowed = _kind_and_allowed(schema.get("items", {}), root)
        parts = [_items(schema["minItems"])] if "minItems" in schema else []
        if item_allowed:
            parts.append(f"each {item_allowed}")
        return f"list of {_plural(item_kind)}", ", ".join(parts)
    if kind == "string":
        if schema.get("format") == "date-time":
            return "date-time", "ISO 8601"
        return kind, _length(schema)
    if kind in ("integer", "number"):
        return kind, _range(schema)
    return kind, ""


def _items(minimum: int) -> str:
    return "not empty" if minimum == 1 else f"at least {minimum} items"


def _plural(kind: str) -> str:
    return {"object": "objects", "number": "numbers", "integer": "integers", "string": "strings"}.get(kind, kind)


def _range(schema: Mapping[str, Any]) -> str:
    integer = schema.get("type") == "integer"
    low: tuple[str, float] | None = None
    high: tuple[str, float] | None = None
    if "exclusiveMinimum" in schema:
        low = (">=", schema["exclusiveMinimum"] + 1) if integer else (">", schema["exclusiveMinimum"])
    elif "minimum" in schema:
        low = (">=", schema["minimum"])
    if "exclusiveMaximum" in schema:
        high = ("<=", schema["exclusiveMaximum"] - 1) if integer else ("<", schema["exclusiveMaximum"])
    elif "maximum" in schema:
        high = ("<=", schema["maximum"])
    if low is not None and high is not None and low[0] == ">=" and high[0] == "<=":
        return f"{_number(low[1])} to {_number(high[1])}"
    return " and ".join(f"{bound[0]} {_number(bound[1])}" for bound in (low, high) if bound is not None)


def _length(schema: Mapping[str, Any]) -> str:
    parts: list[str] = []
    if "minLength" in schema and "maxLength" in schema:
        parts.append(f"{schema['minLength']}-{schema['maxLength']} characters")
    elif schema.get("minLength") == 1:
        parts.append("not empty")
    elif "minLength" in schema:
        parts.append(f"at least {schema['minLength']} characters")
    elif "maxLength" in schema:
        parts.append(f"at most {schema['maxLength']} characters")
    if "pattern" in schema:
        parts.append(f"matching `{schema['pattern']}`")
    return ", ".join(parts)


def _default(model: type[BaseModel], name: str) -> str:
    field = model.model_fields[name]
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        made = field.default_factory()  # type: ignore[call-arg]
        return "all defaults" if isinstance(made, BaseModel) else f"`{json.dumps(made)}`"
    if field.default is None or field.default is PydanticUndefined:
        return "none"
    return f"`{json.dumps(field.default)}`"


def field_keys(section: Section) -> list[str]:
    return [section.prefix + name for name in section.model.model_fields]


def table(section: Section) -> str:
    """The markdown table of one section's fields."""
    root = section.model.model_json_schema()
    properties: Mapping[str, Any] = root["properties"]
    lines = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for name in section.model.model_fields:
        key = section.prefix + name
        if key not in MEANINGS:
            raise FormatError(f"{key}: no meaning in surge_cli.scenario_format.MEANINGS (add one)")
        kind, allowed = _kind_and_allowed(properties[name], root)
        cells = [f"`{key}`", kind, _default(section.model, name), allowed, MEANINGS[key]]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _block(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- fields:{re.escape(name)} -->\n)(.*?)(<!-- /fields:{re.escape(name)} -->)", re.DOTALL)


def render(document: str) -> str:
    """`document` with every field table rewritten from the models."""
    known = {key for section in SECTIONS for key in field_keys(section)}
    stale = sorted(set(MEANINGS) - known)
    if stale:
        raise FormatError(f"MEANINGS names fields the models no longer have: {', '.join(stale)}")
    for section in SECTIONS:
        pattern = _block(section.block)
        if not pattern.search(document):
            raise FormatError(f"the document has no <!-- fields:{section.block} --> block")
        generated = table(section)

        def replace(found: re.Match[str], text: str = generated) -> str:
            return found.group(1) + text + found.group(3)

        document = pattern.sub(replace, document)
    return document


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [argument for argument in argv if argument != "--check"]
    if len(paths) != 1:
        print("usage: python -m surge_cli.scenario_format [--check] docs/scenario-format.md", file=sys.stderr)
        return 2
    path = Path(paths[0])
    try:
        current = path.read_text(encoding="utf-8")
        rendered = render(current)
    except (OSError, FormatError) as error:
        print(f"error: {path}: {error}", file=sys.stderr)
        return 2
    if check:
        if rendered != current:
            print(f"error: {path}: field tables are stale: run make scenario-format", file=sys.stderr)
            return 1
        return 0
    if rendered != current:
        path.write_text(rendered, encoding="utf-8")
        print(f"rewrote the field tables of {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
