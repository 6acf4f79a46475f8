"""Compliance-planner math: plain data in, a Pyomo model out, tidy results back.

``models.arrays.assemble`` writes the same model's standard form straight from the data with NumPy (for the
features it supports; the Pyomo model stays the reference it is tested against).

This package imports only Pyomo, NumPy/pandas and the standard library; it never imports ``planner``.
Pyomo and pandas are imported where they are used (``models.entity.add_entity``, ``models.group``,
``models.extract``), not by ``models.data`` and ``models.arrays.assemble``.
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
from models.entity import COST_COMPONENTS, DUAL_SIGNS, TRADE_VARIABLES

_FROM_EXTRACT = ("LinkResults", "Results", "extract_links", "extract_results")
_FROM_GROUP = ("LINK_COST_COMPONENTS", "build_model")


def __getattr__(name: str):
    """Names imported on first use: the Pyomo model and the pandas results are not needed to assemble
    and solve the arrays (``models.arrays.assemble``), and the memory importing pandas (with pyarrow)
    and Pyomo takes would otherwise sit under the solver's peak."""
    if name in _FROM_EXTRACT:
        from models import extract as module
    elif name in _FROM_GROUP:
        from models import group as module
    else:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


__all__ = [
    "COST_COMPONENTS",
    "CarryRule",
    "CcerLotData",
    "DUAL_SIGNS",
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
    "TRADE_VARIABLES",
    "build_model",
    "extract_links",
    "extract_results",
]
