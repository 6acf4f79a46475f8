"""The independent plan checker of a group, on all entities at once.

The same checks and messages as ``planner.plan.check.check_group_per_entity`` (``_check_entity`` and
``_check_costs`` entity by entity), recomputed from the plan tables and the prepared model data
only (never the Pyomo model or the solver's arrays), but as array arithmetic over entities x years:
each ledger identity is checked on every entity-year at once, with last year's stocks read from
the table and the running sums (net sales, new-system CCERs) accumulated year by year. Failures
come out in the reference's order (entity, then its checks in order; then the links; then the
costs). ``tests/solver/test_group_check.py`` asserts equal failure lists on corrupted plans. One
entity's plan is checked by the same entity and cost checks (``planner.plan.entity_tables.
check_plan_arrays``, against ``planner.plan.check.check_plan`` in ``tests/solver/test_entity_tables.py``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models.data import ModelData
from planner.plan.check import ABS_TOL_T, REL_TOL, check_opening

QUANTITIES = [
    "buy_t", "sell_t", "surrender_t", "carry_t", "lapse_t", "shortfall_t", "ccer_buy_t",
    "ccer_sell_t", "ccer_use_pool_t", "ccer_hold_t", "abatement_measures_t", "relief_t", "borrow_t",
    "auction_buy_t", "opening_sell_t", "opening_lapse_t",
]
COMPONENTS = ["abatement", "capex", "opex", "purchase", "fees", "ccer", "penalty", "sales", "terminal"]


def _tol(*xs) -> np.ndarray:
    """``planner.plan.check._tol`` element-wise (NaN ignored, as Python's ``max`` ignores it there)."""
    m = np.ones(np.broadcast(*[np.asarray(x) for x in xs]).shape)
    for x in xs:
        m = np.fmax(m, np.abs(np.asarray(x, dtype=float)))
    return REL_TOL * m + ABS_TOL_T


def _isclose(got, want, tol) -> np.ndarray:
    """``math.isclose(got, want, rel_tol=0, abs_tol=tol)`` element-wise."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    with np.errstate(invalid="ignore"):
        return (got == want) | (np.isfinite(got) & np.isfinite(want) & (np.abs(got - want) <= tol))


class _Fails:
    """Failures with a sort key each: sorted, they are in the per-entity checker's order."""

    def __init__(self):
        self.items: list[tuple[tuple, str]] = []

    def add(self, key: tuple, msg: str) -> None:
        self.items.append((key, msg))

    def close(self, key, mask, what, got, want, *scale) -> None:
        """``_close`` for every place in ``mask`` (entities, or entities x years: ``key(k[, i])``
        and ``what(k[, i])`` give the sort key and the message head of a place)."""
        got = np.broadcast_to(np.asarray(got, dtype=float), mask.shape)
        want = np.broadcast_to(np.asarray(want, dtype=float), mask.shape)
        bad = mask & ~_isclose(got, want, _tol(got, want, *scale))
        for at in zip(*np.nonzero(bad), strict=True):
            self.add(key(*at), f"{what(*at)}: {float(got[at]):,.6f} != {float(want[at]):,.6f}")

    def le(self, key, mask, what, got, limit, *scale) -> None:
        got = np.broadcast_to(np.asarray(got, dtype=float), mask.shape)
        limit = np.broadcast_to(np.asarray(limit, dtype=float), mask.shape)
        with np.errstate(invalid="ignore"):
            bad = mask & (got > limit + _tol(got, limit, *scale))
        for at in zip(*np.nonzero(bad), strict=True):
            self.add(key(*at), f"{what(*at)}: {float(got[at]):,.6f} > {float(limit[at]):,.6f}")

    def flag(self, key, bad, msg) -> None:
        for at in zip(*np.nonzero(bad), strict=True):
            self.add(key(*at), msg(*at))

    def sorted(self) -> list[str]:
        return [m for _, m in sorted(self.items, key=lambda t: t[0])]


def _axes(data: ModelData):
    """The entities, their ids and places, the years and their places (the two axes of the checks)."""
    ents = list(data.entities)
    ids = [d.id for d in ents]
    years = list(data.years)
    return ents, ids, {e: k for k, e in enumerate(ids)}, years, {y: i for i, y in enumerate(years)}


def _col(ents, name: str, dtype=None) -> np.ndarray:
    """Field ``name`` of every entity as one array (entity x year for per-year fields)."""
    return np.array([getattr(d, name) for d in ents], dtype=dtype)


def _per_year(ents, name: str, years: int) -> np.ndarray:
    return np.array([list(getattr(d, name)) if getattr(d, name) else [0.0] * years for d in ents], dtype=float)


def _grid(df: pd.DataFrame, ids: list[str], years: list[int], cols: list[str]) -> dict[str, np.ndarray]:
    """Columns of an (entity, year) table as entity x year arrays (NaN where a row is missing)."""
    idx = pd.MultiIndex.from_product([ids, years])
    t = df.set_index(["entity", "year"]).reindex(idx) if len(df) else pd.DataFrame(index=idx, columns=cols, dtype=float)
    return {c: t[c].to_numpy(dtype=float).reshape(len(ids), len(years)) for c in cols}


def _sum_by(df: pd.DataFrame, col: str, ids: list[str], years: list[int]) -> np.ndarray:
    """``df.groupby(year)[col].sum()`` per entity, as entity x year (0 where none): the same
    grouped sums (pandas' group sum over each cell's rows in table order), grouped on the cell's
    position instead of (entity, year) labels; rows of other entities or years are left out."""
    out = np.zeros((len(ids), len(years)))
    if df.empty:
        return out
    pos = {e: k for k, e in enumerate(ids)}
    ypos = {y: i for i, y in enumerate(years)}
    ny = len(years)
    cell = np.array([pos[e] * ny + ypos[y] if e in pos and y in ypos else -1
                     for e, y in zip(df["entity"].tolist(), df["year"].tolist(), strict=True)], dtype=np.int64)
    keep = cell >= 0
    vals = df[col].to_numpy(dtype=float)
    s = pd.Series(vals[keep]).groupby(cell[keep]).sum()
    out.flat[s.index.to_numpy()] = s.to_numpy(dtype=float)
    return out


def _rows(df: pd.DataFrame, cols: tuple[str, ...]):
    """The rows of ``df``'s columns ``cols`` as tuples of plain values (none for an empty table)."""
    if df.empty:
        return iter(())
    return zip(*(df[c].tolist() for c in cols), strict=True)


def _series_sum(values) -> float:
    """``float(pd.Series(values).sum())`` (NaN as 0, numpy's sum of the values in order)."""
    v = np.asarray(values, dtype=float)
    return float(np.where(np.isnan(v), 0.0, v).sum())


def _lot_groups(lots: pd.DataFrame) -> dict:
    """The CCER-lot rows by entity (first seen first) and lot: (years, uses) in table order, as
    ``groupby("entity", sort=False)`` then ``groupby("lot")`` give them (rows without an entity or
    lot left out)."""
    out: dict = {}
    vals = lots["ccer_use_lot_t"].to_numpy(dtype=float).tolist()
    for e, lot, y, v in zip(lots["entity"].tolist(), lots["lot"].tolist(), lots["year"].tolist(), vals, strict=True):
        if pd.isna(e) or pd.isna(lot):
            continue
        ys, vs = out.setdefault(e, {}).setdefault(lot, ([], []))
        ys.append(y)
        vs.append(v)
    return {e: {lot: (ys, np.asarray(vs, dtype=float)) for lot, (ys, vs) in g.items()} for e, g in out.items()}


class _Cols(dict):
    """Columns of an (entity, year) table as entity x year arrays, each converted on first use."""

    def __init__(self, get):
        super().__init__()
        self._get = get

    def __missing__(self, c: str) -> np.ndarray:
        v = self[c] = self._get(c)
        return v


def _annual_arrays(ann: pd.DataFrame, ids: list[str], years: list[int]) -> tuple[_Cols, np.ndarray]:
    """The annual table's numeric columns as entity x year arrays (NaN where a row is missing), and
    per entity whether a year's row is missing (absent, or every column empty). When the table's
    rows are exactly entities x years in that order (a plan's own order), the columns are read
    as they are, without re-indexing the table."""
    nk, ny = len(ids), len(years)
    aligned = (len(ann) == nk * ny and ann["entity"].tolist() == [e for e in ids for _ in years]
               and ann["year"].tolist() == list(years) * nk)
    if aligned:
        A = _Cols(lambda c: ann[c].to_numpy(dtype=float).reshape(nk, ny))
        if not np.isnan(A["buy_t"]).any():  # no row is empty
            return A, np.zeros(nk, dtype=bool)
    cols = [c for c in ann.columns if c not in ("entity", "year")]
    num = [c for c in cols if pd.api.types.is_numeric_dtype(ann[c])]
    idx = pd.MultiIndex.from_product([ids, years])
    full = ann.set_index(["entity", "year"]).reindex(idx)
    missing = full.isna().all(axis=1).to_numpy().reshape(nk, ny).any(axis=1)
    A = _Cols(lambda c: full[c].to_numpy(dtype=float).reshape(nk, ny))
    for c in num:
        A[c]
    return A, missing


def check_entities(data: ModelData, plan, *, ns_excludes_transfers: bool = False) -> tuple[list[str], np.ndarray]:
    """``planner.plan.check._check_entity`` for every entity (and the missing-years message); returns the
    failures and the entity x year annual values of the group checks."""
    f = _Fails()
    ents, ids, pos, years, ypos = _axes(data)
    nk, ny = len(ents), len(years)
    ann = plan.annual
    A, missing = _annual_arrays(ann, ids, years)
    active = ~missing
    for k in np.flatnonzero(missing):
        f.add((k, -1), f"{ids[k]}: the annual table lacks some years")
    scale = np.array([max(d.emissions_baseline_t) if d.emissions_baseline_t else 1.0 for d in ents])

    for qn, q in enumerate(QUANTITIES):
        v = A[q]
        bad = active[:, None] & (v < -_tol(scale)[:, None])
        for k, i in zip(*np.nonzero(bad), strict=True):
            f.add((k, 0, qn, i), f"{ids[k]} {years[i]}: {q} is negative ({v[k, i]:,.6f})")

    # abatement by measure, recomputed from the detail table (row by row, in the table's order)
    ab = plan.abatement
    lost = np.zeros((nk, ny))
    if not ab.empty:
        ak = np.array([pos[e] for e in ab["entity"].tolist()], dtype=np.int64)
        ai = np.array([ypos[y] for y in ab["year"].tolist()], dtype=np.int64)
        mids, abate = ab["measure"].tolist(), ab["abate_t"].to_numpy(dtype=float)
        mdata = {(d.id, m.id): m for d in ents for m in d.measures}
        pot = np.array([mdata[(ids[k], m)].potential_t[i] for k, m, i in zip(ak, mids, ai, strict=True)], dtype=float)
        sc = scale[ak]
        rows = np.arange(len(ab))
        act = active[ak]
        with np.errstate(invalid="ignore"):
            over = act & (abate > pot + _tol(abate, pot, sc))
            neg = act & (abate < -_tol(sc))
        for j in np.flatnonzero(over | neg):
            tag = f"{ids[ak[j]]} {ab['year'].iat[j]}: measure {mids[j]}"
            if over[j]:
                f.add((ak[j], 1, rows[j], 0), f"{tag} abatement vs potential: {float(abate[j]):,.6f} > {float(pot[j]):,.6f}")
            if neg[j]:
                f.add((ak[j], 1, rows[j], 1), f"{tag} abatement is negative")
        # allocation lost to output cuts, accumulated in the table's order
        loss = np.array([(mdata[(ids[k], m)].allocation_loss_t_per_t[i] if mdata[(ids[k], m)].allocation_loss_t_per_t else 0.0)
                         for k, m, i in zip(ak, mids, ai, strict=True)], dtype=float)
        has = np.array([bool(mdata[(ids[k], m)].allocation_loss_t_per_t) for k, m in zip(ak, mids, strict=True)])
        np.add.at(lost, (ak[has], ai[has]), loss[has] * abate[has])
    by_measure = _sum_by(ab, "abate_t", ids, years)

    # projects: built once, at an allowed start, operating years following from the builds
    proj_red = np.zeros((nk, ny))
    want_ops = np.zeros((nk, ny))
    # (builds grouped by entity, first seen first, and counted by project as groupby would; the
    # operating years counted per entity and year)
    built_by: dict[str, list[tuple]] = {}
    for e, p, s in _rows(plan.builds, ("entity", "project", "build_year")):
        if not pd.isna(e):
            built_by.setdefault(e, []).append((p, s))
    listed = np.zeros((nk, ny), dtype=np.int64)
    for e, y in _rows(plan.project_years, ("entity", "year")):
        if e in pos and y in ypos:
            listed[pos[e], ypos[y]] += 1
    for e, rows in built_by.items():
        k = pos.get(e)
        if k is None or missing[k]:
            continue
        d = ents[k]
        projects = {p.id: p for p in d.projects}
        times: dict = {}
        for p, _ in rows:
            if not pd.isna(p):
                times[p] = times.get(p, 0) + 1
        for j, p in enumerate(sorted(times)):
            if times[p] > 1:
                f.add((k, 2, j), f"{e}: project {p} is built {times[p]} times")
        for j, (p, s) in enumerate(rows):
            opts = {o.build_year: o for o in projects[p].options}
            if int(s) not in opts:
                f.add((k, 3, j), f"{e}: project {p} cannot start in {s}")
                continue
            op = np.array(opts[int(s)].operating, dtype=float)
            proj_red[k] += op * projects[p].reduction_t_per_year
            want_ops[k] += op
    bad_ops = active & ~(listed == want_ops).all(axis=1)
    f.flag(lambda k: (k, 4), bad_ops, lambda k: f"{ids[k]}: project operating years do not follow from the builds, lead times and lifetimes")

    # CCER lots: quantities and eligible years
    lots = plan.ccer_lots
    lot_by_year = _sum_by(lots, "ccer_use_lot_t", ids, years)
    if not lots.empty:
        for e, by_lot in _lot_groups(lots).items():
            k = pos.get(e)
            if k is None or missing[k]:
                continue
            lot_data = {lot.id: lot for lot in ents[k].ccer_lots}
            for j, lid in enumerate(sorted(by_lot)):
                ys, vals = by_lot[lid]
                used, qty = _series_sum(vals), lot_data[lid].quantity_t
                if used > qty + float(_tol(used, qty, scale[k])):
                    f.add((k, 5, j, -1), f"{e}: CCER lot {lid} used over all years vs its quantity: {used:,.6f} > {qty:,.6f}")
                for m, (y, v) in enumerate(zip(ys, vals.tolist(), strict=True)):
                    if v > float(_tol(scale[k])) and not lot_data[lid].eligible[ypos[int(y)]]:
                        f.add((k, 5, j, m), f"{e} {y}: CCER lot {lid} used outside its eligible years")

    # the ledger, year by year over all entities
    base_e = _col(ents, "emissions_baseline_t", float)
    alloc_d = _col(ents, "allocation_t", float)
    relief_share = _col(ents, "relief_share", float)
    rta = _col(ents, "relief_to_allocation", bool)
    borrow_share = _per_year(ents, "borrow_share", ny)
    auction_max = _per_year(ents, "auction_max_t", ny)
    cap_share = _col(ents, "ccer_cap_share", float)
    cap_on_ob = _col(ents, "ccer_cap_on_obligation", bool)
    buy_max = _col(ents, "buy_max_t", float)
    sell_max = _col(ents, "sell_max_t", float)
    ccer_buy_max = _col(ents, "ccer_buy_max_t", float)
    ccer_sell_max = _col(ents, "ccer_sell_max_t", float)
    old = np.array([[bool(d.ccer_buy_old and d.ccer_buy_old[i]) for i in range(ny)] for d in ents], dtype=bool)
    limited = np.array([[r.limited for r in d.carry_rules] for d in ents], dtype=bool)
    floor = np.array([[r.floor_t for r in d.carry_rules] for d in ents], dtype=float)
    mult = np.array([[r.multiplier for r in d.carry_rules] for d in ents], dtype=float)
    thr = np.array([[r.threshold_t for r in d.carry_rules] for d in ents], dtype=float)
    src = _col(ents, "borrow_source_index")
    expiry = _col(ents, "ccer_old_expiry_index")
    min_gap = _col(ents, "borrow_min_gap_share", float)
    deducted = _col(ents, "shortfall_deducted_next_year", bool)
    allowed = _col(ents, "shortfall_allowed", bool)
    auc_ns = _col(ents, "auction_in_net_sales", bool)
    total_borrow = np.array([_series_sum(A["borrow_t"][k]) for k in range(nk)])
    tl = _tol(scale)
    # the ledger over all entities x years at once; the stocks carried between years are the
    # table's own (last year's carry, CCER holdings, shortfall), the running sums accumulated year
    # by year as before; failures keep the per-year keys (entity, 6, year, check)
    yi = np.arange(ny)
    sc, tl2 = scale[:, None], tl[:, None]
    m = np.broadcast_to(active[:, None], (nk, ny))

    def prev(c: str, opening) -> np.ndarray:
        return np.column_stack([np.asarray(opening, dtype=float), A[c][:, :-1]])

    # the opening transitions, entity by entity (the reference's own check: a few steps each)
    carried_in = np.array([d.opening_cea_t for d in ents], dtype=float)
    ns = _col(ents, "opening_net_sales_t", float)
    o_sell, o_lapse, o_limit = A["opening_sell_t"], A["opening_lapse_t"], A["opening_carry_limit_t"]
    for k in np.flatnonzero(active):
        out: list[str] = []
        carried_in[k], ns[k] = check_opening(out, ents[k], years, o_sell[k].tolist(), o_lapse[k].tolist(),
                                             float(o_limit[k, 0]), float(scale[k]))
        for j, msg in enumerate(out):
            f.add((k, 6, -1, j), msg)
    carry_prev = prev("carry_t", carried_in)
    ccer_prev = prev("ccer_hold_t", [d.opening_ccer_t for d in ents])
    short_prev = prev("shortfall_t", np.zeros(nk))
    ccer_new = _col(ents, "opening_ccer_t", float)
    ns_y, ccer_new_y = np.empty((nk, ny)), np.empty((nk, ny))
    for i in range(ny):
        ccer_new = np.where(old[:, i], ccer_new, ccer_new + A["ccer_buy_t"][:, i])
        ns = ns + (A["sell_t"][:, i] - A["buy_t"][:, i] - np.where(auc_ns, A["auction_buy_t"][:, i], 0.0))
        if ns_excludes_transfers:
            ns = ns - (A["transfer_out_t"][:, i] - A["transfer_in_t"][:, i])
        ns_y[:, i], ccer_new_y[:, i] = ns, ccer_new

    def key(c):
        return lambda k, i: (k, 6, i, c)

    def tag(text):
        return lambda k, i: f"{ids[k]} {years[i]}: {text}"

    n = iter(range(100))
    f.close(key(next(n)), m, tag("measure abatement total"), A["abatement_measures_t"], by_measure, sc)
    f.close(key(next(n)), m, tag("project abatement"), A["abatement_projects_t"], proj_red, sc)
    emissions = base_e - by_measure - proj_red
    f.close(key(next(n)), m, tag("emissions = baseline - abatement"), A["emissions_t"], emissions, sc)
    f.flag(key(next(n)), m & (emissions < -tl2), tag("abatement exceeds baseline emissions"))
    bench = alloc_d - lost
    f.close(key(next(n)), m, tag("allocation before relief = formula - output cuts"), A["allocation_benchmark_t"], bench, sc)
    share = relief_share
    relief = np.where(share > 0, np.maximum(0.0, share * emissions - bench), 0.0)
    f.close(key(next(n)), m, lambda k, i: f"{ids[k]} {years[i]}: relief = max(0, {share[k, i]:g} x emissions - allocation)",
            A["relief_t"], relief, sc)
    repaid = np.where(src[:, None] == yi[None, :], total_borrow[:, None], 0.0)
    allocation = bench + np.where(rta, relief, 0.0) - repaid
    f.close(key(next(n)), m, tag("allocation received"), A["allocation_t"], allocation, sc)
    obligation = emissions - np.where(rta, 0.0, relief)
    f.close(key(next(n)), m, tag("obligation"), A["obligation_t"], obligation, sc)
    phi = borrow_share
    bt = A["borrow_t"]
    f.flag(key(next(n)), m & (bt < -tl2), tag("pre-draw is negative"))
    pd_on = m & (bt > tl2)
    gap = emissions - bench - relief
    f.flag(key(next(n)), pd_on & (phi <= 0), lambda k, i: f"{ids[k]} {years[i]}: pre-draw of {bt[k, i]:,.0f} t in a year without the pre-draw rule")
    f.le(key(next(n)), pd_on, lambda k, i: f"{ids[k]} {years[i]}: pre-draw vs {phi[k, i]:.0%} of the gap", bt, phi * gap, sc)
    f.le(key(next(n)), pd_on, lambda k, i: f"{ids[k]} {years[i]}: pre-draw needs a gap of at least {min_gap[k]:.0%} of emissions",
         min_gap[:, None] * emissions, gap, sc)
    f.le(key(next(n)), m, tag("auction purchase vs auctioned share"), A["auction_buy_t"], auction_max, sc)
    f.flag(key(next(n)), m & (A["auction_buy_t"] < -tl2), tag("auction purchase is negative"))
    ccer = A["ccer_use_pool_t"] + lot_by_year
    f.close(key(next(n)), m, tag("CCER surrendered = pool + lots"), A["ccer_surrendered_t"], ccer, sc)
    deduction = np.where(deducted[:, None], short_prev, 0.0)
    f.close(key(next(n)), m, tag("surrender + CCER + shortfall = obligation + last year's deducted shortfall"),
            A["surrender_t"] + ccer + A["shortfall_t"], obligation + deduction, sc)
    lhs = carry_prev + allocation + A["buy_t"] + A["auction_buy_t"] + A["borrow_t"] - A["sell_t"]
    f.close(key(next(n)), m, tag("allowance stock balance"), lhs, A["surrender_t"] + A["carry_t"] + A["lapse_t"], sc)
    f.close(key(next(n)), m, tag("CCER pool balance"), ccer_prev + A["ccer_buy_t"] - A["ccer_sell_t"],
            A["ccer_use_pool_t"] + A["ccer_hold_t"], sc)
    base = np.where(cap_on_ob[:, None], obligation, emissions)
    cs = cap_share
    f.le(key(next(n)), m, lambda k, i: f"{ids[k]} {years[i]}: CCER within {cs[k, i]:.1%} cap", ccer, cs * base, sc)
    f.le(key(next(n)), m, tag("CEA bought vs limit"), A["buy_t"], buy_max, sc)
    f.le(key(next(n)), m, tag("CEA sold vs limit"), A["sell_t"], sell_max, sc)
    f.le(key(next(n)), m, tag("CCER bought vs availability"), A["ccer_buy_t"], ccer_buy_max, sc)
    f.le(key(next(n)), m, tag("CCER sold vs limit"), A["ccer_sell_t"], ccer_sell_max, sc)
    f.le(key(next(n)), m & (expiry[:, None] == yi[None, :]), tag("CCERs held past the old-CCER last use are new-system ones"),
         A["ccer_hold_t"], ccer_new_y, sc)
    f.le(key(next(n)), m & ~allowed[:, None], tag("shortfall under hard compliance"), A["shortfall_t"], 0.0, sc)
    f.close(key(next(n)), m, tag("cumulative net sales"), A["net_sales_t"], ns_y, sc)
    limit = floor + mult * np.maximum(0.0, ns_y - thr)
    f.le(key(next(n)), m & limited, tag("carry-over vs limit"), A["carry_t"], limit, sc, ns_y)
    f.close(key(next(n)), m & limited, tag("reported carry-over limit = the rule at the net sales"), A["carry_limit_t"], limit, sc, ns_y)
    f.flag(key(next(n)), m & ~limited & (A["lapse_t"] > tl2), tag("allowances lapse at a transition without a limit"))
    cl = A["carry_limit_t"]
    f.flag(key(next(n)), m & ~limited & (cl != np.inf),
           lambda k, i: f"{ids[k]} {years[i]}: a carry-over limit of {cl[k, i]:,.0f} t is reported at a transition without one")
    return f.sorted(), A


class _YearOf:
    """One year's column of every annual array (``r[c]`` = ``A[c][:, i]``)."""

    def __init__(self, A: _Cols, i: int):
        self.A, self.i = A, i

    def __getitem__(self, c: str) -> np.ndarray:
        return self.A[c][:, self.i]


def check_costs(data: ModelData, plan, objective: float | None, A: dict[str, np.ndarray], *, link_npv: float = 0.0) -> list[str]:
    """``planner.plan.check._check_costs`` on all entities at once (``A``: the annual table as entity x
    year arrays, from ``check_entities``)."""
    f = _Fails()
    g = data.group
    settle = g is not None and g.transfers != "none"
    ents, ids, pos, years, ypos = _axes(data)
    nk, ny = len(ents), len(years)
    comps = COMPONENTS + (["transfer"] if settle else [])
    want = {c: np.zeros((nk, ny)) for c in comps}
    ab = plan.abatement
    if not ab.empty:
        ak = np.array([pos[e] for e in ab["entity"].tolist()], dtype=np.int64)
        ai = np.array([ypos[y] for y in ab["year"].tolist()], dtype=np.int64)
        mdata = {(d.id, m.id): m for d in ents for m in d.measures}
        price = np.array([mdata[(ids[k], m)].cost_cny_per_t[i] for k, m, i in zip(ak, ab["measure"].tolist(), ai, strict=True)], dtype=float)
        np.add.at(want["abatement"], (ak, ai), price * ab["abate_t"].to_numpy(dtype=float))
    buy_t, sell_t = (A["market_buy_t"], A["market_sell_t"]) if settle else (A["buy_t"], A["sell_t"])
    pb = _col(ents, "price_buy_cny_per_t", float)
    pauc = _per_year(ents, "price_auction_cny_per_t", ny)
    fee = _col(ents, "fee_cea_cny_per_t", float)
    fee_c = _col(ents, "fee_ccer_cny_per_t", float)
    pc = _col(ents, "price_ccer_buy_cny_per_t", float)
    pen = _col(ents, "penalty_cny_per_t", float)
    ps = _col(ents, "price_sell_cny_per_t", float)
    psc = _col(ents, "price_ccer_sell_cny_per_t", float)
    want["purchase"] = pb * buy_t + pauc * A["auction_buy_t"]
    want["fees"] = fee * (A["buy_t"] + A["sell_t"]) + fee_c * (A["ccer_buy_t"] + A["ccer_sell_t"])
    want["ccer"] = pc * A["ccer_buy_t"]
    want["penalty"] = pen * A["shortfall_t"]
    fine = _per_year(ents, "fine_fixed_cny", ny)
    allowed = _col(ents, "shortfall_allowed", bool)
    scale = np.array([max(d.emissions_baseline_t) for d in ents], dtype=float)
    charged = allowed[:, None] & (fine > 0) & (A["shortfall_t"] > _tol(scale)[:, None])  # Order 19: fixed fine
    want["penalty"] = np.where(charged, want["penalty"] + fine, want["penalty"])
    want["sales"] = -(ps * sell_t + psc * A["ccer_sell_t"])
    # sales before the opening transition (position before it), in the first year
    want["sales"][:, 0] -= _col(ents, "price_opening_sell_cny_per_t", float) * A["opening_sell_t"][:, 0]
    want["fees"][:, 0] += _col(ents, "fee_opening_cny_per_t", float) * A["opening_sell_t"][:, 0]
    if settle:
        want["transfer"] = np.asarray(g.transfer_price_cny_per_t, dtype=float)[None, :] * (A["transfer_in_t"] - A["transfer_out_t"])
    if not plan.builds.empty:
        for e, p, s in _rows(plan.builds, ("entity", "project", "build_year")):
            k = pos[e]
            o = {o.build_year: o for o in {q.id: q for q in ents[k].projects}[p].options}[int(s)]
            want["capex"][k] += np.asarray(o.capex_cny, dtype=float)
            want["opex"][k] += np.asarray(o.opex_cny, dtype=float)
    last = ny - 1
    ded = _col(ents, "shortfall_deducted_next_year", bool)
    tded = _col(ents, "terminal_deduction_cny_per_t", float)
    want["penalty"][:, last] = np.where(ded, want["penalty"][:, last] + tded * A["shortfall_t"][:, last], want["penalty"][:, last])
    value = (_col(ents, "terminal_cea_value_cny_per_t") * A["carry_t"][:, last]
             + _col(ents, "terminal_ccer_value_cny_per_t") * A["ccer_hold_t"][:, last])
    lots = plan.ccer_lots
    lots_by = _lot_groups(lots) if not lots.empty and "entity" in lots.columns else {}
    for k, d in enumerate(ents):
        if not d.ccer_lots:
            continue
        lk = lots_by.get(d.id, {})
        for lot in d.ccer_lots:
            used = _series_sum(lk[lot.id][1]) if lot.id in lk else 0.0
            value[k] += lot.terminal_value_cny_per_t * (lot.quantity_t - used)
    src = _col(ents, "borrow_source_index")
    owed = np.array([d.borrow_terminal_cny_per_t * _series_sum(A["borrow_t"][k]) if src[k] < 0 else 0.0
                     for k, d in enumerate(ents)])
    want["terminal"][:, last] = owed - value
    got = _cost_cells(plan.costs, ids, years, comps)
    w = np.stack([want[c] for c in comps], axis=2)
    with np.errstate(invalid="ignore"):
        ok = (got == w) | (np.isfinite(got) & np.isfinite(w)
                           & (np.abs(got - w) <= np.maximum(1e-7 * np.maximum(np.abs(got), np.abs(w)), 1e-3)))
    for k, i, c in zip(*np.nonzero(~ok), strict=True):
        f.add((k, i, c), f"{ids[k]} {years[i]}: cost {comps[c]} {float(got[k, i, c]):,.2f} != recomputed {float(w[k, i, c]):,.2f}")
    total = 0.0
    for v in (np.asarray(data.discount_factor, dtype=float)[None, :, None] * w).ravel().tolist():
        total += v
    total += link_npv
    fails = f.sorted()
    if objective is not None and not math.isclose(total, objective, rel_tol=1e-7, abs_tol=1e-2):
        fails.append(f"objective {objective:,.2f} != discounted sum of recomputed costs {total:,.2f}")
    return fails


def _cost_cells(costs: pd.DataFrame, ids: list[str], years: list[int], comps: list[str]) -> np.ndarray:
    """The cost table's ``nominal_cny`` as entity x year x component (0 where a cell has no row)."""
    keys = list(zip(costs["entity"].tolist(), costs["year"].tolist(), costs["component"].tolist(), strict=True))
    if len(set(keys)) != len(keys):  # as the reference: re-indexing duplicate cells raises
        s = costs.set_index(["entity", "year", "component"])["nominal_cny"]
        idx = pd.MultiIndex.from_product([ids, years, comps])
        return s.reindex(idx, fill_value=0.0).to_numpy(dtype=float).reshape(len(ids), len(years), len(comps))
    got = np.zeros((len(ids), len(years), len(comps)))
    pos = {e: k for k, e in enumerate(ids)}
    ypos = {y: i for i, y in enumerate(years)}
    cpos = {c: j for j, c in enumerate(comps)}
    for (e, y, c), v in zip(keys, costs["nominal_cny"].to_numpy(dtype=float).tolist(), strict=True):
        if e in pos and y in ypos and c in cpos:
            got[pos[e], ypos[y], cpos[c]] = v
    return got


def check_group(data: ModelData, gplan, *, objective: float | None = None) -> list[str]:
    """``planner.plan.check.check_group_per_entity`` on all entities at once: the same checks, messages
    and order (see that function for what is checked)."""
    from planner.plan.check import _tol as tol1
    from planner.plan.check import check_group_years, check_round_trips, check_transfer_nets

    g = data.group
    years = list(data.years)
    plan = gplan.entities
    excl = g is not None and g.transfers != "none" and not g.transfers_in_net_sales
    fails, A = check_entities(data, plan, ns_excludes_transfers=excl)
    if g is None:
        return fails + check_costs(data, plan, objective, A) + check_round_trips(data, plan.annual, gplan.summary)
    ents = list(data.entities)
    ids = [d.id for d in ents]
    nk, ny = len(ents), len(years)
    scale = max([1.0] + [max(e.emissions_baseline_t) for e in ents])
    price = {y: g.transfer_price_cny_per_t[i] for i, y in enumerate(years)} if g.transfer_price_cny_per_t else {}
    links = _Fails()
    allk = np.ones(nk, dtype=bool)
    tl = float(tol1(scale))
    for i, y in enumerate(years):
        n = iter(range(100))

        def key(c, i=i):
            return lambda k: (k, i, c)

        def tag(text, y=y):
            return lambda k: f"{ids[k]} {y}: {text}"

        r = {c: A[c][:, i] for c in ("buy_t", "sell_t", "market_buy_t", "market_sell_t", "transfer_in_t", "transfer_out_t")}
        for q in ("market_buy_t", "market_sell_t", "transfer_in_t", "transfer_out_t"):
            links.flag(key(next(n)), r[q] < -tl, tag(f"{q} is negative"))
        links.close(key(next(n)), allk, tag("CEA bought = market + transfers in"), r["buy_t"], r["market_buy_t"] + r["transfer_in_t"], scale)
        links.close(key(next(n)), allk, tag("CEA sold = market + transfers out"), r["sell_t"], r["market_sell_t"] + r["transfer_out_t"], scale)
        links.le(key(next(n)), allk, tag("market purchases vs the entity's limit"), r["market_buy_t"],
                 np.asarray(g.market_buy_max_t, dtype=float)[:, i], scale)
        links.le(key(next(n)), allk, tag("market sales vs the entity's limit"), r["market_sell_t"],
                 np.asarray(g.market_sell_max_t, dtype=float)[:, i], scale)
        if g.transfers == "none":
            links.flag(key(next(n)), (r["transfer_in_t"] > tl) | (r["transfer_out_t"] > tl), tag("transfers in a group without transfers"))
    fails += links.sorted()
    check_transfer_nets(fails, data, gplan, scale)
    tr = gplan.transfers
    if g.transfers != "none" and len(tr):
        # the transfer matrix delivers exactly each entity's net transfers
        idx = pd.MultiIndex.from_product([ids, years])
        sent = tr.groupby(["seller", "year"])["transfer_t"].sum().reindex(idx, fill_value=0.0).to_numpy(dtype=float).reshape(nk, ny)
        got = tr.groupby(["buyer", "year"])["transfer_t"].sum().reindex(idx, fill_value=0.0).to_numpy(dtype=float).reshape(nk, ny)
        mat = _Fails()
        for i, y in enumerate(years):
            mat.close(lambda k, i=i: (k, i), allk, lambda k, y=y: f"{ids[k]} {y}: transfer matrix vs net transfers",
                      sent[:, i] - got[:, i], A["transfer_out_t"][:, i] - A["transfer_in_t"][:, i], scale)
        fails += mat.sorted()
    link_npv = check_group_years(fails, data, gplan, scale, price)
    fails += check_costs(data, plan, objective, A, link_npv=link_npv)
    return fails + check_round_trips(data, plan.annual, gplan.summary)
