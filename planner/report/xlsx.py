"""The Excel plan workbook (XlsxWriter): sheets for people, then every plan table as in the CSV files.

People's sheets: summary with the audit record, plan per year, trades, carry-over, costs by
component (with charts), abatement, why this plan, assumptions. Numbers are stored in t and CNY
at full precision (labels and number formats follow the language and the 万 option), so the
workbook reads back with the numbers of the CSV plan. Data sheets named after the CSV files hold
the tables with their CSV column names. Fixed document properties and zip times: the same plan
gives the same bytes. Takes plain pandas tables; never imports Pyomo.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from typing import Any

import pandas as pd

from planner.report import numbers
from planner.report.html import actions_frame, headline_table, why_items
from planner.report.labels import label, note_text, rule_label, unit_label

TRADES = ("year", "buy_t", "cea_buy_cny_per_t", "buy_cny", "sell_t", "cea_sell_cny_per_t", "sell_cny",
          "auction_buy_t", "ccer_buy_t", "ccer_cny_per_t", "ccer_buy_cny", "ccer_surrendered_t")
CARRY = ("year", "carry_t", "carry_limit_t", "carry_rule", "lapse_t", "net_sales_t")
SUMMARY_WIDTHS = (36, 60)
"""Column widths (characters) of the summary sheet: labels, values; notes span both."""
TEXT_WIDTH = 140
"""Column width (characters) of a text sheet (why this plan)."""


def _cell_value(v: Any, csv_like: bool = False) -> Any:
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict | list):
        return str(v) if csv_like else json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
    return v


class _Book:
    def __init__(self, lang: str, units: str) -> None:
        import xlsxwriter

        self.buf = io.BytesIO()
        self.wb = xlsxwriter.Workbook(self.buf, {"in_memory": True, "strings_to_numbers": False,
                                                 "strings_to_formulas": False, "strings_to_urls": False,
                                                 "nan_inf_to_errors": False})
        self.wb.set_properties({"title": "cn-ets-planner plan", "created": dt.datetime(2000, 1, 1)})
        self.lang, self.units = lang, units
        self.head = self.wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"})
        self.bold = self.wb.add_format({"bold": True})
        self.title = self.wb.add_format({"bold": True, "font_size": 14})
        self.wrap = self.wb.add_format({"text_wrap": True, "valign": "top"})
        self.fmt = {k: self.wb.add_format({"num_format": f}) for k, f in numbers.EXCEL_FORMATS.items()}

    def _kind(self, col: str) -> str:
        return numbers.kind_of(col)

    def table(self, ws, df: pd.DataFrame, row0: int = 0, *, people: bool = True) -> None:
        """A table with a frozen header; people's tables get labels, widths and formats.

        Numbers are written as stored (t, CNY); with 万 units people's sheets show values / 10,000 in
        a number format, so the cells still hold the plan's numbers.
        """
        cols = list(df.columns)
        for c, name in enumerate(cols):
            ws.write_string(row0, c, unit_label(name, self.lang, self.units) if people else name, self.head if people else self.bold)
            if people:
                ws.set_column(c, c, max(11, min(40, len(unit_label(name, self.lang, self.units)) + 2)), self.fmt[self._kind(name)] if self._kind(name) != "exact" else None)
        ws.freeze_panes(row0 + 1, 1 if people else 0)
        for r, rec in enumerate(df.itertuples(index=False), start=row0 + 1):
            for c, v in enumerate(rec):
                v = _cell_value(v, csv_like=not people)  # data sheets: values written as pandas writes the CSV
                if v is None:
                    continue
                if isinstance(v, bool):
                    ws.write_boolean(r, c, v)
                elif isinstance(v, int | float):
                    fmt = self.fmt[self._kind(cols[c])] if people else None
                    if people and self.units == "wan" and self._kind(cols[c]) in ("t", "cny"):
                        ws.write_number(r, c, v, self._wan_fmt())
                    else:
                        ws.write_number(r, c, v, fmt)
                else:
                    ws.write_string(r, c, str(v))
        if people and len(df):
            ws.autofilter(row0, 0, row0 + len(df), len(cols) - 1)

    def _wan_fmt(self):
        if not hasattr(self, "_wan"):
            # Excel shows value / 10,000 with the 万 suffix; the cell keeps t or CNY
            self._wan = self.wb.add_format({"num_format": '0!.0000"万"'})
        return self._wan

    def close(self) -> bytes:
        for ws in self.wb.worksheets():
            _print_setup(ws)
        self.wb.close()
        return self.buf.getvalue()

    def wrapped(self, ws, r: int, text: str, width: float, first: int = 0, last: int = 1) -> None:
        """A long text across columns ``first``..``last`` (``width`` characters together), wrapped,
        its row as high as its lines (a spreadsheet does not size merged rows itself), so it prints
        whole instead of running across the page's edge."""
        if first == last:
            ws.write_string(r, first, text, self.wrap)
        else:
            ws.merge_range(r, first, r, last, text, self.wrap)
        ws.set_row(r, 15 * max(1, math.ceil(_text_width(text) / max(10.0, width - 2))))


def _text_width(text: str) -> float:
    """Width of ``text`` in character cells (a CJK character takes two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _print_setup(ws) -> None:
    """Page setup for people who print: A4 landscape, every sheet one page wide (however many long),
    its header row repeated on every page, the sheet's name and page number in the footer."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.set_footer("&L&A&R&P / &N")


def _summary_sheet(b: _Book, title: str, s: dict[str, Any], keys: tuple[str, ...], audit: dict[str, Any],
                   notes: list[str], warnings: list[str]) -> None:
    """The summary sheet: headline values, the audit record, notes and warnings."""
    lang, wb = b.lang, b.wb
    ws = wb.add_worksheet(label("summary", lang)[:31])
    ws.set_column(0, 0, SUMMARY_WIDTHS[0])
    ws.set_column(1, 1, SUMMARY_WIDTHS[1])
    ws.write_string(0, 0, title, b.title)
    r = 2
    for key in keys:
        ws.write_string(r, 0, label(key, lang), b.bold)
        v = _cell_value(s.get(key))
        if isinstance(v, int | float) and not isinstance(v, bool):
            ws.write_number(r, 1, v, b.fmt[numbers.kind_of(key)])
        elif v is not None:
            ws.write_string(r, 1, str(v) if not isinstance(v, str) else v)
        r += 1
    r += 1
    ws.write_string(r, 0, label("audit", lang), b.title)
    r += 1
    for k in sorted(audit):
        v = audit[k]
        items = sorted(v.items()) if isinstance(v, dict) and v and all(not isinstance(x, dict | list) for x in v.values()) else None
        for kk, vv in (items or [(None, v)]):
            ws.write_string(r, 0, f"{k}.{kk}" if kk is not None else k)
            vv = _cell_value(vv)
            if isinstance(vv, bool):
                ws.write_boolean(r, 1, vv)
            elif isinstance(vv, int | float):
                ws.write_number(r, 1, vv)
            elif vv is not None:
                ws.write_string(r, 1, str(vv))
            r += 1
    if notes or warnings:
        r += 1
        ws.write_string(r, 0, label("notes", lang), b.title)
        warn = "警告" if lang == "zh" else "Warning"
        for n in [*(note_text(x, lang) for x in notes), *(f"{warn}: {note_text(w, lang)}" for w in warnings)]:
            r += 1
            b.wrapped(ws, r, n, SUMMARY_WIDTHS[0] + SUMMARY_WIDTHS[1])


def _actions_sheet(b: _Book, actions: pd.DataFrame | None) -> None:
    """The first sheet: this cycle's actions with the dates they fall due."""
    if actions is None or actions.empty:
        return
    cycles = sorted({int(c) for c in actions["cycle"]})
    ws = b.wb.add_worksheet(label("actions_sheet", b.lang)[:31])
    ws.write_string(0, 0, f"{label('actions', b.lang)} ({', '.join(map(str, cycles))})", b.title)
    b.table(ws, actions_frame(actions, b.lang), row0=2)
    ws.set_column(len(actions_frame(actions.head(1), b.lang).columns) - 1, len(actions_frame(actions.head(1), b.lang).columns) - 1, 90)


def _cost_split_block(b: _Book, ws, costs: pd.DataFrame, col0: int) -> None:
    """Beside the costs per year: components, cost of compliance, value left at the end, NPV total."""
    from planner.report.html import cost_split_frame

    if costs.empty:
        return
    t = cost_split_frame(costs, b.lang)
    ws.write_string(0, col0, label("cost_split", b.lang), b.bold)
    for j, c in enumerate(t.columns):
        ws.write_string(1, col0 + j, unit_label(c, b.lang, b.units), b.head)
        ws.set_column(col0 + j, col0 + j, 24 if j == 0 else 18)
    for i, r in enumerate(t.itertuples(index=False), start=2):
        ws.write_string(i, col0, r.component, b.bold if i - 2 >= len(t) - 3 else None)
        for j, v in enumerate((r.nominal_cny, r.discounted_cny), start=1):
            if b.units == "wan":
                ws.write_number(i, col0 + j, v, b._wan_fmt())
            else:
                ws.write_number(i, col0 + j, v, b.fmt["cny"])


def _text_sheet(b: _Book, title: str, lines: list[str]) -> None:
    ws = b.wb.add_worksheet(title[:31])
    ws.set_column(0, 0, TEXT_WIDTH, b.wrap)
    ws.write_string(0, 0, title, b.head)
    for i, t in enumerate(lines or ["-"], start=1):
        b.wrapped(ws, i, t, TEXT_WIDTH, 0, 0)


def _data_sheets(b: _Book, tables: dict[str, pd.DataFrame]) -> None:
    """Data sheets: the CSV tables as they are, named after their files."""
    for name, df in tables.items():
        ws = b.wb.add_worksheet(f"{name}.csv"[-31:])
        if "rule" in df.columns and name in ("bindings", "group_bindings"):
            df = df.assign(rule_label=[rule_label(x, b.lang) for x in df["rule"]])
        b.table(ws, df, people=False)


def plan_workbook(
    *,
    tables: dict[str, pd.DataFrame],
    summary: dict[str, Any],
    audit: dict[str, Any],
    notes: list[str] = (),
    warnings: list[str] = (),
    lang: str = "en",
    units: str = "t",
) -> bytes:
    """The plan workbook as .xlsx bytes. ``tables`` are the plan tables by CSV name (annual, costs,
    bindings, assumptions, abatement, builds, mac, ...); each is also written to a data sheet of
    that name with its CSV columns."""
    b = _Book(lang, units)
    wb = b.wb
    annual = tables["annual"]
    _actions_sheet(b, tables.get("actions"))

    _summary_sheet(b, f"{label('report_title', lang)}: {summary.get('entity', '')} {summary.get('entity_name') or ''}".strip(),
                   summary, ("years", "compliance_npv_cny", "terminal_value_cny", "npv_cost_cny", "terminal_valuation", "nominal_cost_cny", "cost_per_t_obligation_cny", "total_obligation_t",
                             "total_shortfall_t", "opening_cea_t", "opening_lapse_t", "status", "mip_gap", "rule_pack", "rule_pack_overrides", "compliance_mode"),
                   audit, notes, warnings)

    head = headline_table(annual)
    ws = wb.add_worksheet(label("plan", lang)[:31])
    b.table(ws, head)
    n = len(head)

    ws = wb.add_worksheet(label("trades", lang)[:31])
    b.table(ws, annual[[c for c in TRADES if c in annual.columns]])
    if n:
        ch = wb.add_chart({"type": "column"})
        for col in ("buy_t", "sell_t", "ccer_surrendered_t"):
            j = TRADES.index(col)
            ch.add_series({"name": unit_label(col, lang, "t"), "categories": [ws.name, 1, 0, n, 0], "values": [ws.name, 1, j, n, j]})
        ch.set_title({"name": label("trades", lang)})
        ch.set_size({"width": 720, "height": 320})
        ws.insert_chart(n + 3, 1, ch)

    ws = wb.add_worksheet(label("carryover", lang)[:31])
    b.table(ws, annual[[c for c in CARRY if c in annual.columns]])
    if n:
        ch = wb.add_chart({"type": "column"})
        ch.add_series({"name": unit_label("carry_t", lang, "t"), "categories": [ws.name, 1, 0, n, 0], "values": [ws.name, 1, 1, n, 1]})
        line = wb.add_chart({"type": "line"})
        line.add_series({"name": unit_label("carry_limit_t", lang, "t"), "categories": [ws.name, 1, 0, n, 0], "values": [ws.name, 1, 2, n, 2]})
        ch.combine(line)
        ch.set_title({"name": label("chart_carry", lang)})
        ch.set_size({"width": 720, "height": 320})
        ws.insert_chart(n + 3, 1, ch)

    costs = tables["costs"]
    ws = wb.add_worksheet(label("costs", lang)[:31])
    wide = costs.pivot_table(index="year", columns="component", values="nominal_cny", aggfunc="sum", sort=False).fillna(0.0).sort_index()
    wide.columns = [f"cost_{c}_cny" for c in wide.columns]
    wide = wide.reset_index()
    b.table(ws, wide)
    _cost_split_block(b, ws, costs, len(wide.columns) + 1)
    if n and len(wide.columns) > 1:
        ch = wb.add_chart({"type": "column", "subtype": "stacked"})
        for j in range(1, len(wide.columns)):
            ch.add_series({"name": [ws.name, 0, j], "categories": [ws.name, 1, 0, len(wide), 0], "values": [ws.name, 1, j, len(wide), j]})
        ch.set_title({"name": label("chart_costs", lang)})
        ch.set_size({"width": 720, "height": 360})
        ws.insert_chart(len(wide) + 3, 1, ch)

    ab = tables.get("abatement", pd.DataFrame())
    if not ab.empty:
        ws = wb.add_worksheet(label("abatement_sheet", lang)[:31])
        b.table(ws, ab.drop(columns=[c for c in ("entity",) if c in ab.columns and ab["entity"].nunique() == 1]))

    bind = tables.get("bindings", pd.DataFrame())
    _text_sheet(b, label("why", lang), why_items(bind, lang, units) if not bind.empty else [])

    asm = tables.get("assumptions", pd.DataFrame())
    if not asm.empty:
        ws = wb.add_worksheet(label("assumptions", lang)[:31])
        b.table(ws, asm)

    _data_sheets(b, tables)
    return b.close()


def plan_xlsx(plan, audit: dict[str, Any], lang: str = "en", units: str = "t") -> bytes:
    """The Excel workbook of an entity plan."""
    return plan_workbook(tables={n: getattr(plan, n) for n in plan.TABLES}, summary=plan.summary, audit=audit,
                         notes=plan.notes, warnings=plan.warnings, lang=lang, units=units)


def group_xlsx(gplan, audit: dict[str, Any], lang: str = "en", units: str = "t") -> bytes:
    """The Excel workbook of a group plan: summary and audit, group per year (with a chart),
    entities, transfers, CCER pool, value of pooling, why this plan (group and entities),
    assumptions; then data sheets with every group table and the entity tables as in the CSV files."""
    from planner.report.html import GROUP_ENTITY, group_costs, group_why, group_year_table
    from planner.report.many import data_files, is_many, ranked, why_top, workbook_tables

    many = is_many(gplan)  # the many-entity layout (planner.report.many)
    b = _Book(lang, units)
    wb = b.wb
    s = gplan.summary
    _summary_sheet(b, f"{label('group_report_title', lang)}: {s.get('group', '')} {s.get('group_name') or ''}".strip(), s,
                   ("entities", "years", "npv_cost_cny", "value_of_pooling_cny", "standalone_npv_cny", "total_obligation_t",
                    "total_transfers_t", "total_shortfall_t", "status", "mip_gap", "rule_pack", "rule_pack_overrides"),
                   audit, gplan.notes, gplan.warnings)
    years = group_year_table(gplan)
    ws = wb.add_worksheet(label("group_plan", lang)[:31])
    b.table(ws, years)
    n = len(years)
    if n:
        ch = wb.add_chart({"type": "column", "subtype": "stacked"})
        for col in ("allocation_t", "abatement_t", "market_buy_t", "ccer_surrendered_t"):
            j = list(years.columns).index(col)
            ch.add_series({"name": unit_label(col, lang, "t"), "categories": [ws.name, 1, 0, n, 0], "values": [ws.name, 1, j, n, j]})
        line = wb.add_chart({"type": "line"})
        j = list(years.columns).index("obligation_t")
        line.add_series({"name": unit_label("obligation_t", lang, "t"), "categories": [ws.name, 1, 0, n, 0], "values": [ws.name, 1, j, n, j]})
        ch.combine(line)
        ch.set_title({"name": label("chart_position", lang)})
        ch.set_size({"width": 760, "height": 360})
        ws.insert_chart(n + 3, 1, ch)
    es = gplan.entity_summary
    ws = wb.add_worksheet(label("entities_sheet", lang)[:31])
    b.table(ws, (ranked(es) if many else es)[[c for c in GROUP_ENTITY if c in es.columns]])
    ws = wb.add_worksheet(label("costs", lang)[:31])
    wide = group_costs(gplan).pivot_table(index="year", columns="component", values="nominal_cny", aggfunc="sum", sort=False)
    wide = wide.fillna(0.0).sort_index()
    wide.columns = [f"cost_{c}_cny" for c in wide.columns]
    b.table(ws, wide.reset_index())
    for name, key in (("transfers" if many else "transfer_matrix", "transfers"), ("ccer_pool", "ccer_pool"), ("pooling_value", "pooling_value")):
        df = getattr(gplan, name)
        if not df.empty:
            ws = wb.add_worksheet(label(key, lang)[:31])
            if name == "pooling_value":  # the paragraph that explains pooling above its table
                from planner.report.html import pooling_text

                ws.merge_range(0, 0, 0, len(df.columns) - 1, pooling_text(gplan), b.wrap)
                ws.set_row(0, 150)
                b.table(ws, df, row0=2)
            else:
                b.table(ws, df.dropna(axis=1, how="all") if name == "ccer_pool" else df)
    _text_sheet(b, label("why", lang), why_top(gplan, lang, why_items) if many else group_why(gplan, lang, units))
    if not gplan.assumptions.empty:
        ws = wb.add_worksheet(label("assumptions", lang)[:31])
        b.table(ws, gplan.assumptions)
    if many:
        _text_sheet(b, label("data_files", lang), data_files(gplan))
        _data_sheets(b, workbook_tables(gplan))
        return b.close()
    tables = {n: getattr(gplan.entities, n) for n in gplan.entities.TABLES}
    tables.update({n: getattr(gplan, n) for n in gplan.TABLES})
    _data_sheets(b, tables)
    return b.close()
