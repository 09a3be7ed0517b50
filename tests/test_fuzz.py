"""Fuzzing every input Surge accepts from outside: push events, calendar entries, config documents, scenarios.

Valid inputs are generated whole; invalid ones are made by mutating a valid one in exactly one place (drop a
required field, a wrong type, an out-of-range number, an unknown key, a bad time zone), so each invalid case has
a known culprit field, and the error must name it. Valid inputs must parse and never lead to a desired count
outside [min_units, max_units]. Each test runs 200 derandomized examples (stable in CI).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from pydantic import ValidationError

from surge.adapters import clients, store
from surge.adapters.config_source import parse_config
from surge.adapters.errors import ConfigInvalidError, PushRejectedError
from surge.adapters.settings import Settings
from surge.core.calendar import CalendarEntry, resolve_entry
from surge.core.config import SurgeConfig, TargetConfig
from surge.core.decision import decide
from surge.core.errors import InvalidInputError
from surge.core.push import MAX_AUDIENCE
from surge.core.signals import CurrentCapacity, RateSample, TargetSignals
from surge.models import RecordPushInput
from surge.push_steps import parse_push_event, record_push
from surge_cli.calendar_cli import build_entry

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
SOURCE = "com.example.push"
NOW = datetime(2026, 1, 21, 11, 0, tzinfo=UTC)
ZONES = ["UTC", "Asia/Seoul", "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata"]
BAD_ZONES = ["Mars/Olympus_Mons", "Asia/Seul", "UTC+9", "", "Europe/", "../etc/passwd"]
KEY = st.from_regex(r"\A[a-z][a-z_]{2,12}\Z")
COUNTS: dict[str, int] = {}
"""Examples run per test (read by the report; hypothesis may stop early only if the space is exhausted)."""

Mutation = tuple[dict[str, Any], str]


def counted(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


def drop(document: dict[str, Any], path: str) -> dict[str, Any]:
    return set_at(document, path, None, remove=True)


def set_at(document: dict[str, Any], path: str, value: Any, *, remove: bool = False) -> dict[str, Any]:
    """A deep copy of `document` with the dotted `path` set to `value` (or removed)."""
    result = copy.deepcopy(document)
    node: Any = result
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if remove:
        node.pop(last, None)
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return result


# ============================================================================================ push events


@st.composite
def push_events(draw: st.DrawFn) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "push_id": draw(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,40}\Z")),
        "audience": draw(st.integers(min_value=1, max_value=MAX_AUDIENCE)),
    }
    if draw(st.booleans()):
        detail["target_id"] = draw(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\Z"))
    if draw(st.booleans()):
        sent = NOW + timedelta(seconds=draw(st.integers(min_value=-86_400, max_value=86_400)))
        detail["sent_at"] = sent.isoformat()
    return {
        "version": "0",
        "id": draw(st.uuids()).hex,
        "detail-type": "PushSent",
        "source": SOURCE,
        "account": "123456789012",
        "time": (NOW + timedelta(seconds=draw(st.integers(0, 3600)))).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": draw(st.sampled_from(["us-east-1", "ap-northeast-2", "eu-west-1"])),
        "resources": [],
        "detail": detail,
    }


PUSH_REQUIRED = ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]


@st.composite
def invalid_push_events(draw: st.DrawFn) -> Mutation:
    event = draw(push_events())
    kind = draw(
        st.sampled_from(
            [
                "drop_envelope",
                "drop_detail",
                "audience_type",
                "audience_range",
                "source",
                "detail_type",
                "too_big",
                "target_id",
            ]
        )
    )
    if kind == "drop_envelope":
        name = draw(st.sampled_from(PUSH_REQUIRED))
        return drop(event, name), name
    if kind == "drop_detail":
        return drop(event, "detail.audience"), "detail.audience"
    if kind == "audience_type":
        bad = draw(st.sampled_from(["1000", 1.5, True, None, [1], {"n": 1}]))
        return set_at(event, "detail.audience", bad), "detail.audience"
    if kind == "audience_range":
        bad = draw(st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_AUDIENCE + 1)))
        return set_at(event, "detail.audience", bad), "detail.audience"
    if kind == "source":
        bad = draw(st.sampled_from(["com.example.other", SOURCE.upper(), "aws.events"]))
        return set_at(event, "source", bad), "source"
    if kind == "detail_type":
        bad = draw(st.sampled_from(["PushScheduled", "pushsent", "Push Sent"]))
        return set_at(event, "detail-type", bad), "detail-type"
    if kind == "too_big":
        return set_at(event, "detail.target_id", "t" * draw(st.integers(4_100, 9_000))), "detail"
    bad = draw(st.sampled_from(["", "t" * 65, 7]))
    return set_at(event, "detail.target_id", bad), "detail.target_id"


@st.composite
def salvageable_push_events(draw: st.DrawFn) -> Mutation:
    """A push whose fields needed to scale are valid, with something else wrong: it scales, the rest is reported."""
    event = draw(push_events())
    kind = draw(st.sampled_from(["push_id", "drop_push_id", "unknown_detail_key", "sent_at"]))
    if kind == "push_id":
        bad = draw(st.sampled_from(["", "-leading-dash", "has space", "x" * 129, "émoji", 42, "p-1\n"]))
        return set_at(event, "detail.push_id", bad), "detail.push_id"
    if kind == "drop_push_id":
        return drop(event, "detail.push_id"), "detail.push_id"
    if kind == "unknown_detail_key":
        key = draw(KEY.filter(lambda k: k not in ("push_id", "audience", "target_id", "sent_at")))
        return set_at(event, f"detail.{key}", draw(st.integers())), f"detail.{key}"
    bad = draw(
        st.sampled_from(
            ["yesterday", "2026-13-01T00:00:00Z", "2026-01-21T11:00:00", 1.5e20, "9999-12-31T23:59:60Z", 1768993200]
        )
    )
    return set_at(event, "detail.sent_at", bad), "detail.sent_at"


@FUZZ
@given(push_events())
def test_valid_push_events_parse(event: dict[str, Any]) -> None:
    counted("push valid")
    push, ignored = parse_push_event(event, SOURCE)
    assert ignored is None
    assert push.push_id == event["detail"]["push_id"]
    assert 1 <= push.audience <= MAX_AUDIENCE


@FUZZ
@given(salvageable_push_events())
def test_a_push_that_can_scale_is_never_dropped_for_a_field_it_does_not_need(case: Mutation) -> None:
    counted("push salvaged")
    event, culprit = case
    push, ignored = parse_push_event(event, SOURCE)
    assert push.audience == event["detail"]["audience"]
    assert push.target_id == event["detail"].get("target_id")
    assert ignored is not None
    assert culprit in ignored, f"{culprit!r} not named in: {ignored}"
    if culprit == "detail.push_id":
        assert push.push_id == f"event-{event['id']}"  # stable across EventBridge's redeliveries


@FUZZ
@given(invalid_push_events())
def test_invalid_push_events_are_rejected_naming_the_field(case: Mutation) -> None:
    counted("push invalid")
    event, culprit = case
    with pytest.raises(PushRejectedError) as raised:
        parse_push_event(event, SOURCE)
    assert culprit in str(raised.value), f"{culprit!r} not named in: {raised.value}"


@pytest.fixture
def push_table() -> Iterator[tuple[Settings, dict[str, int]]]:
    """A moto table, SSM config and ECS service; counts every write and capacity call made through boto3."""
    clients.reset()
    with mock_aws():
        calls = {"writes": 0, "capacity": 0, "reads": 0}
        dynamodb = clients.dynamodb()
        dynamodb.create_table(
            TableName="surge-fuzz",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )
        config = SurgeConfig(targets=[config_target("api")])
        clients.ssm().put_parameter(Name="/surge/config", Value=config.model_dump_json(), Type="String")

        def count(kind: str) -> Callable[..., None]:
            def note(**_: Any) -> None:
                calls[kind] += 1

            return note

        for operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"):
            dynamodb.meta.events.register(f"before-call.dynamodb.{operation}", count("writes"))
        dynamodb.meta.events.register("before-call.dynamodb.Query", count("reads"))
        clients.ecs().meta.events.register("before-call.ecs.UpdateService", count("capacity"))
        for operation in ("SetDesiredCapacity", "UpdateAutoScalingGroup"):
            clients.autoscaling().meta.events.register(f"before-call.auto-scaling.{operation}", count("capacity"))
        settings_ = Settings.model_validate(
            {
                "SURGE_TABLE_NAME": "surge-fuzz",
                "SURGE_CONFIG_PARAMETER": "/surge/config",
                "SURGE_OPERATOR_CONFIG_PARAMETER": "/surge/operator-config",
                "SURGE_EVENT_BUS_NAME": "surge-bus",
                "SURGE_EVENT_SOURCE": "surge",
                "SURGE_DRY_RUN": "false",
                "SURGE_PUSH_SOURCE": SOURCE,
                "SURGE_TARGETS_PER_SHARD": "10",
            }
        )
        yield settings_, calls
    clients.reset()


def test_an_invalid_push_stores_only_its_rejection_and_calls_no_capacity_api(
    push_table: tuple[Settings, dict[str, int]],
) -> None:
    settings_, calls = push_table

    @settings(max_examples=20, deadline=None, derandomize=True)
    @given(invalid_push_events())
    def run(case: Mutation) -> None:
        counted("push invalid through record_push")
        event, culprit = case
        with pytest.raises(PushRejectedError) as raised:
            record_push(RecordPushInput(event=event, execution_id="fuzz"), settings_, NOW)
        assert culprit in str(raised.value)

    run()
    assert (calls["capacity"], calls["reads"]) == (0, 0)
    # The one write: the reason, kept a day under the event id for `surge push --wait` (no hold, no state).
    items = clients.dynamodb().scan(TableName="surge-fuzz")["Items"]
    assert {item["sk"]["S"] for item in items} <= {store.REJECTION_SK}
    assert all(item["pk"]["S"].startswith(store.REJECTION_PREFIX) for item in items)
    assert calls["writes"] >= len(items)
    written = calls["writes"]
    # The counting hooks are live: a valid push does read the table and write its hold.
    event = {
        "version": "0",
        "id": "e-1",
        "detail-type": "PushSent",
        "source": SOURCE,
        "account": "123456789012",
        "time": "2026-01-21T11:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"push_id": "p-1", "audience": 1_000},
    }
    recorded = record_push(RecordPushInput(event=event, execution_id="fuzz"), settings_, NOW)
    assert [h.push_id for h in recorded.holds] == ["p-1"]
    assert calls["reads"] >= 1
    assert calls["writes"] >= written + 1


# ======================================================================================= config documents


def config_target(target_id: str, **scaling: Any) -> TargetConfig:
    return TargetConfig.model_validate(
        {
            "id": target_id,
            "kind": "ecs",
            "ecs": {"cluster": "prod", "service": target_id},
            "load_balancer": {"load_balancer": "app/api/1"},
            "scaling": {"min_units": 1, "max_units": 10, "unit_capacity_rps": 100, **scaling},
        }
    )


@st.composite
def scaling_documents(draw: st.DrawFn) -> dict[str, Any]:
    max_units = draw(st.integers(1, 10_000))
    min_units = draw(st.integers(0, max_units))
    hold = draw(st.integers(0, 86_400))
    document: dict[str, Any] = {
        "min_units": min_units,
        "max_units": max_units,
        "unit_capacity_rps": draw(st.floats(0.01, 1_000_000, allow_nan=False)),
    }
    optional = {
        "initial_units": st.integers(min_units, max_units),
        "target_utilization": st.floats(0.01, 1.0),
        "loop_interval_seconds": st.integers(1, 60),
        "scale_in_cooldown_seconds": st.integers(0, 3_600),
        "scale_in_step_interval_seconds": st.integers(0, 3_600),
        "max_scale_in_step_units": st.integers(1, 10_000),
        "metric_max_age_seconds": st.integers(60, 3_600),
        "push_rps_per_audience": st.floats(0, 10),
        "dry_run": st.booleans(),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            document[key] = draw(strategy)
    if draw(st.booleans()):  # the two hold lengths come as a pair (min <= hold)
        document["push_hold_seconds"] = hold
        document["push_min_hold_seconds"] = draw(st.integers(0, hold))
    return document


@st.composite
def target_documents(draw: st.DrawFn, target_id: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["ecs", "asg"]))
    document: dict[str, Any] = {"id": target_id, "kind": kind, "scaling": draw(scaling_documents())}
    if kind == "ecs":
        document["ecs"] = {"cluster": "prod", "service": target_id}
    else:
        document["asg"] = {"group_name": target_id}
    if draw(st.booleans()):
        document["load_balancer"] = {"load_balancer": "app/api-alb/50dc6c495c0c9188"}
    if draw(st.booleans()):
        document["high_resolution_metric"] = {
            "namespace": "Custom",
            "metric_name": "Requests",
            "period_seconds": draw(st.sampled_from([1, 5, 10, 20, 30, 60])),
        }
    return document


@st.composite
def config_documents(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,12}\Z"), min_size=1, max_size=3, unique=True))
    return {"version": 1, "targets": [draw(target_documents(i)) for i in ids]}


SCALING_BOUNDS: dict[str, tuple[Any, Any]] = {
    "min_units": (-1, 10_001),
    "max_units": (0, 10_001),
    "unit_capacity_rps": (0, 1_000_001),
    "target_utilization": (0, 1.01),
    "loop_interval_seconds": (0, 61),
    "scale_in_cooldown_seconds": (-1, 3_601),
    "scale_in_step_interval_seconds": (-1, 3_601),
    "max_scale_in_step_units": (0, 10_001),
    "metric_max_age_seconds": (59, 3_601),
    "push_rps_per_audience": (-0.1, 10.5),
    "push_hold_seconds": (-1, 86_401),
}


@st.composite
def invalid_config_documents(draw: st.DrawFn) -> Mutation:
    document = draw(config_documents())
    index = draw(st.integers(0, len(document["targets"]) - 1))
    base = f"targets.{index}"
    scaling = document["targets"][index]["scaling"]
    kind = draw(
        st.sampled_from(
            ["range", "type", "unknown", "drop", "min_above_max", "bad_kind", "bad_id", "duplicate", "dry_run"]
        )
    )
    if kind == "range":
        name = draw(st.sampled_from(sorted(SCALING_BOUNDS)))
        bad = draw(st.sampled_from(SCALING_BOUNDS[name]))
        return set_at(document, f"{base}.scaling.{name}", bad), f"{base}.scaling.{name}"
    if kind == "type":
        name = draw(st.sampled_from(["min_units", "max_units", "loop_interval_seconds", "unit_capacity_rps"]))
        return set_at(document, f"{base}.scaling.{name}", draw(st.sampled_from(["lots", None, [1]]))), (
            f"{base}.scaling.{name}"
        )
    if kind == "unknown":
        where = draw(st.sampled_from(["", f"{base}.", f"{base}.scaling."]))
        key = draw(KEY.filter(lambda k: k not in scaling and k not in ("version", "targets", "id", "kind", "ecs")))
        return set_at(document, f"{where}{key}", 1), f"{where}{key}"
    if kind == "drop":
        name = draw(st.sampled_from(["id", "kind", "scaling", "scaling.min_units", "scaling.max_units"]))
        return drop(document, f"{base}.{name}"), f"{base}.{name}"
    if kind == "min_above_max":
        bad = set_at(document, f"{base}.scaling.min_units", min(10_000, scaling["max_units"] + 1))
        if scaling["max_units"] == 10_000:
            bad = set_at(bad, f"{base}.scaling.max_units", 9_999)
        bad = drop(bad, f"{base}.scaling.initial_units")
        return bad, f"{base}.scaling: min_units"
    if kind == "bad_kind":
        return set_at(document, f"{base}.kind", draw(st.sampled_from(["eks", "ECS", "", 1]))), f"{base}.kind"
    if kind == "bad_id":
        return set_at(document, f"{base}.id", draw(st.sampled_from(["", "-x", "a b", "x" * 65]))), f"{base}.id"
    if kind == "duplicate":
        twin = copy.deepcopy(document["targets"][index])
        return {**document, "targets": [*document["targets"], twin]}, "targets"
    return set_at(document, f"{base}.scaling.dry_run", draw(st.sampled_from(["maybe", 2, [True]]))), (
        f"{base}.scaling.dry_run"
    )


@st.composite
def signals_for(draw: st.DrawFn, target: TargetConfig) -> TargetSignals:
    """Arbitrary (but well-formed) signals: any demand history, any current capacity, or none."""
    rates = draw(st.lists(st.floats(0, 1e7, allow_nan=False), max_size=8))
    start = NOW - timedelta(minutes=len(rates) + 1)
    samples = [
        RateSample(start=start + timedelta(minutes=i), period_seconds=60, requests=r * 60) for i, r in enumerate(rates)
    ]
    current = draw(st.one_of(st.none(), st.integers(0, 20_000)))
    capacity = None if current is None else CurrentCapacity(desired_units=current, in_service_units=current)
    return TargetSignals(
        target_id=target.id,
        request_samples=samples,
        capacity=capacity,
        metric_error=draw(st.one_of(st.none(), st.just("GetMetricData failed"))),
    )


@FUZZ
@given(config_documents(), st.data())
def test_valid_config_documents_parse_and_every_decision_stays_within_min_and_max(
    document: dict[str, Any], data: st.DataObject
) -> None:
    counted("config valid")
    config = parse_config(json.dumps(document), source="fuzz")
    for target in config.targets:
        decision = decide(target, data.draw(signals_for(target)), NOW)
        if decision.desired_units is not None:
            assert target.scaling.min_units <= decision.desired_units <= target.scaling.max_units


@FUZZ
@given(invalid_config_documents())
def test_invalid_config_documents_are_rejected_naming_the_field(case: Mutation) -> None:
    counted("config invalid")
    document, culprit = case
    with pytest.raises(ConfigInvalidError) as raised:
        parse_config(json.dumps(document), source="fuzz")
    assert culprit in str(raised.value), f"{culprit!r} not named in: {raised.value}"


# ====================================================================================== calendar entries

CAL_TARGET = config_target("api", min_units=2, max_units=200, unit_capacity_rps=100, target_utilization=0.5)


@st.composite
def calendar_entries(draw: st.DrawFn) -> dict[str, Any]:
    zone = draw(st.sampled_from(ZONES))
    start = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None) + timedelta(
        minutes=draw(st.integers(0, 365 * 24 * 60))
    )
    end = start + timedelta(minutes=draw(st.integers(1, 7 * 24 * 60)))
    aware = draw(st.booleans())
    entry: dict[str, Any] = {
        "name": draw(st.text(min_size=1, max_size=40).filter(str.strip)),
        "target_id": "api",
        "time_zone": zone,
        "start": (start.replace(tzinfo=UTC) if aware else start).isoformat(),
        "end": (end.replace(tzinfo=UTC) if aware else end).isoformat(),
    }
    if draw(st.booleans()):
        entry["units"] = draw(st.integers(1, 200))
    else:
        entry["expected_rps"] = draw(st.floats(0.01, 10_000))  # <= 200 units at 50 rps per unit
    for key, strategy in {
        "lead_seconds": st.integers(0, 86_400),
        "hold_after_seconds": st.integers(0, 86_400),
        "ramp_down_steps": st.integers(0, 100),
        "ramp_down_step_seconds": st.integers(1, 86_400),
        "entry_id": st.from_regex(r"\A[A-Za-z0-9_.:-]{1,30}\Z"),
    }.items():
        if draw(st.booleans()):
            entry[key] = draw(strategy)
    return entry


def _exists(entry: dict[str, Any]) -> bool:
    """False for a naive local time skipped by a daylight-saving change (that case has its own mutation)."""
    try:
        CalendarEntry.model_validate(entry)
    except ValidationError:
        return False
    return True


CAL_BOUNDS: dict[str, tuple[Any, ...]] = {
    "units": (0, -3, 10_001),
    "expected_rps": (0, -1.0),
    "lead_seconds": (-1, 86_401),
    "hold_after_seconds": (-1, 86_401),
    "ramp_down_steps": (-1, 101),
    "ramp_down_step_seconds": (0, 86_401),
}


@st.composite
def invalid_calendar_entries(draw: st.DrawFn) -> Mutation:
    entry = draw(calendar_entries().filter(_exists))
    kind = draw(st.sampled_from(["drop", "range", "type", "unknown", "zone", "end_before_start", "both", "above_max"]))
    if kind == "drop":
        name = draw(st.sampled_from(["name", "target_id", "start", "end"]))
        return drop(entry, name), name
    if kind == "range":
        name = draw(st.sampled_from(sorted(CAL_BOUNDS)))
        bad = draw(st.sampled_from(CAL_BOUNDS[name]))
        other = "expected_rps" if name == "units" else "units"
        mutated = (
            drop(set_at(entry, name, bad), other) if name in ("units", "expected_rps") else set_at(entry, name, bad)
        )
        return mutated, name
    if kind == "type":
        name = draw(st.sampled_from(["lead_seconds", "start", "end", "ramp_down_steps"]))
        return set_at(entry, name, draw(st.sampled_from(["soon", [1], {"a": 1}]))), name
    if kind == "unknown":
        key = draw(KEY.filter(lambda k: k not in CalendarEntry.model_fields))
        return set_at(entry, key, "x"), key
    if kind == "zone":
        return set_at(entry, "time_zone", draw(st.sampled_from(BAD_ZONES))), "time_zone"
    if kind == "end_before_start":
        return set_at(entry, "end", entry["start"]), "end"
    if kind == "both":
        return {**entry, "units": 5, "expected_rps": 100.0}, "units"
    return drop(set_at(entry, "units", draw(st.integers(201, 10_000))), "expected_rps"), "units"


@FUZZ
@given(calendar_entries().filter(_exists), st.integers(0, 400))
def test_valid_calendar_entries_resolve_and_never_push_capacity_outside_min_and_max(
    document: dict[str, Any], current: int
) -> None:
    counted("calendar valid")
    event = resolve_entry(build_entry(**document), CAL_TARGET)
    assert event.start_at < event.end_at
    assert 1 <= event.units <= CAL_TARGET.scaling.max_units
    signals = TargetSignals(
        target_id="api",
        calendar=[event],
        capacity=CurrentCapacity(desired_units=current, in_service_units=current),
    )
    for moment in (event.active_from, event.start_at, event.end_at, event.active_until):
        decision = decide(CAL_TARGET, signals, moment)
        assert decision.desired_units is not None
        assert CAL_TARGET.scaling.min_units <= decision.desired_units <= CAL_TARGET.scaling.max_units


@FUZZ
@given(invalid_calendar_entries())
def test_invalid_calendar_entries_are_rejected_naming_the_field(case: Mutation) -> None:
    counted("calendar invalid")
    document, culprit = case
    with pytest.raises(InvalidInputError) as raised:
        resolve_entry(build_entry(**document), CAL_TARGET)
    assert culprit in str(raised.value), f"{culprit!r} not named in: {raised.value}"


def test_a_wall_clock_time_skipped_by_daylight_saving_is_rejected_naming_start() -> None:
    entry = {"name": "sale", "target_id": "api", "time_zone": "America/New_York", "units": 5}
    with pytest.raises(InvalidInputError, match="start"):
        build_entry(**entry, start="2026-03-08T02:30:00", end="2026-03-08T05:00:00")


# ============================================================================================== scenarios

try:
    from surge_cli.replay import scenario as scenario_module
except ImportError:  # another engineer's module; fuzz it once it exists
    scenario_module = None
needs_scenarios = pytest.mark.skipif(
    scenario_module is None, reason="cli/surge_cli/replay/scenario.py is not there yet"
)


@st.composite
def scenario_documents(draw: st.DrawFn) -> dict[str, Any]:
    max_units = draw(st.integers(1, 300))
    min_units = draw(st.integers(0, max_units))
    duration = draw(st.integers(60, 3_600))
    document: dict[str, Any] = {
        "name": draw(st.from_regex(r"\A[a-z][a-z0-9-]{0,30}\Z")),
        "start": (NOW + timedelta(minutes=draw(st.integers(0, 10_000))))
        .astimezone(draw(st.sampled_from([UTC, timezone_of("Asia/Seoul")])))
        .isoformat(),
        "duration_seconds": duration,
        "target": {
            "kind": draw(st.sampled_from(["ecs", "asg"])),
            "initial_units": draw(st.integers(min_units, max_units)),
            "min_units": min_units,
            "max_units": max_units,
            "unit_capacity_rps": draw(st.floats(1, 5_000)),
            "startup_seconds": draw(st.integers(0, 300)),
        },
        "traffic": {
            "rps": draw(st.lists(st.floats(0, 1e6), min_size=1, max_size=30)),
            "resolution_seconds": draw(st.integers(1, 600)),
        },
    }
    if draw(st.booleans()):
        ats = draw(st.lists(st.integers(0, duration - 1), max_size=3, unique=True))
        document["pushes"] = [{"at_seconds": a, "audience": 1000 * (i + 1), "id": f"p-{i}"} for i, a in enumerate(ats)]
    if draw(st.booleans()):
        document["calendar"] = [
            {
                "name": "sale",
                "start": "2026-01-21T20:00:00",
                "end": "2026-01-21T21:00:00",
                "time_zone": draw(st.sampled_from(ZONES)),
                "units": min(max_units, 10),
            }
        ]
    if draw(st.booleans()):
        document["config"] = {"loop_interval_seconds": draw(st.integers(1, 60)), "target_utilization": 0.7}
    return document


def timezone_of(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


@st.composite
def invalid_scenario_documents(draw: st.DrawFn) -> Mutation:
    document = draw(scenario_documents())
    kind = draw(st.sampled_from(["unknown", "drop", "range", "zone", "push_late", "naive_start", "type"]))
    if kind == "unknown":
        where = draw(st.sampled_from(["", "target.", "config.", "traffic."]))
        key = draw(KEY.filter(lambda k: k not in ("csv", "rps", "name", "start", "target", "traffic", "config")))
        if where == "config." and "config" not in document:
            document["config"] = {}
        return set_at(document, f"{where}{key}", 1), f"{where}{key}"
    if kind == "drop":
        name = draw(st.sampled_from(["name", "start", "duration_seconds", "target", "traffic", "target.kind"]))
        return drop(document, name), name
    if kind == "range":
        name, bad = draw(
            st.sampled_from(
                [
                    ("duration_seconds", 0),
                    ("duration_seconds", 8 * 86_400),
                    ("target.max_units", 0),
                    ("target.unit_capacity_rps", 0),
                    ("target.startup_seconds", 3_601),
                    ("traffic.resolution_seconds", 0),
                ]
            )
        )
        return set_at(document, name, bad), name
    if kind == "zone":
        document["calendar"] = [
            {"name": "sale", "start": "2026-01-21T20:00:00", "end": "2026-01-21T21:00:00", "units": 1}
        ]
        return set_at(document, "calendar.0.time_zone", draw(st.sampled_from(BAD_ZONES[:3]))), "calendar.0.time_zone"
    if kind == "push_late":
        document["pushes"] = [{"at_seconds": document["duration_seconds"], "audience": 1, "id": "p-late"}]
        return document, "pushes.0.at_seconds"
    if kind == "naive_start":
        return set_at(document, "start", "2026-01-21T20:00:00"), "start"
    return set_at(document, "target.min_units", "two"), "target.min_units"


@needs_scenarios
@FUZZ
@given(scenario_documents())
def test_valid_scenarios_load_and_their_target_decides_within_min_and_max(document: dict[str, Any]) -> None:
    counted("scenario valid")
    loaded = scenario_module.parse_scenario(document, base_dir=Path("."))
    scenario = loaded.scenario
    assert len(loaded.demand_rps) == document["duration_seconds"]
    target = scenario.target_config()
    units = decide(
        target,
        TargetSignals(
            target_id=target.id,
            request_samples=[
                RateSample(start=NOW - timedelta(minutes=2), period_seconds=60, requests=loaded.demand_rps[-1] * 60)
            ],
            capacity=CurrentCapacity(desired_units=scenario.target.initial_units, in_service_units=0),
        ),
        NOW,
    ).desired_units
    assert units is not None
    assert scenario.target.min_units <= units <= scenario.target.max_units


@needs_scenarios
@FUZZ
@given(invalid_scenario_documents())
def test_invalid_scenarios_are_rejected_naming_the_field(case: Mutation) -> None:
    counted("scenario invalid")
    document, culprit = case
    with pytest.raises(scenario_module.ScenarioError) as raised:
        scenario_module.parse_scenario(document, base_dir=Path("."))
    assert culprit in str(raised.value), f"{culprit!r} not named in: {raised.value}"
