"""Compliance-planner math: plain data in, a Pyomo model out, tidy results back.

This package imports only Pyomo, NumPy/pandas and the standard library; it never imports ``planner``.
"""

from models.data import (
    CarryRule,
    CcerLotData,
    EntityData,
    MeasureData,
    ModelData,
    ProjectData,
    ProjectOption,
)
from models.entity import COST_COMPONENTS
from models.extract import Results, extract_results
from models.group import build_model

__all__ = [
    "COST_COMPONENTS",
    "CarryRule",
    "CcerLotData",
    "EntityData",
    "MeasureData",
    "ModelData",
    "ProjectData",
    "ProjectOption",
    "Results",
    "build_model",
    "extract_results",
]
