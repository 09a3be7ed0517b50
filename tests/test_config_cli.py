"""`surge config show|validate|apply|reset` against a locally deployed stack, and the two documents in the loop.

The template owns `/<stack>/config` (CloudFormation rewrites it on every deploy that changes a parameter);
`surge config apply` writes `/<stack>/operator-config`, which the template never declares. The loop and the push
path merge the two by target id.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse
from typer.testing import CliRunner

from scaler_support import START, Loop, deploy, ecs_target
from surge.adapters import store
from surge.adapters.config_source import Origin, ParameterPart, load_effective_config, newer_part
from surge.adapters.errors import ConfigInvalidError
from surge.core.config import SurgeConfig, TargetConfig
from surge_cli import world
from surge_cli.localaws import LocalAws
from surge_cli.main import app
from surge_cli.stack import TEMPLATE_PATH, LocalStack, TemplateError

runner = CliRunner()


def document(*targets: TargetConfig) -> dict[str, Any]:
    """A document as an operator writes it: only the fields they mean (defaults stay the code's)."""
    return SurgeConfig(targets=list(targets)).model_dump(mode="json", exclude_unset=True)


def write(tmp_path: Path, content: dict[str, Any] | str | bytes, name: str = "targets.json") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    return path


def ssm_value(stack: LocalStack, name: str) -> tuple[str, int] | None:
    ssm = stack.aws.client("ssm")
    try:
        parameter = ssm.get_parameter(Name=name)["Parameter"]
    except ssm.exceptions.ParameterNotFound:
        return None
    return parameter["Value"], parameter["Version"]


def shown(args: list[str] | None = None) -> dict[str, Any]:
    result = runner.invoke(app, ["config", "show", "--json", *(args or [])])
    assert result.exit_code == 0, result.output
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def sources(view: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(s["target_id"], s["source"], s["overrides_template"]) for s in view["sources"]]


def max_units(view: dict[str, Any]) -> dict[str, int]:
    return {t["id"]: t["scaling"]["max_units"] for t in view["config"]["targets"]}


# ------------------------------------------------------------------------------------------ validate


def test_validate_accepts_the_loops_own_model(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "validate", str(write(tmp_path, document(ecs_target("web"))))])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("valid, 1 target(s): web\n")


def test_validate_names_every_problem_on_its_own_line_with_the_allowed_range(tmp_path: Path) -> None:
    bad = document(ecs_target("web"), ecs_target("db"))
    bad["targets"][0]["scaling"]["loop_interval_seconds"] = 61
    bad["targets"][0]["scaling"]["target_utilization"] = 0
    bad["targets"][1]["scaling"] |= {"min_units": 9, "max_units": 3}

    result = runner.invoke(app, ["config", "validate", str(write(tmp_path, bad))])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: targets.0.scaling.target_utilization: Input should be greater than 0 (got: 0); allowed: 0 < value <= 1",
        "error: targets.0.scaling.loop_interval_seconds: Input should be less than or equal to 60 (got: 61); "
        "allowed: 1 <= value <= 60",
        "error: targets.1.scaling: min_units (9) must be <= max_units (3)",
    ]
    assert result.stdout == ""


def test_validate_rejects_a_bad_instances_block_naming_the_field(tmp_path: Path) -> None:
    """ECS on EC2: tasks_per_instance below 1, both ways to the group, or instances on an asg target."""
    bad = document(ecs_target("web"), ecs_target("db"))
    bad["targets"][0]["instances"] = {"group_name": "web-instances", "tasks_per_instance": 0, "min_instances": 1}
    bad["targets"][1]["instances"] = {
        "group_name": "db-instances",
        "capacity_provider": "db-capacity",
        "tasks_per_instance": 4,
        "min_instances": 1,
    }

    result = runner.invoke(app, ["config", "validate", str(write(tmp_path, bad))])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: targets.0.instances.tasks_per_instance: Input should be greater than or equal to 1 (got: 0); "
        "allowed: 1 <= value <= 1000",
        "error: targets.1.instances: instances needs exactly one of group_name or capacity_provider",
    ]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"targets": [', "error: (document): not JSON: Expecting value at line 1 column 14"),
        (
            '{"targets": [], "targets": []}',
            "error: (document): key 'targets' appears twice in one object (JSON would keep the last)",
        ),
        (b'{"targets": "\xff"}', "error: FILE: "),
        ("{}", "error: targets: Field required"),
        ('{"targets": []}', "error: targets: List should have at least 1 item after validation, not 0"),
    ],
    ids=["not-json", "duplicate-key", "not-utf8", "no-targets", "empty-targets"],
)
def test_validate_refuses_what_ssm_or_the_loop_would_not_take(
    tmp_path: Path, content: dict[str, Any] | str | bytes, expected: str
) -> None:
    result = runner.invoke(app, ["config", "validate", str(write(tmp_path, content))])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(expected), line
    if expected == "error: FILE: ":
        assert line.endswith("is not UTF-8 (byte 0xff at offset 13)")


def test_validate_says_a_document_above_8_kb_goes_to_the_table(tmp_path: Path) -> None:
    big = document(*(ecs_target(f"service-with-a-long-name-{n:02d}") for n in range(50)))
    result = runner.invoke(app, ["config", "validate", str(write(tmp_path, big))])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{tmp_path / 'targets.json'}: valid, 50 target(s): service-with-a-long-name-00,")
    assert result.stdout.endswith(" bytes: above an SSM parameter's 8 KB, apply keeps it in the Surge table)\n")


def test_validate_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "validate", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: FILE: cannot read {tmp_path / 'nope.json'}: No such file or directory"
    ]


# ------------------------------------------------------------------------------------------ apply / show


def test_apply_adds_and_overrides_targets_and_show_says_where_each_comes_from(aws: LocalAws, tmp_path: Path) -> None:
    stack = deploy(aws, ecs_target("api"))
    template_before = ssm_value(stack, stack.config_parameter)
    assert sources(shown()) == [("api", "template", False)]
    assert shown()["parameters"]["operator"] is None

    applied = document(ecs_target("api", max_units=80), ecs_target("web"))
    result = runner.invoke(app, ["config", "apply", str(write(tmp_path, applied))])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "applied to /surge/operator-config (version 1): api (overrides the template), web (added)"
    )
    assert ssm_value(stack, stack.config_parameter) == template_before, "the template's document is not touched"
    written = ssm_value(stack, stack.operator_config_parameter)
    assert written is not None
    assert json.loads(written[0]) == applied, "the fields the operator gave, nothing else"
    view = shown()
    assert sources(view) == [("api", "operator", True), ("web", "operator", False)]
    assert max_units(view) == {"api": 80, "web": 50}
    assert view["parameters"]["operator"]["name"] == "/surge/operator-config"
    table = runner.invoke(app, ["config", "show"])
    assert table.exit_code == 0, table.output
    assert "operator (overrides the template's)" in table.stdout
    assert "note: api: the operator's target replaces the template's" in table.stdout


def test_an_invalid_document_writes_nothing(aws: LocalAws, tmp_path: Path) -> None:
    stack = deploy(aws, ecs_target("api"))
    good = runner.invoke(app, ["config", "apply", str(write(tmp_path, document(ecs_target("web")), "good.json"))])
    assert good.exit_code == 0, good.output
    before = ssm_value(stack, stack.operator_config_parameter)

    bad = document(ecs_target("web"))
    bad["targets"][0]["scaling"]["max_units"] = 10_001
    expected = "error: targets.0.scaling.max_units: Input should be less than or equal to 10000 (got: 10001)"
    result = runner.invoke(app, ["config", "apply", str(write(tmp_path, bad))])

    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(expected), line
    assert ssm_value(stack, stack.operator_config_parameter) == before, "nothing written"


def test_reset_removes_the_operator_document(aws: LocalAws, tmp_path: Path) -> None:
    stack = deploy(aws, ecs_target("api"))
    assert runner.invoke(app, ["config", "apply", str(write(tmp_path, document(ecs_target("web"))))]).exit_code == 0

    result = runner.invoke(app, ["config", "reset"])

    assert result.exit_code == 0, result.output
    assert ssm_value(stack, stack.operator_config_parameter) is None
    assert sources(shown()) == [("api", "template", False)]
    again = runner.invoke(app, ["config", "reset"])
    assert (again.exit_code, again.stdout) == (0, "no operator document at /surge/operator-config: nothing to remove\n")


def test_an_unknown_stack_is_one_line_and_exit_2(aws: LocalAws, tmp_path: Path) -> None:
    deploy(aws, ecs_target("api"))
    path = str(write(tmp_path, document(ecs_target("web"))))
    for args in (["show"], ["apply", path], ["reset"]):
        result = runner.invoke(app, ["config", *args, "--stack", "nope"])
        assert result.exit_code == 2, (args, result.output)
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: stack: no CloudFormation stack 'nope'"), line


def test_a_hand_broken_operator_document_is_shown_as_one_line_and_stops_the_loop(aws: LocalAws) -> None:
    stack = deploy(aws, ecs_target("api"))
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    broken = document(ecs_target("web"))
    broken["targets"][0]["scaling"]["min_units"] = -1
    aws.client("ssm").put_parameter(Name=stack.operator_config_parameter, Value=json.dumps(broken), Type="String")

    result = runner.invoke(app, ["config", "show"])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: SSM parameter /surge/operator-config: targets.0.scaling.min_units: Input should be greater than or "
        "equal to 0 (got: -1); allowed: 0 <= value <= 10000 (the loop stops with CannotStartLoop until it is fixed)"
    ]
    execution = aws.start_execution(stack.scaler_arn, {"budget_seconds": 55})
    outcome = aws.wait_for(execution, timeout_sim_seconds=30)
    assert outcome["status"] == "FAILED"
    assert outcome.get("error") == "CannotStartLoop"
    assert world.ecs_desired(aws, "prod", "api") == 2, "nothing changed"


def test_a_template_without_targets_takes_the_operators_alone(aws: LocalAws) -> None:
    """A stack deployed with neither ServiceName nor AutoScalingGroupName generates `"targets": []`."""
    table = deploy(aws, ecs_target("api")).table_name
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/s/config", Value='{"version": 1, "targets": []}', Type="String")
    with pytest.raises(ConfigInvalidError, match=r"together: targets: List should have at least 1 item"):
        load_effective_config("/s/config", "/s/operator-config", table=table)

    ssm.put_parameter(Name="/s/operator-config", Value=json.dumps(document(ecs_target("web"))), Type="String")
    loaded = load_effective_config("/s/config", "/s/operator-config", table=table)
    assert [t.id for t in loaded.config.targets] == ["web"]
    assert loaded.origin("web") is Origin.OPERATOR

    ssm.put_parameter(Name="/s/operator-config", Value='{"version": 1, "targets": []}', Type="String", Overwrite=True)
    with pytest.raises(ConfigInvalidError, match=r"^SSM parameter /s/operator-config: targets: List should have"):
        load_effective_config("/s/config", "/s/operator-config", table=table)


# ------------------------------------------------------------------------- a document above 8 KB: the table


def fleet_document(n_targets: int) -> dict[str, Any]:
    return document(*(ecs_target(f"svc-{i:03d}", max_units=40 + i) for i in range(n_targets)))


def test_a_document_above_an_ssm_parameter_goes_to_the_table_and_the_loop_scales_every_target(
    aws: LocalAws, tmp_path: Path
) -> None:
    stack = deploy(aws, ecs_target("api"))
    big = fleet_document(120)
    assert len(json.dumps(big, separators=(",", ":"))) > 8_192, "an SSM parameter could not hold it"

    result = runner.invoke(app, ["config", "apply", str(write(tmp_path, big))])

    assert result.exit_code == 0, result.output
    location = f"table {stack.table_name}, item OPERATOR_CONFIG"
    assert result.stdout.startswith(f"applied to {location} ("), result.stdout
    assert ssm_value(stack, stack.operator_config_parameter) is None
    stored = store.read_operator_config(stack.table_name)
    assert stored is not None
    assert json.loads(stored.document) == big
    view = shown()
    assert len(view["config"]["targets"]) == 121
    assert view["parameters"]["operator"]["name"] == location
    assert max_units(view)["svc-119"] == 159
    # The loop itself: ClaimLoop reads the table's document and hands 13 shards of 10 to the Map.
    execution = aws.start_execution(stack.scaler_arn, {"budget_seconds": 5})
    aws.wait_for(execution, timeout_sim_seconds=120)
    claimed = next(
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in aws.history(execution)
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "ClaimLoop"
    )
    assert claimed["shards"] == list(range(13))

    small = runner.invoke(app, ["config", "apply", str(write(tmp_path, document(ecs_target("web")), "small.json"))])

    assert small.exit_code == 0, small.output
    assert small.stdout.startswith("applied to /surge/operator-config (version 1)"), small.stdout
    assert store.read_operator_config(stack.table_name) is None, "the table's copy is removed"
    assert sources(shown()) == [("api", "template", False), ("web", "operator", False)]

    assert runner.invoke(app, ["config", "apply", str(write(tmp_path, big))]).exit_code == 0
    reset = runner.invoke(app, ["config", "reset"])
    assert reset.exit_code == 0, reset.output
    assert reset.stdout.startswith(f"removed {location}:"), reset.stdout
    assert store.read_operator_config(stack.table_name) is None
    assert sources(shown()) == [("api", "template", False)]


def test_when_an_apply_was_interrupted_between_its_two_writes_the_newer_document_is_used() -> None:
    def part(name: str, minute: int | None) -> ParameterPart:
        modified = None if minute is None else datetime(2026, 12, 2, 12, minute, tzinfo=UTC)
        return ParameterPart(name=name, targets=[ecs_target(name)], version=1, modified_at=modified)

    parameter, item = part("parameter", 1), part("item", 2)
    assert newer_part(parameter, item) is item
    assert newer_part(part("parameter", 3), item).name == "parameter"
    assert newer_part(None, item) is item
    assert newer_part(parameter, None) is parameter
    assert newer_part(None, None) is None


def test_a_document_no_table_item_could_hold_is_refused_before_anything_is_written(
    aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = deploy(aws, ecs_target("api"))
    monkeypatch.setattr(store, "MAX_DOCUMENT_BLOB_BYTES", 200)  # 500 targets compress far below 399 KB

    result = runner.invoke(app, ["config", "apply", str(write(tmp_path, fleet_document(60)))])

    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: (document): "), line
    assert line.endswith("above the 200 a table item holds"), line
    assert store.read_operator_config(stack.table_name) is None
    assert ssm_value(stack, stack.operator_config_parameter) is None


# --------------------------------------------------------------------------------- deploys leave it alone


def test_a_deploy_that_changes_the_templates_parameters_keeps_the_applied_document(
    aws: LocalAws, tmp_path: Path
) -> None:
    stack = deploy(aws, ecs_target("api"))
    assert runner.invoke(app, ["config", "apply", str(write(tmp_path, document(ecs_target("web"))))]).exit_code == 0
    applied = ssm_value(stack, stack.operator_config_parameter)

    # `make deploy` with MaxUnits changed: CloudFormation (moto's) updates the stack's ConfigParameter.
    again = deploy(aws, ecs_target("api", max_units=60))

    template_value = ssm_value(again, again.config_parameter)
    assert template_value is not None
    assert SurgeConfig.model_validate_json(template_value[0]).targets[0].scaling.max_units == 60, (
        "the deploy did rewrite the template's document"
    )
    assert ssm_value(again, again.operator_config_parameter) == applied, "and left the operator's alone"
    view = shown()
    assert sources(view) == [("api", "template", False), ("web", "operator", False)]
    assert max_units(view) == {"api": 60, "web": 50}


def test_a_local_redeploy_that_would_change_a_functions_environment_says_so(aws: LocalAws) -> None:
    deploy(aws, ecs_target("api"))
    with pytest.raises(
        TemplateError, match=r"surge-\w+Function: the local stack cannot change a function's environment"
    ):
        deploy(aws, ecs_target("api"), parameters={"DryRun": "true"})


def test_the_template_never_declares_the_operator_document_and_no_function_may_write_either() -> None:
    template = yaml_parse(TEMPLATE_PATH.read_text())
    text = json.dumps(template["Resources"])
    parameters = [r for r in template["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"]
    assert [p["Properties"]["Name"] for p in parameters] == [{"Fn::Sub": "/${AWS::StackName}/config"}]
    operator_name = {"Fn::Sub": "/${AWS::StackName}/operator-config"}
    assert template["Globals"]["Function"]["Environment"]["Variables"]["SURGE_OPERATOR_CONFIG_PARAMETER"] == (
        operator_name
    )
    assert template["Outputs"]["OperatorConfigParameterName"]["Value"] == operator_name
    for action in ("ssm:PutParameter", "ssm:DeleteParameter", "ssm:LabelParameterVersion", "ssm:*"):
        assert action not in text, f"a role of the stack may {action}"


# ------------------------------------------------------------------------------------ the loop uses it


def _both_services(aws: LocalAws, stack: LocalStack, rps: float) -> Loop:
    world.create_ecs_service(aws, "prod", "api", desired_units=2)
    world.create_ecs_service(aws, "prod", "web", desired_units=2)
    loop = Loop(aws, stack, lambda minute: rps)
    loop.read = lambda: {name: world.ecs_desired(aws, "prod", name) for name in ("api", "web")}
    return loop


@pytest.mark.statemachine
def test_the_loop_scales_a_target_added_by_config_apply_and_a_redeploy_keeps_it(aws: LocalAws, tmp_path: Path) -> None:
    stack = deploy(aws, ecs_target("api"))
    assert runner.invoke(app, ["config", "apply", str(write(tmp_path, document(ecs_target("web"))))]).exit_code == 0
    # A later `make deploy` lowers the template target's MaxUnits to 6.
    stack = deploy(aws, ecs_target("api", max_units=6))
    loop = _both_services(aws, stack, rps=400.0)  # ceil(400 / 50) = 8 units

    loop.start()
    aws.run_until(START + timedelta(minutes=2))

    assert loop.value_at("web", START + timedelta(minutes=2)) == 8, "the operator's target is scaled"
    assert loop.value_at("api", START + timedelta(minutes=2)) == 6, "the template's new max reached the loop"


@pytest.mark.statemachine
def test_a_push_for_a_target_added_by_config_apply_scales_it(aws: LocalAws, tmp_path: Path) -> None:
    stack = deploy(aws, ecs_target("api"))
    assert runner.invoke(app, ["config", "apply", str(write(tmp_path, document(ecs_target("web"))))]).exit_code == 0
    _both_services(aws, stack, rps=100.0).publish_history()

    pushed = runner.invoke(app, ["push", "--audience", "100000", "--id", "post-1", "--target", "web"])
    assert pushed.exit_code == 0, pushed.output
    (execution,) = stack.deliver_events()

    assert aws.wait_for(execution, timeout_sim_seconds=30)["status"] == "SUCCEEDED"
    # (100 rps now + 100,000 x 0.01 rps) / (100 rps x 0.5) = 22 units
    assert world.ecs_desired(aws, "prod", "web") == 22
    assert world.ecs_desired(aws, "prod", "api") == 2, "only the push's target"


def test_the_loop_keeps_its_configuration_once_per_version_and_refreshes_it_a_day_before_it_expires(
    aws: LocalAws,
) -> None:
    stack = deploy(aws, ecs_target("api"))
    dynamodb = aws.client("dynamodb")

    def kept() -> list[int]:
        items = dynamodb.scan(TableName=stack.table_name)["Items"]
        return [int(i["expires_at"]["N"]) for i in items if i["pk"]["S"].startswith("CONFIG#")]

    def one_execution() -> None:
        execution = aws.start_execution(stack.scaler_arn, {"budget_seconds": 5})
        assert aws.wait_for(execution, timeout_sim_seconds=120)["status"] == "SUCCEEDED"

    one_execution()
    (first,) = kept()
    assert first == int((START + timedelta(days=2)).timestamp())
    aws.run_until(START + timedelta(minutes=1))
    one_execution()
    assert kept() == [first], "the next minute's execution did not write it again"
    aws.run_until(START + timedelta(days=1, minutes=1))
    one_execution()
    (refreshed,) = kept()
    assert refreshed > first + 86_400, "less than a day left: written again, two days from now"
