"""The independent plan checker: recompute every ledger identity and rule from the plan tables.

It reads only the prepared model data (plain dataclasses) and the plan's pandas tables, never the
Pyomo model or the solver's arrays, so a wrong constraint in the math cannot hide behind its own
arithmetic. Every solved plan in the tests goes through it, and the CLI refuses to write a plan
that fails it. One entity's plan is checked as a group of one.

The checks run as array arithmetic over entities x years: each ledger identity on every
entity-year at once, with last year's stocks read from the table and the running sums (net sales,
new-system CCERs) accumulated year by year. Failures come out entity by entity (then its checks
in order; then the links; then the costs). The per-entity reference implementation of the same
checks and messages is ``tests/oracles/check.py``; ``tests/solver/test_group_check.py`` and
``tests/solver/test_entity_tables.py`` assert equal failure lists on solved and corrupted plans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.data import EntityData, ModelData

REL_TOL, ABS_TOL_T = 1e-8, 1e-4
"""The checker's tolerance: REL_TOL of the largest magnitude involved (an entity's largest baseline
emissions, or the values compared) plus ABS_TOL_T: 0.06 t on a 5.8 Mt plant, so a one-tonne error
in its ledger is caught; solved plans reproduce their ledgers to about 1e-16 relative, and HiGHS
keeps bounds to its feasibility tolerance (1e-7 absolute)."""


def _tol(*xs: float) -> float:
    return REL_TOL * max([1.0] + [abs(float(x)) for x in xs]) + ABS_TOL_T


def _close(fails: list[str], what: str, got: float, want: float, *scale: float) -> None:
    if not math.isclose(got, want, rel_tol=0, abs_tol=_tol(got, want, *scale)):
        fails.append(f"{what}: {got:,.6f} != {want:,.6f}")


def _le(fails: list[str], what: str, got: float, limit: float, *scale: float) -> None:
    if got > limit + _tol(got, limit, *scale):
        fails.append(f"{what}: {got:,.6f} > {limit:,.6f}")


QUANTITIES = [
    "buy_t", "sell_t", "surrender_t", "carry_t", "lapse_t", "shortfall_t", "ccer_buy_t",
    "ccer_sell_t", "ccer_use_pool_t", "ccer_hold_t", "abatement_measures_t", "relief_t", "borrow_t",
    "auction_buy_t", "opening_sell_t", "opening_lapse_t",
]


COMPONENTS = ["abatement", "capex", "opex", "purchase", "fees", "ccer", "penalty", "sales", "terminal"]
"""The entity cost components, named here rather than read from ``models.entity``: the checker
imports nothing of the model (tests/unit/test_formulation.py)."""


def _atol(*xs) -> np.ndarray:
    """``_tol`` element-wise (NaN ignored, as Python's ``max`` ignores it there)."""
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
        bad = mask & ~_isclose(got, want, _atol(got, want, *scale))
        for at in zip(*np.nonzero(bad), strict=True):
            self.add(key(*at), f"{what(*at)}: {float(got[at]):,.6f} != {float(want[at]):,.6f}")

    def le(self, key, mask, what, got, limit, *scale) -> None:
        got = np.broadcast_to(np.asarray(got, dtype=float), mask.shape)
        limit = np.broadcast_to(np.asarray(limit, dtype=float), mask.shape)
        with np.errstate(invalid="ignore"):
            bad = mask & (got > limit + _atol(got, limit, *scale))
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


def table_rows(df: pd.DataFrame, cols: tuple[str, ...]):
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


def check_plan(data: ModelData, plan, *, objective: float | None = None) -> list[str]:
    """Check one entity's plan (or the entity tables of a group without its links): a list of
    failures, empty when the plan is consistent with every rule."""
    fails, A = check_entities(data, plan)
    return fails + check_costs(data, plan, objective, A) + check_round_trips(data, plan.annual, plan.summary)


def check_group(data: ModelData, gplan, *, objective: float | None = None) -> list[str]:
    """Check a group plan: every entity as in ``check_plan``, then the links, from result tables only.

    Links: trades split into market and intra-group parts within the entity's own market limits;
    transfers net to zero in every year (and, for block trades, every transfer is at least the
    minimum lot between an allowed pair); the CCER pool adds up; group limits, price tiers and the
    budget hold; the objective equals the discounted entity costs plus the link costs.
    """
    g = data.group
    plan = gplan.entities
    excl = g is not None and g.transfers != "none" and not g.transfers_in_net_sales
    fails, A = check_entities(data, plan, ns_excludes_transfers=excl)
    if g is None:
        return fails + check_costs(data, plan, objective, A) + check_round_trips(data, plan.annual, gplan.summary)
    scale = max([1.0] + [max(e.emissions_baseline_t) for e in data.entities])
    years = list(data.years)
    price = {y: g.transfer_price_cny_per_t[i] for i, y in enumerate(years)} if g.transfer_price_cny_per_t else {}
    fails += _check_entity_links(data, A, scale)
    check_transfer_nets(fails, data, gplan, scale)
    fails += _check_transfer_matrix(data, gplan.transfers, A, scale)
    link_npv = check_group_years(fails, data, gplan, scale, price)
    fails += check_costs(data, plan, objective, A, link_npv=link_npv)
    return fails + check_round_trips(data, plan.annual, gplan.summary)


def _check_entity_links(data: ModelData, A: _Cols, scale: float) -> list[str]:
    """Each entity-year of a group: trades split into market and intra-group parts, not negative,
    the market parts within the entity's own market limits; no transfers where the group has none."""
    g = data.group
    ids = [d.id for d in data.entities]
    nk = len(ids)
    links = _Fails()
    allk = np.ones(nk, dtype=bool)
    tl = float(_tol(scale))
    for i, y in enumerate(data.years):
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
    return links.sorted()


def _check_transfer_matrix(data: ModelData, tr: pd.DataFrame, A: _Cols, scale: float) -> list[str]:
    """The transfer matrix delivers exactly each entity's net transfers."""
    if data.group.transfers == "none" or not len(tr):
        return []
    ids = [d.id for d in data.entities]
    years = list(data.years)
    nk, ny = len(ids), len(years)
    idx = pd.MultiIndex.from_product([ids, years])
    sent = tr.groupby(["seller", "year"])["transfer_t"].sum().reindex(idx, fill_value=0.0).to_numpy(dtype=float).reshape(nk, ny)
    got = tr.groupby(["buyer", "year"])["transfer_t"].sum().reindex(idx, fill_value=0.0).to_numpy(dtype=float).reshape(nk, ny)
    mat = _Fails()
    allk = np.ones(nk, dtype=bool)
    for i, y in enumerate(years):
        mat.close(lambda k, i=i: (k, i), allk, lambda k, y=y: f"{ids[k]} {y}: transfer matrix vs net transfers",
                  sent[:, i] - got[:, i], A["transfer_out_t"][:, i] - A["transfer_in_t"][:, i], scale)
    return mat.sorted()


@dataclass
class _Entities:
    """What the entity checks read: the two axes, the annual table as entity x year arrays, which
    entities lack rows (their other checks are skipped), each entity's scale, and the failures."""

    f: _Fails
    ents: list
    ids: list[str]
    pos: dict[str, int]
    years: list[int]
    ypos: dict[int, int]
    A: _Cols
    missing: np.ndarray
    scale: np.ndarray

    @property
    def active(self) -> np.ndarray:
        return ~self.missing

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.ents), len(self.years)


def check_entities(data: ModelData, plan, *, ns_excludes_transfers: bool = False) -> tuple[list[str], _Cols]:
    """Every entity's own checks (signs, abatement, projects, CCER lots, the ledger year by year,
    and the missing-years message); returns the failures and the annual table as entity x year
    arrays (what the cost and group checks read)."""
    ents, ids, pos, years, ypos = _axes(data)
    A, missing = _annual_arrays(plan.annual, ids, years)
    scale = np.array([max(d.emissions_baseline_t) if d.emissions_baseline_t else 1.0 for d in ents])
    c = _Entities(_Fails(), ents, ids, pos, years, ypos, A, missing, scale)
    for k in np.flatnonzero(missing):
        c.f.add((k, -1), f"{ids[k]}: the annual table lacks some years")
    _check_signs(c)
    lost = _check_measures(c, plan.abatement)
    by_measure = _sum_by(plan.abatement, "abate_t", ids, years)
    proj_red = _check_projects(c, plan.builds, plan.project_years)
    lot_by_year = _check_lots(c, plan.ccer_lots)
    _check_ledger(c, by_measure, proj_red, lost, lot_by_year, ns_excludes_transfers)
    return c.f.sorted(), A


def _check_signs(c: _Entities) -> None:
    """No negative quantity in the annual table."""
    for qn, q in enumerate(QUANTITIES):
        v = c.A[q]
        bad = c.active[:, None] & (v < -_atol(c.scale)[:, None])
        for k, i in zip(*np.nonzero(bad), strict=True):
            c.f.add((k, 0, qn, i), f"{c.ids[k]} {c.years[i]}: {q} is negative ({v[k, i]:,.6f})")


def _check_measures(c: _Entities, ab: pd.DataFrame) -> np.ndarray:
    """Abatement by measure within its potential and not negative (row by row, in the table's
    order); returns the allocation lost to output cuts, entity x year."""
    lost = np.zeros(c.shape)
    if ab.empty:
        return lost
    ids, pos, ypos = c.ids, c.pos, c.ypos
    ak = np.array([pos[e] for e in ab["entity"].tolist()], dtype=np.int64)
    ai = np.array([ypos[y] for y in ab["year"].tolist()], dtype=np.int64)
    mids, abate = ab["measure"].tolist(), ab["abate_t"].to_numpy(dtype=float)
    mdata = {(d.id, m.id): m for d in c.ents for m in d.measures}
    pot = np.array([mdata[(ids[k], m)].potential_t[i] for k, m, i in zip(ak, mids, ai, strict=True)], dtype=float)
    sc = c.scale[ak]
    rows = np.arange(len(ab))
    act = c.active[ak]
    with np.errstate(invalid="ignore"):
        over = act & (abate > pot + _atol(abate, pot, sc))
        neg = act & (abate < -_atol(sc))
    for j in np.flatnonzero(over | neg):
        tag = f"{ids[ak[j]]} {ab['year'].iat[j]}: measure {mids[j]}"
        if over[j]:
            c.f.add((ak[j], 1, rows[j], 0), f"{tag} abatement vs potential: {float(abate[j]):,.6f} > {float(pot[j]):,.6f}")
        if neg[j]:
            c.f.add((ak[j], 1, rows[j], 1), f"{tag} abatement is negative")
    # allocation lost to output cuts, accumulated in the table's order
    loss = np.array([(mdata[(ids[k], m)].allocation_loss_t_per_t[i] if mdata[(ids[k], m)].allocation_loss_t_per_t else 0.0)
                     for k, m, i in zip(ak, mids, ai, strict=True)], dtype=float)
    has = np.array([bool(mdata[(ids[k], m)].allocation_loss_t_per_t) for k, m in zip(ak, mids, strict=True)])
    np.add.at(lost, (ak[has], ai[has]), loss[has] * abate[has])
    return lost


def _check_projects(c: _Entities, builds: pd.DataFrame, project_years: pd.DataFrame) -> np.ndarray:
    """Projects built once, at an allowed start, their operating years following from the builds;
    returns the reduction the built projects deliver, entity x year."""
    proj_red = np.zeros(c.shape)
    want_ops = np.zeros(c.shape)
    pos, ypos = c.pos, c.ypos
    # (builds grouped by entity, first seen first, and counted by project as groupby would; the
    # operating years counted per entity and year)
    built_by: dict[str, list[tuple]] = {}
    for e, p, s in table_rows(builds, ("entity", "project", "build_year")):
        if not pd.isna(e):
            built_by.setdefault(e, []).append((p, s))
    listed = np.zeros(c.shape, dtype=np.int64)
    for e, y in table_rows(project_years, ("entity", "year")):
        if e in pos and y in ypos:
            listed[pos[e], ypos[y]] += 1
    for e, rows in built_by.items():
        k = pos.get(e)
        if k is None or c.missing[k]:
            continue
        projects = {p.id: p for p in c.ents[k].projects}
        times: dict = {}
        for p, _ in rows:
            if not pd.isna(p):
                times[p] = times.get(p, 0) + 1
        for j, p in enumerate(sorted(times)):
            if times[p] > 1:
                c.f.add((k, 2, j), f"{e}: project {p} is built {times[p]} times")
        for j, (p, s) in enumerate(rows):
            opts = {o.build_year: o for o in projects[p].options}
            if int(s) not in opts:
                c.f.add((k, 3, j), f"{e}: project {p} cannot start in {s}")
                continue
            op = np.array(opts[int(s)].operating, dtype=float)
            proj_red[k] += op * projects[p].reduction_t_per_year
            want_ops[k] += op
    bad_ops = c.active & ~(listed == want_ops).all(axis=1)
    c.f.flag(lambda k: (k, 4), bad_ops,
             lambda k: f"{c.ids[k]}: project operating years do not follow from the builds, lead times and lifetimes")
    return proj_red


def _check_lots(c: _Entities, lots: pd.DataFrame) -> np.ndarray:
    """CCER lots used within their quantities and eligible years; returns the lots' use, entity x year."""
    lot_by_year = _sum_by(lots, "ccer_use_lot_t", c.ids, c.years)
    if lots.empty:
        return lot_by_year
    for e, by_lot in _lot_groups(lots).items():
        k = c.pos.get(e)
        if k is None or c.missing[k]:
            continue
        lot_data = {lot.id: lot for lot in c.ents[k].ccer_lots}
        for j, lid in enumerate(sorted(by_lot)):
            ys, vals = by_lot[lid]
            used, qty = _series_sum(vals), lot_data[lid].quantity_t
            if used > qty + float(_atol(used, qty, c.scale[k])):
                c.f.add((k, 5, j, -1), f"{e}: CCER lot {lid} used over all years vs its quantity: {used:,.6f} > {qty:,.6f}")
            for m, (y, v) in enumerate(zip(ys, vals.tolist(), strict=True)):
                if v > float(_atol(c.scale[k])) and not lot_data[lid].eligible[c.ypos[int(y)]]:
                    c.f.add((k, 5, j, m), f"{e} {y}: CCER lot {lid} used outside its eligible years")
    return lot_by_year


def _opening_and_running(c: _Entities, ns_excludes_transfers: bool):
    """The opening holdings through their transitions, entity by entity (``check_opening``: a few
    steps each), then the stocks each year starts with (last year's carry, CCER holdings and
    shortfall, from the table) and the running sums accumulated year by year (net sales,
    new-system CCERs): (carry_prev, ccer_prev, short_prev, ns_y, ccer_new_y), entity x year."""
    ents, A, years = c.ents, c.A, c.years
    nk, ny = c.shape

    def prev(col: str, opening) -> np.ndarray:
        return np.column_stack([np.asarray(opening, dtype=float), A[col][:, :-1]])

    carried_in = np.array([d.opening_cea_t for d in ents], dtype=float)
    ns = _col(ents, "opening_net_sales_t", float)
    o_sell, o_lapse, o_limit = A["opening_sell_t"], A["opening_lapse_t"], A["opening_carry_limit_t"]
    for k in np.flatnonzero(c.active):
        out: list[str] = []
        carried_in[k], ns[k] = check_opening(out, ents[k], years, o_sell[k].tolist(), o_lapse[k].tolist(),
                                             float(o_limit[k, 0]), float(c.scale[k]))
        for j, msg in enumerate(out):
            c.f.add((k, 6, -1, j), msg)
    old = np.array([[bool(d.ccer_buy_old and d.ccer_buy_old[i]) for i in range(ny)] for d in ents], dtype=bool)
    auc_ns = _col(ents, "auction_in_net_sales", bool)
    ccer_new = _col(ents, "opening_ccer_t", float)
    ns_y, ccer_new_y = np.empty((nk, ny)), np.empty((nk, ny))
    for i in range(ny):
        ccer_new = np.where(old[:, i], ccer_new, ccer_new + A["ccer_buy_t"][:, i])
        ns = ns + (A["sell_t"][:, i] - A["buy_t"][:, i] - np.where(auc_ns, A["auction_buy_t"][:, i], 0.0))
        if ns_excludes_transfers:
            ns = ns - (A["transfer_out_t"][:, i] - A["transfer_in_t"][:, i])
        ns_y[:, i], ccer_new_y[:, i] = ns, ccer_new
    return (prev("carry_t", carried_in), prev("ccer_hold_t", [d.opening_ccer_t for d in ents]),
            prev("shortfall_t", np.zeros(nk)), ns_y, ccer_new_y)


def _check_ledger(c: _Entities, by_measure, proj_red, lost, lot_by_year, ns_excludes_transfers: bool) -> None:
    """The ledger of every entity-year at once: emissions, allocation and relief, obligation,
    pre-draw, auctions, CCER use and cap, the allowance and CCER balances, trade limits, net sales
    and the carry-over limits. Failures keep the per-year keys (entity, 6, year, check)."""
    ents, ids, years, A = c.ents, c.ids, c.years, c.A
    nk, ny = c.shape
    carry_prev, ccer_prev, short_prev, ns_y, ccer_new_y = _opening_and_running(c, ns_excludes_transfers)
    limited = np.array([[r.limited for r in d.carry_rules] for d in ents], dtype=bool)
    src = _col(ents, "borrow_source_index")
    expiry = _col(ents, "ccer_old_expiry_index")
    min_gap = _col(ents, "borrow_min_gap_share", float)
    total_borrow = np.array([_series_sum(A["borrow_t"][k]) for k in range(nk)])
    yi = np.arange(ny)
    sc, tl2 = c.scale[:, None], _atol(c.scale)[:, None]
    m = np.broadcast_to(c.active[:, None], (nk, ny))
    f = c.f

    def key(n):
        return lambda k, i: (k, 6, i, n)

    def tag(text):
        return lambda k, i: f"{ids[k]} {years[i]}: {text}"

    n = iter(range(100))
    f.close(key(next(n)), m, tag("measure abatement total"), A["abatement_measures_t"], by_measure, sc)
    f.close(key(next(n)), m, tag("project abatement"), A["abatement_projects_t"], proj_red, sc)
    emissions = _col(ents, "emissions_baseline_t", float) - by_measure - proj_red
    f.close(key(next(n)), m, tag("emissions = baseline - abatement"), A["emissions_t"], emissions, sc)
    f.flag(key(next(n)), m & (emissions < -tl2), tag("abatement exceeds baseline emissions"))
    bench = _col(ents, "allocation_t", float) - lost
    f.close(key(next(n)), m, tag("allocation before relief = formula - output cuts"), A["allocation_benchmark_t"], bench, sc)
    share = _col(ents, "relief_share", float)
    rta = _col(ents, "relief_to_allocation", bool)
    relief = np.where(share > 0, np.maximum(0.0, share * emissions - bench), 0.0)
    f.close(key(next(n)), m, lambda k, i: f"{ids[k]} {years[i]}: relief = max(0, {share[k, i]:g} x emissions - allocation)",
            A["relief_t"], relief, sc)
    repaid = np.where(src[:, None] == yi[None, :], total_borrow[:, None], 0.0)
    allocation = bench + np.where(rta, relief, 0.0) - repaid
    f.close(key(next(n)), m, tag("allocation received"), A["allocation_t"], allocation, sc)
    obligation = emissions - np.where(rta, 0.0, relief)
    f.close(key(next(n)), m, tag("obligation"), A["obligation_t"], obligation, sc)
    phi = _per_year(ents, "borrow_share", ny)
    bt = A["borrow_t"]
    f.flag(key(next(n)), m & (bt < -tl2), tag("pre-draw is negative"))
    pd_on = m & (bt > tl2)
    gap = emissions - bench - relief
    f.flag(key(next(n)), pd_on & (phi <= 0), lambda k, i: f"{ids[k]} {years[i]}: pre-draw of {bt[k, i]:,.0f} t in a year without the pre-draw rule")
    f.le(key(next(n)), pd_on, lambda k, i: f"{ids[k]} {years[i]}: pre-draw vs {phi[k, i]:.0%} of the gap", bt, phi * gap, sc)
    f.le(key(next(n)), pd_on, lambda k, i: f"{ids[k]} {years[i]}: pre-draw needs a gap of at least {min_gap[k]:.0%} of emissions",
         min_gap[:, None] * emissions, gap, sc)
    f.le(key(next(n)), m, tag("auction purchase vs auctioned share"), A["auction_buy_t"], _per_year(ents, "auction_max_t", ny), sc)
    f.flag(key(next(n)), m & (A["auction_buy_t"] < -tl2), tag("auction purchase is negative"))
    ccer = A["ccer_use_pool_t"] + lot_by_year
    f.close(key(next(n)), m, tag("CCER surrendered = pool + lots"), A["ccer_surrendered_t"], ccer, sc)
    deduction = np.where(_col(ents, "shortfall_deducted_next_year", bool)[:, None], short_prev, 0.0)
    f.close(key(next(n)), m, tag("surrender + CCER + shortfall = obligation + last year's deducted shortfall"),
            A["surrender_t"] + ccer + A["shortfall_t"], obligation + deduction, sc)
    lhs = carry_prev + allocation + A["buy_t"] + A["auction_buy_t"] + A["borrow_t"] - A["sell_t"]
    f.close(key(next(n)), m, tag("allowance stock balance"), lhs, A["surrender_t"] + A["carry_t"] + A["lapse_t"], sc)
    f.close(key(next(n)), m, tag("CCER pool balance"), ccer_prev + A["ccer_buy_t"] - A["ccer_sell_t"],
            A["ccer_use_pool_t"] + A["ccer_hold_t"], sc)
    base = np.where(_col(ents, "ccer_cap_on_obligation", bool)[:, None], obligation, emissions)
    cs = _col(ents, "ccer_cap_share", float)
    f.le(key(next(n)), m, lambda k, i: f"{ids[k]} {years[i]}: CCER within {cs[k, i]:.1%} cap", ccer, cs * base, sc)
    f.le(key(next(n)), m, tag("CEA bought vs limit"), A["buy_t"], _col(ents, "buy_max_t", float), sc)
    f.le(key(next(n)), m, tag("CEA sold vs limit"), A["sell_t"], _col(ents, "sell_max_t", float), sc)
    f.le(key(next(n)), m, tag("CCER bought vs availability"), A["ccer_buy_t"], _col(ents, "ccer_buy_max_t", float), sc)
    f.le(key(next(n)), m, tag("CCER sold vs limit"), A["ccer_sell_t"], _col(ents, "ccer_sell_max_t", float), sc)
    f.le(key(next(n)), m & (expiry[:, None] == yi[None, :]), tag("CCERs held past the old-CCER last use are new-system ones"),
         A["ccer_hold_t"], ccer_new_y, sc)
    allowed = _col(ents, "shortfall_allowed", bool)
    f.le(key(next(n)), m & ~allowed[:, None], tag("shortfall under hard compliance"), A["shortfall_t"], 0.0, sc)
    f.close(key(next(n)), m, tag("cumulative net sales"), A["net_sales_t"], ns_y, sc)
    # the rule's own limit at the plan's net sales (``CarryRule.limit_at``: the data's statement of
    # the rule, not the model's rows), so a new kind of rule is restated in one place
    limit = np.array([[r.limit_at(float(ns_y[k, i])) if r.limited else 0.0 for i, r in enumerate(d.carry_rules)]
                      for k, d in enumerate(ents)], dtype=float).reshape(nk, ny)
    f.le(key(next(n)), m & limited, tag("carry-over vs limit"), A["carry_t"], limit, sc, ns_y)
    f.close(key(next(n)), m & limited, tag("reported carry-over limit = the rule at the net sales"), A["carry_limit_t"], limit, sc, ns_y)
    f.flag(key(next(n)), m & ~limited & (A["lapse_t"] > tl2), tag("allowances lapse at a transition without a limit"))
    cl = A["carry_limit_t"]
    f.flag(key(next(n)), m & ~limited & (cl != np.inf),
           lambda k, i: f"{ids[k]} {years[i]}: a carry-over limit of {cl[k, i]:,.0f} t is reported at a transition without one")


def _rule_limit(rule, ns: float) -> float:
    return rule.limit_at(ns)


def check_opening(f: list[str], d: EntityData, years: list[int], sold_by_year: list[float], lapsed_by_year: list[float],
                  reported_limit: float, scale: float) -> tuple[float, float]:
    """The opening holdings through the transitions between their vintages and the first year
    (rules.md §14): each limits the vintages up to its year to its rule at the opening net sales, the
    excess lapses; when the position is before the last one, the plan may sell before it (raising
    the net sales) and carries at most that transition's limit. ``sold_by_year``, ``lapsed_by_year``:
    the annual table's ``opening_sell_t`` and ``opening_lapse_t``; ``reported_limit``: its first
    ``opening_carry_limit_t``. Returns (holdings carried into the first year, net sales after the
    opening sales)."""
    first = years[0]
    tag = f"{d.id} {first}"
    sold, lapsed = float(sold_by_year[0]), float(lapsed_by_year[0])
    for y, s_, x_ in zip(years[1:], sold_by_year[1:], lapsed_by_year[1:], strict=True):
        if abs(float(s_)) > _tol(scale) or abs(float(x_)) > _tol(scale):
            f.append(f"{d.id} {y}: opening sales or lapse reported after the first year")
    ns0 = d.opening_net_sales_t
    steps = list(d.opening_transitions)
    decided = d.opening_sell_max_t > 0 and bool(steps)
    held = fixed = 0.0
    for t in steps[:-1] if decided else steps:
        held += t.entering_t
        cap = _rule_limit(t.rule, ns0)
        if held > cap:
            fixed += held - cap
            held = cap
    if decided:
        last = steps[-1]
        reach = held + last.entering_t
        _le(f, f"{tag}: sales before the opening transition vs the holdings it covers", sold, min(d.opening_sell_max_t, reach), scale)
        chosen = lapsed - fixed
        if chosen < -_tol(scale, fixed):
            f.append(f"{tag}: opening lapse {lapsed:,.6f} below what the earlier opening transitions take ({fixed:,.6f})")
        limit = _rule_limit(last.rule, ns0 + sold)
        _le(f, f"{tag}: opening holdings carried through the {last.year} transition vs its limit", reach - sold - chosen, limit, scale, ns0 + sold)
    else:
        if sold > _tol(scale):
            f.append(f"{tag}: opening sales of {sold:,.0f} t after the opening transition")
        _close(f, f"{tag}: opening lapse = the opening holdings above the transition limits", lapsed, fixed, scale)
    want_limit = _rule_limit(steps[-1].rule, ns0 + sold) if steps else math.inf
    _close(f, f"{tag}: reported opening carry-over limit = the rule at the opening net sales", float(reported_limit), want_limit, scale, ns0 + sold)
    return d.opening_cea_t - sold - lapsed, ns0 + sold


def check_costs(data: ModelData, plan, objective: float | None, A: dict[str, np.ndarray], *, link_npv: float = 0.0) -> list[str]:
    """Every cost component recomputed from prices and quantities, compared with the plan's cost
    table, and their discounted sum with the objective (``A``: the annual table as entity x year
    arrays, from ``check_entities``). In a group with transfers, purchases and sales are priced on
    the market part of the trades and the intra-group part is settled at the transfer price
    (component ``transfer``); ``link_npv`` is the discounted cost of the group links, recomputed by
    the caller."""
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
    charged = allowed[:, None] & (fine > 0) & (A["shortfall_t"] > _atol(scale)[:, None])  # Order 19: fixed fine
    want["penalty"] = np.where(charged, want["penalty"] + fine, want["penalty"])
    want["sales"] = -(ps * sell_t + psc * A["ccer_sell_t"])
    # sales before the opening transition (position before it), in the first year
    want["sales"][:, 0] -= _col(ents, "price_opening_sell_cny_per_t", float) * A["opening_sell_t"][:, 0]
    want["fees"][:, 0] += _col(ents, "fee_opening_cny_per_t", float) * A["opening_sell_t"][:, 0]
    if settle:
        want["transfer"] = np.asarray(g.transfer_price_cny_per_t, dtype=float)[None, :] * (A["transfer_in_t"] - A["transfer_out_t"])
    if not plan.builds.empty:
        for e, p, s in table_rows(plan.builds, ("entity", "project", "build_year")):
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


def check_round_trips(data: ModelData, annual: pd.DataFrame, summary: dict) -> list[str]:
    """No trade that lowers no cost (``planner.solve.ties``), where the plan says its trades are the
    fewest of the optimal plans (``summary["trades_minimised"]``): in no entity-year both a
    purchase and a sale whose round trip earns nothing (sell price less fee at most the buy price
    plus fee), since cutting both by the smaller keeps every ledger row (they see only the
    difference) and costs no more.

    Checked where nothing else can force such a pair:

    - CEA bought and sold (one entity alone; in a group the purchases include transfers received,
      which a sibling without market access may force an entity to pass on, so there the market
      purchases and sales are checked, and with free transfers those received and passed on, which
      always net out; blocks of a minimum lot, with the MIP's blocks kept, can force a pair);
    - CCERs bought and sold, except in years whose purchases count as new-system CCERs before the
      old ones expire (``limit_ccer_old_expiry``: swapping old for new can be forced there).
    """
    if not summary.get("trades_minimised") or annual.empty:
        return []
    by_id = {d.id: d for d in data.entities}
    ypos = {y: i for i, y in enumerate(data.years)}
    if "market_buy_t" not in annual.columns:
        pairs = [("buy_t", "sell_t", "CEA bought", "CEA sold", "cea")]
    else:
        pairs = [("market_buy_t", "market_sell_t", "market purchases", "market sales", "cea")]
        if data.group is not None and data.group.transfers == "free":
            pairs.append(("transfer_in_t", "transfer_out_t", "transfers received", "transfers passed on", None))
    pairs.append(("ccer_buy_t", "ccer_sell_t", "CCER bought", "CCER sold", "ccer"))
    scale = {d.id: max(d.emissions_baseline_t) if d.emissions_baseline_t else 1.0 for d in data.entities}
    tol = np.array([_tol(scale.get(e, 1.0)) for e in annual["entity"].tolist()])
    hits: list[tuple[int, int]] = []  # (row, pair) where both legs of a pair are positive, in table order
    for k, (q_in, q_out, *_) in enumerate(pairs):
        both = (annual[q_in].to_numpy(dtype=float) > tol) & (annual[q_out].to_numpy(dtype=float) > tol)
        hits += [(int(j), k) for j in np.flatnonzero(both)]
    fails: list[str] = []
    for j, k in sorted(hits):
        q_in, q_out, what_in, what_out, kind = pairs[k]
        e, y = annual["entity"].iat[j], int(annual["year"].iat[j])
        d = by_id.get(e)
        if d is None or y not in ypos:
            continue
        i = ypos[y]
        if kind == "cea":
            buy, sell, fee = d.price_buy_cny_per_t[i], d.price_sell_cny_per_t[i], d.fee_cea_cny_per_t[i]
        elif kind == "ccer":
            buy, sell, fee = d.price_ccer_buy_cny_per_t[i], d.price_ccer_sell_cny_per_t[i], d.fee_ccer_cny_per_t[i]
            if i <= d.ccer_old_expiry_index and d.ccer_buy_old and not d.ccer_buy_old[i]:
                continue
        else:
            buy = sell = fee = 0.0
        if sell - fee <= buy + fee:
            fails.append(f"{e} {y}: {what_in} {annual[q_in].iat[j]:,.6f} t and {what_out} {annual[q_out].iat[j]:,.6f} t in the "
                         "same year, though the round trip lowers no cost: the plan's trades are not the fewest at its cost")
    return fails


def check_transfer_nets(fails: list[str], data: ModelData, gplan, scale: float) -> None:
    """Transfers net to zero over the group in every year; block transfers are at least the
    minimum lot, between pairs that may trade."""
    g = data.group
    by_year = gplan.entities.annual.groupby("year")
    tin = by_year["transfer_in_t"].sum()
    tout = by_year["transfer_out_t"].sum()
    for y in data.years:
        _close(fails, f"group {y}: transfers net to zero (in = out)", float(tin[y]), float(tout[y]), scale)
    if g.transfers == "block":
        ents = data.entities
        allowed = set(g.transfer_pairs) or {(s.id, b.id) for s in ents for b in ents if s.id != b.id}
        for r in gplan.transfers.itertuples(index=False):
            if r.transfer_t > _tol(scale) and r.transfer_t < g.transfer_min_lot_t - _tol(scale, g.transfer_min_lot_t):
                fails.append(f"{r.seller} -> {r.buyer} {r.year}: block transfer {r.transfer_t:,.3f} t below the {g.transfer_min_lot_t:,.0f} t lot")
            if (r.seller, r.buyer) not in allowed:
                fails.append(f"{r.seller} -> {r.buyer} {r.year}: transfer between a pair that may not trade")


def check_group_years(fails: list[str], data: ModelData, gplan, scale: float, price: dict[int, float]) -> float:
    """The group's own rules per year, from the result tables: group market limits, price-tier
    premiums (recomputed by filling the tiers in order), the CCER pool's balance, availability and
    cost, the internal settlement of transfers netting to zero, and the budget. Returns the
    discounted link costs (pool and tiers) recomputed."""
    g = data.group
    years = list(data.years)
    plan = gplan.entities
    by_year = plan.annual.groupby("year")
    tin = by_year["transfer_in_t"].sum()
    tout = by_year["transfer_out_t"].sum()
    link_npv = 0.0
    mbuy = by_year["market_buy_t"].sum()
    msell = by_year["market_sell_t"].sum()
    pool = gplan.group_annual.set_index("year") if g.pool else None
    tiers = gplan.group_costs.set_index(["year", "component"])["nominal_cny"]
    allocated_by = by_year["ccer_buy_t"].sum() if g.pool else None
    cash_by = (plan.costs[plan.costs["component"] != "terminal"].groupby("year")["nominal_cny"].sum()
               if g.budget_cny else None)
    for i, y in enumerate(years):
        if g.group_buy_max_t:
            _le(fails, f"group {y}: market purchases vs group limit", float(mbuy[y]), g.group_buy_max_t[i], scale)
        if g.group_sell_max_t:
            _le(fails, f"group {y}: market sales vs group limit", float(msell[y]), g.group_sell_max_t[i], scale)
        # price tiers: a convex curve, so the cheapest split fills the tiers in order
        left, want_tiers = float(mbuy[y]), 0.0
        for t in g.tiers:
            q = min(left, t.width_t)
            want_tiers += t.premium_cny_per_t * q
            left -= q
        got_tiers = float(tiers.get((y, "tiers"), 0.0))
        if not math.isclose(got_tiers, want_tiers, rel_tol=1e-7, abs_tol=1e-3):
            fails.append(f"group {y}: price-tier premium {got_tiers:,.2f} != recomputed {want_tiers:,.2f}")
        want_pool = 0.0
        if g.pool:
            r = pool.loc[y]
            prev = g.pool_opening_t if i == 0 else float(pool.loc[years[i - 1], "pool_hold_t"])
            allocated = float(allocated_by.get(y, 0.0))
            _close(fails, f"group {y}: CCER pool: held + bought = allocated + held after", prev + r.pool_buy_t, allocated + r.pool_hold_t, scale)
            _le(fails, f"group {y}: CCER pool purchases vs availability", r.pool_buy_t, g.pool_max_t[i], scale)
            if r.pool_hold_t < -_tol(scale):
                fails.append(f"group {y}: CCER pool holdings are negative")
            want_pool = (g.pool_price_cny_per_t[i] + g.pool_fee_cny_per_t[i]) * r.pool_buy_t
            if y == years[-1]:
                want_pool -= g.pool_terminal_cny_per_t * r.pool_hold_t
        got_pool = float(tiers.get((y, "pool"), 0.0))
        if not math.isclose(got_pool, want_pool, rel_tol=1e-7, abs_tol=1e-3):
            fails.append(f"group {y}: pool cost {got_pool:,.2f} != recomputed {want_pool:,.2f}")
        settled = price.get(y, 0.0) * float(tin[y] - tout[y])
        if abs(settled) > _tol(scale * max(price.values(), default=1.0)):
            fails.append(f"group {y}: internal settlement of transfers does not net to zero ({settled:,.2f} CNY)")
        link_npv += data.discount_factor[i] * (want_pool + want_tiers)
        if g.budget_cny and math.isfinite(g.budget_cny[i]):
            cash = float(cash_by.get(y, 0.0))
            if g.pool:
                cash += (g.pool_price_cny_per_t[i] + g.pool_fee_cny_per_t[i]) * float(pool.loc[y, "pool_buy_t"])
            cash += want_tiers
            _le(fails, f"group {y}: cash cost vs budget", cash, g.budget_cny[i], abs(g.budget_cny[i]))
    return link_npv
