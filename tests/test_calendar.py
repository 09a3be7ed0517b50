"""The calendar path: local times in IANA zones -> UTC, validation, .ics import, the CLI, the real loop.

(a) units: `to_utc` across Asia/Seoul and the 2026 US daylight-saving changes, entry validation naming the
field, the overlap rule in the decision core, .ics import (TZID and VTIMEZONE). (b) the `surge calendar`
commands on moto (the table and the SSM config document as the template creates them). (c) entries stored
by the CLI, pre-scaling through the real scaler state machine on a simulated clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaler_support import Loop, asg_target, deploy, ecs_target, local_aws
from surge.adapters import store
from surge.core.calendar import CalendarEntry, to_utc
from surge.core.config import SurgeConfig
from surge.core.decision import decide
from surge.core.errors import InvalidInputError
from surge.core.signals import CalendarEvent, CurrentCapacity, TargetSignals
from surge_cli import world
from surge_cli.calendar_cli import (
    IcsDefaults,
    StackRef,
    build_entry,
    calendar_app,
    entries_from_ics,
    import_ics,
    list_entries,
    read_ics,
    stack_ref_from_outputs,
    validate_entry,
)
from surge_cli.localaws import LocalAws
from surge_cli.stack import LocalStack

FIXTURES = Path(__file__).parent / "fixtures" / "calendar"
CONFIG = SurgeConfig(targets=[ecs_target()])  # api: min 2, max 50, one unit per 50 rps
runner = CliRunner()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def wall(text: str) -> datetime:
    """A naive wall-clock time, as an operator writes it."""
    return datetime.fromisoformat(text)


def entry_fields(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "name": "album sale",
        "target_id": "api",
        "start": "2026-01-21T20:00",
        "end": "2026-01-21T21:00",
        "time_zone": "Asia/Seoul",
        "units": 30,
    }
    return {**fields, **overrides}


def validation_problem(**overrides: object) -> str:
    with pytest.raises(InvalidInputError) as raised:
        validate_entry(build_entry(**entry_fields(**overrides)), CONFIG)
    return str(raised.value)


# ------------------------------------------------------------------------------------ (a) time zones


@pytest.mark.parametrize(
    ("local", "zone", "expected"),
    [
        (wall("2026-01-21T20:00"), "Asia/Seoul", utc(2026, 1, 21, 11, 0)),
        (wall("2026-07-01T20:00"), "Asia/Seoul", utc(2026, 7, 1, 11, 0)),  # no DST in Korea
        (wall("2026-03-07T10:00"), "America/New_York", utc(2026, 3, 7, 15, 0)),  # EST, -05:00
        (wall("2026-03-08T01:59"), "America/New_York", utc(2026, 3, 8, 6, 59)),  # last EST minute
        (wall("2026-03-08T03:00"), "America/New_York", utc(2026, 3, 8, 7, 0)),  # first EDT minute
        (wall("2026-03-08T10:00"), "America/New_York", utc(2026, 3, 8, 14, 0)),  # EDT, -04:00
        (wall("2026-10-31T10:00"), "America/New_York", utc(2026, 10, 31, 14, 0)),
        (wall("2026-11-01T01:30"), "America/New_York", utc(2026, 11, 1, 5, 30)),  # ambiguous: first (EDT)
        (wall("2026-11-01T10:00"), "America/New_York", utc(2026, 11, 1, 15, 0)),  # EST again
    ],
)
def test_to_utc_converts_wall_clock_time_in_its_zone(local: datetime, zone: str, expected: datetime) -> None:
    assert to_utc(local, zone, "start") == expected


def test_to_utc_keeps_an_aware_time_whatever_the_zone_says() -> None:
    aware = datetime.fromisoformat("2026-03-08T10:00:00+09:00")
    assert to_utc(aware, "America/New_York", "start") == utc(2026, 3, 8, 1, 0)


def test_a_time_in_the_spring_forward_gap_is_rejected_with_the_field_named() -> None:
    with pytest.raises(ValueError, match=r"^end 2026-03-08T02:30:00 does not exist in America/New_York"):
        to_utc(wall("2026-03-08T02:30"), "America/New_York", "end")
    problem = validation_problem(start="2026-03-08T02:30", end="2026-03-08T04:00", time_zone="America/New_York")
    assert problem.startswith("start: ")
    assert "daylight-saving gap" in problem


def test_an_entry_resolves_to_utc_with_its_sizing() -> None:
    event = validate_entry(build_entry(**entry_fields(lead_seconds=300, entry_id="sale-1")), CONFIG)
    assert (event.start_at, event.end_at, event.active_from) == (
        utc(2026, 1, 21, 11, 0),
        utc(2026, 1, 21, 12, 0),
        utc(2026, 1, 21, 10, 55),
    )
    assert (event.entry_id, event.units, event.time_zone) == ("sale-1", 30, "Asia/Seoul")
    by_rps = validate_entry(build_entry(**entry_fields(units=None, expected_rps=1_000)), CONFIG)
    assert by_rps.units == 20  # ceil(1000 / (100 * 0.5))


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone: ", "unknown IANA time zone 'Mars/Olympus'"),
        ({"end": "2026-01-21T20:00"}, "end: ", "must be after start"),
        ({"end": "2026-01-21T19:00"}, "end: ", "must be after start"),
        ({"units": 51}, "units: ", "above target 'api' max_units (50)"),
        ({"units": None, "expected_rps": 2_600.0}, "expected_rps: ", "needs 52 units, above target 'api' max_units"),
        ({"lead_seconds": 86_401}, "lead_seconds: ", "less than or equal to 86400"),
        ({"target_id": "nope"}, "target: ", "unknown target 'nope'; known targets: api"),
        ({"units": None}, "expected_rps: ", "exactly one of units or expected_rps"),
        ({"units": 0}, "units: ", "greater than or equal to 1"),
    ],
)
def test_bad_input_names_the_field_and_the_rule(overrides: dict[str, object], field: str, rule: str) -> None:
    problem = validation_problem(**overrides)
    assert problem.startswith(field)
    assert rule in problem
    assert "\n" not in problem


def test_lead_of_exactly_one_day_is_allowed() -> None:
    event = validate_entry(build_entry(**entry_fields(lead_seconds=86_400)), CONFIG)
    assert event.active_from == utc(2026, 1, 20, 11, 0)


# ------------------------------------------------------------------------------------- (a) overlap


def test_overlapping_entries_take_the_highest_floor() -> None:
    target = ecs_target()
    small = CalendarEvent(
        entry_id="a", name="sale", start_at=utc(2026, 1, 21, 11), end_at=utc(2026, 1, 21, 13), units=20
    )
    large = CalendarEvent(
        entry_id="b", name="live", start_at=utc(2026, 1, 21, 12), end_at=utc(2026, 1, 21, 12, 30), units=35
    )
    signals = TargetSignals(
        target_id="api",
        calendar=[small, large],
        capacity=CurrentCapacity(desired_units=2, in_service_units=2),
    )
    only_small = decide(target, signals, utc(2026, 1, 21, 11, 30))
    both = decide(target, signals, utc(2026, 1, 21, 12, 10))
    assert (only_small.calendar_floor_units, only_small.desired_units) == (20, 20)
    assert (both.calendar_floor_units, both.desired_units) == (35, 35)
    assert both.active_events == ["sale", "live"]


# ----------------------------------------------------------------------------------------- (a) .ics


def ics_entries(name: str, **defaults: object) -> list[CalendarEntry]:
    return entries_from_ics((FIXTURES / name).read_bytes(), IcsDefaults(target_id="api", units=30, **defaults))


def test_ics_with_tzid_parameters_keeps_local_times_in_their_iana_zone() -> None:
    sale, launch = ics_entries("tzid.ics", lead_seconds=600)
    assert (sale.name, sale.time_zone, sale.start_utc, sale.end_utc) == (
        "Album sale",
        "Asia/Seoul",
        utc(2026, 1, 21, 11),
        utc(2026, 1, 21, 12),
    )
    # DTSTART 10:00 on the spring-forward day (EDT) plus DURATION PT2H.
    assert (launch.time_zone, launch.start_utc, launch.end_utc) == (
        "America/New_York",
        utc(2026, 3, 8, 14),
        utc(2026, 3, 8, 16),
    )
    assert sale.lead_seconds == 600
    assert sale.entry_id is not None
    assert sale.entry_id.startswith("ics-")
    assert ics_entries("tzid.ics")[0].entry_id == sale.entry_id, "a re-import replaces, never duplicates"


def _one_event(*lines: str) -> str:
    body = "\r\n".join(["BEGIN:VEVENT", "UID:e@example.com", "DTSTAMP:20260101T000000Z", "SUMMARY:Show", *lines])
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"


@pytest.mark.parametrize(
    ("dtend", "end_utc"),
    [
        # 19:00 in New York (EST, UTC-5) to 02:00 in London (GMT): read in New York it would end 5 h late
        ("DTEND;TZID=Europe/London:20260122T020000", utc(2026, 1, 22, 2)),
        # to 20:00 in Chicago (CST, UTC-6): read in New York it would end an hour early (scale-in mid-event)
        ("DTEND;TZID=America/Chicago:20260121T200000", utc(2026, 1, 22, 2)),
        ("DTEND:20260122T013000Z", utc(2026, 1, 22, 1, 30)),
    ],
    ids=["ends-in-london", "ends-in-chicago", "ends-in-utc"],
)
def test_ics_dtend_is_read_in_its_own_zone(dtend: str, end_utc: datetime) -> None:
    text = _one_event("DTSTART;TZID=America/New_York:20260121T190000", dtend)
    (entry,) = entries_from_ics(text, IcsDefaults(target_id="api", units=30))
    assert (entry.start_utc, entry.end_utc) == (utc(2026, 1, 22, 0), end_utc)


@pytest.mark.parametrize(
    ("duration", "end_utc"),
    [
        ("P1D", utc(2026, 3, 8, 14)),  # 10:00 EST -> 10:00 EDT the next day: 23 h, not 24
        ("P1DT2H", utc(2026, 3, 8, 16)),
        ("PT24H", utc(2026, 3, 8, 15)),  # exact hours stay exact (icalendar's timedelta alone says P1D)
        ("PT25H", utc(2026, 3, 8, 16)),
        ("P1W", utc(2026, 3, 14, 14)),
    ],
)
def test_ics_whole_days_of_a_duration_are_nominal_across_daylight_saving(duration: str, end_utc: datetime) -> None:
    text = _one_event("DTSTART;TZID=America/New_York:20260307T100000", f"DURATION:{duration}")
    (entry,) = entries_from_ics(text, IcsDefaults(target_id="api", units=30))
    assert (entry.start_utc, entry.end_utc) == (utc(2026, 3, 7, 15), end_utc)


WEEKLY = [
    "DTSTART;TZID=Asia/Seoul:20260105T200000",
    "DTEND;TZID=Asia/Seoul:20260105T210000",
    "RRULE:FREQ=WEEKLY;COUNT=6",
    "EXDATE;TZID=Asia/Seoul:20260119T200000",
]
MOVED = "\r\n".join(
    [
        "BEGIN:VEVENT",
        "UID:e@example.com",
        "DTSTAMP:20260101T000000Z",
        "RECURRENCE-ID;TZID=Asia/Seoul:20260126T200000",
        "SUMMARY:Show (special)",
        "DTSTART;TZID=Asia/Seoul:20260126T190000",
        "DTEND;TZID=Asia/Seoul:20260126T230000",
        "SEQUENCE:1",
        "END:VEVENT",
    ]
)


def _with(text: str, *components: str) -> str:
    return text.replace("END:VCALENDAR", "\r\n".join(components) + "\r\nEND:VCALENDAR")


def test_a_weekly_event_is_expanded_with_its_exdate_and_its_moved_instance() -> None:
    text = _with(_one_event(*WEEKLY), MOVED)
    found = read_ics(text, IcsDefaults(target_id="api", units=30), now=utc(2026, 1, 1), horizon_days=90)
    starts = [(e.name, e.start_utc, e.end_utc) for e in found.entries]
    assert starts == [
        ("Show", utc(2026, 1, 5, 11), utc(2026, 1, 5, 12)),
        ("Show", utc(2026, 1, 12, 11), utc(2026, 1, 12, 12)),
        # 19 January: EXDATE
        ("Show (special)", utc(2026, 1, 26, 10), utc(2026, 1, 26, 14)),  # the modified instance replaces it
        ("Show", utc(2026, 2, 2, 11), utc(2026, 2, 2, 12)),
        ("Show", utc(2026, 2, 9, 11), utc(2026, 2, 9, 12)),
    ]
    ids = [e.entry_id for e in found.entries]
    assert len(set(ids)) == 5  # one entry per occurrence, not one per UID
    assert all(i is not None and i.startswith(next(iter(found.remove_prefixes))) for i in ids)
    again = read_ics(text, IcsDefaults(target_id="api", units=30), now=utc(2026, 1, 1))
    assert [e.entry_id for e in again.entries] == ids, "stable ids: a re-import replaces"


def test_recurrences_expand_only_within_the_horizon_and_ended_events_are_skipped_and_counted() -> None:
    text = _one_event(
        "DTSTART;TZID=Asia/Seoul:20260105T200000", "DTEND;TZID=Asia/Seoul:20260105T210000", "RRULE:FREQ=DAILY"
    )
    found = read_ics(text, IcsDefaults(target_id="api", units=30), now=utc(2026, 1, 10, 11, 30), horizon_days=7)
    assert [e.start_utc for e in found.entries] == [utc(2026, 1, d, 11) for d in range(10, 18)]
    assert found.entries[0].end_utc > utc(2026, 1, 10, 11, 30)  # in progress: kept
    one_off = read_ics(
        _one_event("DTSTART:20260101T000000Z", "DTEND:20260101T010000Z"),
        IcsDefaults(target_id="api", units=30),
        now=utc(2026, 1, 10),
    )
    assert (one_off.entries, one_off.ended) == ([], 1)


def test_of_two_versions_of_one_event_the_higher_sequence_wins() -> None:
    first = _one_event("DTSTART:20260301T100000Z", "DTEND:20260301T110000Z", "SEQUENCE:2")
    text = _with(
        first,
        "\r\n".join(
            [
                "BEGIN:VEVENT",
                "UID:e@example.com",
                "DTSTAMP:20260101T000000Z",
                "SUMMARY:Show",
                "DTSTART:20260301T120000Z",
                "DTEND:20260301T130000Z",
                "SEQUENCE:1",
                "END:VEVENT",
            ]
        ),
    )
    (entry,) = read_ics(text, IcsDefaults(target_id="api", units=30)).entries
    assert entry.start_utc == utc(2026, 3, 1, 10)  # SEQUENCE 2, although it comes first in the file


def test_a_file_with_one_weekly_meeting_and_one_offs_imports_them_all() -> None:
    text = _with(
        _one_event(*WEEKLY),
        "\r\n".join(
            [
                "BEGIN:VEVENT",
                "UID:x@example.com",
                "DTSTAMP:20260101T000000Z",
                "SUMMARY:Launch",
                "DTSTART:20260110T100000Z",
                "DTEND:20260110T110000Z",
                "END:VEVENT",
            ]
        ),
    )
    names = [e.name for e in read_ics(text, IcsDefaults(target_id="api", units=30), now=utc(2026, 1, 1)).entries]
    assert names.count("Show") == 5
    assert names.count("Launch") == 1


def test_ics_with_a_vtimezone_uses_the_file_definition_across_the_dst_change() -> None:
    before, after = ics_entries("vtimezone.ics")
    assert (before.start_utc, after.start_utc) == (utc(2026, 3, 7, 15), utc(2026, 3, 8, 14))


def test_a_zone_defined_by_the_file_beats_a_legacy_iana_zone_of_the_same_name() -> None:
    # IANA's "EST" is UTC-5 all year; this file's "EST" has summer time (UTC-4 in July).
    text = (FIXTURES / "vtimezone.ics").read_text().replace("Surge Eastern", "EST")
    text = text.replace("20260307T100000", "20260707T100000").replace("20260307T110000", "20260707T110000")
    summer, _ = entries_from_ics(text, IcsDefaults(target_id="api", units=30))
    assert summer.start_utc == utc(2026, 7, 7, 14)  # 10:00 at UTC-4, not 15:00


def test_an_unresolvable_tzid_is_named_not_replaced() -> None:
    text = _one_event("DTSTART;TZID=Mars/Olympus:20260121T190000", "DTEND;TZID=Mars/Olympus:20260121T200000")
    text = text.replace("VERSION:2.0", "VERSION:2.0\r\nX-WR-TIMEZONE:Asia/Seoul")
    with pytest.raises(InvalidInputError, match=r"start: TZID 'Mars/Olympus' is neither an IANA or Windows zone"):
        entries_from_ics(text, IcsDefaults(target_id="api", units=30))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (("DTSTART:2026-13-45", "DTEND:20260101T010000Z"), "start: DTSTART '2026-13-45' is not a valid date-time"),
        (
            ("DTSTART:20260101T000000Z", "DTSTART:20260101T020000Z", "DTEND:20260101T030000Z"),
            "start: DTSTART appears 2 times; give it once",
        ),
        (("DTSTART:20260101T000000Z", "DTEND:tomorrow"), "end: DTEND 'tomorrow' is not a valid date-time"),
        (
            ("DTSTART:20260101T000000Z", "DTEND:20260101T010000Z", "DTEND:20260101T020000Z"),
            "end: DTEND appears 2 times; give it once",
        ),
        (("DTSTART:20260101T000000Z", "DURATION:soon"), "end: DURATION 'soon' is not a valid date-time or duration"),
        (
            ("DTSTART:20260101T000000Z", "DTEND:20260101T010000Z", "DURATION:PT1H"),
            "end: the event has both DTEND and DURATION; give one",
        ),
    ],
    ids=["bad-dtstart", "two-dtstart", "bad-dtend", "two-dtend", "bad-duration", "dtend-and-duration"],
)
def test_a_malformed_or_repeated_time_property_is_one_line_naming_event_and_property(
    lines: tuple[str, ...], message: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        entries_from_ics(_one_event(*lines), IcsDefaults(target_id="api", units=30))
    assert str(raised.value).startswith("event 'Show' (UID e@example.com): " + message)
    assert "\n" not in str(raised.value)


def test_a_file_that_is_not_utf8_is_reported_not_silently_replaced() -> None:
    text = _one_event("DTSTART:20260101T000000Z", "DTEND:20260101T010000Z").replace("SUMMARY:Show", "SUMMARY:Caf\u00e9")
    latin1 = text.encode("latin-1")
    with pytest.raises(
        InvalidInputError, match=r"^file: byte \d+ is not UTF-8 \(b'\\xe9'\); iCalendar files are UTF-8"
    ):
        entries_from_ics(latin1, IcsDefaults(target_id="api", units=30))
    (entry,) = entries_from_ics(b"\xef\xbb\xbf" + text.encode(), IcsDefaults(target_id="api", units=30))
    assert entry.name == "Caf\u00e9"  # UTF-8, with or without a BOM


def test_ics_gap_time_in_a_vtimezone_is_rejected() -> None:
    text = (FIXTURES / "vtimezone.ics").read_text().replace("20260308T100000", "20260308T023000")
    with pytest.raises(InvalidInputError, match=r"'After the change'.*start: 2026-03-08T02:30:00 does not exist"):
        entries_from_ics(text, IcsDefaults(target_id="api", units=30))


def test_an_all_day_event_is_rejected_naming_the_event() -> None:
    with pytest.raises(InvalidInputError) as raised:
        ics_entries("all_day.ics")
    assert str(raised.value) == (
        "event 'Festival day' (UID allday@example.com): start: all-day events (2026-01-22) are not supported;"
        " give a time"
    )


def test_ics_needs_exactly_one_sizing() -> None:
    with pytest.raises(InvalidInputError, match=r"^units: give exactly one of --units or --expected-rps"):
        entries_from_ics((FIXTURES / "tzid.ics").read_bytes(), IcsDefaults(target_id="api"))


# ------------------------------------------------------------------------------------- (b) CLI on moto


@pytest.fixture
def deployed() -> Iterator[LocalStack]:
    with local_aws(utc(2026, 1, 21, 10, 0)) as aws:
        yield deploy(aws, ecs_target())


def where(stack: LocalStack) -> list[str]:
    return ["--table", stack.table_name, "--config-parameter", stack.config_parameter]


def stored(stack: LocalStack) -> list[CalendarEvent]:
    return store.read_target_items(stack.table_name, "api").calendar


ADD = [
    "add",
    "--target",
    "api",
    "--name",
    "album sale",
    "--start",
    "2026-01-21T20:00",
    "--end",
    "2026-01-21T21:00",
    "--time-zone",
    "Asia/Seoul",
    "--units",
    "30",
    "--id",
    "sale-1",
]


def with_option(args: list[str], option: str, value: str | None) -> list[str]:
    """`args` with `option` set to `value` (None: removed)."""
    out = list(args)
    if option in out:
        index = out.index(option)
        del out[index : index + 2]
    return out if value is None else [*out, option, value]


def test_cli_add_list_remove(deployed: LocalStack) -> None:
    added = runner.invoke(calendar_app, [*ADD, "--lead-seconds", "300", *where(deployed)])
    assert added.exit_code == 0, added.output
    [event] = stored(deployed)
    assert (event.entry_id, event.start_at, event.active_from, event.units) == (
        "sale-1",
        utc(2026, 1, 21, 11),
        utc(2026, 1, 21, 10, 55),
        30,
    )

    listed = runner.invoke(calendar_app, ["list", *where(deployed)])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == [
        "api  'album sale'  id=sale-1  2026-01-21T20:00:00+09:00 -> 2026-01-21T21:00:00+09:00 Asia/Seoul  "
        "(UTC 2026-01-21T11:00:00Z -> 2026-01-21T12:00:00Z)  units=30  "
        "from 2026-01-21T10:55:00Z (lead 300 s), hold 0 s, ramp-down 0 x 300 s"
    ]

    removed = runner.invoke(calendar_app, ["remove", "--target", "api", "--id", "sale-1", *where(deployed)])
    assert removed.exit_code == 0, removed.output
    assert stored(deployed) == []
    again = runner.invoke(calendar_app, ["remove", "--target", "api", "--id", "sale-1", *where(deployed)])
    assert again.exit_code == 1
    assert "no calendar entry 'sale-1'" in again.stderr


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--time-zone", "Mars/Olympus", "time_zone: unknown IANA time zone 'Mars/Olympus'"),
        ("--end", "2026-01-21T19:59", "end: end (2026-01-21T19:59:00) must be after start"),
        ("--units", "51", "units: needs 51 units, above target 'api' max_units (50)"),
        ("--lead-seconds", "90000", "lead_seconds: Input should be less than or equal to 86400 (got: 90000)"),
        ("--target", "web", "target: unknown target 'web'; known targets: api"),
        ("--start", "2026-03-08T02:30", "start: start 2026-03-08T02:30:00 does not exist in America/New_York"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line_and_stores_nothing(
    deployed: LocalStack, option: str, value: str, expected: str
) -> None:
    args = with_option(ADD, option, value)
    if option == "--start":
        args = with_option(with_option(args, "--end", "2026-03-08T04:00"), "--time-zone", "America/New_York")
    result = runner.invoke(calendar_app, [*args, *where(deployed)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {expected}")
    assert stored(deployed) == []


def test_cli_resolves_table_and_parameter_from_stack_outputs(deployed: LocalStack) -> None:
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "SurgeTableName": {"Value": deployed.table_name},
            "ConfigParameterName": {"Value": deployed.config_parameter},
        },
    }
    cloudformation = deployed.aws.client("cloudformation")
    cloudformation.create_stack(StackName="surge-prod", TemplateBody=json.dumps(template))
    assert stack_ref_from_outputs("surge-prod") == StackRef(deployed.table_name, deployed.config_parameter)

    result = runner.invoke(calendar_app, [*ADD, "--stack", "surge-prod"])
    assert result.exit_code == 0, result.output
    assert [e.entry_id for e in stored(deployed)] == ["sale-1"]
    unknown = runner.invoke(calendar_app, [*ADD, "--stack", "no-such-stack"])
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("error: stack: no CloudFormation stack 'no-such-stack'")


def test_cli_import_ics_is_all_or_nothing(deployed: LocalStack) -> None:
    bad = runner.invoke(
        calendar_app,
        ["import-ics", str(FIXTURES / "one_bad.ics"), "--target", "api", "--units", "30", *where(deployed)],
    )
    assert bad.exit_code == 2
    assert bad.stderr.splitlines() == [
        "error: event 'In the gap' (UID gap@example.com): start: start 2026-03-08T02:30:00 does not exist in "
        "America/New_York (a daylight-saving gap: clocks skip it) (got: 2026-03-08T02:30:00)"
    ]
    assert stored(deployed) == [], "the valid event of the same file was not stored either"

    too_big = runner.invoke(
        calendar_app, ["import-ics", str(FIXTURES / "tzid.ics"), "--target", "api", "--units", "60", *where(deployed)]
    )
    assert too_big.exit_code == 2
    assert "event 'Album sale': units: needs 60 units, above target 'api' max_units (50)" in too_big.stderr
    assert stored(deployed) == []

    good = runner.invoke(
        calendar_app, ["import-ics", str(FIXTURES / "tzid.ics"), "--target", "api", "--units", "30", *where(deployed)]
    )
    assert good.exit_code == 0, good.output
    ref = StackRef(deployed.table_name, deployed.config_parameter)
    assert [(t, e.name, e.start_at) for t, e in list_entries(ref)] == [
        ("api", "Album sale", utc(2026, 1, 21, 11)),
        ("api", "US launch", utc(2026, 3, 8, 14)),
    ]
    # Importing the same file again replaces its entries.
    import_ics(ref, FIXTURES / "tzid.ics", IcsDefaults(target_id="api", units=40))
    assert sorted(e.units for e in stored(deployed)) == [40, 40]


def test_re_importing_refreshes_occurrences_and_a_cancel_file_removes_what_it_cancels(
    deployed: LocalStack, tmp_path: Path
) -> None:
    ref = StackRef(deployed.table_name, deployed.config_parameter)
    defaults = IcsDefaults(target_id="api", units=30)
    path = tmp_path / "weekly.ics"
    path.write_text(_one_event(*WEEKLY))
    now = utc(2026, 1, 1)
    first = import_ics(ref, path, defaults, now=now)
    assert len(first.stored) == 5
    # The organiser cancels 2 February: the re-import removes that occurrence and keeps the others.
    path.write_text(_one_event(*WEEKLY[:3], "EXDATE;TZID=Asia/Seoul:20260119T200000,20260202T200000"))
    second = import_ics(ref, path, defaults, now=now)
    assert len(second.stored) == 4
    assert len(second.removed) == 1
    assert utc(2026, 2, 2, 11) not in [e.start_at for e in stored(deployed)]
    # METHOD:CANCEL for the whole series removes every occurrence.
    path.write_text(_one_event(*WEEKLY).replace("VERSION:2.0", "VERSION:2.0\r\nMETHOD:CANCEL"))
    cancelled = import_ics(ref, path, defaults, now=now)
    assert (cancelled.stored, len(cancelled.removed)) == ([], 4)
    assert stored(deployed) == []


# ------------------------------------------------------------------------- (c) through the state machine

LOW_RPS = 100.0  # -> 2 units, the target's min


def quiet(minute: datetime) -> float:
    return LOW_RPS


def ecs_loop(aws: LocalAws) -> Loop:
    stack = deploy(aws, ecs_target())
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    loop = Loop(aws, stack, quiet)
    loop.read = lambda: {"api": world.ecs_desired(aws, "prod", "api")}
    return loop


def cli_add(stack: LocalStack, *args: str) -> None:
    result = runner.invoke(calendar_app, ["add", "--target", stack_target(stack), *args, *where(stack)])
    assert result.exit_code == 0, result.output


def stack_target(stack: LocalStack) -> str:
    config = SurgeConfig.model_validate_json(
        stack.aws.client("ssm").get_parameter(Name=stack.config_parameter)["Parameter"]["Value"]
    )
    return config.targets[0].id


def assert_prescaled_at(loop: Loop, name: str, units: int, instant: datetime) -> None:
    """Capacity reaches `units` at `instant`, within one loop interval (5 s), and not before."""
    reached = loop.first_time(name, lambda value: value >= units)
    assert reached is not None, f"{name} never reached {units}"
    assert instant <= reached <= instant + timedelta(seconds=5), reached
    assert loop.value_at(name, instant - timedelta(seconds=1)) < units


@pytest.mark.statemachine
def test_an_entry_in_seoul_time_prescales_at_start_minus_lead_in_utc() -> None:
    with local_aws(utc(2026, 1, 21, 10, 54, 30)) as aws:
        loop = ecs_loop(aws)
        # 20:00 KST = 11:00 UTC; a 300 s lead -> 10:55 UTC.
        cli_add(loop.stack, *ADD[3:], "--lead-seconds", "300")
        loop.start()
        aws.run_until(utc(2026, 1, 21, 10, 55, 30))
        assert_prescaled_at(loop, "api", 30, utc(2026, 1, 21, 10, 55))
        assert loop.value_at("api", utc(2026, 1, 21, 10, 55, 30)) == 30


@pytest.mark.statemachine
def test_an_entry_on_the_us_dst_change_day_prescales_at_the_edt_instant() -> None:
    # 10:00 New York on 2026-03-08 is 14:00 UTC (EDT); the day before, 10:00 was 15:00 UTC (EST).
    day_before = build_entry(
        **entry_fields(start="2026-03-07T10:00", end="2026-03-07T11:00", time_zone="America/New_York")
    )
    assert day_before.start_utc == utc(2026, 3, 7, 15)
    with local_aws(utc(2026, 3, 8, 13, 57, 30)) as aws:
        loop = ecs_loop(aws)
        cli_add(
            loop.stack,
            "--name",
            "us launch",
            "--start",
            "2026-03-08T10:00",
            "--end",
            "2026-03-08T11:00",
            "--time-zone",
            "America/New_York",
            "--units",
            "25",
            "--lead-seconds",
            "120",
        )
        loop.start()
        aws.run_until(utc(2026, 3, 8, 13, 58, 30))
        assert_prescaled_at(loop, "api", 25, utc(2026, 3, 8, 13, 58))


@pytest.mark.statemachine
def test_overlapping_entries_in_different_zones_take_the_max_through_the_loop() -> None:
    with local_aws(utc(2026, 1, 21, 11, 0)) as aws:
        loop = ecs_loop(aws)
        # 20 units from 11:00:30 UTC (20:02 KST - 90 s) to 11:10; 35 from 11:01 UTC (06:03 EST - 120 s) to 11:05.
        sale = with_option(with_option(ADD[3:], "--start", "2026-01-21T20:02"), "--end", "2026-01-21T20:10")
        cli_add(loop.stack, *with_option(sale, "--units", "20"), "--lead-seconds", "90")
        cli_add(
            loop.stack,
            "--name",
            "live",
            "--start",
            "2026-01-21T06:03",
            "--end",
            "2026-01-21T06:05",
            "--time-zone",
            "America/New_York",
            "--units",
            "35",
            "--lead-seconds",
            "120",
        )
        loop.start()
        aws.run_until(utc(2026, 1, 21, 11, 1, 30))
        assert_prescaled_at(loop, "api", 20, utc(2026, 1, 21, 11, 0, 30))
        assert loop.value_at("api", utc(2026, 1, 21, 11, 0, 59)) == 20
        assert_prescaled_at(loop, "api", 35, utc(2026, 1, 21, 11, 1))
        assert max(units for _, units in loop.series("api")) == 35


@pytest.mark.statemachine
def test_a_cli_entry_raises_an_auto_scaling_groups_min_and_restores_it() -> None:
    start = utc(2026, 1, 21, 11, 0)
    with local_aws(start) as aws:
        stack = deploy(aws, asg_target(max_units=40))
        world.create_auto_scaling_group(aws, "web", min_units=2, max_units=10, desired_units=2)
        loop = Loop(aws, stack, quiet)

        def read() -> dict[str, int]:
            group = world.auto_scaling_group(aws, "web")
            return {"desired": group["DesiredCapacity"], "min": group["MinSize"], "max": group["MaxSize"]}

        loop.read = read
        # 20:01-20:02 KST = 11:01-11:02 UTC, 30 s lead -> raised from 11:00:30.
        cli_add(
            stack,
            *with_option(with_option(ADD[3:], "--start", "2026-01-21T20:01"), "--end", "2026-01-21T20:02"),
            "--lead-seconds",
            "30",
        )
        loop.start(record_every_seconds=5)
        aws.run_until(start + timedelta(minutes=2, seconds=20))

        assert_prescaled_at(loop, "min", 30, start + timedelta(seconds=30))
        during = start + timedelta(minutes=1, seconds=30)
        assert (loop.value_at("desired", during), loop.value_at("min", during), loop.value_at("max", during)) == (
            30,
            30,
            30,
        )
        after = [when for when, values in loop.samples if when >= start + timedelta(minutes=2) and values["min"] == 2]
        assert after, "MinSize restored after the event"
        # The first decision after the end is a scale-in, so it goes through CooldownBeforeScaleIn and the second
        # read before ApplyCapacity restores MinSize with the first step: two loop intervals, not one.
        assert after[0] <= start + timedelta(minutes=2, seconds=10)
        for _, values in loop.samples:
            assert values["min"] <= values["desired"] <= values["max"] <= 40
