"""`surge calendar`: pre-announced events in the Surge table, written in their own time zone.

    surge calendar add --stack surge --target api --name "album sale" \\
        --start 2026-03-08T10:00 --end 2026-03-08T12:00 --time-zone America/New_York --units 120
    surge calendar list --stack surge
    surge calendar remove --stack surge --target api --id cal-0123456789abcdef
    surge calendar import-ics events.ics --stack surge --target api --units 120

Every entry is validated against the target's configuration (the SSM document) before anything is written;
bad input exits with code 2 and one line naming the field and the allowed range. `import-ics` is
all-or-nothing: every event is validated first, then all are stored.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
import typer
from botocore.exceptions import BotoCoreError, ClientError
from icalendar.parser import Contentlines
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from pydantic import ValidationError

from surge.adapters import store
from surge.adapters.config_source import load_config, load_effective_config
from surge.adapters.errors import ConfigInvalidError
from surge.core.calendar import CalendarEntry, resolve_entry
from surge.core.config import SurgeConfig, TargetConfig
from surge.core.errors import InvalidInputError, describe_validation_error
from surge.core.signals import CalendarEvent
from surge_cli.deployed import stack_outputs, utc_text

BAD_INPUT_EXIT = 2
FAILURE_EXIT = 1
_ENTRY_FIELDS = set(CalendarEntry.model_fields)

calendar_app = typer.Typer(
    help="Pre-announced events: pre-scale ahead of their start, in their own time zone.",
    no_args_is_help=True,
)


# ------------------------------------------------------------------------------------------ where


@dataclass(frozen=True)
class StackRef:
    """Where a deployed Surge keeps its calendar (the table) and its targets (the SSM config document)."""

    table: str
    config_parameter: str
    operator_config_parameter: str | None = None
    """The operator's document (`surge config apply`), merged with the template's by target id."""


def stack_ref_from_outputs(stack_name: str, client: Any = None) -> StackRef:
    """The table and config parameters named by a CloudFormation stack's outputs."""
    outputs = stack_outputs(stack_name, ("SurgeTableName", "ConfigParameterName"), client)
    return StackRef(
        table=outputs["SurgeTableName"],
        config_parameter=outputs["ConfigParameterName"],
        operator_config_parameter=outputs.get("OperatorConfigParameterName"),
    )


def stack_config(ref: StackRef) -> SurgeConfig:
    """The targets the loop uses: with `--stack`, the template's and the operator's documents merged."""
    if ref.operator_config_parameter is None:
        return load_config(ref.config_parameter)
    return load_effective_config(ref.config_parameter, ref.operator_config_parameter, table=ref.table).config


def resolve_stack_ref(table: str | None, config_parameter: str | None, stack: str | None) -> StackRef:
    """`--table` and `--config-parameter` together, or `--stack` alone."""
    if stack is not None:
        if table is not None or config_parameter is not None:
            raise InvalidInputError("stack: give either --stack or --table with --config-parameter, not both")
        return stack_ref_from_outputs(stack)
    if table is None or config_parameter is None:
        raise InvalidInputError("stack: give --stack NAME, or both --table and --config-parameter")
    return StackRef(table=table, config_parameter=config_parameter)


# ------------------------------------------------------------------------------------- validation


def build_entry(**fields: Any) -> CalendarEntry:
    """A CalendarEntry from operator input; InvalidInputError names the field(s) and the rule."""
    given = {key: value for key, value in fields.items() if value is not None}
    try:
        return CalendarEntry.model_validate(given)
    except ValidationError as error:
        raise InvalidInputError(_describe_entry_error(error)) from error


def _describe_entry_error(error: ValidationError) -> str:
    return describe_validation_error(error, model=CalendarEntry)


def target_of(config: SurgeConfig, target_id: str) -> TargetConfig:
    try:
        return config.target(target_id)
    except KeyError as error:
        raise InvalidInputError(f"target: {error.args[0]}") from error


def validate_entry(entry: CalendarEntry, config: SurgeConfig) -> CalendarEvent:
    """The UTC event to store, checked against the target's limits (units above max_units -> error)."""
    return resolve_entry(entry, target_of(config, entry.target_id))


def add_entry(ref: StackRef, entry: CalendarEntry, config: SurgeConfig | None = None) -> CalendarEvent:
    """Validate one entry against the deployed configuration, then store it (nothing is stored on error)."""
    event = validate_entry(entry, config or stack_config(ref))
    store.put_calendar_event(ref.table, entry.target_id, event)
    return event


def list_entries(ref: StackRef, target_id: str | None = None) -> list[tuple[str, CalendarEvent]]:
    """(target id, event) for every stored entry of one target, or of every configured target, by start."""
    configured = [target_id] if target_id is not None else [t.id for t in stack_config(ref).targets]
    found: list[tuple[str, CalendarEvent]] = []
    for each in configured:
        items = store.read_target_items(ref.table, each)
        if items.error is not None:
            raise RuntimeError(f"cannot read the calendar of target {each!r}: {items.error}")
        found.extend((each, event) for event in items.calendar)
    return sorted(found, key=lambda pair: (pair[1].start_at, pair[0], pair[1].entry_id))


def remove_entry(ref: StackRef, target_id: str, entry_id: str) -> bool:
    return store.delete_calendar_event(ref.table, target_id, entry_id)


def describe_event(target_id: str, event: CalendarEvent) -> str:
    """One line: name, id, local start/end in the entry's own time zone, the same in UTC, units."""
    zone = ZoneInfo(event.time_zone)
    local_start = event.start_at.astimezone(zone)
    local_end = event.end_at.astimezone(zone)
    return (
        f"{target_id}  {event.name!r}  id={event.entry_id}  "
        f"{local_start.isoformat()} -> {local_end.isoformat()} {event.time_zone}  "
        f"(UTC {utc_text(event.start_at)} -> {utc_text(event.end_at)})  units={event.units}  "
        f"from {utc_text(event.active_from)} (lead {event.lead_seconds} s), hold {event.hold_after_seconds} s, "
        f"ramp-down {event.ramp_down_steps} x {event.ramp_down_step_seconds} s"
    )


# ------------------------------------------------------------------------------------------- .ics


@dataclass(frozen=True)
class IcsDefaults:
    """The target and sizing of an entry: given on the command line for `add`, and for `import-ics` applied to
    every event of the file (which says when, not how much)."""

    target_id: str
    units: int | None = None
    expected_rps: float | None = None
    lead_seconds: int | None = None
    hold_after_seconds: int | None = None
    ramp_down_steps: int | None = None
    ramp_down_step_seconds: int | None = None


DEFAULT_HORIZON_DAYS = 90
"""Recurring events are expanded this far ahead; importing the file again later refreshes them."""


@dataclass
class IcsFile:
    """What an .ics file asks for: entries to store, stored entries to remove, and what was skipped."""

    entries: list[CalendarEntry] = field(default_factory=list)
    remove_ids: set[str] = field(default_factory=set)
    """Entries this file cancels (STATUS:CANCELLED, METHOD:CANCEL)."""
    remove_prefixes: set[str] = field(default_factory=set)
    """Every stored occurrence of these recurring events goes, unless the file (re)states it."""
    ended: int = 0
    """Events that ended before now: skipped."""


def entries_from_ics(text: str | bytes, defaults: IcsDefaults) -> list[CalendarEntry]:
    """Every VEVENT as a CalendarEntry (see `read_ics`; nothing is skipped for having ended)."""
    return read_ics(text, defaults).entries


def read_ics(
    text: str | bytes, defaults: IcsDefaults, *, now: datetime | None = None, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> IcsFile:
    """Every VEVENT as CalendarEntries, time zones from the file; one InvalidInputError lists every bad event.

    A TZID that names an IANA zone (directly, as a Windows name, or as `/vendor/Area/City`) keeps the
    wall-clock time, so the DST rules are the same as for `add` (a skipped time is an error, a repeated one
    means its first occurrence); a TZID defined only by the file's VTIMEZONE uses that definition. DTEND is read
    in its own zone. All-day events and floating times without X-WR-TIMEZONE are errors naming the event.

    RFC 5545 as calendar programs export it: events sharing a UID are one event and its modified instances
    (RECURRENCE-ID); of two versions of the same instance the higher SEQUENCE wins. Recurring events (RRULE,
    RDATE, EXDATE, modified instances) are expanded by `recurring-ical-events` from `now` (or the event's
    start) to `horizon_days` ahead, each occurrence an entry whose id is stable (UID and original start), so a
    re-import refreshes them. METHOD:CANCEL files and STATUS:CANCELLED events remove what they cancel. Events
    that ended before `now` are skipped and counted.
    """
    if (defaults.units is None) == (defaults.expected_rps is None):
        raise InvalidInputError("units: give exactly one of --units or --expected-rps for the imported events")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            # icalendar would turn the bytes into U+FFFD silently: an event's name would change unnoticed
            raise InvalidInputError(
                f"file: byte {error.start} is not UTF-8 ({text[error.start : error.start + 1]!r}); iCalendar files"
                " are UTF-8 (RFC 5545 section 3.1.4): export the file again as UTF-8"
            ) from error
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as error:
        raise InvalidInputError(f"file: not a valid iCalendar file ({error})") from error
    default_zone = _Zones(_calendar_zone(calendar), _file_zones(calendar))
    cancelling = str(calendar.get("METHOD", "")).upper() == "CANCEL"
    durations = _raw_durations(text)
    vevents = list(enumerate(calendar.walk("VEVENT")))
    if not vevents:
        raise InvalidInputError("file: no VEVENT in the file")
    recurring = {str(e.get("UID")) for _, e in vevents if "RRULE" in e or "RDATE" in e}
    found = IcsFile()
    problems: list[str] = []
    latest: dict[tuple[str, str], tuple[int, int, Any]] = {}
    for index, event in vevents:
        uid = str(event.get("UID", f"#{index}"))
        if uid in recurring:
            continue
        key = (uid, _recurrence_key(event))
        sequence = int(event.get("SEQUENCE", 0) or 0)
        if key not in latest or sequence >= latest[key][0]:
            latest[key] = (sequence, index, event)
    for (_uid, recurrence), (_, index, event) in sorted(latest.items(), key=lambda item: item[1][1]):
        entry_id = _entry_id(event.get("UID"), recurrence or None)
        if cancelling or str(event.get("STATUS", "")).upper() == "CANCELLED":
            if entry_id is not None:
                found.remove_ids.add(entry_id)
            continue
        try:
            raw = durations[index] if index < len(durations) else None
            entry = _entry_from_vevent(event, defaults, default_zone, raw, entry_id)
        except InvalidInputError as error:
            problems.append(f"event {_event_label(event)}: {error}")
            continue
        _keep(found, entry, now)
    for uid in sorted(recurring):
        prefix = _entry_id(uid, None)
        assert prefix is not None
        found.remove_prefixes.add(prefix + "-")
        if cancelling:
            continue
        try:
            for occurrence in _occurrences(calendar, uid, now, horizon_days):
                if str(occurrence.get("STATUS", "")).upper() == "CANCELLED":
                    continue
                entry_id = _entry_id(uid, _recurrence_key(occurrence))
                _keep(found, _entry_from_vevent(occurrence, defaults, default_zone, None, entry_id), now)
        except InvalidInputError as error:
            problems.append(f"recurring event UID {uid}: {error}")
    if problems:
        raise InvalidInputError(" | ".join(problems))
    return found


def _keep(found: IcsFile, entry: CalendarEntry, now: datetime | None) -> None:
    if now is not None and entry.end_utc <= now:
        found.ended += 1
    else:
        found.entries.append(entry)


def _recurrence_key(event: Any) -> str:
    """The instance a VEVENT is (its RECURRENCE-ID, as a UTC instant), or '' for the event itself."""
    recurrence = event.get("RECURRENCE-ID")
    if recurrence is None:
        return ""
    value = recurrence.dt
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def _occurrences(calendar: Any, uid: str, now: datetime | None, horizon_days: int) -> list[Any]:
    masters = [e for e in calendar.walk("VEVENT") if str(e.get("UID")) == uid and "RECURRENCE-ID" not in e]
    if not masters or "DTSTART" not in masters[0]:
        raise InvalidInputError("start: the recurring event has no DTSTART")
    first = masters[0]["DTSTART"].dt
    if not isinstance(first, datetime):
        raise InvalidInputError(f"start: all-day events ({first.isoformat()}) are not supported; give a time")
    begin = now if now is not None else (first if first.tzinfo is not None else first.replace(tzinfo=UTC))
    single = icalendar.Calendar()
    for component in calendar.subcomponents:
        if component.name != "VEVENT" or str(component.get("UID")) == uid:
            single.add_component(component)
    try:
        expanded = recurring_ical_events.of(single).between(begin, begin + timedelta(days=horizon_days))
    except Exception as error:  # the library's errors for a malformed rule have no common base class
        raise InvalidInputError(f"RRULE: cannot expand ({error})") from error
    return [e for e in expanded if str(e.get("UID")) == uid]


def _calendar_zone(calendar: icalendar.Calendar) -> str | None:
    name = calendar.get("X-WR-TIMEZONE")
    return None if name is None else _iana_name(str(name))


def _event_label(event: Any) -> str:
    return f"{str(event.get('SUMMARY', '(no SUMMARY)'))!r} (UID {event.get('UID', '?')})"


def _raw_durations(text: str) -> list[str | None]:
    """Each VEVENT's DURATION as written, in file order (icalendar turns PT24H and P1D into the same timedelta,
    but RFC 5545 says one is exact and the other nominal). Lines unfolded by icalendar's own parser."""
    found: list[str | None] = []
    depth = 0
    for line in Contentlines.from_ical(text):
        if not line:
            continue
        name, _, value = line.parts()
        if name == "BEGIN" and value.upper() == "VEVENT":
            found.append(None)
            depth += 1
        elif name == "END" and value.upper() == "VEVENT":
            depth -= 1
        elif name == "DURATION" and depth == 1 and found and found[-1] is None:
            found[-1] = str(value)
    return found


_DURATION = re.compile(r"([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def _nominal_and_exact(raw: str | None, parsed: timedelta) -> tuple[timedelta, timedelta]:
    """(whole days and weeks, the exact hours/minutes/seconds) of a DURATION (RFC 5545 section 3.3.6)."""
    found = _DURATION.fullmatch(raw.strip().upper()) if raw else None
    if found is None:
        return timedelta(days=parsed.days), parsed - timedelta(days=parsed.days)
    sign = -1 if found.group(1) == "-" else 1
    weeks, days, hours, minutes, seconds = (int(found.group(i) or 0) for i in range(2, 7))
    nominal = timedelta(days=sign * (7 * weeks + days))
    return nominal, timedelta(seconds=sign * (3600 * hours + 60 * minutes + seconds))


def _entry_from_vevent(
    event: Any,
    defaults: IcsDefaults,
    default_zone: _Zones,
    raw_duration: str | None,
    entry_id: str | None,
) -> CalendarEntry:
    if "DTSTART" not in event:
        raise InvalidInputError("start: the event has no DTSTART")
    start, zone = _moment(_single(event, "DTSTART", "start"), "start", default_zone)
    end: datetime
    if "DTEND" in event and "DURATION" in event:
        raise InvalidInputError("end: the event has both DTEND and DURATION; give one")
    if "DTEND" in event:
        end, end_zone = _moment(_single(event, "DTEND", "end"), "end", default_zone)
        if end.tzinfo is None and end_zone != zone:
            # DTEND has its own zone (an event starting in New York may end in London): resolve it there.
            end = _as_utc(end, end_zone)
    elif "DURATION" in event:
        duration: Any = _single(event, "DURATION", "end")
        if not isinstance(duration.dt, timedelta):
            raise InvalidInputError(f"end: DURATION {duration.to_ical().decode()} is not a duration")
        end = _end_of_duration(start, zone, *_nominal_and_exact(raw_duration, duration.dt))
    else:
        raise InvalidInputError("end: the event has neither DTEND nor DURATION")
    summary = str(event.get("SUMMARY", "")).strip()
    return build_entry(
        name=summary or None,
        start=start,
        end=end,
        time_zone=zone,
        entry_id=entry_id,
        **asdict(defaults),
    )


@dataclass(frozen=True)
class _Zones:
    default: str | None
    """X-WR-TIMEZONE, for floating times."""
    file: dict[str, tzinfo]
    """Every VTIMEZONE the file defines, by TZID: the file's own definition wins over an IANA zone of the same
    name (`EST` in IANA has no summer time; a file's `EST` with a DAYLIGHT part does)."""


def _file_zones(calendar: Any) -> dict[str, tzinfo]:
    zones: dict[str, tzinfo] = {}
    for component in calendar.walk("VTIMEZONE"):
        try:
            zones[str(component["TZID"])] = component.to_tz(lookup_tzid=False)
        except (KeyError, ValueError) as error:
            raise InvalidInputError(f"VTIMEZONE {component.get('TZID', '?')}: cannot be read ({error})") from error
    return zones


def _single(event: Any, name: str, field: str) -> Any:
    """The event's one `name` property, readable; a repeated or malformed one is an error naming it."""
    prop = event[name]
    if isinstance(prop, list):
        raise InvalidInputError(f"{field}: {name} appears {len(prop)} times; give it once")
    try:
        prop.dt  # noqa: B018 (icalendar parses lazily: a broken value raises here)
    except (ValueError, AttributeError) as error:
        shown = prop.to_ical().decode(errors="replace") if hasattr(prop, "to_ical") else str(prop)
        raise InvalidInputError(f"{field}: {name} {shown!r} is not a valid date-time or duration") from error
    return prop


def _moment(prop: Any, field: str, zones: _Zones) -> tuple[datetime, str]:
    """(datetime for CalendarEntry, IANA zone name for display): naive wall-clock time when the zone is IANA."""
    value = prop.dt
    if not isinstance(value, datetime):
        assert isinstance(value, date)
        raise InvalidInputError(f"{field}: all-day events ({value.isoformat()}) are not supported; give a time")
    tzid = prop.params.get("TZID")
    if tzid is not None and str(tzid) in zones.file:
        defined = value.replace(tzinfo=zones.file[str(tzid)])
        iana = _iana_name(str(tzid))
        wall = value.replace(tzinfo=None)
        if iana is None or wall.replace(tzinfo=ZoneInfo(iana)).utcoffset() != defined.utcoffset():
            _reject_gap(defined, field, str(tzid))
            return defined, "UTC"  # the file's own definition: exact, shown in UTC
        return wall, iana  # the file's definition agrees with the IANA zone of that name: keep its wall clock
    if value.tzinfo is None:
        if tzid is not None and _iana_name(str(tzid)) is None:
            raise InvalidInputError(
                f"{field}: TZID {str(tzid)!r} is neither an IANA or Windows zone nor defined by a VTIMEZONE in the file"
            )
        if zones.default is None:
            raise InvalidInputError(f"{field}: floating time {value.isoformat()} (no TZID, no X-WR-TIMEZONE)")
        return value, zones.default
    if tzid is None:
        return value, "UTC"  # a UTC time (...Z)
    iana = _iana_name(str(tzid))
    if iana is not None:
        return value.replace(tzinfo=None), iana
    _reject_gap(value, field, str(tzid))
    return value, "UTC"  # a zone defined only by the file: exact, shown in UTC


def _iana_name(tzid: str) -> str | None:
    cleaned = tzid.strip().strip("/")
    candidates = [cleaned, WINDOWS_TO_OLSON.get(cleaned, "")]
    parts = cleaned.split("/")
    candidates += ["/".join(parts[i:]) for i in range(1, len(parts))]
    for candidate in candidates:
        if candidate and _is_zone(candidate):
            return candidate
    return None


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _reject_gap(value: datetime, field: str, tzid: str) -> None:
    zone: tzinfo | None = value.tzinfo
    wall = value.replace(tzinfo=None)
    if value.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        raise InvalidInputError(f"{field}: {wall.isoformat()} does not exist in {tzid} (a daylight-saving gap)")


def _end_of_duration(start: datetime, zone: str, days: timedelta, exact: timedelta) -> datetime:
    """RFC 5545 section 3.3.6: whole days (and weeks) of a DURATION are nominal (the same wall-clock time that
    many days later, across a daylight-saving change too); hours, minutes and seconds are exact."""
    if start.tzinfo is None:
        wall = start + days  # wall-clock arithmetic in the event's own zone
        return _as_utc(wall, zone) + exact
    return (start + days).astimezone(UTC) + exact  # aware arithmetic keeps the wall clock of start's tzinfo


def _as_utc(moment: datetime, zone: str) -> datetime:
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    return moment.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _entry_id(uid: object, recurrence: str | None) -> str | None:
    """A stable id per UID (and per instance of a recurring one, by its original start), so importing the same
    file again replaces its entries instead of duplicating them."""
    if uid is None:
        return None
    base = "ics-" + hashlib.sha256(str(uid).encode()).hexdigest()[:16]
    return base if not recurrence else f"{base}-{recurrence}"


@dataclass
class IcsImported:
    stored: list[CalendarEvent]
    removed: list[str]
    ended: int


def import_ics(
    ref: StackRef,
    path: Path,
    defaults: IcsDefaults,
    config: SurgeConfig | None = None,
    *,
    now: datetime | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> IcsImported:
    """All or nothing: every event of the file validated against the target first, then all stored; then what
    the file cancels, and occurrences of its recurring events that it no longer states, removed."""
    try:
        text = path.read_bytes()
    except OSError as error:
        raise InvalidInputError(f"file: cannot read {path} ({error.strerror})") from error
    now = now or datetime.now(UTC)
    parsed = read_ics(text, defaults, now=now, horizon_days=horizon_days)
    entries = parsed.entries
    config = config or stack_config(ref)
    target_of(config, defaults.target_id)
    events: list[CalendarEvent] = []
    problems: list[str] = []
    for entry in entries:
        try:
            events.append(validate_entry(entry, config))
        except InvalidInputError as error:
            problems.append(f"event {entry.name!r}: {error}")
    if problems:
        raise InvalidInputError(" | ".join(problems))
    for event in events:
        store.put_calendar_event(ref.table, defaults.target_id, event)
    kept = {e.entry_id for e in events}
    removed: list[str] = []
    if parsed.remove_ids or parsed.remove_prefixes:
        for _, stored in list_entries(ref, defaults.target_id):
            stale = stored.entry_id in parsed.remove_ids or (
                stored.entry_id not in kept and any(stored.entry_id.startswith(p) for p in parsed.remove_prefixes)
            )
            if stale and remove_entry(ref, defaults.target_id, stored.entry_id):
                removed.append(stored.entry_id)
    return IcsImported(stored=events, removed=removed, ended=parsed.ended)


# ------------------------------------------------------------------------------------------ typer

TableOption = Annotated[str | None, typer.Option("--table", help="The Surge DynamoDB table.")]
ParameterOption = Annotated[
    str | None, typer.Option("--config-parameter", help="The SSM parameter holding the config document.")
]
StackOption = Annotated[
    str | None, typer.Option("--stack", help="A deployed stack: table and parameter from its outputs.")
]
TargetOption = Annotated[str, typer.Option("--target", help="Target id from the config document.")]
UnitsOption = Annotated[int | None, typer.Option("--units", help="Units (tasks or instances) during the event.")]
RpsOption = Annotated[
    float | None, typer.Option("--expected-rps", help="Expected requests per second; sized like the loop.")
]
LeadOption = Annotated[int | None, typer.Option("--lead-seconds", help="Pre-scale this long before start (<= 86400).")]
HoldOption = Annotated[int | None, typer.Option("--hold-after-seconds", help="Keep the units this long after end.")]
StepsOption = Annotated[int | None, typer.Option("--ramp-down-steps", help="Step down in this many steps.")]
StepSecondsOption = Annotated[int | None, typer.Option("--ramp-down-step-seconds", help="Seconds per ramp-down step.")]


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _run(action: Any) -> Any:
    """Run `action`, turning errors into one stderr line and the exit code (2 for bad input)."""
    try:
        return action()
    except InvalidInputError as error:
        raise _fail(str(error), BAD_INPUT_EXIT) from error
    except (ConfigInvalidError, ClientError, BotoCoreError, RuntimeError) as error:
        raise _fail(f"{type(error).__name__}: {error}", FAILURE_EXIT) from error


@calendar_app.command("add")
def add_command(
    target: TargetOption,
    name: Annotated[str, typer.Option("--name", help="What the event is, e.g. 'album sale'.")],
    start: Annotated[str, typer.Option("--start", help="ISO 8601; naive = local time in --time-zone.")],
    end: Annotated[str, typer.Option("--end", help="ISO 8601; naive = local time in --time-zone.")],
    time_zone: Annotated[str, typer.Option("--time-zone", help="IANA name, e.g. Asia/Seoul.")] = "UTC",
    units: UnitsOption = None,
    expected_rps: RpsOption = None,
    lead_seconds: LeadOption = None,
    hold_after_seconds: HoldOption = None,
    ramp_down_steps: StepsOption = None,
    ramp_down_step_seconds: StepSecondsOption = None,
    entry_id: Annotated[str | None, typer.Option("--id", help="Entry id (default: derived).")] = None,
    table: TableOption = None,
    config_parameter: ParameterOption = None,
    stack: StackOption = None,
) -> None:
    """Add (or replace, same id) one entry."""

    sizing = IcsDefaults(
        target_id=target,
        units=units,
        expected_rps=expected_rps,
        lead_seconds=lead_seconds,
        hold_after_seconds=hold_after_seconds,
        ramp_down_steps=ramp_down_steps,
        ramp_down_step_seconds=ramp_down_step_seconds,
    )

    def action() -> CalendarEvent:
        entry = build_entry(name=name, start=start, end=end, time_zone=time_zone, entry_id=entry_id, **asdict(sizing))
        return add_entry(resolve_stack_ref(table, config_parameter, stack), entry)

    event = _run(action)
    typer.echo(f"added {describe_event(target, event)}")


@calendar_app.command("list")
def list_command(
    target: Annotated[str | None, typer.Option("--target", help="Only this target.")] = None,
    table: TableOption = None,
    config_parameter: ParameterOption = None,
    stack: StackOption = None,
) -> None:
    """List stored entries (local and UTC times), earliest first."""
    found = _run(lambda: list_entries(resolve_stack_ref(table, config_parameter, stack), target))
    if not found:
        typer.echo("no calendar entries")
    for target_id, event in found:
        typer.echo(describe_event(target_id, event))


@calendar_app.command("remove")
def remove_command(
    target: TargetOption,
    entry_id: Annotated[str, typer.Option("--id", help="The entry id shown by `list`.")],
    table: TableOption = None,
    config_parameter: ParameterOption = None,
    stack: StackOption = None,
) -> None:
    """Remove one entry (exit 1 if there was none)."""
    removed = _run(lambda: remove_entry(resolve_stack_ref(table, config_parameter, stack), target, entry_id))
    if not removed:
        raise _fail(f"no calendar entry {entry_id!r} for target {target!r}", FAILURE_EXIT)
    typer.echo(f"removed {entry_id} from {target}")


@calendar_app.command("import-ics")
def import_ics_command(
    file: Annotated[Path, typer.Argument(help="An iCalendar (.ics) file; time zones come from the file.")],
    target: TargetOption,
    units: UnitsOption = None,
    expected_rps: RpsOption = None,
    lead_seconds: LeadOption = None,
    hold_after_seconds: HoldOption = None,
    ramp_down_steps: StepsOption = None,
    ramp_down_step_seconds: StepSecondsOption = None,
    table: TableOption = None,
    config_parameter: ParameterOption = None,
    stack: StackOption = None,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=1, max=366, help="Expand recurring events this many days ahead.")
    ] = DEFAULT_HORIZON_DAYS,
) -> None:
    """Import every VEVENT of FILE: all validated first, then all stored (or none); recurring events expanded."""
    defaults = IcsDefaults(
        target_id=target,
        units=units,
        expected_rps=expected_rps,
        lead_seconds=lead_seconds,
        hold_after_seconds=hold_after_seconds,
        ramp_down_steps=ramp_down_steps,
        ramp_down_step_seconds=ramp_down_step_seconds,
    )
    ref = resolve_stack_ref(table, config_parameter, stack)
    result = _run(lambda: import_ics(ref, file, defaults, horizon_days=horizon_days))
    for event in result.stored:
        typer.echo(f"imported {describe_event(target, event)}")
    if result.removed:
        typer.echo(f"removed {len(result.removed)} entries the file cancels or no longer lists")
    if result.ended:
        typer.echo(f"skipped {result.ended} events that already ended")


__all__ = [
    "IcsDefaults",
    "StackRef",
    "add_entry",
    "build_entry",
    "calendar_app",
    "entries_from_ics",
    "import_ics",
    "list_entries",
    "read_ics",
    "remove_entry",
    "stack_ref_from_outputs",
    "validate_entry",
]
