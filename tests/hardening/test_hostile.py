"""Hostile and broken input, one test per promise (issue 18): no data loss, no leak, bounded work,
no silent wrong value, a documented exit code for every failure. The generated run of every class
is ``test_hostile_generated.py``."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
import yaml

import planner.api
from planner.cli import main
from planner.errors import EXIT_CODES
from planner.input.read import load_group_case, read_case_data
from tests.hardening.test_faults import MIP
from tests.solver.helpers import case_dict

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
GROUP = ROOT / "cases" / "group_hn_generation"
SECRET = "root:$6$s3cr3t-hash-XYZZY:19000:0:99999:7:::"
CASE = case_dict(years=(2025, 2026), emissions=100_000, allocation=90_000)


def _yaml(path: Path, d: dict) -> Path:
    path.write_text(yaml.safe_dump(d, allow_unicode=True), encoding="utf-8")
    return path


def _cli(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "planner.cli", *args], env=env or ENV, capture_output=True,
                          text=True, timeout=300, **kw)


def _small_group(folder: Path, plants: str = "plants.csv") -> Path:
    """The example group cut to three plants, in ``folder``, its plants table named ``plants``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = (GROUP / "plants.csv").read_text(encoding="utf-8").splitlines()
    (folder / "plants.csv").write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")
    keep = {ln.split(",")[0] for ln in lines[1:4]}
    meas = (GROUP / "measures.csv").read_text(encoding="utf-8").splitlines()
    (folder / "measures.csv").write_text("\n".join([meas[0]] + [m for m in meas[1:] if m.split(",")[0] in keep]) + "\n",
                                         encoding="utf-8")
    text = (GROUP / "group.yaml").read_text(encoding="utf-8").replace("plants: plants.csv", f"plants: {plants}")
    (folder / "group.yaml").write_text(text, encoding="utf-8")
    return folder / "group.yaml"


def _all_output(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_every_exit_code_is_documented_in_readme_and_hardening_doc():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    doc = (ROOT / "docs" / "hardening.md").read_text(encoding="utf-8")
    for code, meaning in EXIT_CODES.items():
        assert f"| {code} |" in doc, code
        assert f"| {code} |" in readme, code
        assert meaning.split(":")[0] in doc, meaning


def test_every_limit_is_documented_with_its_default():
    from planner.input.limits import LIMITS, env_name

    doc = (ROOT / "docs" / "hardening.md").read_text(encoding="utf-8")
    for name, lim in LIMITS.items():
        assert f"| `{env_name(name)}` | {lim.default:,} |" in doc, name


# ---- 1. data loss ------------------------------------------------------------------------------

def test_a_foreign_file_in_a_plan_folder_is_refused_and_left_untouched(tmp_path, capsys):
    case = _yaml(tmp_path / "case.yaml", CASE)
    out = tmp_path / "plan"
    assert main(["run", str(case), "--out", str(out), "--no-html", "--no-xlsx"]) == 0
    plan = {p.name: p.read_bytes() for p in out.iterdir()}
    assert "manifest.json" in plan and set(json.loads(plan["manifest.json"])["files"]) == set(plan) - {"manifest.json"}
    (out / "my notes.docx").write_bytes(b"a user's own work")
    capsys.readouterr()
    assert main(["run", str(case), "--out", str(out), "--no-html", "--no-xlsx"]) == 5
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}: the folder holds files this program did not write: my notes.docx")
    assert len(err.strip().splitlines()) == 1
    assert (out / "my notes.docx").read_bytes() == b"a user's own work"
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "my notes.docx"} == plan
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    # a plan file the user changed is theirs too
    (out / "my notes.docx").unlink()
    (out / "summary.md").write_text("my edits", encoding="utf-8")
    assert main(["run", str(case), "--out", str(out), "--no-html", "--no-xlsx"]) == 5
    assert "plan files changed since they were written: summary.md" in capsys.readouterr().err
    assert (out / "summary.md").read_text(encoding="utf-8") == "my edits"
    (out / "summary.md").write_bytes(plan["summary.md"])
    assert main(["run", str(case), "--out", str(out), "--no-html", "--no-xlsx"]) == 0


def test_a_folder_written_before_manifests_is_replaced_only_with_plan_file_names(tmp_path, capsys):
    case = _yaml(tmp_path / "case.yaml", CASE)
    out = tmp_path / "plan"
    out.mkdir()
    (out / "plan.json").write_text("{}", encoding="utf-8")
    (out / "annual.csv").write_text("old", encoding="utf-8")
    (out / "thesis.tex").write_text("keep", encoding="utf-8")
    assert main(["run", str(case), "--out", str(out), "--no-html", "--no-xlsx"]) == 5
    assert "did not write: thesis.tex" in capsys.readouterr().err
    (out / "thesis.tex").unlink()
    assert main(["run", str(case), "--out", str(out), "--no-html", "--no-xlsx"]) == 0
    assert (out / "manifest.json").is_file() and (out / "annual.csv").read_text(encoding="utf-8") != "old"


def test_the_output_folder_is_checked_before_the_solve(tmp_path, monkeypatch, capsys):
    def no_solve(*a, **k):
        raise AssertionError("solved although the output folder is refused")

    monkeypatch.setattr(planner.api, "run", no_solve)
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.csv").write_text("x", encoding="utf-8")
    assert main(["run", str(_yaml(tmp_path / "case.yaml", CASE)), "--out", str(out)]) == 5
    assert "did not write: data.csv" in capsys.readouterr().err


def test_two_runs_writing_one_new_folder_at_once_both_end_in_a_complete_plan(tmp_path):
    case = _yaml(tmp_path / "case.yaml", CASE)
    out = tmp_path / "plan"
    procs = [subprocess.Popen([sys.executable, "-m", "planner.cli", "run", str(case), "--out", str(out), "--no-html"],
                              env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in results]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {"manifest.json"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.yaml", "plan"]


def test_plan_folders_and_files_follow_the_umask(tmp_path):
    case = _yaml(tmp_path / "case.yaml", CASE)
    old = os.umask(0o027)
    try:
        assert main(["run", str(case), "--out", str(tmp_path / "plan"), "--no-html"]) == 0
        assert main(["template", "--xlsx", str(tmp_path / "t.xlsx")]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "plan").stat().st_mode & 0o777 == 0o750
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "plan").iterdir()} == {0o640}
    assert (tmp_path / "t.xlsx").stat().st_mode & 0o777 == 0o640


def test_relative_and_absolute_case_paths_write_identical_files(tmp_path):
    case = _yaml(tmp_path / "case.yaml", CASE)
    a = _cli("run", "case.yaml", "--out", "rel", "--no-html", cwd=tmp_path)
    b = _cli("run", str(case), "--out", str(tmp_path / "abs"), "--no-html", cwd=ROOT)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    rel = {p.name: p.read_bytes() for p in (tmp_path / "rel").iterdir() if p.name != "run.json"}
    ab = {p.name: p.read_bytes() for p in (tmp_path / "abs").iterdir() if p.name != "run.json"}
    assert rel == ab
    assert json.loads(rel["plan.json"])["audit"]["input_file"] == str(case.resolve())


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(tmp_path):
    """Ids may start with '-' (``-2-3`` is a formula to a spreadsheet); -1.5 stays a number."""
    d = copy.deepcopy(CASE)
    d["entity"]["id"] = "-1-1"
    d["abatement"] = {"measures": [{"id": "-2-3", "cost_cny_per_t": -1.5, "potential_t_per_year": 1000}]}
    out = tmp_path / "plan"
    assert main(["run", str(_yaml(tmp_path / "case.yaml", d)), "--out", str(out), "--no-html", "--no-xlsx"]) == 0
    text = "".join(p.read_text(encoding="utf-8") for p in out.glob("*.csv"))
    assert "'-1-1," in text and "'-2-3" in text and "-1.500000" in text
    import csv as _csv

    for p in out.glob("*.csv"):
        for row in _csv.reader(p.read_text(encoding="utf-8").splitlines()):
            for cell in row:
                assert not cell.startswith(("=", "@")), (p.name, cell)
                assert not (cell[:1] in "+-" and len(cell) > 1 and not _is_number(cell)), (p.name, cell)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---- 2. information leak -----------------------------------------------------------------------

@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink", "entity_file", "symlinked_folder"])
def test_a_table_outside_the_case_folder_is_refused_and_no_byte_of_it_is_output(tmp_path, how, capsys):
    secret_dir = tmp_path / "private"
    secret_dir.mkdir()
    (secret_dir / "shadow.csv").write_text(SECRET + "\nid,unit_class,output\n", encoding="utf-8")
    (secret_dir / "case.yaml").write_text(f"entity: {{id: {SECRET}}}\n", encoding="utf-8")
    folder = tmp_path / "case"
    ref = {"dotdot": "../private/shadow.csv", "absolute": str(secret_dir / "shadow.csv"), "symlink": "link.csv",
           "entity_file": "plants.csv", "symlinked_folder": "data/shadow.csv"}[how]
    g = _small_group(folder, ref)
    if how == "symlink":
        (folder / "link.csv").symlink_to(secret_dir / "shadow.csv")
    elif how == "symlinked_folder":
        (folder / "data").symlink_to(secret_dir, target_is_directory=True)
    elif how == "entity_file":
        d = yaml.safe_load(g.read_text(encoding="utf-8"))
        d["entities"] = [{"file": "../private/case.yaml"}]
        _yaml(g, d)
    outs = []
    for argv in (["validate", str(g)], ["run", str(g), "--out", str(tmp_path / "plan")],
                 ["template", "--xlsx", str(tmp_path / "t.xlsx"), "--tables", "--from", str(g)],
                 ["sweep", str(g), str(_yaml(tmp_path / "s.yaml", {"include_base": True})), "--out", str(tmp_path / "sw")]):
        capsys.readouterr()
        assert main(argv) == 1, argv
        out, err = capsys.readouterr()
        assert "lies outside the case folder" in err, (argv, err)
        outs.append(out + err)
    written = _all_output(tmp_path / "plan") if (tmp_path / "plan").exists() else b""
    for fragment in (SECRET, "s3cr3t", "XYZZY"):
        assert all(fragment not in o for o in outs)
        assert fragment.encode() not in written
    assert not (tmp_path / "t.xlsx").exists() and not (tmp_path / "plan").exists()
    # the user may name the folder: then the file is read (its first line is not a header)
    capsys.readouterr()
    assert main(["validate", str(g), "--data-root", str(secret_dir)]) == 1
    err = capsys.readouterr().err
    assert "lies outside" not in err and SECRET not in err


@pytest.mark.parametrize("what", ["/dev/zero", "fifo", "folder"])
def test_only_regular_files_are_read(tmp_path, what, capsys):
    """Even where the user allows every folder (--data-root /): a device never ends, a pipe may
    block forever."""
    folder = tmp_path / "case"
    if what == "fifo":
        g = _small_group(folder, "pipe.csv")
        os.mkfifo(folder / "pipe.csv")
    elif what == "folder":
        g = _small_group(folder, "sub")
        (folder / "sub").mkdir()
    else:
        g = _small_group(folder, "dev.csv")
        (folder / "dev.csv").symlink_to(what)
    assert main(["validate", str(g), "--data-root", "/"]) == 1
    err = capsys.readouterr().err
    assert ("not a regular file (a device, pipe or socket)" in err or "is a folder, not a file" in err), err


def test_proc_files_are_outside_the_case_folder(tmp_path, capsys):
    """/proc/self/environ once printed the process environment as an unknown header."""
    g = _small_group(tmp_path / "case", "/proc/self/environ")
    assert main(["validate", str(g)]) == 1
    err = capsys.readouterr().err
    assert "lies outside the case folder" in err and "PATH=" not in err and "HOME=" not in err


def test_header_errors_quote_only_short_printable_names(tmp_path, capsys):
    folder = tmp_path / "case"
    g = _small_group(folder)
    (folder / "plants.csv").write_text("x" * 500 + ",id,output\n", encoding="utf-8")
    assert main(["validate", str(g)]) == 1
    err = capsys.readouterr().err
    assert "x" * 50 not in err and "(a text of 500 characters)" in err


# ---- 3. bounded work -----------------------------------------------------------------------------

def _workbook(edit=None, case: dict = CASE) -> bytes:
    """The case template filled from ``case``, changed by ``edit(workbook)``."""
    from planner.input.workbook import template_bytes

    wb = openpyxl.load_workbook(io.BytesIO(template_bytes(copy.deepcopy(case))))
    if edit is not None:
        edit(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _rezip(raw: bytes, change) -> bytes:
    """The workbook's ZIP package with its parts passed through ``change(name, bytes) -> bytes``."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, change(info.filename, src.read(info)))
    return buf.getvalue()


def _validate_bytes(tmp_path, raw: bytes, capsys, suffix=".xlsx") -> tuple[int, str, float]:
    p = tmp_path / f"case{suffix}"
    p.write_bytes(raw)
    capsys.readouterr()
    t0 = time.perf_counter()
    rc = main(["validate", str(p)])
    return rc, capsys.readouterr().err, time.perf_counter() - t0


def test_a_far_away_cell_is_refused_at_once(tmp_path, capsys):
    raw = _workbook(lambda wb: wb["market"].cell(row=1_048_576, column=2, value=1))
    assert len(raw) < 40_000
    rc, err, took = _validate_bytes(tmp_path, raw, capsys)
    assert rc == 1 and "used rows (up to cell B1048576): 1,048,576; the limit is 100,000" in err
    assert "PLANNER_LIMIT_TABLE_ROWS=1048576" in err and took < 10
    raw = _workbook(lambda wb: wb["market"].cell(row=3, column=16_384, value=1))
    rc, err, _ = _validate_bytes(tmp_path, raw, capsys)
    assert rc == 1 and "used columns (up to cell XFD3)" in err
    # formatting far away (no value) is not a used cell
    raw = _workbook(lambda wb: setattr(wb["market"].cell(row=900_000, column=3), "number_format", "0.00"))
    assert _validate_bytes(tmp_path, raw, capsys)[0] == 0


def test_a_workbook_that_unpacks_beyond_the_limit_is_refused_before_parsing(tmp_path, capsys):
    big = b"<worksheet><sheetData><row><c t='inlineStr'><is><t>" + b"A" * 60_000_000 + b"</t></is></c></row></sheetData></worksheet>"
    raw = _rezip(_workbook(lambda wb: None), lambda n, b: big if n == "xl/worksheets/sheet1.xml" else b)
    assert len(raw) < 1_000_000
    rc, err, took = _validate_bytes(tmp_path, raw, capsys)
    assert rc == 1 and "bytes of the workbook once uncompressed" in err and "PLANNER_LIMIT_WORKBOOK_UNPACKED_BYTES" in err
    assert took < 10


@pytest.mark.parametrize("kind", ["entities", "malformed", "utf16", "not_zip", "truncated"])
def test_broken_workbook_xml_is_an_input_error(tmp_path, capsys, kind):
    raw = _workbook(lambda wb: None)
    lol = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
           b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
           b'<c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>')
    if kind == "entities":
        raw = _rezip(raw, lambda n, b: lol if n == "xl/worksheets/sheet1.xml" else b)
    elif kind == "malformed":
        raw = _rezip(raw, lambda n, b: b[: len(b) // 2] if n == "xl/worksheets/sheet2.xml" else b)
    elif kind == "utf16":
        raw = _rezip(raw, lambda n, b: b.decode("utf-8").encode("utf-16") if n == "xl/workbook.xml" else b)
    elif kind == "not_zip":
        raw = b"PK\x03\x04" + os.urandom(2000)
    else:
        raw = raw[: len(raw) // 2]
    rc, err, _ = _validate_bytes(tmp_path, raw, capsys)
    assert rc == 1 and "not a readable .xlsx workbook" in err, err
    assert len(err.strip().splitlines()) == 2  # the file line and its one problem


def test_case_counts_over_their_limits_are_refused_before_validation(tmp_path, capsys):
    d = copy.deepcopy(CASE)
    d["abatement"] = {"measures": [{"id": f"m{i}", "cost_cny_per_t": 10, "potential_t_per_year": 1} for i in range(20_000)]}
    rc, err, took = _validate_bytes(tmp_path, json.dumps(d).encode(), capsys, ".json")
    assert rc == 1 and "abatement measures of one entity: 20,000; the limit is 1,000" in err and took < 20


def test_limits_are_raised_by_environment_variables(tmp_path, capsys, monkeypatch):
    g = _small_group(tmp_path / "case")
    monkeypatch.setenv("PLANNER_LIMIT_ENTITIES", "2")
    assert main(["validate", str(g)]) == 1
    err = capsys.readouterr().err
    assert "entities (rows of the plants table): 3; the limit is 2" in err and "PLANNER_LIMIT_ENTITIES=3" in err
    monkeypatch.setenv("PLANNER_LIMIT_ENTITIES", "3")
    assert main(["validate", str(g)]) == 0
    monkeypatch.setenv("PLANNER_LIMIT_ENTITIES", "many")
    assert main(["validate", str(g)]) == 1
    assert "PLANNER_LIMIT_ENTITIES: expected a whole number" in capsys.readouterr().err


def test_a_grid_of_millions_is_refused_before_any_variant_is_made(tmp_path, capsys):
    from planner.input.read import parse_case
    from planner.studies.variants import SweepSpec, generate

    spec = SweepSpec.model_validate({"grid": {f"policy.overrides.p{i}": list(range(10)) for i in range(8)}})
    t0 = time.perf_counter()
    with pytest.raises(Exception, match="scenarios of the sweep .*: 100,000,001; the limit is 100,000"):
        generate(parse_case(copy.deepcopy(CASE)), spec)
    assert time.perf_counter() - t0 < 5


def test_variant_generation_is_linear_in_the_number_of_price_paths(monkeypatch):
    """The duplicate-id check used to count each id in the whole list: 100,000 paths took hours."""
    from planner.input.read import parse_case
    from planner.studies.variants import SweepSpec, generate

    case = parse_case(copy.deepcopy(case_dict(years=(2025,))))
    spec = SweepSpec.model_validate({"price_paths": {"n": 99_999, "seed": 1, "volatility": 0.2}})
    t0 = time.perf_counter()
    vs = generate(case, spec)
    assert len(vs) == 100_000 and time.perf_counter() - t0 < 30


# ---- 4. silent wrong values ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [("6e0", 6.0), ("1.5e3", 1500.0), ("+12", 12), (".5", 0.5), ("0", 0),
                                             ("-0.25", -0.25), ("true", True), ("~", None), ("'017'", "017"),
                                             ("'yes'", "yes"), ("1,5", "1,5"), ("2025-01-01", "2025-01-01")])
def test_yaml_scalars_read_as_yaml_1_2_core(tmp_path, text, value):
    p = tmp_path / "x.yaml"
    p.write_text(f"a: {text}\n", encoding="utf-8")
    got = read_case_data(p)["a"]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(("text", "needle"), [
    ("017", "'017' has a leading zero: YAML 1.1 reads it as an octal number, YAML 1.2 as 17"),
    ("0o17", "'0o17' is not a decimal number"), ("0x1F", "'0x1F' is not a decimal number"),
    ("1_000", "'1_000' has digit separators"), ("1:30", "'1:30' is a base-60 number in YAML 1.1"),
    ("yes", "'yes' is true/false in YAML 1.1"), ("On", "'On' is true/false in YAML 1.1"),
    ("0b101", "'0b101' is not a decimal number"),
])
def test_yaml_1_1_forms_are_refused_quoting_the_value(tmp_path, capsys, text, needle):
    p = tmp_path / "case.yaml"
    p.write_text(yaml.safe_dump(CASE).replace("cea_buy_cny_per_t: 60.0", f"cea_buy_cny_per_t: {text}", 1), encoding="utf-8")
    assert main(["validate", str(p)]) == 1
    err = capsys.readouterr().err
    assert "ambiguous value: " + needle in err and "line " in err


def test_a_date_where_a_number_is_expected_is_refused(tmp_path, capsys):
    """A plain date is text (YAML 1.2): in a price field it is an error naming the field and row."""
    p = tmp_path / "case.yaml"
    p.write_text(yaml.safe_dump(CASE).replace("cea_buy_cny_per_t: 60.0", "cea_buy_cny_per_t: 2025-01-01", 1), encoding="utf-8")
    assert main(["validate", str(p)]) == 1
    err = capsys.readouterr().err
    assert "cea_buy_cny_per_t" in err and "market[0]" in err


@pytest.mark.parametrize(("suffix", "text"), [(".yaml", "a: {2024: 1, '2024': 2}"), (".yaml", "a: {2024: 1, 2024.0: 2}"),
                                              (".json", '{"a": {"2024": 1, "02024": 2}}')])
def test_keys_that_differ_only_in_type_are_one_key_given_twice(tmp_path, capsys, suffix, text):
    p = tmp_path / f"case{suffix}"
    p.write_text(text, encoding="utf-8")
    assert main(["validate", str(p)]) == 1
    assert "duplicate key" in capsys.readouterr().err


def test_vintage_keys_2024_and_quoted_2024_no_longer_collide_silently(tmp_path, capsys):
    d = copy.deepcopy(CASE)
    text = yaml.safe_dump(d) + "opening:\n  cea_by_vintage:\n    2024: 100\n    '2024': 50000\n"
    p = tmp_path / "case.yaml"
    p.write_text(text, encoding="utf-8")
    assert main(["validate", str(p)]) == 1
    assert "duplicate key '2024' (the same as 2024)" in capsys.readouterr().err


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": -Infinity}', '{"a": 1e999}'])
def test_json_numbers_beyond_json_are_refused(tmp_path, capsys, text):
    rc, err, _ = _validate_bytes(tmp_path, text.encode(), capsys, ".json")
    assert rc == 1 and "not valid JSON" in err


@pytest.mark.parametrize(("cell", "needle"), [("83,5", "'83,5' has a comma"), ("1,000", "'1,000' has a comma"),
                                              ("1_000", "'1_000' has digit separators"), ("8:30", "'8:30' is a time"),
                                              ("٨٣", "expected a number, got '٨٣'"), ("nan", "expected a number, got 'nan'")])
def test_a_workbook_cell_83_comma_5_is_an_error_quoting_it(tmp_path, capsys, cell, needle):
    raw = _workbook(lambda wb: wb["market"].cell(row=3, column=2, value=cell))
    rc, err, _ = _validate_bytes(tmp_path, raw, capsys)
    assert rc == 1 and f"sheet 'market' row 3 column B (cea_buy_cny_per_t): {needle}" in err, err


def test_text_numbers_in_cells_read_by_the_same_reader(tmp_path, capsys):
    raw = _workbook(lambda wb: wb["market"].cell(row=3, column=2, value=" 6.2e1 "))
    assert _validate_bytes(tmp_path, raw, capsys)[0] == 0


@pytest.mark.parametrize(("cell", "needle"), [("83,5", "'83,5' has a comma"), ("1e999", "expected a number, got '1e999'"),
                                              ("0x10", "'0x10' is not a decimal number")])
def test_a_csv_table_cell_goes_through_the_same_reader(tmp_path, capsys, cell, needle):
    folder = tmp_path / "case"
    g = _small_group(folder)
    lines = (folder / "plants.csv").read_text(encoding="utf-8").splitlines()
    head = lines[0].split(",")
    row = lines[1].split(",")
    row[head.index("output")] = f'"{cell}"'
    (folder / "plants.csv").write_text("\n".join([lines[0], ",".join(row)] + lines[2:]) + "\n", encoding="utf-8")
    assert main(["validate", str(g)]) == 1
    assert f"plants.csv row 2.output: {needle}" in capsys.readouterr().err


def test_text_that_cannot_be_written_is_an_input_error(tmp_path, capsys):
    p = tmp_path / "case.yaml"
    p.write_text(yaml.safe_dump(CASE) + 'solver: {}\n', encoding="utf-8")
    p.write_text(p.read_text(encoding="utf-8").replace("id: T", 'id: T\n  name: "\\udc80"'), encoding="utf-8")
    assert main(["validate", str(p)]) == 1
    assert "entity.name: not valid Unicode text" in capsys.readouterr().err


def test_names_the_terminal_cannot_encode_are_printed_escaped(tmp_path):
    d = copy.deepcopy(CASE)
    d["entity"]["name"] = "华能电厂"
    case = _yaml(tmp_path / "case.yaml", d)
    r = _cli("run", str(case), "--out", str(tmp_path / "plan"), "--no-html", env={**ENV, "PYTHONIOENCODING": "ascii"})
    assert r.returncode == 0, r.stderr
    assert "\\u534e" in r.stdout


# ---- 5. exit codes -------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf", "abc", "1e999"])
def test_time_limit_must_be_a_positive_finite_number(tmp_path, capsys, value):
    assert main(["run", str(_yaml(tmp_path / "c.yaml", CASE)), "--out", str(tmp_path / "p"), f"--time-limit={value}"]) == 1
    err = capsys.readouterr().err
    assert "--time-limit: expected a number of seconds above 0" in err and not (tmp_path / "p").exists()


def test_a_bad_command_line_is_exit_1_not_2(capsys):
    assert main(["run"]) == 1
    assert main(["frobnicate"]) == 1
    assert main(["sweep", "a.yaml", "b.yaml", "--out", "x", "--chunk-size", "0"]) == 1
    assert main(["sweep", "a.yaml", "b.yaml", "--out", "x", "--workers", "-2"]) == 1
    assert "expected a whole number of worker processes, 0 or more" in capsys.readouterr().err


@pytest.mark.parametrize("errno_", ["ENOSPC", "EROFS", "EACCES", "EDQUOT", "EIO"])
def test_write_failures_are_exit_5_with_one_line_and_the_previous_plan_kept(tmp_path, monkeypatch, capsys, errno_):
    import errno

    import planner.report.write as write

    case = _yaml(tmp_path / "case.yaml", CASE)
    out = tmp_path / "plan"
    assert main(["run", str(case), "--out", str(out), "--no-html", "--no-xlsx"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(path):
        raise OSError(getattr(errno, errno_), os.strerror(getattr(errno, errno_)), str(path))

    monkeypatch.setattr(write, "_fsync", fail)
    capsys.readouterr()
    assert main(["run", str(case), "--out", str(out), "--no-html", "--no-xlsx"]) == 5
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}: cannot write the plan folder: ") and err.rstrip().endswith("(nothing was changed)")
    assert len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_output_paths_the_system_refuses_are_exit_5(tmp_path, capsys):
    case = _yaml(tmp_path / "case.yaml", CASE)
    (tmp_path / "file").write_text("x", encoding="utf-8")
    for out, needle in ((tmp_path / "file" / "plan", "is a file, not a folder"),
                        (tmp_path / ("n" * 300), "a file name is too long"),
                        (tmp_path / "file", "not a file or link")):
        capsys.readouterr()
        assert main(["run", str(case), "--out", str(out), "--no-html", "--no-xlsx"]) == 5, out
        assert needle in capsys.readouterr().err
    if os.path.ismount("/dev/shm"):
        assert main(["run", str(case), "--out", "/dev/shm", "--no-html", "--no-xlsx"]) == 5
        assert "is a mount point" in capsys.readouterr().err
    # a long but legal name works (its temporary sibling's name is shortened)
    assert main(["run", str(case), "--out", str(tmp_path / ("l" * 250)), "--no-html", "--no-xlsx"]) == 0


def test_a_closed_stdout_after_the_plan_is_written_is_exit_6(tmp_path):
    case = _yaml(tmp_path / "case.yaml", CASE)
    r_fd, w_fd = os.pipe()
    os.close(r_fd)  # nobody reads: every write to stdout fails (EPIPE)
    try:
        r = subprocess.run([sys.executable, "-m", "planner.cli", "run", str(case), "--out", str(tmp_path / "plan"), "--no-html"],
                           env=ENV, stdout=w_fd, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(w_fd)
    assert r.returncode == 6, r.stderr
    assert r.stderr.strip() == f"error: standard output is closed; nothing more is printed (the plan is written to {tmp_path / 'plan'})"
    assert (tmp_path / "plan" / "manifest.json").is_file()


def test_workers_the_machine_cannot_start_are_exit_7(tmp_path, monkeypatch, capsys):
    import concurrent.futures

    class NoProcesses:
        def __init__(self, *a, **k):
            raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", NoProcesses)
    case = _yaml(tmp_path / "case.yaml", CASE)
    spec = _yaml(tmp_path / "s.yaml", {"tornado": {"market.*.cea_buy_cny_per_t": [62, 70]}, "plots": False})
    assert main(["sweep", str(case), str(spec), "--out", str(tmp_path / "o"), "--workers", "2"]) == 7
    assert "cannot start 2 worker process(es)" in capsys.readouterr().err


@pytest.mark.parametrize("exc", [RuntimeError("can't start new thread"), MemoryError()])
def test_threads_or_memory_the_machine_refuses_are_exit_7(monkeypatch, capsys, exc):
    import planner.cli as cli

    def refuse(args):
        raise exc

    monkeypatch.setattr(cli, "cmd_validate", refuse)
    assert main(["validate", "x.yaml"]) == 7
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "internal error" not in err


# ---- 6. sweeps -----------------------------------------------------------------------------------

def test_an_invalid_variant_is_exit_1_before_any_solve(tmp_path, monkeypatch, capsys):
    """A rule-pack override out of its range was found only when its scenario was prepared, after the
    others were solved (a row 'invalid', exit 2)."""
    import planner.studies.sweep as sw

    monkeypatch.setattr(sw, "solve_chunk", lambda *a, **k: (_ for _ in ()).throw(AssertionError("solved")))
    case = _yaml(tmp_path / "case.yaml", CASE)
    spec = _yaml(tmp_path / "s.yaml", {"tornado": {"policy.overrides.penalty.multiple": [5, 1e300]}})
    assert main(["sweep", str(case), str(spec), "--out", str(tmp_path / "o"), "--workers", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {spec}: ") and "scenario tornado-policy.overrides.penalty.multiple-high" in err
    assert "penalty.multiple" in err


@pytest.mark.parametrize("change", ["tables", "chunk", "time_limit"])
def test_a_resume_with_other_settings_is_refused(tmp_path, capsys, change):
    case = _yaml(tmp_path / "case.yaml", CASE)
    spec = {"tornado": {"market.*.cea_buy_cny_per_t": [62, 70]}, "plots": False, "tables": "fast"}
    s = _yaml(tmp_path / "s.yaml", spec)
    out = tmp_path / "o"
    assert main(["sweep", str(case), str(s), "--out", str(out), "--workers", "0", "--chunk-size", "2"]) == 0
    (out / "results.parquet").unlink()  # as if interrupted
    argv = ["sweep", str(case), str(s), "--out", str(out), "--workers", "0", "--chunk-size", "2", "--resume"]
    if change == "tables":
        _yaml(tmp_path / "s.yaml", {**spec, "tables": "plan"})
    elif change == "chunk":
        argv[-2] = "3"
    else:
        argv += ["--time-limit", "5"]
    capsys.readouterr()
    assert main(argv) == 5
    err = capsys.readouterr().err
    assert "holds a sweep run with other settings" in err
    assert {"tables": "tables 'fast' then, 'plan' now", "chunk": "chunk_size 2 then, 3 now",
            "time_limit": "'time_limit': 60.0"}[change] in err


def test_bad_sweep_options_have_their_codes(tmp_path, capsys):
    case = _yaml(tmp_path / "case.yaml", CASE)
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    none = _yaml(tmp_path / "none.yaml", {"include_base": False})
    ok = _yaml(tmp_path / "ok.yaml", {"plots": False})
    assert main(["sweep", str(case), str(none), "--out", str(tmp_path / "o")]) == 1
    assert "the sweep has no scenarios" in capsys.readouterr().err
    assert main(["sweep", str(case), str(ok), "--out", str(tmp_path / "afile")]) == 5
    assert "must be a folder, not a file" in capsys.readouterr().err
    assert main(["sweep", str(case), str(ok), "--out", str(tmp_path / "afile" / "x")]) == 5


# ---- default time limit --------------------------------------------------------------------------

def test_a_run_stopped_by_the_time_limit_says_how_to_raise_it(tmp_path, capsys):
    case = _yaml(tmp_path / "mip.yaml", MIP)
    assert main(["run", str(case), "--out", str(tmp_path / "p"), "--time-limit", "0.001"]) == 2
    err = capsys.readouterr().err
    assert "time limit of 0.001 s" in err and "raise the limit with --time-limit SECONDS or the case's solver.time_limit_s" in err
    assert not (tmp_path / "p").exists()


def test_a_sweep_scenario_stopped_by_the_time_limit_is_not_a_plan(tmp_path, capsys):
    import pandas as pd

    case = _yaml(tmp_path / "mip.yaml", MIP)
    spec = _yaml(tmp_path / "s.yaml", {"plots": False})
    assert main(["sweep", str(case), str(spec), "--out", str(tmp_path / "o"), "--workers", "0", "--time-limit", "0.001"]) == 2
    out = capsys.readouterr().out
    assert "stopped at the time limit of 0.001 s a scenario: raise it with --time-limit SECONDS" in out
    sc = pd.read_csv(tmp_path / "o" / "scenarios.csv")
    assert list(sc["status"]) != ["optimal"] and sc["npv_cost_cny"].isna().all()
    assert "--time-limit" in sc["error"].iloc[0]


def test_the_default_time_limit_and_gap_are_in_the_audit(tmp_path):
    from planner.solve.highs import DEFAULT_TIME_LIMIT_S

    case = _yaml(tmp_path / "case.yaml", CASE)
    assert main(["run", str(case), "--out", str(tmp_path / "p"), "--no-html", "--no-xlsx"]) == 0
    audit = json.loads((tmp_path / "p" / "plan.json").read_text(encoding="utf-8"))["audit"]
    assert audit["solver_options"]["time_limit"] == DEFAULT_TIME_LIMIT_S
    assert audit["solver_options"]["mip_rel_gap"] == 1e-6


def test_solver_threads_are_at_most_the_processors_this_process_may_use():
    """A case may ask for 256 threads (the schema's bound); a machine that cannot start them would end
    the process inside HiGHS. Threads beyond the processors give no speed, so the solver gets fewer."""
    from planner.solve.highs import SolveOptions

    cpus = len(os.sched_getaffinity(0))
    assert SolveOptions(threads=256).highs()["threads"] == cpus
    assert SolveOptions(threads=1).highs()["threads"] == 1


def test_group_reading_is_unchanged_for_the_example():
    assert len(load_group_case(GROUP / "group.yaml").entities) == 30
