"""Hand-made ModelData for structural tests (no schema, no solver)."""

import math

from models.data import (
    CarryRule,
    CcerLotData,
    EntityData,
    MeasureData,
    ModelData,
    ProjectData,
    ProjectOption,
)


def tiny_model_data(with_everything: bool = False, years=(2024, 2025)) -> ModelData:
    n = len(years)
    measures = (MeasureData("m1", (40.0,) * n, (3.0,) * n, (0.5,) * n),) if with_everything else ()
    # with everything: year 1 can switch the relief regime (0.8 E - 75 spans 0), year 2 can switch
    # the pre-draw condition (0.9 E - 85 spans 0) and has an auctioned share
    allocation = ((75.0, 85.0) + (90.0,) * (n - 2)) if with_everything else (90.0,) * n
    extra = {}
    if with_everything:
        extra = dict(
            borrow_share=(0.0, 0.5) + (0.0,) * (n - 2),
            borrow_min_gap_share=0.1,
            auction_max_t=(0.0, 5.0) + (0.0,) * (n - 2),
            price_auction_cny_per_t=(60.0,) * n,
        )
    projects = ()
    lots = ()
    if with_everything:
        projects = (
            ProjectData(
                "p1",
                5.0,
                (ProjectOption(years[0], (True,) * n, (100.0,) + (0.0,) * (n - 1), (1.0,) * n),),
            ),
        )
        lots = (CcerLotData("lot1", 2.0, (True,) + (False,) * (n - 1), 0.0),)
    return ModelData(
        years=tuple(years),
        discount_factor=(1.0,) * n,
        entities=(
            EntityData(
                id="E",
                emissions_baseline_t=(100.0,) * n,
                allocation_t=allocation,
                relief_share=((0.8,) + (0.0,) * (n - 1)) if with_everything else (0.0,) * n,
                relief_to_allocation=(True,) * n,
                price_buy_cny_per_t=(60.0,) * n,
                price_sell_cny_per_t=(58.0,) * n,
                fee_cea_cny_per_t=(0.0,) * n,
                price_ccer_buy_cny_per_t=(50.0,) * n,
                price_ccer_sell_cny_per_t=(0.0,) * n,
                fee_ccer_cny_per_t=(0.0,) * n,
                buy_max_t=(1e4,) * n,
                sell_max_t=(math.inf,) * n,
                ccer_buy_max_t=(math.inf,) * n,
                ccer_sell_max_t=(0.0,) * n,
                ccer_cap_share=(0.05,) * n,
                ccer_cap_on_obligation=True,
                penalty_cny_per_t=(300.0,) * n,
                shortfall_allowed=True,
                shortfall_deducted_next_year=True,
                terminal_deduction_cny_per_t=60.0,
                opening_cea_t=0.0,
                opening_net_sales_t=0.0,
                carry_rules=(CarryRule(True, 10.0, 1.5, 0.0, 10.0),) * n,
                terminal_cea_value_cny_per_t=58.0,
                terminal_ccer_value_cny_per_t=0.0,
                measures=measures,
                projects=projects,
                ccer_lots=lots,
                **extra,
            ),
        ),
    )


def tiny_group_data(transfers: str = "free", everything: bool = True) -> ModelData:
    """Two copies of the tiny entity (ids E, F) with group links: transfers, pool, limits, tiers, budget."""
    import dataclasses

    from models.data import GroupLinks, PriceTier

    base = tiny_model_data(with_everything=True)
    e = base.entities[0]
    f = dataclasses.replace(e, id="F")
    n = len(base.years)
    links = GroupLinks(
        market_buy_max_t=(e.buy_max_t, f.buy_max_t),
        market_sell_max_t=(e.sell_max_t, f.sell_max_t),
        transfers=transfers,
        transfer_price_cny_per_t=(59.0,) * n,
        transfer_min_lot_t=20.0,
        pool=everything,
        pool_price_cny_per_t=(40.0,) * n if everything else (),
        pool_fee_cny_per_t=(0.0,) * n if everything else (),
        pool_max_t=(math.inf,) * n if everything else (),
        group_buy_max_t=(1e4,) * n if everything else (),
        group_sell_max_t=(1e4,) * n if everything else (),
        tiers=(PriceTier(50.0, 0.0), PriceTier(math.inf, 5.0)) if everything else (),
        budget_cny=(1e9,) * n if everything else (),
    )
    return dataclasses.replace(base, entities=(e, f), group=links)
