"""Structure: every model component is documented, names follow the grammar, builders are pure."""

import ast
import re
from dataclasses import replace
from pathlib import Path

import pyomo.environ as pyo
import pytest

from models import COST_COMPONENTS, build_model
from tests.unit.factories import tiny_group_data, tiny_model_data

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def _documented_names() -> set[str]:
    text = (ROOT / "models" / "FORMULATION.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([A-Za-z_]+)(?:\[[^`]*\])?` \|", text, flags=re.M))


def test_every_component_is_in_formulation_table():
    m = build_model(tiny_model_data(with_everything=True))
    names = set()
    for ctype in (pyo.Set, pyo.Var, pyo.Expression, pyo.Constraint, pyo.Objective):
        for c in m.component_objects(ctype, descend_into=True):
            if ctype is pyo.Set and c.local_name.endswith(("_index", "_domain")):
                continue
            names.add(c.local_name)
    names.discard("entity")
    missing = names - _documented_names()
    assert not missing, f"components missing from models/FORMULATION.md: {sorted(missing)}"


def _all_models():
    yield build_model(tiny_model_data(with_everything=True))
    for mode in ("free", "block", "none"):
        yield build_model(tiny_group_data(mode))


@pytest.mark.parametrize("mode", ["free", "block", "none"])
def test_group_links_are_documented_and_named(mode):
    m = build_model(tiny_group_data(mode))
    names = set()
    for ctype in (pyo.Set, pyo.Var, pyo.Expression, pyo.Constraint, pyo.Objective):
        for c in m.component_objects(ctype, descend_into=True):
            if ctype is pyo.Set and c.local_name.endswith(("_index", "_domain")):
                continue
            names.add(c.local_name)
            if ctype is not pyo.Set:
                assert c.doc, f"{c.name} has no doc="
            if ctype is pyo.Constraint:
                assert c.local_name.startswith(("balance_", "limit_", "link_")), c.name
    names.discard("entity")
    missing = names - _documented_names()
    assert not missing, f"components missing from models/FORMULATION.md: {sorted(missing)}"
    if mode != "none":
        assert any(c.local_name.startswith("link_") for c in m.component_objects(pyo.Constraint, descend_into=False))


def test_formulation_table_has_no_stale_rows():
    built = {c.local_name for m in _all_models() for c in m.component_objects(descend_into=True)}
    stale = _documented_names() - built - {"entity"}
    assert not stale, f"FORMULATION.md documents components the model lacks: {sorted(stale)}"


def test_every_component_has_doc():
    m = build_model(tiny_model_data(with_everything=True))
    for ctype in (pyo.Var, pyo.Expression, pyo.Constraint, pyo.Objective):
        for c in m.component_objects(ctype, descend_into=True):
            assert c.doc, f"{c.name} has no doc="


def test_naming_grammar():
    m = build_model(tiny_model_data(with_everything=True))
    for c in m.component_objects(pyo.Constraint, descend_into=True):
        assert c.local_name.startswith(("balance_", "limit_", "link_")), c.name
    for c in m.component_objects(pyo.Set, descend_into=True):
        if not c.local_name.endswith(("_index", "_domain")):
            assert c.local_name.isupper(), c.name
    for comp in COST_COMPONENTS:
        assert hasattr(m.entity["E"], f"cost_{comp}")


def test_models_never_import_planner_and_report_never_imports_pyomo():
    for path in (ROOT / "models").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            for mod in mods:
                assert not mod.startswith("planner"), f"{path} imports {mod}"
                assert mod.split(".")[0] in {"pyomo", "models", "pandas", "numpy", "math", "dataclasses", "collections", "__future__", "typing"}, f"{path} imports {mod}"
    for name in ("report/text.py", "plan/entity.py", "plan/check.py"):
        src = (ROOT / "planner" / name).read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(m.startswith(("pyomo", "models.entity", "models.group", "models.extract")) for m in mods), f"planner/{name} imports {mods}"


def test_only_solve_module_uses_the_solver():
    for path in (ROOT / "planner").rglob("*.py"):
        if path.relative_to(ROOT).as_posix() == "planner/solve/highs.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("highspy") for a in node.names), path
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith(("highspy", "pyomo.contrib.appsi", "pyomo.opt")), path
            if isinstance(node, ast.Name):
                assert node.id != "SolverFactory", path


def _assembler_names() -> tuple[set[str], set[str]]:
    """(row families, variables) the array assembler writes: the row names in its row writers (the
    functions ``*_rows``) and the names it passes to its column writers, read from its source (so a
    family no test data reaches is covered too)."""
    tree = ast.parse((ROOT / "models" / "arrays" / "assemble.py").read_text(encoding="utf-8"))
    rows, cols = set(), set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and fn.name.endswith("_rows"):
            for node in ast.walk(fn):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if re.fullmatch(r"(balance|limit|link)_[a-z_]+", node.value):
                        rows.add(node.value)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            at = {"var": 0, "_grid_var": 2, "_model_var": 2}.get(func)
            if at is not None and len(node.args) > at and isinstance(node.args[at], ast.Constant):
                cols.add(node.args[at].value)
    return rows, cols


def test_assembler_row_families_and_variables_are_in_formulation_table():
    rows, cols = _assembler_names()
    assert {"balance_allowances", "limit_carryover", "link_buy"} <= rows and {"abate", "tier_buy"} <= cols
    documented = _documented_names()
    assert not rows - documented, f"assembler rows missing from models/FORMULATION.md: {sorted(rows - documented)}"
    assert not cols - documented, f"assembler columns missing from models/FORMULATION.md: {sorted(cols - documented)}"


def test_assembler_writes_the_pyomo_components_by_their_names():
    """What the assembler writes for a group is named as the Pyomo model's constraints and
    variables (so the FORMULATION table describes both)."""
    from models.arrays.assemble import assemble, unsupported

    full = tiny_group_data("free")  # without the features the assembler leaves to Pyomo
    entities = tuple(replace(e, borrow_share=(), auction_max_t=(), price_auction_cny_per_t=()) for e in full.entities)
    data = replace(full, entities=entities, group=replace(full.group, budget_cny=()))
    assert unsupported(data) is None
    a = assemble(data)
    m = build_model(data)
    written_rows = {f.name for f in a.row_fams if f.size}
    written_cols = {f.name for f in a.col_fams if f.size}
    pyomo_rows = {c.local_name for c in m.component_objects(pyo.Constraint, descend_into=True)}
    pyomo_cols = {c.local_name for c in m.component_objects(pyo.Var, descend_into=True)}
    assert written_rows and written_rows <= pyomo_rows
    assert written_cols and written_cols <= pyomo_cols
    assert {"limit_relief_switch", "limit_ccer_lot", "link_ccer_pool", "link_tiers"} <= written_rows
    assert written_rows <= _assembler_names()[0]
