"""Compliance-planner math: plain data in, a Pyomo model out, tidy results back.

``models.assemble`` writes the same model's standard form straight from the data with NumPy (for the
features it supports; the Pyomo model stays the reference it is tested against).

This package imports only Pyomo, NumPy/pandas and the standard library; it never imports ``planner``.
"""

from models.data import (
    CarryRule,
    CcerLotData,
    EntityData,
    GroupLinks,
    MeasureData,
    ModelData,
    PriceTier,
    ProjectData,
    ProjectOption,
)
from models.entity import COST_COMPONENTS
from models.extract import LinkResults, Results, extract_links, extract_results
from models.group import LINK_COST_COMPONENTS, build_model

__all__ = [
    "COST_COMPONENTS",
    "CarryRule",
    "CcerLotData",
    "EntityData",
    "GroupLinks",
    "LINK_COST_COMPONENTS",
    "LinkResults",
    "MeasureData",
    "ModelData",
    "ProjectData",
    "PriceTier",
    "ProjectOption",
    "Results",
    "build_model",
    "extract_links",
    "extract_results",
]
