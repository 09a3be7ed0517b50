"""docs/scenario-format.md documents every field the scenario loader accepts, generated from its models."""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from surge_cli import scenario_format
from surge_cli.replay.scenario import ReplayConfig, Scenario, TargetSpec, parse_scenario
from surge_cli.scenario_format import SECTIONS, FormatError, Section, render, table

ROOT = Path(__file__).resolve().parents[1]
DOC_PATH = ROOT / "docs" / "scenario-format.md"
DOC = DOC_PATH.read_text(encoding="utf-8")


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in typing.get_args(annotation) for model in _models_in(argument)]


def _is_list(annotation: object) -> bool:
    origin = typing.get_origin(annotation)
    if origin is list:
        return True
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return any(_is_list(argument) for argument in typing.get_args(annotation))
    return False


def accepted_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key the loader accepts, found by walking the models from Scenario (independent of SECTIONS)."""
    keys: list[str] = []
    for name, field in model.model_fields.items():
        key = prefix + name
        keys.append(key)
        inner_prefix = key + ("[]." if _is_list(field.annotation) else ".")
        for inner in _models_in(field.annotation):
            keys.extend(accepted_keys(inner, inner_prefix))
    return keys


def test_every_key_the_loader_accepts_is_in_the_document() -> None:
    keys = accepted_keys(Scenario)
    assert len(keys) > 40  # the walk reached the nested models
    missing = [key for key in keys if f"| `{key}` |" not in DOC]
    assert not missing, f"docs/scenario-format.md lacks {missing}: run make scenario-format"


def test_every_documented_key_is_one_the_loader_accepts() -> None:
    documented = re.findall(r"^\| `([^`]+)` \|", DOC, re.MULTILINE)
    assert sorted(documented) == sorted(set(accepted_keys(Scenario)))


def test_the_field_tables_are_generated_from_the_models() -> None:
    assert render(DOC) == DOC, "docs/scenario-format.md's field tables are stale: run make scenario-format"


def _row(key: str) -> list[str]:
    found = re.search(rf"^\| `{re.escape(key)}` \|(.*)\|$", DOC, re.MULTILINE)
    assert found is not None, key
    return [cell.strip() for cell in found.group(1).split(" | ")]


def test_the_tables_show_the_models_types_defaults_and_ranges() -> None:
    assert _row("config.loop_interval_seconds")[:3] == [
        "integer",
        f"`{ReplayConfig.model_fields['loop_interval_seconds'].default}`",
        "1 to 60",
    ]
    assert _row("target.kind")[:3] == ["string", "required", "`ecs`, `asg`"]
    assert _row("target.unit_capacity_rps")[2] == "> 0 and <= 1000000"
    assert _row("duration_seconds")[2] == "1 to 604800"
    assert _row("config.high_resolution_metric_period_seconds")[:3] == [
        "integer or none",
        "none",
        "`1`, `5`, `10`, `20`, `30`, `60`",
    ]
    assert _row("config.latency")[2] == "`typical`, `pessimistic`, `none`"
    assert _row("pushes[].id")[2] == "1-128 characters, matching `^[A-Za-z0-9_.:-]+$`"
    assert _row("traffic.rps")[:3] == ["list of numbers", "required", "not empty, each >= 0"]
    assert _row("config.metric_gaps")[1] == "`[]`"
    assert _row("config")[1] == "all defaults"


def test_a_field_without_a_meaning_stops_the_generator() -> None:
    class Grown(TargetSpec):
        warm_pool_units: int = 0

    with pytest.raises(FormatError, match=r"target\.warm_pool_units: no meaning"):
        table(Section("target", Grown, "target."))


def test_a_meaning_for_a_field_that_is_gone_stops_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scenario_format, "MEANINGS", {**scenario_format.MEANINGS, "config.retired_seconds": "old"})
    with pytest.raises(FormatError, match=r"config\.retired_seconds"):
        render(DOC)


def test_every_section_has_its_block_in_the_document() -> None:
    for section in SECTIONS:
        assert f"<!-- fields:{section.block} -->" in DOC
        assert f"<!-- /fields:{section.block} -->" in DOC


def test_the_check_mode_finds_a_stale_table_and_the_write_mode_fixes_it(tmp_path: Path) -> None:
    stale = tmp_path / "scenario-format.md"
    stale.write_text(re.sub(r"^\| `config\.seed` \|.*\n", "", DOC, flags=re.MULTILINE), encoding="utf-8")
    assert scenario_format.main(["--check", str(stale)]) == 1
    assert scenario_format.main([str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == DOC
    assert scenario_format.main(["--check", str(stale)]) == 0


def test_the_documented_example_is_a_valid_scenario() -> None:
    example = re.search(r"## Example\n\n```json\n(.*?)```", DOC, re.DOTALL)
    assert example is not None
    loaded = parse_scenario(json.loads(example.group(1)), base_dir=DOC_PATH.parent)
    assert loaded.notes == []
    assert loaded.scenario.pushes
    assert loaded.scenario.calendar


def test_the_readme_points_to_the_document_not_to_the_brief() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/scenario-format.md)" in readme
    assert "BRIEF.md" not in readme
