"""Seeded generator of realistic generation fleets, for tests, benchmarks and example cases.

Plants get a benchmark class (mostly large coal, some small coal, gas and unconventional coal), a
size, running hours, cooling, and an emission intensity spread around what the official allocation
formula gives them (``planner.prepare.allocation.power_generation`` with the rule pack's benchmarks), so
that some plants are long and some short. Each plant has a MAC curve of two or three measures and,
optionally, a discrete project (binaries). The output is plain rows (the columns of the entity
tables of a group case) and a ``GroupCaseSpec``; nothing here touches files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.input.rulepack import load_rule_pack
from planner.prepare.allocation import power_generation, tightened

CLASSES = ("coal_gt300", "coal_le300", "gas", "coal_unconventional")
CLASS_SHARE = (0.6, 0.25, 0.1, 0.05)
MW = {"coal_gt300": (600, 2000), "coal_le300": (100, 600), "gas": (200, 1000), "coal_unconventional": (100, 700)}
"""Plant capacity range (MW): large coal plants are 2 x 300-1000 MW units."""
HOURS = {"coal_gt300": (4000, 5200), "coal_le300": (3800, 5000), "gas": (1500, 3500), "coal_unconventional": (4000, 5500)}

# price path, CNY/t: 2025-2026 as the entity examples (cases/README.md, anchored on the 2026 averages
# of shared/data/cn_ets_prices.csv), then rising about 5% a year - below the 8% discount rate, so that
# with unlimited banking buying early to sell late is no arbitrage (the examples' steeper path is)
CEA = (83, 87, 91, 96, 101, 106, 111, 117)
CCER = (85, 88, 92, 96, 100, 104, 109, 114)


@dataclass(frozen=True)
class Fleet:
    """A generated fleet of power plants: the rows of its group case's tables, each plant's
    projects and its 2025 allocation."""

    plants: list[dict[str, Any]]
    """Rows of the plants table (ids, class, cooling, output MWh, intensity t/MWh, opening bank, net sales)."""
    measures: list[dict[str, Any]]
    """Rows of the measures table (entity, id, cost, potential)."""
    projects: dict[str, list[dict[str, Any]]]
    """Discrete projects per plant id (entity-case ``abatement.projects`` entries)."""
    allocation_2025_t: dict[str, float]
    """Each plant's 2025 allocation by the official formula (for the long/short position)."""


def generate_fleet(n: int, seed: int = 0, *, projects: bool = False, first_year: int = 2025,
                   gas_measures: bool = True) -> Fleet:
    """A fleet of ``n`` power plants. Intensities are the allocation per MWh (official formula,
    rule-pack benchmark of ``first_year``, cooling factor) times (1 + d), d ~ N(0.01, 0.04): about
    40% of plants long, 60% short, a few percent either way, as in the national market.

    ``gas_measures=False`` leaves gas plants without abatement measures (the random draws are the
    same, so the rest of the fleet is unchanged). Their emissions are then fixed, so whether the gas
    top-up relief applies is decided from the data and no relief-regime binary is needed: with coal
    plants (whose 0.8 floor never binds here) the fleet is a pure LP when the banking rule adds no
    binaries either. A short gas plant in the top-up regime gains nothing from abating anyway (its
    relief falls one for one)."""
    rng = np.random.default_rng(seed)
    pack = load_rule_pack("cn-national", {})
    table = pack["benchmarks.power.electricity_t_per_mwh"]
    g = pack["benchmarks.power.tightening_per_year"]
    air = pack["benchmarks.power.air_cooling_factor.generation_2023_2024"]
    plants, measures, projs, alloc = [], [], {}, {}
    classes = rng.choice(len(CLASSES), size=n, p=CLASS_SHARE)
    for i in range(n):
        cls = CLASSES[classes[i]]
        pid = f"P{i + 1:04d}"
        mw = float(rng.uniform(*MW[cls]))
        hours = float(rng.uniform(*HOURS[cls]))
        cooling = "air" if rng.random() < 0.25 and cls != "gas" else "water"
        gen = round(mw * hours, -3)
        bench = tightened({int(k): float(v) for k, v in table[cls].items()}, first_year, g)[0]
        from planner.prepare.allocation import UnitYear

        a = power_generation(UnitYear(unit_class=cls, cooling=cooling, generation_mwh=gen), bench, 0.0,
                             air_factor=air, load_threshold=0.0, load_slope=0.0, load_scope="coal").total_t
        d = float(np.clip(rng.normal(0.01, 0.04), -0.09, 0.12))
        intensity = round(a / gen * (1 + d), 5)
        emissions = intensity * gen
        long = d < 0
        plants.append({
            "id": pid,
            "name": f"{cls} plant {i + 1} ({mw:,.0f} MW)",
            "sector": "power",
            "unit_class": cls,
            "cooling": cooling,
            "output": gen,
            "intensity_t_per_unit": intensity,
            "output_growth": round(float(rng.uniform(-0.01, 0.01)), 4),
            "opening_cea_t": round(float(rng.uniform(0.0, 0.03)) * emissions, -2) if long else 0.0,
            "net_sales_since_2019_t": round(float(rng.normal(0.0, 0.01)) * emissions, -2),
        })
        alloc[pid] = a
        steps = int(rng.integers(2, 4))
        for k in range(steps):
            measure = {
                "entity": pid,
                "id": f"{pid}-m{k + 1}",
                "cost_cny_per_t": round(float(rng.uniform(20, 60) + 40 * k), 1),
                "potential_t_per_year": round(float(rng.uniform(0.004, 0.015)) * emissions, -2),
            }
            if gas_measures or cls != "gas":
                measures.append(measure)
        if projects:
            projs[pid] = [{
                "id": f"{pid}-retrofit",
                "capex_cny": round(float(rng.uniform(40, 110)) * 0.03 * emissions * 6, -4),
                "opex_cny_per_year": round(float(rng.uniform(0, 5)) * 0.03 * emissions, -3),
                "reduction_t_per_year": round(0.03 * emissions, -2),
                "lead_time_years": 1,
                "lifetime_years": 20,
            }]
    return Fleet(plants=plants, measures=measures, projects=projs, allocation_2025_t=alloc)


def fleet_defaults(first_year: int = 2025, last_year: int = 2032, *, binaries: bool = True) -> dict[str, Any]:
    """Entity-case sections shared by every generated plant: market path, finance, policy.

    ``binaries=False`` takes the 'unlimited' scenario of the unpublished 2025+ banking rule
    (rule pack ``carryover.post_legacy.mode``, [I]): no net-sales floor binaries, an LP."""
    years = range(first_year, last_year + 1)
    market = []
    for k, y in enumerate(years):
        kk = min(k, len(CEA) - 1)
        market.append({"year": y, "cea_buy_cny_per_t": CEA[kk], "cea_spread_cny_per_t": 0.8, "ccer_cny_per_t": CCER[kk],
                       "fee_cny_per_t": 0.15, "ccer_fee_cny_per_t": 0.3, "ccer_available_t": 50_000})
    return {
        "allocation": {"method": "benchmark"},
        "market": market,
        "finance": {"discount_rate": 0.08, "terminal_value": "sell_price"},
        "policy": {"compliance": "penalty"} if binaries else
                  {"compliance": "penalty", "overrides": {"carryover.post_legacy.mode": "unlimited"}},
    }


def fleet_group(n: int, seed: int = 0, *, projects: bool = False, first_year: int = 2025, last_year: int = 2032,
                transfers: str = "free", pool: bool = True, group_id: str = "FLEET", value_of_pooling: bool = True,
                binaries: bool = True, group_buy_limit_t: float | None = None):
    """A ``GroupCaseSpec`` for a generated fleet (entities validated through the entity schema).

    ``binaries=False`` is the LP instance: the 'unlimited' 2025+ banking scenario (no net-sales floor
    binaries) and gas plants without measures (no relief-regime binaries, see ``generate_fleet``).
    ``group_buy_limit_t``: a limit on the group's market purchases in every year. With unlimited
    banking and no limit, a price path that rises faster than the discount rate (a sweep's price
    paths) rewards unbounded arbitrage, and such a case has no plan (``models.bounds``)."""
    from planner.input.group_schema import GroupCaseSpec, case_from_row
    from planner.input.read import parse_case

    fleet = generate_fleet(n, seed, projects=projects, first_year=first_year, gas_measures=binaries)
    years = list(range(first_year, last_year + 1))
    defaults = fleet_defaults(first_year, last_year, binaries=binaries)
    by_plant: dict[str, list[dict[str, Any]]] = {}
    for m in fleet.measures:
        by_plant.setdefault(m["entity"], []).append({k: v for k, v in m.items() if k != "entity"})
    cases = []
    for row in fleet.plants:
        d = case_from_row(row, years, defaults, None, by_plant.get(row["id"]))
        if row["id"] in fleet.projects:
            d.setdefault("abatement", {})["projects"] = fleet.projects[row["id"]]
        cases.append(parse_case(d, f"generated plant {row['id']}"))
    spec: dict[str, Any] = {
        "group": {"id": group_id, "horizon": {"first_year": first_year, "last_year": last_year},
                  "finance": {"discount_rate": 0.08}},
        "entities": cases,
        "transfers": {"mode": transfers},
        "value_of_pooling": value_of_pooling,
    }
    if group_buy_limit_t is not None:
        spec["limits"] = [{"year": y, "buy_limit_t": group_buy_limit_t} for y in years]
    if pool:
        spec["ccer_pool"] = {"rows": [{"year": y, "ccer_cny_per_t": CCER[min(k, len(CCER) - 1)] - 3, "fee_cny_per_t": 0.3,
                                       "available_t": 50_000 * n} for k, y in enumerate(years)]}
    return GroupCaseSpec.model_validate(spec)
