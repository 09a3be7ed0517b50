"""`surge scenario from-alb-logs` and `from-cloudwatch`: recorded traffic -> a scenario `load_scenario` accepts.

The fixtures under tests/fixtures/import/ are written by hand from AWS's documented formats (the ALB access log
entry syntax, the JSON `aws cloudwatch get-metric-data` prints); the expected per-second counts are worked out
in the comments. (a) ALB entries and per-second counts; (b) the ALB command; (c) get-metric-data results,
periods, spreading and gaps; (d) the CloudWatch command; (e) the target block; (f) every bad input: exit 2,
exactly one line naming the file/line/field, nothing written.
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from surge_cli.replay.scenario import load_scenario
from surge_cli.scenario_cli import scenario_app
from surge_cli.scenario_import import (
    BadLineLimits,
    FillRule,
    PerSecondTraffic,
    ScenarioImportError,
    TargetChoices,
    alb_traffic,
    count_alb_requests,
    draft_target,
    expand_metric,
    parse_alb_entry,
    read_metric_data,
    traffic_csv_text,
)

FIXTURES = Path(__file__).parent / "fixtures" / "import"
ALB_DIR = FIXTURES / "alb"
LOG_DAY = ALB_DIR / "AWSLogs" / "123456789012" / "elasticloadbalancing" / "us-east-1" / "2024" / "01" / "15"
PLAIN_LOG = next(LOG_DAY.glob("*.log"))  # 8 entries + a blank line; line 6 is cut off mid-request
GZ_LOG = next(LOG_DAY.glob("*.log.gz"))  # 6 entries, one out of order
CLOUDWATCH = FIXTURES / "cloudwatch"
TG_API = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef"
TG_ADMIN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/admin/fedcba9876543210"
PLACEHOLDER_FIELDS = (
    "target.kind",
    "target.unit_capacity_rps",
    "target.min_units",
    "target.max_units",
    "target.initial_units",
    "target.startup_seconds",
)

# Per second of request_creation_time, from 2024-01-15T09:59:59Z (t=0), for target group api:
#   t=0 09:59:59  1  gz line 3 (.700; out of order, its `time` is 10:00:00.010)
#   t=1 10:00:00  3  plain lines 1 (.120), 2 (.480, spaces in the user agent), 3 (.950; `time` is 10:00:01.020)
#   t=2 10:00:01  1  plain line 5 (.300, a space inside the request); plain line 4 (.100) is target group admin
#   t=3 10:00:02  2  gz lines 1 (.200) and 4 (.900, an older entry ending at error_reason); plain line 6 is bad
#   t=4 10:00:03  0
#   t=5 10:00:04  2  plain lines 7 (.010, extra trailing fields) and 8 (.500, classification Ambiguous)
#   t=6 10:00:05  2  gz lines 2 (.000) and 6 (.999999, a wss connection closed at 10:03:00); gz line 5 (.500) is a
#                    redirect with target group `-`
API_RPS = [1.0, 3.0, 1.0, 2.0, 0.0, 2.0, 2.0]
ALL_RPS = [1.0, 3.0, 2.0, 2.0, 0.0, 2.0, 3.0]  # + admin at t=2, + the redirect at t=6
START = datetime(2024, 1, 15, 9, 59, 59, tzinfo=UTC)
SENT = "2024-01-15T10:00:00.050000Z"

runner = CliRunner()


def invoke(*args: object) -> Result:
    return runner.invoke(scenario_app, [str(arg) for arg in args])


def epoch(*fields: int) -> int:
    return int(datetime(*fields, tzinfo=UTC).timestamp())


def alb_line(created: str, target_group: str = TG_API, sent: str | None = None) -> str:
    """One ALB entry in the documented syntax (through conn_trace_id), received at `created`."""
    return (
        f"https {sent or created} app/surge-alb/50dc6c495c0c9188 203.0.113.10:51234 10.0.1.20:8080 0.001 0.045 0.000 "
        f'200 200 312 1045 "GET https://api.example.com:443/v1/feed HTTP/1.1" "curl/8.4.0" '
        f'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 {target_group} "Root=1-65a502b0-0a1b2c3d4e5f60718293a4b5" '
        f'"api.example.com" "-" 1 {created} "forward" "-" "-" "10.0.1.20:8080" "200" "-" "-" TID_0a1b2c3d4e5f6071'
    )


def write_log(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def assert_refused(result: Result, out_dir: Path, *needles: str) -> str:
    """Exit 2, exactly one output line containing every needle, and nothing written (no staging folder either)."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert sorted(out_dir.iterdir()) == []
    return lines[0]


def placeholder_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("placeholders:")]


# ----------------------------------------------------------------------------- (a) ALB entries and counts


def test_quoted_fields_with_spaces_split_as_one_field() -> None:
    lines = PLAIN_LOG.read_text().splitlines()
    # line 2: user agent "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) ..."; line 5: request "... q=two words ..."
    # a split on every space would shift target_group_arn and request_creation_time out of place
    for number, created in ((2, (2024, 1, 15, 10, 0, 0)), (5, (2024, 1, 15, 10, 0, 1))):
        entry = parse_alb_entry(lines[number - 1])
        assert entry.target_group_arn == TG_API
        assert entry.request_creation_epoch_second == epoch(*created)


def test_counted_by_request_creation_time_not_time() -> None:
    line_3 = PLAIN_LOG.read_text().splitlines()[2]  # time 10:00:01.020000Z, request_creation_time 10:00:00.950000Z
    assert parse_alb_entry(line_3).request_creation_epoch_second == epoch(2024, 1, 15, 10, 0, 0)
    wss = gzip.decompress(GZ_LOG.read_bytes()).decode().splitlines()[5]  # closed 10:03:00, opened 10:00:05.999999
    assert parse_alb_entry(wss).request_creation_epoch_second == epoch(2024, 1, 15, 10, 0, 5)


def test_newer_trailing_fields_and_older_entries_are_accepted() -> None:
    plain = PLAIN_LOG.read_text().splitlines()
    gz = gzip.decompress(GZ_LOG.read_bytes()).decode().splitlines()
    extra = parse_alb_entry(plain[6])  # conn_trace_id then `"-" "-" "-" "a-field-from-the-future"`
    classified = parse_alb_entry(plain[7])  # "Ambiguous" "UndefinedContentLengthSemantics" TID_..., `-` ssl fields
    older = parse_alb_entry(gz[3])  # ends at "error_reason" (25 fields)
    redirect = parse_alb_entry(gz[4])  # target:port `-`, -1 processing times, target_group_arn `-`
    assert extra.request_creation_epoch_second == epoch(2024, 1, 15, 10, 0, 4)
    assert classified.request_creation_epoch_second == epoch(2024, 1, 15, 10, 0, 4)
    assert older.request_creation_epoch_second == epoch(2024, 1, 15, 10, 0, 2)
    assert redirect.target_group_arn == "-"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (PLAIN_LOG.read_text().splitlines()[5], "unexpected end of data"),  # cut off inside "request"
        (
            "2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 "
            '200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -',  # a Classic ELB entry
            "15 fields, an ALB access log entry has at least 22",
        ),
        (alb_line("2024-01-15T10:00:00.000000Z").replace("app/surge-alb", "net/surge-nlb"), "not an Application"),
        (alb_line("-", sent=SENT), "request_creation_time '-' is not an ISO 8601 time"),
        (alb_line("2024-01-15T10:00:00", sent=SENT), "request_creation_time '2024-01-15T10:00:00' has no UTC offset"),
        (alb_line("2024-01-15T10:00:00Z", sent="-"), "time '-' is not an ISO 8601 time"),
    ],
)
def test_bad_entries_say_why(line: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_alb_entry(line)


def test_per_second_counts_for_one_target_group() -> None:
    count = count_alb_requests([ALB_DIR], TG_API)
    assert [path.name for path in count.files] == [PLAIN_LOG.name, GZ_LOG.name]  # notes.txt is not a log
    assert (count.lines, count.bad_lines, count.entries, count.counted) == (14, 1, 13, 11)  # blank line not counted
    assert [(bad.path, bad.line_number) for bad in count.first_bad_lines] == [(PLAIN_LOG, 6)]
    assert count.entries_by_target_group == {TG_API: 11, TG_ADMIN: 1, "-": 1}
    traffic = alb_traffic(count, BadLineLimits(), TG_API)
    assert traffic.start == START
    assert traffic.rps == API_RPS


def test_without_a_target_group_every_entry_counts() -> None:
    assert alb_traffic(count_alb_requests([ALB_DIR]), BadLineLimits()).rps == ALL_RPS


def test_a_file_named_twice_is_read_once() -> None:
    count = count_alb_requests([PLAIN_LOG, ALB_DIR, GZ_LOG], TG_API)
    assert len(count.files) == 2
    assert alb_traffic(count, BadLineLimits(), TG_API).rps == API_RPS


# --------------------------------------------------------------------------------------- (b) the ALB command


def test_from_alb_logs_writes_a_scenario_that_loads(out_dir: Path) -> None:
    out = out_dir / "launch.json"
    result = invoke("from-alb-logs", ALB_DIR, "--out", out, "--target-group", TG_API)
    assert result.exit_code == 0, result.output
    loaded = load_scenario(out)
    assert loaded.demand_rps == API_RPS
    scenario = loaded.scenario
    assert (scenario.name, scenario.start, scenario.duration_seconds) == ("launch", START, 7)
    document = json.loads(out.read_text())
    assert document["start"] == "2024-01-15T09:59:59Z"
    assert document["traffic"] == {"csv": "launch.csv"}
    assert (out_dir / "launch.csv").read_text() == "t_seconds,rps\n0,1\n1,3\n2,1\n3,2\n4,0\n5,2\n6,2\n"
    assert sorted(path.name for path in out_dir.iterdir()) == ["launch.csv", "launch.json"]
    assert "14 line(s): 13 ALB entries, 11 counted in the second of their request_creation_time" in result.stdout
    assert "2 of other target groups left out, 1 bad line(s) skipped" in result.stdout


def test_bad_lines_below_the_threshold_are_counted_and_named(out_dir: Path) -> None:
    result = invoke("from-alb-logs", ALB_DIR, "--out", out_dir / "s.json", "--target-group", TG_API)
    assert result.exit_code == 0, result.output
    assert "warning: skipped 1 bad line(s) of 14 (tolerated up to --max-bad-lines 10" in result.stderr
    assert f"  {PLAIN_LOG} line 6: not an ALB access log entry: unexpected end of data" in result.stderr


def test_only_the_first_three_bad_lines_are_named(tmp_path: Path, out_dir: Path) -> None:
    log = write_log(tmp_path / "a.log", alb_line("2024-01-15T10:00:00.000000Z"), *(f"junk {n}" for n in range(5)))
    result = invoke("from-alb-logs", log, "--out", out_dir / "s.json", "--max-bad-lines", 5)
    assert result.exit_code == 0, result.output
    assert "skipped 5 bad line(s) of 6" in result.stderr
    named = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    assert [line.split(":")[0] for line in named] == [f"{log} line {n}" for n in (2, 3, 4)]


def test_entries_of_several_target_groups_are_reported(out_dir: Path) -> None:
    result = invoke("from-alb-logs", ALB_DIR, "--out", out_dir / "all.json")
    assert result.exit_code == 0, result.output
    assert load_scenario(out_dir / "all.json").demand_rps == ALL_RPS
    assert "entries of 3 target groups counted together" in result.stderr
    assert f"{TG_API} (11)" in result.stderr
    assert "keep one with --target-group ARN" in result.stderr


def test_placeholders_are_named_on_one_stderr_line(out_dir: Path) -> None:
    result = invoke("from-alb-logs", ALB_DIR, "--out", out_dir / "s.json", "--target-group", TG_API)
    (line,) = placeholder_lines(result)
    for name in PLACEHOLDER_FIELDS:
        assert name in line
    assert "at 70% of unit_capacity_rps 100" in line
    target = json.loads((out_dir / "s.json").read_text())["target"]
    # mean of the 7 s is 11/7 rps: 1 unit at 70 rps each; peak 3 rps: 1 unit, x2 headroom -> max 2
    assert target == {
        "kind": "ecs",
        "initial_units": 1,
        "min_units": 1,
        "max_units": 2,
        "unit_capacity_rps": 100.0,
        "startup_seconds": 60,
    }


def test_target_options_replace_the_placeholders(out_dir: Path) -> None:
    result = invoke(
        "from-alb-logs", ALB_DIR, "--out", out_dir / "s.json", "--target-group", TG_API, "--kind", "asg",
        "--unit-capacity-rps", 2, "--min-units", 1, "--max-units", 9, "--initial-units", 3, "--startup-seconds", 30,
        "--name", "recorded launch",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert placeholder_lines(result) == []
    scenario = load_scenario(out_dir / "s.json").scenario
    assert scenario.name == "recorded launch"
    assert scenario.target.model_dump() == {
        "kind": "asg",
        "initial_units": 3,
        "min_units": 1,
        "max_units": 9,
        "unit_capacity_rps": 2.0,
        "startup_seconds": 30,
        "instances": None,  # no EC2 instances under an imported target (ECS on EC2 is edited in by hand)
    }


# ------------------------------------------------------------------------ (c) get-metric-data, periods, gaps


def metric_document(name: str) -> object:
    return json.loads((CLOUDWATCH / name).read_text())


def test_60_second_sums_spread_evenly() -> None:
    series = read_metric_data(metric_document("request-count-60s.json"), "f")
    expansion = expand_metric(series)
    # newest first as CloudWatch returns them: 10:00 300 -> 5 rps, 10:01 1200 -> 20 rps, 10:02 600 -> 10 rps
    assert (expansion.period_seconds, expansion.period_inferred, expansion.datapoints) == (60, True, 3)
    assert expansion.traffic.start == datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
    assert expansion.traffic.rps == [5.0] * 60 + [20.0] * 60 + [10.0] * 60
    assert expansion.traffic.total_requests == 2100


@pytest.mark.parametrize(
    ("rule", "gap_rps"),
    [("zero", 0.0), ("previous", 10.0), ("linear", 6.0)],  # linear: halfway from 10 (10:00:10) to 2 (10:00:30)
)
def test_a_missing_period_is_filled_by_the_named_rule(rule: FillRule, gap_rps: float) -> None:
    series = read_metric_data(metric_document("custom-10s.json"), "f", "m10")
    expansion = expand_metric(series, fill_rule=rule)
    # 10:00:00 50 -> 5 rps, 10:00:10 100 -> 10 rps, 10:00:20 missing, 10:00:30 20 -> 2 rps
    assert expansion.traffic.rps == [5.0] * 10 + [10.0] * 10 + [gap_rps] * 10 + [2.0] * 10
    assert expansion.missing_period_starts == [epoch(2024, 1, 15, 10, 0, 20)]


def test_a_missing_period_is_refused_by_default() -> None:
    series = read_metric_data(metric_document("custom-10s.json"), "f", "m10")
    with pytest.raises(ScenarioImportError, match=r"1 of 4 periods of 10 s have no datapoint \(first missing: "):
        expand_metric(series)


def test_pages_of_one_id_are_merged() -> None:
    series = read_metric_data(metric_document("paginated-60s.json"), "f")
    assert (series.pages, series.status_code) == (2, "Complete")  # the last page's status
    # 10:00 240 -> 4, 10:01 0 -> 0, 10:02 60 -> 1, 10:03 120 -> 2
    assert expand_metric(series).traffic.rps == [4.0] * 60 + [0.0] * 60 + [1.0] * 60 + [2.0] * 60


def test_a_single_datapoint_needs_the_period() -> None:
    series = read_metric_data(metric_document("custom-10s.json"), "f", "m60")
    with pytest.raises(ScenarioImportError, match="only one datapoint"):
        expand_metric(series)
    expansion = expand_metric(series, period_seconds=60)
    assert expansion.traffic.rps == [170 / 60] * 60
    assert not expansion.period_inferred


# ------------------------------------------------------------------------------ (d) the CloudWatch command


def test_from_cloudwatch_writes_a_scenario_that_loads(out_dir: Path) -> None:
    out = out_dir / "minutes.json"
    result = invoke("from-cloudwatch", CLOUDWATCH / "request-count-60s.json", "--out", out)
    assert result.exit_code == 0, result.output
    loaded = load_scenario(out)
    assert loaded.demand_rps == [5.0] * 60 + [20.0] * 60 + [10.0] * 60
    assert (loaded.scenario.name, loaded.scenario.duration_seconds) == ("minutes", 180)
    assert loaded.scenario.start == datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
    assert "period 60 s (inferred from the spacing of the timestamps)" in result.stdout
    assert "each 60 s datapoint is read as a Sum of requests and spread evenly over its 60 seconds" in result.stdout
    assert "no period is missing" in result.stdout
    assert "hint:" not in result.stdout
    (line,) = placeholder_lines(result)
    assert all(name in line for name in PLACEHOLDER_FIELDS)
    assert sorted(path.name for path in out_dir.iterdir()) == ["minutes.csv", "minutes.json"]


def test_from_cloudwatch_fills_and_reports_gaps(out_dir: Path) -> None:
    out = out_dir / "ten.json"
    result = invoke(
        "from-cloudwatch", CLOUDWATCH / "custom-10s.json", "--out", out, "--id", "m10", "--fill-gaps", "zero"
    )
    assert result.exit_code == 0, result.output
    assert load_scenario(out).demand_rps == [5.0] * 10 + [10.0] * 10 + [0.0] * 10 + [2.0] * 10
    assert "filled 1 missing 10 s period(s) (10 s, first at 2024-01-15T10:00:20Z) with rule 'zero'" in result.stdout
    assert '"high_resolution_metric_period_seconds": 10' in result.stdout


def test_from_cloudwatch_with_the_period_given(out_dir: Path) -> None:
    result = invoke(
        "from-cloudwatch", CLOUDWATCH / "custom-10s.json", "--out", out_dir / "s.json", "--id", "m60",
        "--period-seconds", 60,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "period 60 s (from --period-seconds)" in result.stdout
    assert load_scenario(out_dir / "s.json").demand_rps == [170 / 60] * 60


def test_partial_data_and_next_token_are_reported(out_dir: Path) -> None:
    result = invoke("from-cloudwatch", CLOUDWATCH / "partial-60s.json", "--out", out_dir / "s.json")
    assert result.exit_code == 0, result.output
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1
    assert "result requests has StatusCode PartialData and the output has a NextToken" in warning[0]
    assert "the scenario covers only the datapoints present" in warning[0]
    assert load_scenario(out_dir / "s.json").demand_rps == [0.5] * 60 + [1.5] * 60


def test_merged_pages_and_messages_are_reported(tmp_path: Path, out_dir: Path) -> None:
    document = metric_document("paginated-60s.json")
    assert isinstance(document, dict)
    document["Messages"] = [{"Code": "Example", "Value": "an arbitrary MessageData entry"}]
    source = tmp_path / "pages.json"
    source.write_text(json.dumps(document))
    result = invoke("from-cloudwatch", source, "--out", out_dir / "s.json")
    assert result.exit_code == 0, result.output
    assert "4 datapoint(s) (2 pages of Id requests merged)" in result.stdout
    assert "warning: CloudWatch message: Example: an arbitrary MessageData entry" in result.stderr
    assert "PartialData" not in result.stderr  # earlier pages are PartialData by design; the last is Complete


# ---------------------------------------------------------------------------------------- (e) the target


def test_initial_units_serve_the_first_minute_at_70_percent() -> None:
    # first 60 s at 140 rps, then a peak of 700 rps: with 100 rps units at 70 %, 2 units to start, 10 at the peak
    traffic = PerSecondTraffic(0, [140.0] * 60 + [700.0] * 10)
    draft = draft_target(traffic, TargetChoices(), 0.7)
    assert (draft.target["initial_units"], draft.target["max_units"]) == (2, 20)
    assert "initial_units" in draft.placeholders  # derived from the placeholder capacity
    given = draft_target(traffic, TargetChoices(unit_capacity_rps=200.0, min_units=3), 0.7)
    # 140 / 140 -> 1 unit, raised to min_units 3; peak 700 / 140 -> 5, x2 -> 10
    assert (given.target["initial_units"], given.target["max_units"]) == (3, 10)
    assert given.placeholders == ["kind", "max_units", "startup_seconds"]


def test_csv_keeps_fractions_exactly() -> None:
    assert traffic_csv_text(PerSecondTraffic(0, [2.0, 170 / 60])) == f"t_seconds,rps\n0,2\n1,{170 / 60!r}\n"


# ------------------------------------------------------------------------------------- (f) bad input


def test_alb_missing_file(tmp_path: Path, out_dir: Path) -> None:
    missing = tmp_path / "nope.log.gz"
    assert_refused(invoke("from-alb-logs", missing, "--out", out_dir / "s.json"), out_dir, str(missing), "no such file")


def test_alb_folder_without_logs(tmp_path: Path, out_dir: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "readme.txt").write_text("no logs here\n")
    assert_refused(invoke("from-alb-logs", folder, "--out", out_dir / "s.json"), out_dir, str(folder), ".log.gz")


def test_alb_empty_input(tmp_path: Path, out_dir: Path) -> None:
    empty = write_log(tmp_path / "empty.log")
    assert_refused(
        invoke("from-alb-logs", empty, "--out", out_dir / "s.json"), out_dir, "no ALB access log entries", str(empty)
    )


def test_alb_too_many_bad_lines_names_the_first(out_dir: Path) -> None:
    result = invoke(
        "from-alb-logs", ALB_DIR, "--out", out_dir / "s.json", "--max-bad-lines", 0, "--max-bad-fraction", 0
    )
    assert_refused(result, out_dir, "1 of 14 lines are not ALB access log entries", f"{PLAIN_LOG} line 6")


@pytest.mark.parametrize(
    ("limits", "refused"),
    [
        (("--max-bad-lines", 2, "--max-bad-fraction", 0), False),  # 2 bad <= 2 lines
        (("--max-bad-lines", 1, "--max-bad-fraction", 0), True),
        (("--max-bad-lines", 1, "--max-bad-fraction", 0.2), False),  # 2 bad <= 20 % of 12 lines (2.4)
        (("--max-bad-lines", 1, "--max-bad-fraction", 0.1), True),  # 2 bad > 1.2
    ],
)
def test_alb_bad_line_threshold(tmp_path: Path, out_dir: Path, limits: tuple[object, ...], refused: bool) -> None:
    good = [alb_line(f"2024-01-15T10:00:0{n}.000000Z") for n in range(10)]
    log = write_log(tmp_path / "a.log", *good[:4], "junk", *good[4:], "junk again")
    result = invoke("from-alb-logs", log, "--out", out_dir / "s.json", *limits)
    if refused:
        assert_refused(result, out_dir, "2 of 12 lines", f"{log} line 5")
    else:
        assert result.exit_code == 0, result.output
        assert load_scenario(out_dir / "s.json").demand_rps == [1.0] * 10


def test_alb_nothing_valid(tmp_path: Path, out_dir: Path) -> None:
    log = write_log(tmp_path / "classic.log", "2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 - 1")
    assert_refused(invoke("from-alb-logs", log, "--out", out_dir / "s.json"), out_dir, "no valid ALB", f"{log} line 1")


def test_alb_unknown_target_group(out_dir: Path) -> None:
    other = TG_API.replace("api/", "web/")
    result = invoke("from-alb-logs", ALB_DIR, "--out", out_dir / "s.json", "--target-group", other)
    assert_refused(result, out_dir, f"--target-group: no entry has target_group_arn {other}", f"{TG_API} (11)")


def test_alb_truncated_gzip(tmp_path: Path, out_dir: Path) -> None:
    broken = tmp_path / "cut.log.gz"
    broken.write_bytes(GZ_LOG.read_bytes()[:-20])
    assert_refused(invoke("from-alb-logs", broken, "--out", out_dir / "s.json"), out_dir, str(broken), "cannot read")


def test_alb_longer_than_seven_days(tmp_path: Path, out_dir: Path) -> None:
    log = write_log(
        tmp_path / "long.log", alb_line("2024-01-01T00:00:00.000000Z"), alb_line("2024-01-08T00:00:00.000000Z")
    )
    assert_refused(invoke("from-alb-logs", log, "--out", out_dir / "s.json"), out_dir, "604801 s", "7 days")


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (("--max-bad-fraction", 2), "--max-bad-fraction: must be within [0, 1]"),
        (("--max-bad-lines", -1), "--max-bad-lines: must be >= 0"),
        (("--unit-capacity-rps", 0), "--unit-capacity-rps: must be a number > 0"),
        (("--min-units", 5, "--max-units", 3), "target: min_units (5) must be <= max_units (3)"),
        (("--kind", "lambda"), "target.kind"),
    ],
)
def test_alb_bad_options(out_dir: Path, options: tuple[object, ...], needle: str) -> None:
    assert_refused(invoke("from-alb-logs", ALB_DIR, "--out", out_dir / "s.json", *options), out_dir, needle)


@pytest.mark.parametrize("command", ["from-alb-logs", "from-cloudwatch"])
def test_out_must_be_json_in_an_existing_folder(out_dir: Path, command: str) -> None:
    source = ALB_DIR if command == "from-alb-logs" else CLOUDWATCH / "request-count-60s.json"
    assert_refused(invoke(command, source, "--out", out_dir / "s.csv"), out_dir, "--out", "must name a .json file")
    missing = out_dir / "not-there" / "s.json"
    assert_refused(invoke(command, source, "--out", missing), out_dir, "--out: folder", "does not exist")


def test_cloudwatch_out_is_not_the_input(tmp_path: Path) -> None:
    source = tmp_path / "s.json"
    source.write_text((CLOUDWATCH / "request-count-60s.json").read_text())
    result = invoke("from-cloudwatch", source, "--out", source)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: --out: {source} is the input file; write it elsewhere"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["s.json"]


def test_cloudwatch_missing_file(tmp_path: Path, out_dir: Path) -> None:
    missing = tmp_path / "nope.json"
    assert_refused(
        invoke("from-cloudwatch", missing, "--out", out_dir / "s.json"), out_dir, str(missing), "no such file"
    )


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ('{"MetricDataResults": [', ("not valid JSON: line 1",)),
        ('{"Label": "RequestCount", "Datapoints": []}', ("not `aws cloudwatch get-metric-data` output",)),  # stats
        ('{"MetricDataResults": []}', ("MetricDataResults is empty",)),
        ('{"MetricDataResults": [{"Label": "x"}]}', ("MetricDataResults[0]: not a get-metric-data result (no Id)",)),
    ],
)
def test_cloudwatch_not_metric_data(tmp_path: Path, out_dir: Path, text: str, needles: tuple[str, ...]) -> None:
    source = tmp_path / "in.json"
    source.write_text(text)
    assert_refused(invoke("from-cloudwatch", source, "--out", out_dir / "s.json"), out_dir, str(source), *needles)


def result_document(**changes: object) -> str:
    result = {
        "Id": "m1",
        "Label": "RequestCount",
        "Timestamps": ["2024-01-15T10:01:00+00:00", "2024-01-15T10:00:00+00:00"],
        "Values": [60.0, 120.0],
        "StatusCode": "Complete",
        **changes,
    }
    return json.dumps({"MetricDataResults": [result], "Messages": []})


@pytest.mark.parametrize(
    ("changes", "needles"),
    [
        ({"Values": [60.0]}, ("MetricDataResults[0]: 2 Timestamps but 1 Values",)),
        ({"Values": [60.0, -1]}, ("MetricDataResults[0].Values[1]: must be a request count", "-1")),
        ({"Values": [60.0, "many"]}, ("MetricDataResults[0].Values[1]", "'many'")),
        ({"Timestamps": ["2024-01-15T10:01:00", "2024-01-15T10:00:00+00:00"]}, ("Timestamps[0]", "no UTC offset")),
        ({"Timestamps": ["yesterday", "2024-01-15T10:00:00+00:00"]}, ("Timestamps[0]", "not an ISO 8601 time")),
        ({"StatusCode": "InternalError"}, ("StatusCode: InternalError for result m1",)),
        ({"StatusCode": "Forbidden"}, ("StatusCode: Forbidden",)),
        ({"Timestamps": ["2024-01-15T10:05:00+00:00", "2024-01-15T10:00:00+00:00"]}, ("300 s apart", "1-60 s")),
        (
            {"Timestamps": ["2024-01-15T10:01:30+00:00", "2024-01-15T10:00:00+00:00"], "Values": [1, 2]},
            ("90 s apart",),
        ),
        (
            {
                "Timestamps": ["2024-01-15T10:01:30+00:00", "2024-01-15T10:01:00+00:00", "2024-01-15T10:00:00+00:00"],
                "Values": [1, 2, 3],
            },
            ("1 of 4 periods of 30 s", "first missing: 2024-01-15T10:00:30Z"),  # spacing 30 s: 10:00:30 missing
        ),
        (
            {
                "Timestamps": ["2024-01-15T10:01:50+00:00", "2024-01-15T10:01:00+00:00", "2024-01-15T10:00:00+00:00"],
                "Values": [1, 2, 3],
            },
            ("2024-01-15T10:01:00Z is not a whole number of 50 s periods",),  # spacing 50 s (10:01:00 -> 10:01:50)
        ),
        (
            {
                "Timestamps": ["2024-01-15T10:03:00+00:00", "2024-01-15T10:01:00+00:00", "2024-01-15T10:00:00+00:00"],
                "Values": [1, 2, 3],
            },
            ("result m1: 1 of 4 periods of 60 s", "first missing: 2024-01-15T10:02:00Z"),
        ),
    ],
)
def test_cloudwatch_bad_datapoints(
    tmp_path: Path, out_dir: Path, changes: dict[str, object], needles: tuple[str, ...]
) -> None:
    source = tmp_path / "in.json"
    source.write_text(result_document(**changes))
    result = invoke("from-cloudwatch", source, "--out", out_dir / "s.json")
    assert_refused(result, out_dir, str(source), *needles)


def test_cloudwatch_several_results_need_an_id(out_dir: Path) -> None:
    source = CLOUDWATCH / "custom-10s.json"
    assert_refused(
        invoke("from-cloudwatch", source, "--out", out_dir / "s.json"), out_dir, "2 results (m10, m60)", "--id"
    )
    assert_refused(
        invoke("from-cloudwatch", source, "--out", out_dir / "s.json", "--id", "m5"),
        out_dir,
        "--id: no result with Id 'm5'",
        "m10, m60",
    )


def test_cloudwatch_gap_refused_by_default(out_dir: Path) -> None:
    result = invoke("from-cloudwatch", CLOUDWATCH / "custom-10s.json", "--out", out_dir / "s.json", "--id", "m10")
    assert_refused(
        result, out_dir, "1 of 4 periods of 10 s", "2024-01-15T10:00:20Z", "--fill-gaps zero|previous|linear"
    )


def test_cloudwatch_bad_options(out_dir: Path) -> None:
    source = CLOUDWATCH / "request-count-60s.json"
    assert_refused(
        invoke("from-cloudwatch", source, "--out", out_dir / "s.json", "--fill-gaps", "guess"),
        out_dir,
        "--fill-gaps: must be one of refuse, zero, previous, linear",
    )
    assert_refused(
        invoke("from-cloudwatch", source, "--out", out_dir / "s.json", "--period-seconds", 120),
        out_dir,
        "--period-seconds is 120 s",
    )
    assert_refused(
        invoke("from-cloudwatch", source, "--out", out_dir / "s.json", "--period-seconds", 7),
        out_dir,
        "not a whole number of 7 s periods",
    )
