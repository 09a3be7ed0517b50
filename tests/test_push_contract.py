"""The PushSent contract: the model the fast path validates with and the JSON Schema push-server authors validate
against (`events/push-sent.schema.json`) agree, case by case, on a shared table of edge cases.

Each case is the detail as JSON text, decoded as the fast path receives it (EventBridge delivers JSON), checked
against the model and against the schema with format checking (jsonschema's Draft 2020-12 validator and its
`date-time` checker, rfc3339-validator); the expected outcome is pinned too, so a change that makes both wrong
in the same way fails as well.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import ValidationError

from surge.core.push import PushSent
from surge_cli.push_client import push_sent_schema

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "events" / "push-sent.schema.json"
OK, BAD = True, False

CASES: list[tuple[str, str, bool]] = [
    # audience
    ("int", '{"push_id": "p-1", "audience": 3000000}', OK),
    ("integral float", '{"push_id": "p-1", "audience": 3000000.0}', OK),
    ("exponent", '{"push_id": "p-1", "audience": 3e6}', OK),
    ("exponent with fraction digits", '{"push_id": "p-1", "audience": 3.5e6}', OK),
    ("upper exponent", '{"push_id": "p-1", "audience": 1E3}', OK),
    ("one", '{"push_id": "p-1", "audience": 1}', OK),
    ("one as float", '{"push_id": "p-1", "audience": 1.0}', OK),
    ("the maximum", '{"push_id": "p-1", "audience": 10000000000}', OK),
    ("the maximum as exponent", '{"push_id": "p-1", "audience": 1e10}', OK),
    ("above the maximum", '{"push_id": "p-1", "audience": 10000000001}', BAD),
    ("huge int", '{"push_id": "p-1", "audience": 123456789012345678901234567890}', BAD),
    ("huge exponent", '{"push_id": "p-1", "audience": 1e300}', BAD),
    ("overflowing exponent (infinity)", '{"push_id": "p-1", "audience": 1e400}', BAD),
    ("zero", '{"push_id": "p-1", "audience": 0}', BAD),
    ("negative", '{"push_id": "p-1", "audience": -5}', BAD),
    ("negative zero float", '{"push_id": "p-1", "audience": -0.0}', BAD),
    ("fraction", '{"push_id": "p-1", "audience": 2.5}', BAD),
    ("tiny fraction", '{"push_id": "p-1", "audience": 1000000.0000001}', BAD),
    ("string", '{"push_id": "p-1", "audience": "3000000"}', BAD),
    ("true", '{"push_id": "p-1", "audience": true}', BAD),
    ("false", '{"push_id": "p-1", "audience": false}', BAD),
    ("null", '{"push_id": "p-1", "audience": null}', BAD),
    ("list", '{"push_id": "p-1", "audience": [3]}', BAD),
    ("missing", '{"push_id": "p-1"}', BAD),
    # push_id
    ("id with every allowed character", '{"push_id": "Post_8812.a:b-c", "audience": 5}', OK),
    ("id of 128 characters", '{"push_id": "' + "a" * 128 + '", "audience": 5}', OK),
    ("id of 129 characters", '{"push_id": "' + "a" * 129 + '", "audience": 5}', BAD),
    ("empty id", '{"push_id": "", "audience": 5}', BAD),
    ("id with a trailing newline", '{"push_id": "post-1\\n", "audience": 5}', BAD),
    ("id with a leading newline", '{"push_id": "\\npost-1", "audience": 5}', BAD),
    ("id with a space", '{"push_id": "post 1", "audience": 5}', BAD),
    ("unicode id", '{"push_id": "p\\u00f6st", "audience": 5}', BAD),
    ("unicode digit id", '{"push_id": "\\u0663", "audience": 5}', BAD),
    ("id starting with a dash", '{"push_id": "-post", "audience": 5}', BAD),
    ("numeric id", '{"push_id": 8812, "audience": 5}', BAD),
    # target_id
    ("target given", '{"push_id": "p-1", "audience": 5, "target_id": "api"}', OK),
    ("target null", '{"push_id": "p-1", "audience": 5, "target_id": null}', OK),
    ("unicode target", '{"push_id": "p-1", "audience": 5, "target_id": "\\u00e4pi"}', OK),
    ("empty target", '{"push_id": "p-1", "audience": 5, "target_id": ""}', BAD),
    ("target of 65 characters", '{"push_id": "p-1", "audience": 5, "target_id": "' + "t" * 65 + '"}', BAD),
    ("numeric target", '{"push_id": "p-1", "audience": 5, "target_id": 7}', BAD),
    # extra fields
    ("an extra field", '{"push_id": "p-1", "audience": 5, "priority": "high"}', BAD),
    # sent_at
    ("sent_at UTC", '{"push_id": "p-1", "audience": 5, "sent_at": "2026-01-21T11:00:00Z"}', OK),
    ("sent_at with offset", '{"push_id": "p-1", "audience": 5, "sent_at": "2026-01-21T20:00:00+09:00"}', OK),
    ("sent_at fraction", '{"push_id": "p-1", "audience": 5, "sent_at": "2026-01-21T11:00:00.123456789Z"}', OK),
    ("sent_at lower case t and z", '{"push_id": "p-1", "audience": 5, "sent_at": "2026-01-21t11:00:00z"}', OK),
    ("sent_at null", '{"push_id": "p-1", "audience": 5, "sent_at": null}', OK),
    ("sent_at year 1 east of UTC", '{"push_id": "p-1", "audience": 5, "sent_at": "0001-01-01T00:00:00+01:00"}', OK),
    ("sent_at year 9999 west of UTC", '{"push_id": "p-1", "audience": 5, "sent_at": "9999-12-31T23:59:59-01:00"}', OK),
    ("sent_at 29 February", '{"push_id": "p-1", "audience": 5, "sent_at": "2028-02-29T00:00:00Z"}', OK),
    ("sent_at 29 February, no leap year", '{"push_id": "p-1", "audience": 5, "sent_at": "2026-02-29T00:00:00Z"}', BAD),
    ("sent_at naive", '{"push_id": "p-1", "audience": 5, "sent_at": "2026-01-21T11:00:00"}', BAD),
    ("sent_at with a space", '{"push_id": "p-1", "audience": 5, "sent_at": "2026-01-21 11:00:00Z"}', BAD),
    ("sent_at Unix seconds", '{"push_id": "p-1", "audience": 5, "sent_at": 1768993200}', BAD),
    ("sent_at Unix seconds as a string", '{"push_id": "p-1", "audience": 5, "sent_at": "1768993200"}', BAD),
    ("sent_at leap second", '{"push_id": "p-1", "audience": 5, "sent_at": "2016-12-31T23:59:60Z"}', BAD),
    ("sent_at year 0", '{"push_id": "p-1", "audience": 5, "sent_at": "0000-01-01T00:00:00Z"}', BAD),
    ("sent_at date only", '{"push_id": "p-1", "audience": 5, "sent_at": "2026-01-21"}', BAD),
    ("sent_at trailing newline", '{"push_id": "p-1", "audience": 5, "sent_at": "2026-01-21T11:00:00Z\\n"}', BAD),
    ("sent_at hour 24", '{"push_id": "p-1", "audience": 5, "sent_at": "2026-01-21T24:00:00Z"}', BAD),
    ("sent_at offset without colon", '{"push_id": "p-1", "audience": 5, "sent_at": "2026-01-21T20:00:00+0900"}', BAD),
    ("sent_at empty", '{"push_id": "p-1", "audience": 5, "sent_at": ""}', BAD),
    # the detail itself
    ("not an object", "[1, 2]", BAD),
    ("empty object", "{}", BAD),
]


def _model_accepts(detail: object) -> bool:
    try:
        PushSent.model_validate(detail)
    except ValidationError:
        return False
    return True


def _schema_accepts(detail: object) -> bool:
    schema = json.loads(SCHEMA_FILE.read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker()).is_valid(detail)


def test_the_table_has_at_least_forty_cases_and_unique_names() -> None:
    assert len(CASES) >= 40
    assert len({name for name, _, _ in CASES}) == len(CASES)


def test_the_schema_checks_date_time_formats() -> None:
    # Without rfc3339-validator installed, jsonschema's FormatChecker silently skips `date-time`.
    assert "date-time" in FormatChecker().checkers


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_model_and_the_schema_agree(name: str, text: str, expected: bool) -> None:
    detail = json.loads(text)
    assert (_model_accepts(detail), _schema_accepts(detail)) == (expected, expected), name


def test_the_schema_file_is_the_models_schema() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == push_sent_schema(), (
        "events/push-sent.schema.json is out of date: "
        ".venv/bin/python -c 'from surge_cli.push_client import write_push_sent_schema; write_push_sent_schema()'"
    )


def test_an_integral_float_audience_is_the_same_push() -> None:
    assert PushSent.model_validate(json.loads('{"push_id": "p", "audience": 3e6}')).audience == 3_000_000
    assert isinstance(PushSent.model_validate({"push_id": "p", "audience": 3000000.0}).audience, int)
