"""The published rule-pack reference (docs/rulepack.md) is generated from the newest pack and kept current."""

from dataclasses import replace
from pathlib import Path

from planner.cli import main
from planner.input.rulepack import load_rule_pack, reference_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "rulepack.md"


def test_docs_rulepack_is_the_generated_table_of_the_newest_pack():
    pack = load_rule_pack("cn-national")
    expected = reference_markdown(pack)
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/rulepack.md is stale: regenerate it with `planner rulepack --markdown > docs/rulepack.md`"
    )


def test_every_parameter_has_a_row_with_its_value_source_and_confidence():
    pack = load_rule_pack("cn-national")
    text = reference_markdown(pack)
    rows = {line.split("|")[1].strip().strip("`"): line for line in text.splitlines() if line.startswith("| `")}
    assert set(rows) == set(pack.params)
    p = pack.params["ccer.cap_share"]
    cells = [c.strip() for c in rows["ccer.cap_share"].split("|")[1:-1]]
    assert cells[1] == "0.05" and cells[2] == p.unit and cells[4] == p.published_text == "2019-" and cells[5] == p.confidence
    assert p.url in cells[6]


def test_a_changed_value_changes_the_table():
    pack = load_rule_pack("cn-national")
    params = dict(pack.params)
    params["ccer.cap_share"] = params["ccer.cap_share"].model_copy(update={"value": 0.1})
    assert reference_markdown(replace(pack, params=params)) != reference_markdown(pack)


def test_cli_prints_the_same_table(capsys):
    assert main(["rulepack", "--markdown"]) == 0
    assert capsys.readouterr().out == reference_markdown(load_rule_pack("cn-national"))
    assert main(["rulepack", "--list"]) == 0
    assert "cn-national@2026.11" in capsys.readouterr().out
    assert main(["rulepack", "no-such-pack"]) == 1
