"""A national fleet calibrated to published aggregates, for the market simulation.

The fleet is built from representative entities: each stands for ``cluster`` identical covered
entities, so its activity, allocation, abatement potential and carry-over base are ``cluster`` times
one entity's. For a convex market (an LP: no net-sales floor binaries) this aggregation is exact: the
market with ``cluster`` identical copies has an optimal solution in which the copies do the same, and
it is the representative's solution divided by ``cluster`` (same prices). With the net-sales floor
(a MIP), copies could choose different regimes; the representative then makes one choice for all of
them, a restriction the output states.

Power plants come from ``planner.testing.fleet.generate_fleet`` (benchmark classes, sizes, running
hours, intensities spread around the official allocation formula so that about 40% are long, MAC
curves of two or three steps at 20-60 CNY/t plus 40 a step, each 0.4-1.5% of emissions a year), scaled
so that the fleet's emissions are the calibration target, and a deep step at 200-400 CNY/t for 5-10%
of emissions (``_deep_step``). Industrial entities (steel, cement,
aluminium) get intensities spread around a sector reference (allocation = output x reference,
"roughly neutral" for each sector, rules.md R4.3, §14) and MAC steps drawn the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.testing.fleet import generate_fleet

SECTORS = {
    # unit class, reference intensity (t CO2 / t product, direct emissions; an assumption where no
    # benchmark was published, rules.md R4.3), intensity spread (s.d. of the relative deviation)
    "steel": ("steel_bf_bof", 1.75, 0.04),
    "cement": ("cement_clinker", 0.85, 0.03),
    "aluminium": ("aluminium_electrolysis", 1.6, 0.05),
}


@dataclass(frozen=True)
class SectorTarget:
    """One sector's calibration target: how many entities, how much emissions."""

    entities: int
    """Covered entities of the sector."""
    emissions_t: float
    """Covered emissions of the sector in the first year (t CO2 a year)."""


@dataclass(frozen=True)
class FleetCalibration:
    """What the fleet is calibrated to (the case's ``fleet`` section)."""

    power: SectorTarget
    industry: dict[str, SectorTarget] = field(default_factory=dict)
    cluster: int = 10
    """Identical entities per representative entity."""
    seed: int = 0
    output_growth: float = 0.0
    """Added to every entity's output growth per year (power plants draw their own within +-1%)."""
    ccer_price_cny_per_t: float = 80.0


def _deep_step(pid: str, emissions: float, rng) -> dict[str, Any]:
    """A dear, deep step at the end of every entity's MAC curve (co-firing, fuel switch, process change,
    output shifted to cleaner plants): 200-400 CNY/t for 5-10% of its emissions a year. Illustrative,
    like the other steps; without it a tightening of a few percent a year leaves no way to comply but
    the fine, and the price jumps to the fine's level."""
    return {"entity": pid, "id": f"{pid}-deep", "cost_cny_per_t": round(float(rng.uniform(200, 400)), 1),
            "potential_t_per_year": round(float(rng.uniform(0.05, 0.10)) * emissions, -2)}


def _reps(n: int, cluster: int) -> tuple[int, float]:
    r = max(1, round(n / cluster))
    return r, n / r


def national_rows(cal: FleetCalibration, first_year: int) -> tuple[list[dict], list[dict], list[dict]]:
    """Rows of the plants table, of the measures table, and the calibration table (one per sector:
    target and built entities and emissions, representatives, entities per representative)."""
    plants: list[dict[str, Any]] = []
    measures: list[dict[str, Any]] = []
    calib: list[dict[str, Any]] = []
    r, k = _reps(cal.power.entities, cal.cluster)
    # intensities are spread around the generation-basis benchmarks, published from 2023 (R3.10)
    fleet = generate_fleet(r, cal.seed, first_year=max(first_year, 2023), gas_measures=False)
    emis = sum(p["output"] * p["intensity_t_per_unit"] for p in fleet.plants)
    s = cal.power.emissions_t / emis
    for p in fleet.plants:
        q = dict(p)
        q["output"] = p["output"] * s
        q["opening_cea_t"] = p["opening_cea_t"] * s
        q["net_sales_since_2019_t"] = p["net_sales_since_2019_t"] * s
        q["output_growth"] = p["output_growth"] + cal.output_growth
        q["name"] = f"{p['unit_class']} plants x {k:.1f} (representative {p['id']})"
        q["_per"] = k
        plants.append(q)
    for m in fleet.measures:
        measures.append({**m, "potential_t_per_year": m["potential_t_per_year"] * s})
    deep = np.random.default_rng(cal.seed + 2)
    for q in plants:
        measures.append(_deep_step(q["id"], q["output"] * q["intensity_t_per_unit"], deep))
    calib.append({"sector": "power", "entities": cal.power.entities, "representatives": r, "entities_per_representative": k,
                  "emissions_target_t": cal.power.emissions_t, "scale_applied": s})
    rng = np.random.default_rng(cal.seed + 1)
    for sector, tgt in cal.industry.items():
        cls, ref, sd = SECTORS[sector]
        r, k = _reps(tgt.entities, cal.cluster)
        size = rng.lognormal(0.0, 0.6, size=r)
        size = size / size.sum() * tgt.emissions_t
        for i in range(r):
            d = float(np.clip(rng.normal(0.0, sd), -3 * sd, 3 * sd))
            inten = round(ref * (1 + d), 5)
            pid = f"{sector[:2].upper()}{i + 1:04d}"
            e = float(size[i])
            plants.append({
                "id": pid, "name": f"{sector} entities x {k:.1f} (representative {pid})", "sector": "industry",
                "unit_class": cls, "output": e / inten, "intensity_t_per_unit": inten,
                "output_growth": cal.output_growth, "opening_cea_t": 0.0, "net_sales_since_2019_t": 0.0, "_per": k,
                "_reference": ref,
            })
            for j in range(int(rng.integers(2, 4))):
                measures.append({"entity": pid, "id": f"{pid}-m{j + 1}",
                                 "cost_cny_per_t": round(float(rng.uniform(20, 60) + 40 * j), 1),
                                 "potential_t_per_year": round(float(rng.uniform(0.004, 0.015)) * e, -2)})
            measures.append(_deep_step(pid, e, rng))
        calib.append({"sector": sector, "entities": tgt.entities, "representatives": r, "entities_per_representative": k,
                      "emissions_target_t": tgt.emissions_t, "scale_applied": 1.0})
    return plants, measures, calib


AUX_SHARE = {"coal": 0.055, "gas": 0.025}
"""Own use (厂用电率) of a plant's gross generation, for the supply-basis formulas of 2019-2022: about
5-6% for coal and 2-3% for gas plants in China (an assumption of the fleet, not a rule)."""

BASE_KEYS = ("carryover.legacy.base_t.power", "carryover.legacy.base_t.industry",
             "carryover.post_legacy.base_t.power", "carryover.post_legacy.base_t.industry")
"""Per-entity carry-over bases: a representative of k entities carries k times one entity's base
(its fixed fines, per entity too, are scaled after preparation: ``scale_fixed``)."""


def national_group(cal: FleetCalibration, years: list[int], *, reference_price: list[float], overrides: dict[str, Any],
                   discount_rate: float, group_id: str = "market"):
    """The fleet as a ``GroupCaseSpec`` (entities through the entity schema), the calibration rows, and
    the entities each representative stands for (by id)."""
    from planner.input.group_schema import GroupCaseSpec, case_from_row
    from planner.input.read import parse_case
    from planner.input.rulepack import load_rule_pack

    plants, measures, calib = national_rows(cal, years[0])
    pack = load_rule_pack("cn-national", overrides)
    by_plant: dict[str, list[dict[str, Any]]] = {}
    for m in measures:
        by_plant.setdefault(m["entity"], []).append({k: v for k, v in m.items() if k != "entity"})
    market = [{"year": y, "cea_buy_cny_per_t": reference_price[i], "cea_spread_cny_per_t": 0.0,
               "ccer_cny_per_t": cal.ccer_price_cny_per_t, "ccer_available_t": 0.0} for i, y in enumerate(years)]
    cases = []
    weights: dict[str, float] = {}
    for row in plants:
        per = row.pop("_per")
        weights[row["id"]] = per
        ref = row.pop("_reference", None)
        ov = dict(overrides)
        for key in BASE_KEYS:
            ov[key] = float(pack[key]) * per
        defaults: dict[str, Any] = {
            "allocation": {"method": "benchmark"},
            "market": market,
            "finance": {"discount_rate": discount_rate, "terminal_value": "zero"},
            "policy": {"compliance": "penalty", "overrides": ov},
        }
        if ref is not None:
            defaults["allocation"]["benchmarks"] = [{"year": y, "output_t_per_unit": ref} for y in years if y <= 2026] or \
                [{"year": years[0], "output_t_per_unit": ref}]
            row.pop("net_sales_since_2019_t", None)
        activity = None
        if row["sector"] == "power" and years[0] < 2023:
            # the 2019-2022 formulas allocate on net supply: gross generation less own use
            own = AUX_SHARE["gas" if row["unit_class"] == "gas" else "coal"]
            g = row.get("output_growth", 0.0)
            activity = [{"year": y, "output": row["output"] * (1 + g) ** i, "supply_mwh": row["output"] * (1 + g) ** i * (1 - own),
                         "intensity_t_per_unit": row["intensity_t_per_unit"]} for i, y in enumerate(years)]
        d = case_from_row(row, years, defaults, activity, by_plant.get(row["id"]))
        cases.append(parse_case(d, f"market fleet entity {row['id']}"))
    spec = GroupCaseSpec.model_validate({
        "group": {"id": group_id, "horizon": {"first_year": years[0], "last_year": years[-1]},
                  "finance": {"discount_rate": discount_rate}},
        "entities": cases,
        "transfers": {"mode": "free"},
        "value_of_pooling": False,
    })
    return spec, calib, weights


def scale_fixed(prep, weights: dict[str, float]):
    """The prepared fleet with every representative's fixed fines (Order 19, per entity and failure)
    multiplied by the entities it stands for (the rule pack bounds the fine of one entity)."""
    from dataclasses import replace

    ents = tuple(replace(e, fine_fixed_cny=tuple(f * weights.get(e.id, 1.0) for f in e.fine_fixed_cny)) if e.fine_fixed_cny else e
                 for e in prep.data.entities)
    return replace(prep, data=replace(prep.data, entities=ents))
