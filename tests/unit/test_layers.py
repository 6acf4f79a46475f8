"""The import layers of the library (docs/architecture.md): no import cycles among the modules of
``planner`` and ``models``, no stage importing a stage above it, ``models`` never importing
``planner``, reports never importing Pyomo, and no module importing another's private
(underscore) names.

Imports are read with ``ast`` from the source, every ``import`` and ``from ... import`` of a module
counted: those inside functions (lazy imports) and under ``TYPE_CHECKING`` too, since a lazy import
is as much a dependency as one at the top.

The stages, lowest first: ``planner.input`` < ``planner.prepare`` < ``models`` < ``planner.solve`` <
``planner.plan`` < ``planner.report`` < ``planner.studies`` < ``planner.api`` / ``planner.progress`` /
``planner.cli`` / ``planner.testing``. ``planner.errors`` (and the ``planner`` package, which
re-exports the errors) is below them all. One boundary type crosses upward by design: the
preparation writes the frozen model data the models read, so ``planner.prepare`` may import
``models.data`` (and nothing else of ``models``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

STAGES = ("input", "prepare", "models", "solve", "plan", "report", "studies", "top")
"""Stage names, lowest first."""
TOP = {"api", "cli", "market", "progress", "testing"}
"""Modules and packages of ``planner`` above every stage (orchestration, its progress display, command line, generators)."""
BASE = {"planner", "planner.errors"}
"""Below every stage: any module may import these, and they import no other stage."""
CONTRACT = {("prepare", "models.data")}
"""(stage, module) pairs allowed upward: the model data the preparation writes."""

KNOWN_CYCLES: list[set[str]] = []
"""Cycles inside files another branch is rewriting; the lead removes each entry once it is gone."""
KNOWN_UPWARD: set[tuple[str, str]] = set()
KNOWN_PRIVATE: set[tuple[str, str, str]] = set()


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def library_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of ``planner`` and ``models`` by dotted name."""
    out = {}
    for pkg in ("planner", "models"):
        for p in sorted((root / pkg).rglob("*.py")):
            out[module_name(p, root)] = p
    return out


def imports(name: str, source: str, modules: set[str], is_package: bool = False) -> list[tuple[str, str, int]]:
    """(imported module, name imported from it or "", line) of every import in ``source`` (module
    ``name``), relative imports resolved. ``from pkg import x`` imports ``pkg.x`` when that is a
    module, else the name ``x`` of ``pkg``."""
    pkg = name if is_package else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.append((sub, "", node.lineno) if sub in modules else (mod, a.name, node.lineno))
    return out


def import_graph(files: dict[str, str], packages: set[str] = frozenset()) -> dict[str, list[tuple[str, str, int]]]:
    """Module -> its imports (``imports``) of the given sources (module name -> source text)."""
    names = set(files)
    return {m: imports(m, src, names, m in packages) for m, src in files.items()}


def stage(mod: str) -> int | None:
    """The stage index of a library module (-1: below every stage), None outside the library."""
    parts = mod.split(".")
    if parts[0] == "models":
        return STAGES.index("models")
    if parts[0] != "planner":
        return None
    if mod in BASE:
        return -1
    if parts[1] in TOP:
        return STAGES.index("top")
    if parts[1] in STAGES:
        return STAGES.index(parts[1])
    raise AssertionError(f"{mod}: no stage; add its package to the stages of tests/unit/test_layers.py")


def cycles(graph: dict[str, list[tuple[str, str, int]]]) -> list[set[str]]:
    """The import cycles of ``graph``: its strongly connected components of more than one module
    (Tarjan's algorithm, iterative), and modules importing themselves."""
    edges = {m: sorted({t for t, _, _ in imps if t in graph}) for m, imps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out: list[set[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = len(index)
                stack.append(v)
                on.add(v)
            if i < len(edges[v]):
                work.append((v, i + 1))
                w = edges[v][i]
                if w not in index:
                    work.append((w, 0))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in edges[v]:
                    out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


def upward(graph: dict[str, list[tuple[str, str, int]]]) -> list[tuple[str, str, int]]:
    """(importer, imported, line) of every import of a higher stage (``CONTRACT`` aside)."""
    out = []
    for m, imps in graph.items():
        sm = stage(m)
        for t, _, line in imps:
            st = stage(t)
            if sm is None or st is None or st <= sm:
                continue
            if (STAGES[sm] if sm >= 0 else "", t) in CONTRACT:
                continue
            out.append((m, t, line))
    return out


def base_imports(graph: dict[str, list[tuple[str, str, int]]]) -> list[tuple[str, str, int]]:
    """Imports of a stage module by a ``BASE`` module (the errors import nothing above them)."""
    return [(m, t, line) for m, imps in graph.items() if m in BASE for t, _, line in imps
            if stage(t) is not None and t not in BASE]


def private_imports(graph: dict[str, list[tuple[str, str, int]]]) -> list[tuple[str, str, str, int]]:
    """(importer, module, name, line) of every underscore name imported from another module."""
    return [(m, t, n, line) for m, imps in graph.items() for t, n, line in imps
            if n.startswith("_") and not n.startswith("__") and t != m]


@pytest.fixture(scope="module")
def graph() -> dict[str, list[tuple[str, str, int]]]:
    mods = library_modules()
    return import_graph({m: p.read_text(encoding="utf-8") for m, p in mods.items()},
                        {m for m, p in mods.items() if p.name == "__init__.py"})


def test_every_library_module_has_a_stage(graph):
    assert graph, "no modules found"
    for m in graph:
        stage(m)  # raises for a module outside the stages


def test_no_import_cycles(graph):
    found = cycles(graph)
    assert [c for c in found if c not in KNOWN_CYCLES] == []


def test_known_cycles_still_exist(graph):
    """An entry of the known list that is gone is removed from it (the list only shrinks)."""
    found = cycles(graph)
    assert [c for c in KNOWN_CYCLES if c not in found] == []


def test_no_stage_imports_a_higher_stage(graph):
    found = upward(graph) + base_imports(graph)
    assert [f for f in found if f[:2] not in KNOWN_UPWARD] == []
    assert {f[:2] for f in found} >= KNOWN_UPWARD  # the known list only shrinks


def test_models_never_import_planner(graph):
    bad = [(m, t, line) for m, imps in graph.items() if m.split(".")[0] == "models"
           for t, _, line in imps if t.split(".")[0] == "planner"]
    assert bad == []


def test_reports_never_import_pyomo(graph):
    bad = [(m, t, line) for m, imps in graph.items() if m.startswith("planner.report")
           for t, _, line in imps if t.split(".")[0] in ("pyomo", "highspy")]
    assert bad == []


def test_no_private_names_imported_across_modules(graph):
    found = private_imports(graph)
    assert [f for f in found if f[:3] not in KNOWN_PRIVATE] == []
    assert {f[:3] for f in found} >= KNOWN_PRIVATE  # the known list only shrinks


def test_the_checks_find_what_they_look_for():
    """On made-up sources: a cycle through a lazy import, an upward import, the model data the
    preparation may import, a private name and a relative import are each found (or allowed)."""
    files = {
        "planner.input.read": "def f():\n    from planner.input.workbook import g\n",
        "planner.input.workbook": "from planner.input.read import _h\n",
        "planner.prepare.entity": "from models.data import ModelData\nfrom models.entity import add_entity\n",
        "planner.solve.warm": "from ..plan import check\n",
        "planner.plan": "",
        "planner.plan.check": "",
        "models.data": "",
        "models.entity": "import planner.errors\n",
        "planner.errors": "",
    }
    g = import_graph(files, {"planner.plan"})
    assert cycles(g) == [{"planner.input.read", "planner.input.workbook"}]
    assert sorted(upward(g)) == [
        ("planner.prepare.entity", "models.entity", 2),
        ("planner.solve.warm", "planner.plan.check", 1),
    ]
    assert private_imports(g) == [("planner.input.workbook", "planner.input.read", "_h", 1)]
    assert ("models.entity", "planner.errors", 1) not in upward(g)  # the base is below every stage
    with pytest.raises(AssertionError, match="no stage"):
        stage("planner.nowhere.x")


def test_no_library_function_over_150_lines():
    """Long functions split by what they declare or check (issue 19): none in planner/ or models/
    over 150 lines, nested functions included."""
    long = []
    for path in sorted([*ROOT.joinpath("planner").rglob("*.py"), *ROOT.joinpath("models").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 150:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert long == []
