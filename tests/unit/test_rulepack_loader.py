"""The rule pack is parsed with libyaml where PyYAML has it: the same data as the pure-Python loader."""

from pathlib import Path

import pytest
import yaml

PACKS = sorted((Path(__file__).parents[2] / "planner" / "rulepacks").glob("*.yaml"))


@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.name)
def test_c_loader_reads_the_same_pack(path):
    if not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("PyYAML without libyaml: the pure-Python loader is used")
    text = path.read_text(encoding="utf-8")
    assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.safe_load(text)
