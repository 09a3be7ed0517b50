"""`surge config show|validate|apply|reset` against a locally deployed stack, and the two documents in the loop.

The template owns `/<stack>/config` (CloudFormation rewrites it on every deploy that changes a parameter);
`surge config apply` writes `/<stack>/operator-config`, which the template never declares. The loop and the push
path merge the two by target id.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse
from typer.testing import CliRunner

from scaler_support import START, Loop, deploy, ecs_target
from surge.adapters.config_source import Origin, load_effective_config
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


def _big_document() -> dict[str, Any]:
    """50 targets with names long enough to pass the 8 KB an SSM parameter holds."""
    return document(*(ecs_target(f"service-with-a-long-name-{n:02d}") for n in range(50)))


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
        (_big_document(), "error: (document): "),
    ],
    ids=["not-json", "duplicate-key", "not-utf8", "no-targets", "empty-targets", "over-8kb"],
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
    if expected == "error: (document): ":
        assert line.endswith("bytes once written, above the 8,192 bytes an SSM parameter holds")


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
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/s/config", Value='{"version": 1, "targets": []}', Type="String")
    with pytest.raises(ConfigInvalidError, match=r"together: targets: List should have at least 1 item"):
        load_effective_config("/s/config", "/s/operator-config")

    ssm.put_parameter(Name="/s/operator-config", Value=json.dumps(document(ecs_target("web"))), Type="String")
    loaded = load_effective_config("/s/config", "/s/operator-config")
    assert [t.id for t in loaded.config.targets] == ["web"]
    assert loaded.origin("web") is Origin.OPERATOR

    ssm.put_parameter(Name="/s/operator-config", Value='{"version": 1, "targets": []}', Type="String", Overwrite=True)
    with pytest.raises(ConfigInvalidError, match=r"^SSM parameter /s/operator-config: targets: List should have"):
        load_effective_config("/s/config", "/s/operator-config")


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
