"""The report layout of groups with many entities (a national fleet: hundreds to thousands of plants).

A reader of a 1,000-plant plan wants the group's position, the entities that matter most, and every
number in a form a program reads; a workbook with a million cells written one by one answers none
of these and takes minutes to write. Above ``MANY_ENTITIES`` entities:

- the entity tables of the report and the workbook are ranked by NPV cost in the group (largest
  first: where the money goes), the ranking stated in the sheet's heading;
- "why this plan" gives the group's statements and those of the ``TOP_ENTITIES`` costliest
  entities; every entity's statements are in bindings.csv;
- the workbook keeps the people's sheets (summary, group per year, entities, costs, transfers as
  a long table, CCER pool, value of pooling, why, assumptions) and a "data" sheet that names the
  files with the full per-entity tables (the plan folder's long CSV files, an ``entity`` column in
  each) instead of copying them: the wide transfer matrix (years x sellers x buyers) is not written.

Smaller groups keep the full layout (every table also as a data sheet), unchanged.
"""

from __future__ import annotations

from typing import Any

MANY_ENTITIES = 100
"""A group with more entities than this gets the many-entity layout."""
TOP_ENTITIES = 25
"""Entities whose statements "why this plan" lists in the many-entity layout."""


def is_many(gplan) -> bool:
    """Whether a group plan has more than ``MANY_ENTITIES`` entities (the many-entity layout)."""
    return int(gplan.summary.get("entities", 0)) > MANY_ENTITIES


def ranked(entity_table):
    """Entity rows by NPV cost in the group, largest first (ties: the table's order)."""
    if "npv_cost_cny" not in entity_table.columns:
        return entity_table
    return entity_table.sort_values("npv_cost_cny", ascending=False, kind="stable").reset_index(drop=True)


def top_entities(gplan, n: int | None = None) -> list[str]:
    """The ``n`` (default ``TOP_ENTITIES``) entities with the largest NPV cost in the group."""
    return [str(e) for e in ranked(gplan.entity_summary)["entity"].head(TOP_ENTITIES if n is None else n)]


def why_top(gplan, lang: str, why_items) -> list[str]:
    """The group's statements, then those of the costliest entities (entity in front), then where
    the rest are."""
    from planner.report.labels import label

    out = why_items(gplan.group_bindings, lang) if not gplan.group_bindings.empty else []
    b = gplan.entities.bindings
    if not b.empty:
        by = {str(e): g for e, g in b.groupby("entity", sort=False)}
        for e in top_entities(gplan):
            if e in by:
                out += [f"{e}: {t}" for t in why_items(by[e], lang)]
    out.append(label("why_many", lang).format(n=TOP_ENTITIES, entities=gplan.summary.get("entities")))
    return out


def data_files(gplan) -> list[str]:
    """Lines of the workbook's "data" sheet: the plan folder's files with every table."""
    lines = ["Every table of this plan, in full, is a CSV file of the plan folder (long format: one row per entity, "
             "year and item, an 'entity' column); this workbook holds the sheets people read.", ""]
    for name in (*gplan.entities.TABLES, *gplan.TABLES):
        df = getattr(gplan.entities, name, None)
        if df is None:
            df = getattr(gplan, name)
        lines.append(f"{name}.csv: {len(df):,} rows, columns {', '.join(map(str, df.columns))}")
    return lines


def workbook_tables(gplan) -> dict[str, Any]:
    """The data sheets of the many-entity workbook: the group's own tables (not the entities', not
    the wide transfer matrix)."""
    return {n: getattr(gplan, n) for n in gplan.TABLES if n not in ("transfer_matrix", "entity_summary", "trades")}
