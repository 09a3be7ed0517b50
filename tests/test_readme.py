"""The README's figures are generated (`make figures` -> bench/readme.py), never typed by hand."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

from scaler_support import bench_module

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _readme_module() -> ModuleType:
    return bench_module("readme")


def _block(name: str) -> str:
    found = re.search(rf"<!-- figures:{name} -->\n(.*?)<!-- /figures:{name} -->", README, re.DOTALL)
    assert found is not None, f"README lost its {name} block"
    return found.group(1).strip()


def test_every_figure_block_exists_and_is_filled() -> None:
    module = _readme_module()
    for name in module.BLOCKS:
        text = _block(name)
        assert text, f"README's {name} figures are empty: run `make figures`"
        assert "(run the full bench" not in text, f"README's {name} figures come from a --quick bench"


def test_the_latency_table_is_the_one_the_profiles_give() -> None:
    assert _block("latency") == _readme_module().latency_table()
