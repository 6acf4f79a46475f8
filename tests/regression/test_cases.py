"""Every example case runs through the CLI, passes the checker, and matches its golden headline numbers."""

import json
from pathlib import Path

import pandas as pd
import pytest

from planner.cli import main

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((ROOT / "cases").glob("*.yaml"))
EXPECTED = Path(__file__).parent / "expected"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_case_runs_and_matches_golden(case, tmp_path, update_golden, capsys):
    out = tmp_path / case.stem
    assert main(["run", str(case), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Compliance plan" in printed and "status optimal" in printed
    body = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    annual = pd.read_csv(out / "annual.csv")
    headline = {
        "objective_cny": body["summary"]["objective_cny"],
        "total_obligation_t": body["summary"]["total_obligation_t"],
        "total_buy_t": float(annual["buy_t"].sum()),
        "total_sell_t": float(annual["sell_t"].sum()),
        "total_ccer_t": float(annual["ccer_surrendered_t"].sum()),
        "total_abatement_t": float((annual["abatement_measures_t"] + annual["abatement_projects_t"]).sum()),
        "total_allocation_t": float(annual["allocation_t"].sum()),
        "total_auction_t": float(annual["auction_buy_t"].sum()),
        "total_borrow_t": float(annual["borrow_t"].sum()),
        "opening_lapse_t": float(annual["opening_lapse_t"].sum()),
    }
    golden = EXPECTED / f"{case.stem}.json"
    if update_golden or not golden.exists():
        golden.write_text(json.dumps(headline, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if not update_golden:
            pytest.fail(f"no golden file for {case.stem}; wrote {golden}, review and commit it")
    want = json.loads(golden.read_text(encoding="utf-8"))
    assert headline["objective_cny"] == pytest.approx(want["objective_cny"], rel=1e-6)
    for k in sorted(set(headline) - {"objective_cny"}):
        assert headline[k] == pytest.approx(want[k], rel=1e-4, abs=1.0), k
