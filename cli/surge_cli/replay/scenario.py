"""The replay scenario file: one JSON document, validated strictly (a typo must never change a replay silently).

Format (brief, "Scenario files"): `name`, `start` (aware ISO 8601), `duration_seconds`, `target`, `traffic`
(a CSV of `t_seconds,rps` or inline `rps` with `resolution_seconds`), `pushes`, `calendar` and `config`; or,
instead of `target` and `traffic`, `targets` (several, each with its own `id` and `traffic`: docs/scenario-format.md).
Relative paths resolve against the scenario file's folder. Every error is one line that names the field
(or the CSV line), raised as `ScenarioError`; the command turns it into exit code 2.
"""

from __future__ import annotations

import codecs
import csv
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from surge.core.calendar import to_utc
from surge.core.config import ScalingConfig, TargetConfig, TargetId
from surge_cli.localaws.latency import ProfileName

MAX_DURATION_SECONDS = 7 * 86_400
LOAD_BALANCER = "app/replay-alb/50dc6c495c0c9188"
TARGET_ID = "api"
"""The id of a scenario's single `target` (its ECS service or Auto Scaling group is named so too)."""
HIGH_RESOLUTION_NAMESPACE = "Replay/App"
HIGH_RESOLUTION_METRIC_NAME = "RequestCount"
HIGH_RESOLUTION_DIMENSIONS = {"Service": TARGET_ID}
MAX_REPLAY_TARGETS = 50
"""At most this many `targets`: the replay plays every target's world (its service or group, its load balancer's
minutes, one timeline per policy) in one process on moto, and a replay must stay interactive (a 30-minute,
50-target replay is minutes); 50 is also the template's largest TargetsPerShard, so a replay of any size still
exercises the scaler's Map over shards at the default of 10 (5 shards). Fleets beyond that are `make bench`'s."""


def load_balancer_of(target_id: str) -> str:
    """The LoadBalancer dimension of a target's request-count metric (one load balancer per target)."""
    return LOAD_BALANCER if target_id == TARGET_ID else f"app/replay-{target_id}/50dc6c495c0c9188"


def high_resolution_dimensions_of(target_id: str) -> dict[str, str]:
    return HIGH_RESOLUTION_DIMENSIONS if target_id == TARGET_ID else {"Service": target_id}


CLUSTER = "replay"
LINKED_GROUP = "replay-instances"
"""ECS on EC2 (`target.instances`): the Auto Scaling group the tasks run on ..."""
LINKED_CAPACITY_PROVIDER = "replay-capacity"
"""... behind this capacity provider on the cluster, managed scaling ENABLED (target capacity 100 %, warm-up 300 s)."""


class ScenarioError(ValueError):
    """The scenario is invalid; the message is one line naming the field or the CSV line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must be an aware ISO 8601 date-time (with a UTC offset)")
    return value


def _known_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Asia/Seoul')") from error
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
TimeZoneName = Annotated[str, AfterValidator(_known_time_zone)]
NonNegativeRps = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def check_unit_ranges(min_units: int, initial_units: int, max_units: int) -> None:
    """min_units <= initial_units <= max_units, or a ValueError naming the fields."""
    if min_units > max_units:
        raise ValueError(f"min_units ({min_units}) must be <= max_units ({max_units})")
    if not min_units <= initial_units <= max_units:
        raise ValueError(f"initial_units ({initial_units}) must be within [min_units, max_units]")


class InstancesSpec(_Strict):
    """ECS on EC2: the Auto Scaling group (behind the capacity provider `replay-capacity`) the tasks run on."""

    tasks_per_instance: int = Field(ge=1, le=1_000)
    startup_seconds: int = Field(ge=0, le=3_600)
    initial_units: int = Field(ge=0, le=10_000)
    min_units: int = Field(ge=0, le=10_000)
    max_units: int = Field(ge=1, le=10_000)

    @model_validator(mode="after")
    def _ranges_agree(self) -> Self:
        check_unit_ranges(self.min_units, self.initial_units, self.max_units)
        return self


class _Units(_Strict):
    """What every scaled fleet has: units are ECS tasks (`ecs`) or EC2 instances (`asg`)."""

    kind: Literal["ecs", "asg"]
    initial_units: int = Field(ge=0, le=10_000)
    min_units: int = Field(ge=0, le=10_000)
    max_units: int = Field(ge=1, le=10_000)
    unit_capacity_rps: float = Field(gt=0, le=1_000_000)
    startup_seconds: int = Field(ge=0, le=3_600)

    @model_validator(mode="after")
    def _ranges_agree(self) -> Self:
        check_unit_ranges(self.min_units, self.initial_units, self.max_units)
        return self


class TargetSpec(_Units):
    """The scaled fleet: units are ECS tasks (`ecs`) or EC2 instances (`asg`)."""

    instances: InstancesSpec | None = None

    @field_validator("instances")
    @classmethod
    def _instances_only_for_ecs(cls, value: InstancesSpec | None, info: ValidationInfo) -> InstancesSpec | None:
        if value is not None and info.data.get("kind") != "ecs":
            raise ValueError("only for kind 'ecs' (the tasks' instances); an 'asg' target's units are instances")
        return value

    @model_validator(mode="after")
    def _instances_fit(self) -> Self:
        if self.instances is not None:
            slots = self.instances.initial_units * self.instances.tasks_per_instance
            if self.initial_units > slots:
                raise ValueError(
                    f"initial_units ({self.initial_units}) must fit the initial instances: at most "
                    f"instances.initial_units x instances.tasks_per_instance = {slots}"
                )
        return self


class CsvTraffic(_Strict):
    csv: str = Field(min_length=1, description="path of a CSV with columns t_seconds,rps (relative to the scenario)")


class InlineTraffic(_Strict):
    rps: list[NonNegativeRps] = Field(min_length=1)
    resolution_seconds: int = Field(default=1, ge=1, le=3_600)


_TRAFFIC_TAGS = ("csv-file", "inline")


def _traffic_kind(value: object) -> str:
    if isinstance(value, dict):
        return "csv-file" if "csv" in value else "inline"
    return "csv-file" if isinstance(value, CsvTraffic) else "inline"


Traffic = Annotated[
    Annotated[CsvTraffic, Tag("csv-file")] | Annotated[InlineTraffic, Tag("inline")], Discriminator(_traffic_kind)
]


class FleetTarget(_Units):
    """One of a scenario's `targets`: a scaled fleet with its own id and its own traffic (ECS on EC2,
    `instances`, is replayed for a single `target` only)."""

    id: TargetId
    traffic: Traffic

    def spec(self) -> TargetSpec:
        return TargetSpec.model_validate(self.model_dump(exclude={"id", "traffic"}))


TARGET_ID_FIELD = Field(
    default=None,
    min_length=1,
    max_length=64,
    description="with `targets`: the id of the target it is for",
)


class Push(_Strict):
    """One PutEvents of the push server. The same `id` listed twice (same audience) is a duplicate delivery."""

    at_seconds: int = Field(ge=0)
    audience: int = Field(ge=0)
    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    true_rps_per_audience: float | None = Field(
        default=None,
        ge=0,
        le=10,
        description="informational: the rate per audience member the traffic was generated from (the truth)",
    )
    target_id: str | None = TARGET_ID_FIELD


class CalendarEntry(_Strict):
    """A pre-announced event: `start`/`end` aware, or naive local times in `time_zone` (IANA)."""

    name: str = Field(min_length=1, max_length=256)
    start: datetime
    end: datetime
    time_zone: TimeZoneName | None = None
    units: int = Field(ge=1, le=10_000)
    lead_seconds: int = Field(default=600, ge=0, le=86_400)
    target_id: str | None = TARGET_ID_FIELD

    @model_validator(mode="after")
    def _resolvable(self) -> Self:
        for label, moment in (("start", self.start), ("end", self.end)):
            if moment.tzinfo is None and self.time_zone is None:
                raise ValueError(f"{label} is a naive time: give a UTC offset or a time_zone")
        if self.end_utc <= self.start_utc:
            raise ValueError("end must be after start")
        return self

    @property
    def start_utc(self) -> datetime:
        return to_utc(self.start, self.time_zone or "UTC", "start")

    @property
    def end_utc(self) -> datetime:
        return to_utc(self.end, self.time_zone or "UTC", "end")


class MetricGap(_Strict):
    """World parameter: ALB minutes starting in [start_seconds, end_seconds) publish no datapoint."""

    start_seconds: int = Field(ge=0)
    end_seconds: int = Field(gt=0)


HighResolutionPeriod = Literal[1, 5, 10, 20, 30, 60]


class ReplayConfig(_Strict):
    """Surge's knobs for the replay (defaults as in the brief), plus world parameters."""

    loop_interval_seconds: int = Field(default=5, ge=1, le=60)
    target_utilization: float = Field(default=0.7, gt=0, le=1)
    push_rps_per_audience: float = Field(default=0.01, ge=0, le=10)
    push_safety_factor: float | None = Field(default=None, ge=1, le=10, description="None: Surge's default")
    push_min_hold_seconds: int = Field(default=600, ge=0, le=86_400)
    push_hold_seconds: int = Field(default=1_800, ge=0, le=86_400)
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=3_600)
    metric_publication_delay_seconds: int = Field(default=60, ge=0, le=600)
    metric_gaps: list[MetricGap] = Field(default_factory=list)
    latency: ProfileName = Field(default="typical", description="world: how long AWS steps take")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="world: seeds latency jitter")
    high_resolution_metric_period_seconds: HighResolutionPeriod | None = Field(
        default=None, description="world: the target publishes a high-resolution request metric with this period"
    )
    high_resolution_publication_delay_seconds: int = Field(default=5, ge=0, le=300)
    alb_first_publication_share: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="world: share of an ALB minute's requests in its first datapoint (1 = complete at once)",
    )
    alb_revision_delay_seconds: int = Field(
        default=60, ge=1, le=600, description="world: the rest of a partial minute appears this much later"
    )


EARLIEST_START = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_START = datetime(2199, 12, 31, tzinfo=UTC)


class Scenario(_Strict):
    name: str = Field(min_length=1, max_length=128)
    start: AwareDatetime
    duration_seconds: int = Field(gt=0, le=MAX_DURATION_SECONDS)
    target: TargetSpec | None = None
    traffic: Traffic | None = None
    targets: list[FleetTarget] | None = Field(default=None, min_length=1, max_length=MAX_REPLAY_TARGETS)
    pushes: list[Push] = Field(default_factory=list)
    calendar: list[CalendarEntry] = Field(default_factory=list)
    config: ReplayConfig = Field(default_factory=ReplayConfig)

    @field_validator("start")
    @classmethod
    def _start_in_range(cls, value: datetime) -> datetime:
        # The replay runs AWS on a simulated clock from `start`, with holds and windows hours past it: a start
        # near year 9999 would overflow Python's datetime mid-replay instead of being refused here.
        if not EARLIEST_START <= value <= LATEST_START:
            raise ValueError("must be between 2000-01-01 and 2199-12-31")
        return value

    @property
    def is_fleet(self) -> bool:
        """Several targets (`targets`) rather than one (`target`)."""
        return self.targets is not None

    @property
    def spec(self) -> TargetSpec:
        """The single target (`target`); a scenario with `targets` has none (replay each of `target_views()`)."""
        if self.target is None:
            raise ValueError("a scenario with `targets` has no single target: use its target_views()")
        return self.target

    def target_views(self) -> dict[str, Scenario]:
        """`targets`: each target as a single-target scenario of its own (its traffic, the pushes naming it or no
        target, the calendar entries naming it), by id; a single-target scenario is its only view."""
        if self.targets is None:
            return {TARGET_ID: self}
        return {
            fleet_target.id: self.model_copy(
                update={
                    "target": fleet_target.spec(),
                    "traffic": fleet_target.traffic,
                    "targets": None,
                    "pushes": [p for p in self.pushes if p.target_id in (None, fleet_target.id)],
                    "calendar": [c for c in self.calendar if c.target_id == fleet_target.id],
                }
            )
            for fleet_target in self.targets
        }

    def distinct_pushes(self) -> list[Push]:
        """Each push once (its first delivery), in scenario order."""
        first: dict[str, Push] = {}
        for push in self.pushes:
            first.setdefault(push.id, push)
        return list(first.values())

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)

    def at(self, t_seconds: float) -> datetime:
        return self.start_utc + timedelta(seconds=t_seconds)

    def scaling_config(self) -> ScalingConfig:
        """The scenario's config mapped onto Surge's own ScalingConfig (min/max/capacity from `target`)."""
        return ScalingConfig(
            min_units=self.spec.min_units,
            max_units=self.spec.max_units,
            initial_units=self.spec.initial_units,
            unit_capacity_rps=self.spec.unit_capacity_rps,
            target_utilization=self.config.target_utilization,
            loop_interval_seconds=self.config.loop_interval_seconds,
            scale_in_cooldown_seconds=self.config.scale_in_cooldown_seconds,
            push_rps_per_audience=self.config.push_rps_per_audience,
            push_min_hold_seconds=self.config.push_min_hold_seconds,
            push_hold_seconds=self.config.push_hold_seconds,
            unit_startup_seconds=self.spec.startup_seconds,
            **(
                {} if self.config.push_safety_factor is None else {"push_safety_factor": self.config.push_safety_factor}
            ),
        )

    def target_config(self, target_id: str = TARGET_ID) -> TargetConfig:
        """The single target as Surge's TargetConfig, with the id `target_id` (its service or group, load
        balancer and high-resolution metric named after it)."""
        reference = (
            {"ecs": {"cluster": CLUSTER, "service": target_id}}
            if self.spec.kind == "ecs"
            else {"asg": {"group_name": target_id}}
        )
        period = self.config.high_resolution_metric_period_seconds
        high_resolution = (
            {}
            if period is None
            else {
                "high_resolution_metric": {
                    "namespace": HIGH_RESOLUTION_NAMESPACE,
                    "metric_name": HIGH_RESOLUTION_METRIC_NAME,
                    "dimensions": high_resolution_dimensions_of(target_id),
                    "period_seconds": period,
                }
            }
        )
        linked = self.linked_instances()
        instances = {} if linked is None or "instances" not in TargetConfig.model_fields else {"instances": linked}
        return TargetConfig.model_validate(
            {
                "id": target_id,
                "kind": self.spec.kind,
                **reference,
                "load_balancer": {"load_balancer": load_balancer_of(target_id)},
                **high_resolution,
                "scaling": self.scaling_config().model_dump(),
                **instances,
            }
        )

    def linked_instances(self) -> dict[str, Any] | None:
        """`target.instances` as Surge's `LinkedInstances` (issue 14's config, `TargetConfig.instances`): the
        capacity provider the replay creates (managed scaling on), the floor Surge returns the group to and the
        instances' start-up as Surge's lookahead. None for a target without instances.

        `target_config()` passes it on once `TargetConfig` has the `instances` field; until then Surge decides
        the tasks alone and the instances are the capacity provider's managed scaling's (the world plays both)."""
        spec = self.spec.instances
        if spec is None:
            return None
        return {
            "capacity_provider": LINKED_CAPACITY_PROVIDER,
            "tasks_per_instance": spec.tasks_per_instance,
            "min_instances": spec.min_units,
            "instance_startup_seconds": spec.startup_seconds,
        }


class LoadedScenario:
    """A validated scenario with its demand resolved to one value per second (`demand_rps[t]`).

    With `targets`, `target_demand_rps` holds each target's demand by id, `demand_rps` their sum (the fleet's),
    and `targets()` each target as a single-target LoadedScenario of its own (what the baselines and the KPIs
    replay and measure)."""

    def __init__(
        self,
        scenario: Scenario,
        demand_rps: list[float],
        path: Path | None = None,
        notes: list[str] | None = None,
        target_demand_rps: dict[str, list[float]] | None = None,
    ) -> None:
        self.scenario = scenario
        self.demand_rps = demand_rps
        self.path = path
        self.notes = notes or []
        """What the file leaves to an assumption (traffic shorter than the scenario, a CSV starting late)."""
        self.target_demand_rps = target_demand_rps or {}

    @property
    def is_fleet(self) -> bool:
        return self.scenario.is_fleet

    def targets(self) -> dict[str, LoadedScenario]:
        """Each target as a single-target scenario with its own demand, by id; a single-target scenario is its
        only one (under TARGET_ID)."""
        if not self.scenario.is_fleet:
            return {TARGET_ID: self}
        return {
            target_id: LoadedScenario(view, self.target_demand_rps[target_id], self.path, self.notes)
            for target_id, view in self.scenario.target_views().items()
        }

    def with_config(self, **changes: object) -> LoadedScenario:
        """The same scenario with some `config` keys changed (validated like the file's own)."""
        try:
            config = ReplayConfig.model_validate({**self.scenario.config.model_dump(), **changes})
        except ValidationError as error:
            raise ScenarioError(f"config: {_all_problems(error)}") from error
        return LoadedScenario(
            self.scenario.model_copy(update={"config": config}),
            self.demand_rps,
            self.path,
            self.notes,
            self.target_demand_rps,
        )

    def truncated(self, duration_seconds: int) -> LoadedScenario:
        """The scenario's first `duration_seconds` (pushes after the cut dropped)."""
        duration = max(1, min(duration_seconds, self.scenario.duration_seconds))
        pushes = [p for p in self.scenario.pushes if p.at_seconds < duration]
        scenario = self.scenario.model_copy(update={"duration_seconds": duration, "pushes": pushes})
        by_target = {target_id: demand[:duration] for target_id, demand in self.target_demand_rps.items()}
        return LoadedScenario(scenario, self.demand_rps[:duration], self.path, self.notes, by_target)

    def demand_at(self, t_seconds: int) -> float:
        """Demand at second `t`; before the start the first value holds, after the end the last."""
        if t_seconds < 0:
            return self.demand_rps[0]
        return self.demand_rps[min(t_seconds, len(self.demand_rps) - 1)]


# ---------------------------------------------------------------------------------------------- loading


def read_text(path: Path, what: str) -> str:
    """A text file as editors save it: UTF-8 with or without a BOM (Excel's "CSV UTF-8"), or UTF-16 with its BOM
    (Windows PowerShell 5's `>`); anything else is one line saying so."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ScenarioError(f"{what}: cannot read {path}: {error.strerror}") from error
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as error:
            raise ScenarioError(f"{what}: {path.name} starts like UTF-16 but is not ({error.reason})") from error
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ScenarioError(
            f"{what}: {path.name} byte {error.start} is not UTF-8: save the file as UTF-8 (or UTF-16 with a BOM)"
        ) from error


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ScenarioError(f"key {key!r} appears twice in one object (the last would silently win)")
        seen[key] = value
    return seen


def load_scenario(path: Path) -> LoadedScenario:
    """Read, validate and resolve a scenario file; raises ScenarioError naming the field of every problem."""
    text = read_text(path, str(path))
    if not text.strip():
        raise ScenarioError(f"{path}: the file is empty")
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except ScenarioError as error:
        raise ScenarioError(f"{path}: {error}") from error
    except json.JSONDecodeError as error:
        raise ScenarioError(f"{path}: not valid JSON: line {error.lineno}: {error.msg}") from error
    return parse_scenario(document, base_dir=path.parent, path=path)


def parse_scenario(document: object, *, base_dir: Path, path: Path | None = None) -> LoadedScenario:
    source = str(path) if path is not None else "scenario"
    try:
        scenario = Scenario.model_validate(document)
    except ValidationError as error:
        raise ScenarioError(f"{source}: {_all_problems(error)}") from error
    _check_targets(scenario, source)
    notes: list[str] = []
    if scenario.targets is None:
        demand = resolve_demand(scenario, base_dir, notes)
        by_target: dict[str, list[float]] = {}
    else:
        by_target = {
            target.id: _target_demand(scenario, index, base_dir, notes) for index, target in enumerate(scenario.targets)
        }
        demand = [sum(values) for values in zip(*by_target.values(), strict=True)]
    _check_times(scenario, source)
    return LoadedScenario(scenario, demand, path, notes, by_target)


def _check_targets(scenario: Scenario, source: str) -> None:
    """`target` + `traffic` or `targets`, never both; unique target ids; every `target_id` one of them."""
    if scenario.target is not None and scenario.targets is not None:
        raise ScenarioError(f"{source}: targets: give either target (one) or targets (several), not both")
    if scenario.targets is None:
        if scenario.target is None:
            raise ScenarioError(f"{source}: target: required (or targets: a list of 1-{MAX_REPLAY_TARGETS} targets)")
        if scenario.traffic is None:
            raise ScenarioError(f"{source}: traffic: required with target")
        for where, target_id in _named_targets(scenario):
            if target_id is not None:
                raise ScenarioError(
                    f"{source}: {where}: only with targets (a scenario's single target has no id to name) "
                    f"(got: {target_id!r})"
                )
        return
    if scenario.traffic is not None:
        raise ScenarioError(f"{source}: traffic: not with targets (each target has its own targets[].traffic)")
    ids: list[str] = []
    for index, target in enumerate(scenario.targets):
        if target.id in ids:
            raise ScenarioError(
                f"{source}: targets.{index}.id: {target.id!r} is already the id of targets.{ids.index(target.id)}; "
                "ids must be unique"
            )
        ids.append(target.id)
    known = ", ".join(ids)
    for where, target_id in _named_targets(scenario):
        if target_id is None and where.startswith("calendar."):
            raise ScenarioError(
                f"{source}: {where}: required with targets (a calendar entry is for one target: one of {known})"
            )
        if target_id is not None and target_id not in ids:
            raise ScenarioError(f"{source}: {where}: must be one of the targets' ids ({known}) (got: {target_id!r})")


def _named_targets(scenario: Scenario) -> list[tuple[str, str | None]]:
    """(`pushes.<i>.target_id` or `calendar.<i>.target_id`, its value) of every push and calendar entry."""
    pushes = [(f"pushes.{i}.target_id", push.target_id) for i, push in enumerate(scenario.pushes)]
    return pushes + [(f"calendar.{i}.target_id", entry.target_id) for i, entry in enumerate(scenario.calendar)]


def _target_demand(scenario: Scenario, index: int, base_dir: Path, notes: list[str]) -> list[float]:
    """`targets[index]`'s demand, one value per second; its notes and errors name `targets.<index>.traffic`."""
    assert scenario.targets is not None
    said: list[str] = []
    try:
        demand = demand_of(scenario.targets[index].traffic, scenario.duration_seconds, base_dir, said)
    except ScenarioError as error:
        raise ScenarioError(f"targets.{index}.{error}") from error
    notes.extend(f"targets.{index}.{note}" for note in said)
    return demand


def _all_problems(error: ValidationError) -> str:
    """Every problem on one line, each naming its field (`field.path: message (got: value)`), unknown keys first;
    a union's alternatives that fail for the same field are reported once."""
    problems = sorted(error.errors(include_url=False), key=lambda p: p["type"] != "extra_forbidden")
    lines: list[str] = []
    for problem in problems:
        location = ".".join(str(part) for part in problem["loc"] if part not in _TRAFFIC_TAGS) or "(document)"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key (not part of the scenario format)"
        received = problem.get("input")
        shown = "" if isinstance(received, dict | list) or received is None else f" (got: {received!r})"
        line = f"{location}: {message}{shown}"
        if line not in lines:
            lines.append(line)
    return "; ".join(lines)


def _check_times(scenario: Scenario, source: str) -> None:
    first: dict[str, Push] = {}
    for index, push in enumerate(scenario.pushes):
        seen = first.setdefault(push.id, push)
        if seen.audience != push.audience:
            raise ScenarioError(
                f"{source}: pushes.{index}.id: {push.id!r} is reused with a different audience "
                f"({push.audience} != {seen.audience}); the same id twice means one push delivered twice"
            )
        if push.at_seconds >= scenario.duration_seconds:
            raise ScenarioError(
                f"{source}: pushes.{index}.at_seconds: must be before duration_seconds "
                f"({scenario.duration_seconds}) (got: {push.at_seconds})"
            )
    for index, gap in enumerate(scenario.config.metric_gaps):
        if gap.end_seconds <= gap.start_seconds:
            raise ScenarioError(f"{source}: config.metric_gaps.{index}.end_seconds: must be after start_seconds")
    if scenario.config.push_min_hold_seconds > scenario.config.push_hold_seconds:
        raise ScenarioError(
            f"{source}: config.push_min_hold_seconds: must be <= config.push_hold_seconds "
            f"({scenario.config.push_hold_seconds}) (got: {scenario.config.push_min_hold_seconds})"
        )
    for target_id, view in scenario.target_views().items():
        try:
            view.target_config(target_id)  # Surge's own rules on the target and config, said here, not mid-replay
        except ValidationError as error:
            where = "" if scenario.targets is None else f"targets ({target_id!r}): "
            raise ScenarioError(f"{source}: {where}{_all_problems(error)}") from None


def resolve_demand(scenario: Scenario, base_dir: Path, notes: list[str] | None = None) -> list[float]:
    """One demand value per second over the scenario's duration; what the traffic leaves to an assumption (shorter
    than the scenario, a CSV starting after t=0) is said in `notes`."""
    if scenario.traffic is None:
        raise ScenarioError("traffic: required with target")
    return demand_of(scenario.traffic, scenario.duration_seconds, base_dir, notes)


def demand_of(
    traffic: CsvTraffic | InlineTraffic, duration: int, base_dir: Path, notes: list[str] | None = None
) -> list[float]:
    """One demand value per second of `duration` from one `traffic` block (see `resolve_demand`)."""
    said = notes if notes is not None else []
    if isinstance(traffic, InlineTraffic):
        covered = len(traffic.rps) * traffic.resolution_seconds
        if covered < duration:
            said.append(
                f"traffic.rps covers {covered} s of duration_seconds {duration}: its last value "
                f"({traffic.rps[-1]:g} rps) stands for the remaining {duration - covered} s"
            )
        return [traffic.rps[min(t // traffic.resolution_seconds, len(traffic.rps) - 1)] for t in range(duration)]
    points = read_traffic_csv(base_dir / traffic.csv)
    if points[0][0] > 0:
        said.append(
            f"traffic.csv starts at t_seconds {points[0][0]}: its first value ({points[0][1]:g} rps) stands for "
            f"t = 0-{points[0][0] - 1} as well"
        )
    demand: list[float] = []
    index, current = 0, points[0][1]
    for t in range(duration):
        while index < len(points) and points[index][0] <= t:
            current = points[index][1]
            index += 1
        demand.append(current)
    return demand


MAX_CSV_PROBLEMS = 20
"""At most this many bad rows are listed (then how many more)."""


def read_traffic_csv(path: Path) -> list[tuple[int, float]]:
    """Rows `t_seconds,rps` (header required), t strictly increasing; every bad row names its line."""
    text = read_text(path, "traffic.csv")
    if not text.strip():
        raise ScenarioError(f"traffic.csv: {path.name} is empty (expected a header 't_seconds,rps' and rows)")
    rows = list(csv.reader(text.splitlines()))
    if [cell.strip() for cell in rows[0]] != ["t_seconds", "rps"]:
        raise ScenarioError(f"traffic.csv: {path.name} line 1: header must be 't_seconds,rps' (got: {rows[0]!r})")
    points: list[tuple[int, float]] = []
    problems: list[str] = []
    for line_number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            points.append(_parse_row(path, line_number, row, points[-1][0] if points else None))
        except ScenarioError as error:
            problems.append(str(error))
    if problems:
        shown = problems[:MAX_CSV_PROBLEMS]
        more = f"; and {len(problems) - len(shown)} more bad rows" if len(problems) > len(shown) else ""
        raise ScenarioError("; ".join(shown) + more)
    if not points:
        raise ScenarioError(f"traffic.csv: {path.name} has no data rows")
    return points


def _parse_row(path: Path, line_number: int, row: list[str], previous_t: int | None) -> tuple[int, float]:
    where = f"traffic.csv: {path.name} line {line_number}"
    if len(row) != 2:
        raise ScenarioError(f"{where}: expected 2 columns t_seconds,rps (got: {','.join(row)!r})")
    try:
        t_seconds = int(row[0].strip())
        rps = float(row[1].strip())
    except ValueError as error:
        raise ScenarioError(
            f"{where}: t_seconds must be an integer and rps a number (got: {','.join(row)!r})"
        ) from error
    if not math.isfinite(rps):
        raise ScenarioError(f"{where}: rps must be a finite number (got: {','.join(row)!r})")
    if t_seconds < 0 or rps < 0:
        raise ScenarioError(f"{where}: t_seconds and rps must be >= 0 (got: {','.join(row)!r})")
    if previous_t is not None and t_seconds <= previous_t:
        raise ScenarioError(f"{where}: t_seconds must increase (got {t_seconds} after {previous_t})")
    return t_seconds, rps
