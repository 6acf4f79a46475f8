"""Scale checks on the compiled matrix before solving.

HiGHS works to tolerances of about 1e-7 (feasibility) and 1e-6 (integrality). When the matrix
coefficients, the costs or the quantities (bounds and right-hand sides) of one model span many
orders of magnitude, those tolerances turn into tonnes or yuan in the plan, and the independent
checker may refuse it. These checks name the extreme entries, and the inputs they come from, so the
user can fix a unit mistake (yuan for 10,000 yuan, t for Mt) before trusting a plan.
Results are never rounded here or in the model; rounding happens only when tables are displayed.
"""

from __future__ import annotations

import logging
import re

import numpy as np

logger = logging.getLogger(__name__)

MAX_RANGE = 1e12
"""Largest ratio of largest to smallest nonzero magnitude accepted silently, per kind. The example
cases reach about 3e10 in the matrix (the net-sales big-M over a 0.05 CCER share)."""

INPUTS = {
    "buy": "market.cea_buy_cny_per_t, market.buy_limit_t",
    "sell": "market.cea_sell_cny_per_t, market.sell_limit_t",
    "ccer_buy": "market.ccer_cny_per_t, market.ccer_available_t",
    "ccer_sell": "market.ccer_sell_cny_per_t",
    "abate": "abatement.measures (cost_cny_per_t, potential_t_per_year)",
    "build": "abatement.projects (capex_cny, opex_cny_per_year, reduction_t_per_year)",
    "shortfall": "the penalty (market.penalty_reference_cny_per_t x penalty.multiple)",
    "carry": "the carry-over rule (policy.overrides carryover.*) and opening.cea_by_vintage",
    "net_sales": "opening.net_sales_since_2019_t and the carry-over multiplier",
    "ns_pos": "opening.net_sales_since_2019_t and the trade limits (the net-sales floor's big-M)",
    "floor_off": "the trade limits (the net-sales floor's big-M)",
    "balance_surrender": "activity (emissions_t, output, intensity) and the relief",
    "balance_allowances": "allocation (given or benchmark x output) and opening.cea_by_vintage",
    "limit_ccer_share": "policy.overrides ccer.cap_share",
    "limit_carryover": "the carry-over rule (policy.overrides carryover.*)",
}


def _inputs(name: str) -> str:
    """The case inputs behind a Pyomo component name like ``entity[T].buy[2025]``."""
    m = re.search(r"\.?([A-Za-z_]+)(\[[^\]]*\])?$", name)
    local = m.group(1) if m else name
    for key, text in INPUTS.items():
        if local == key or local.startswith(key + "_"):
            return text
    return "the case's numbers"


def _extremes(values: np.ndarray) -> tuple[float, int, float, int] | None:
    """(smallest, its position, largest, its position) of the finite nonzero magnitudes."""
    a = np.abs(np.asarray(values, dtype=float))
    ok = np.isfinite(a) & (a > 0)
    if ok.sum() < 2:
        return None
    idx = np.flatnonzero(ok)
    lo, hi = idx[np.argmin(a[idx])], idx[np.argmax(a[idx])]
    return float(a[lo]), lo, float(a[hi]), hi


def scale_warnings(cm, max_range: float = MAX_RANGE) -> list[str]:
    """Warnings for coefficients, costs and quantities that span more than ``max_range``."""
    lp = cm.lp
    nb = lp.num_col_
    nr = lp.num_row_
    col_name = getattr(cm, "column_name", None) or (lambda i: cm.columns[i].name)
    row_name = getattr(cm, "row_name", None) or (lambda i: cm.rows[i].name)
    start = np.asarray(lp.a_matrix_.start_)
    col_of = np.repeat(np.arange(nb), np.diff(start)) if nb else np.zeros(0, int)
    row_of = np.asarray(lp.a_matrix_.index_)
    quantities = np.concatenate([lp.col_lower_, lp.col_upper_, lp.row_lower_, lp.row_upper_])

    def q_label(i: int) -> str:
        if i < 2 * nb:
            return f"bound of {col_name(i % nb)}"
        return f"right-hand side of {row_name((i - 2 * nb) % nr)}"

    checks = [
        ("matrix coefficients", lp.a_matrix_.value_, lambda i: f"{row_name(row_of[i])} on {col_name(col_of[i])}"),
        ("costs", lp.col_cost_, lambda i: f"cost of {col_name(i)}"),
        ("quantities (bounds and limits)", quantities, q_label),
    ]
    out = []
    for kind, values, label in checks:
        ext = _extremes(values)
        if ext is None:
            continue
        lo, lo_i, hi, hi_i = ext
        if hi / lo > max_range:
            # named only when warned about (the array path's names need Pyomo's index format)
            lo_at, hi_at = label(lo_i), label(hi_i)
            lo_name, hi_name = lo_at.split()[-1], hi_at.split()[-1]
            out.append(
                f"badly scaled {kind}: they span {hi / lo:.1e} (from {lo:.3g} in {lo_at} to {hi:.3g} in "
                f"{hi_at}); the solver's tolerances may then show in the plan. Check the units of "
                f"{_inputs(hi_name)} and of {_inputs(lo_name)}."
            )
    for w in out:
        logger.warning(w)
    return out


SKIP_KEYS = ("year", "first_year", "last_year", "base_year", "eligible_from_year", "eligible_to_year",
             "earliest_start_year", "lead_time_years", "lifetime_years", "discount_rate", "threads",
             "mip_rel_gap", "time_limit_s", "schema_version", "correction_factor")


MAX_MAGNITUDE = 1e15
"""Largest number a case may hold. HiGHS treats magnitudes of 1e20 and more as infinite, and costs
are products of the case's numbers (price x penalty multiple x discount factor)."""


def input_warnings(case, max_range: float = MAX_RANGE) -> list[str]:
    """The case's own numbers (quantities and prices) spanning more than ``max_range``, by path.

    Raises ``CaseValidationError`` for numbers above ``MAX_MAGNITUDE``: a measure costing -1e300 CNY
    per t used to reach HiGHS as an infinite cost, and the plan failed the checker (exit 4).
    """
    from planner.errors import CaseValidationError

    found: list[tuple[float, str]] = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if str(k) not in SKIP_KEYS:
                    walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yr = v.get("year") if isinstance(v, dict) else None
                walk(v, f"{path}[{i}]" + (f" (year {yr})" if yr is not None else ""))
        elif isinstance(node, int | float) and not isinstance(node, bool) and node:
            found.append((abs(float(node)), path))

    walk(case.model_dump(mode="python", exclude={"policy", "solver"}), "")
    huge = [(path, v) for v, path in found if v > MAX_MAGNITUDE]
    if huge:
        raise CaseValidationError("<case>", [
            (path, f"{v:.3g} is larger than {MAX_MAGNITUDE:.0e} in magnitude; expected t or CNY "
                   "(the solver cannot represent such numbers)") for path, v in huge
        ])
    if len(found) < 2:
        return []
    lo, hi = min(found), max(found)
    if hi[0] / lo[0] <= max_range:
        return []
    w = (f"the case's numbers span {hi[0] / lo[0]:.1e}: from {lo[0]:.3g} at {lo[1]} to {hi[0]:.3g} at "
         f"{hi[1]}; check their units (t, CNY), since the solver's tolerances may show in the plan")
    logger.warning(w)
    return [w]
