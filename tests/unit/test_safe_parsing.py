"""Reading case files safely: no Python objects, bounded depth and expanded size, no duplicate keys.

Every hostile file ends in a ``CaseValidationError`` that names the file (and the line where the
reader knows it), and `planner validate` exits 1 with it, never with a traceback.
"""

import json
import time
from pathlib import Path

import pytest
import yaml

from planner.cli import main
from planner.errors import CaseValidationError
from planner.input.read import MAX_DEPTH, MAX_NODES, read_case_data


def _problems(path):
    with pytest.raises(CaseValidationError) as exc:
        read_case_data(path)
    assert exc.value.source == str(path)
    return exc.value.problems


def _laughs(levels: int, width: int = 9, at: str = "activity") -> str:
    """A billion-laughs file: level i lists ``width`` aliases of level i-1."""
    lines = ["defs:", "  - &l0 {year: 2025, output: 1, emissions_t: 1}"]
    for i in range(1, levels + 1):
        lines.append(f"  - &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    lines.append(f"{at}: *l{levels}")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_fast(tmp_path):
    p = tmp_path / "laughs.yaml"
    p.write_text(_laughs(9), encoding="utf-8")  # 9**9 = 387 million rows if expanded
    t0 = time.perf_counter()
    (loc, msg), = _problems(p)
    assert time.perf_counter() - t0 < 2.0
    assert loc.startswith("line ") and f"more than {MAX_NODES:,} values" in msg


def test_billion_laughs_inside_overrides_is_refused(tmp_path):
    """policy.overrides takes any value: an expanded alias bomb there used to take seconds per level."""
    p = tmp_path / "laughs.yaml"
    p.write_text(_laughs(7, at="policy:\n  overrides:\n    x"), encoding="utf-8")
    (_, msg), = _problems(p)
    assert "aliases counted at every use" in msg


def test_small_aliases_and_merge_keys_still_work(tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_text(
        "base: &m {cea_buy_cny_per_t: 60, ccer_cny_per_t: 50}\n"
        "market: [{<<: *m, year: 2025}, {<<: *m, year: 2026, cea_buy_cny_per_t: 70}]\n",
        encoding="utf-8",
    )
    data = read_case_data(p)
    assert data["market"][1] == {"cea_buy_cny_per_t": 70, "ccer_cny_per_t": 50, "year": 2026}


def test_recursive_alias_is_refused(tmp_path):
    p = tmp_path / "rec.yaml"
    p.write_text("entity: &e {id: [*e]}\n", encoding="utf-8")
    (loc, msg), = _problems(p)
    assert loc == "line 1, column 18" and "refers to a value that contains it" in msg


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_deep_nesting_is_refused(tmp_path, suffix):
    """50,000 nested lists used to end in RecursionError (exit 70, 'internal error')."""
    p = tmp_path / f"deep{suffix}"
    p.write_text('{"a": ' + "[" * 50_000 + "]" * 50_000 + "}", encoding="utf-8")
    (_, msg), = _problems(p)
    assert f"nested deeper than {MAX_DEPTH} levels" in msg


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_nesting_just_inside_the_limit_is_read(tmp_path, suffix):
    p = tmp_path / f"deep{suffix}"
    p.write_text('{"a": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}", encoding="utf-8")
    assert "a" in read_case_data(p)
    p.write_text('{"a": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}", encoding="utf-8")
    _problems(p)


def test_too_many_values_in_json_is_refused(tmp_path):
    p = tmp_path / "wide.json"
    p.write_text(json.dumps({"activity": [0] * (MAX_NODES + 1)}), encoding="utf-8")
    (_, msg), = _problems(p)
    assert f"more than {MAX_NODES:,} values" in msg


@pytest.mark.parametrize(
    "text",
    [
        "entity: !!python/object/apply:os.system ['echo pwned']\n",
        "entity: !!python/name:os.system\n",
        "entity: !!python/object:planner.input.schema.CaseSpec {}\n",
        "entity: !custom {a: 1}\n",
    ],
)
def test_tags_cannot_build_python_objects(tmp_path, text):
    p = tmp_path / "tag.yaml"
    p.write_text(text, encoding="utf-8")
    (loc, msg), = _problems(p)
    assert loc == "line 1, column 9" and "could not determine a constructor" in msg


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("dup.yaml", "entity: {id: A}\nhorizon: {}\nentity: {id: B}\n", "line 3, column 1"),
        ("dup.yaml", "market:\n  - {year: 2025, year: 2026}\n", "line 2, column 18"),
        ("dup.json", '{"entity": {}, "entity": {}}', ""),
    ],
)
def test_duplicate_keys_are_refused(tmp_path, name, text, where):
    """A repeated key used to be dropped silently (the last one won)."""
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    (loc, msg), = _problems(p)
    assert loc == where and "duplicate key" in msg


@pytest.mark.parametrize(
    ("value", "needle"),
    [("!!timestamp horizon", "is not a valid"), ("!!int abc", "is not a valid"),
     ("!!float x", "is not a valid"), ("!!bool maybe", "is not a valid")],
)
def test_values_yaml_cannot_build_are_errors_not_crashes(tmp_path, value, needle):
    """'2025-02-30' resolved to a YAML 1.1 timestamp; building it used to raise ValueError, and an
    explicit ``!!timestamp`` on other text AttributeError (both exit 70, 'internal error'). A plain
    date is text now (YAML 1.2): test_a_plain_date_is_text_and_date_fields_read_it."""
    p = tmp_path / "bad.yaml"
    p.write_text(f"entity: {{name: {value}}}\n", encoding="utf-8")
    (loc, msg), = _problems(p)
    assert loc == "line 1, column 16" and needle in msg


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"\xff\xfe\x00\x01entity", "not UTF-8"),
        (b"entity:\n\t- x\n", "not valid YAML"),
        (b"[1, 2, 3]\n", "must be a mapping"),
        (b"", "must be a mapping"),
        (b"key: [unclosed\n", "not valid YAML"),
    ],
)
def test_cli_validate_names_the_file_and_exits_1(tmp_path, capsys, raw, needle):
    p = tmp_path / "bad.yaml"
    p.write_bytes(raw)
    assert main(["validate", str(p)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {p}: ") and needle in err and "Traceback" not in err


@pytest.mark.parametrize("case", sorted((Path(__file__).parents[2] / "cases").glob("*.yaml")), ids=lambda p: p.stem)
def test_example_cases_read_as_plain_safe_load(case):
    """The limits change nothing for real case files."""
    assert read_case_data(case) == yaml.safe_load(case.read_text(encoding="utf-8"))


def test_a_plain_date_is_text_and_date_fields_read_it(tmp_path):
    """YAML 1.2 reads ``2025-02-30`` as text (1.1 as a timestamp, which could not even be built): a
    text field keeps it, a date field (a CCER lot's ``project_start``) parses it and refuses an
    impossible date with the field named."""
    p = tmp_path / "name.yaml"
    p.write_text("entity: {name: 2025-02-30}\n", encoding="utf-8")
    assert read_case_data(p)["entity"]["name"] == "2025-02-30"

    from planner.input.read import parse_case
    from tests.solver.helpers import case_dict

    d = case_dict()
    d["opening"] = {"ccer_lots": [{"id": "n1", "quantity_t": 10, "system": "new", "project_start": "2021-06-30"}]}
    lot = parse_case(d).opening.ccer_lots[0]
    assert str(lot.project_start) == "2021-06-30"
    d["opening"]["ccer_lots"][0]["project_start"] = "2025-02-30"
    with pytest.raises(CaseValidationError) as exc:
        parse_case(d)
    assert any("project_start" in loc for loc, _ in exc.value.problems)
