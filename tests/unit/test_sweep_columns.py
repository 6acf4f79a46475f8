"""The override columns of a sweep's tidy frame (``planner.studies.sweep._add_override_columns``)."""

import random

import pandas as pd

from planner.studies.sweep import _add_override_columns
from planner.studies.variants import Variant


def _row_by_row(frame: pd.DataFrame, vs: list[Variant]) -> pd.DataFrame:
    """The reference: each row's value looked up from its scenario's overrides."""
    keys: list[str] = []
    for v in vs:
        keys += [k for k in v.overrides if k not in keys]
    vals = {v.id: v.overrides for v in vs}
    extra = pd.DataFrame({f"set:{k}": frame["scenario"].map(lambda s, k=k: vals.get(s, {}).get(k)) for k in keys}, index=frame.index)
    pos = list(frame.columns).index("overrides") + 1
    return pd.concat([frame.iloc[:, :pos], extra, frame.iloc[:, pos:]], axis=1)


def test_override_columns_equal_a_row_by_row_lookup():
    """Numbers, integers, text, None (an optional field removed), lists, missing keys and rows of
    a scenario the variants do not name; rows shuffled: values and dtypes as looked up row by row."""
    rng = random.Random(1)
    for trial in range(40):
        vs = []
        for i in range(rng.randint(1, 30)):
            ov = {}
            for k in ("market.2027.cea_buy_cny_per_t", "policy.overrides.carryover.post_legacy.mode", "x"):
                r = rng.random()
                if r < 0.3:
                    ov[k] = rng.random() * 100
                elif r < 0.45:
                    ov[k] = rng.choice(["limited", "unlimited"])
                elif r < 0.55:
                    ov[k] = None
                elif r < 0.65:
                    ov[k] = rng.randint(0, 5)
                elif r < 0.7:
                    ov[k] = [1, 2]
            vs.append(Variant(f"s{i}", ov, "scenario"))
        rows = [{"scenario": v.id, "overrides": "{}", "year": y}
                for v in [*vs, Variant("other", {}, "scenario")] for y in range(rng.randint(1, 4))]
        frame = pd.DataFrame(rows).sample(frac=1, random_state=trial).reset_index(drop=True)
        pd.testing.assert_frame_equal(_add_override_columns(frame, vs), _row_by_row(frame, vs), check_exact=True)


def test_default_chunks_hold_about_a_second_of_work_and_leave_room_for_four_workers():
    """``_default_chunk``: at least ~1 s of work (fast: ~1 ms per scenario and entity) or n/16, at
    most ~30 s of work or a quarter of the sweep, never fewer than 2 scenarios."""
    from planner.studies.sweep import _default_chunk

    assert _default_chunk(1000, "fast") == 250  # 1 s would be 1,000: a quarter of the sweep
    assert _default_chunk(20000, "fast") == 1250  # n/16 is more than 1 s of work
    assert _default_chunk(1000, "plan") == 63  # n/16 (about 9 s of plan tables)
    assert _default_chunk(20000, "plan") == 200  # 30 s of plan tables at 0.15 s
    assert _default_chunk(100, "fast", entities=100) == 10  # 0.1 s per scenario: 1 s
    assert _default_chunk(3, "fast") == 2 and _default_chunk(1, "plan") == 2


def _frame_reference(blocks: list[dict], group: bool) -> pd.DataFrame:
    """The reference tidy frame: every row built alone, each text column converted as a whole."""
    import math

    import numpy as np

    from planner.studies.sweep import _TEXT, _columns

    rows = []
    for b in blocks:
        if "_rows" in b:  # a scenario inside a batch's arrays (``LedgerRows``): its own arrays
            b = {**b, **dict(b["_rows"])}
        for k in range(b["_n"]):
            row = {}
            for c in _columns(group):
                if c in b["_head"] or c in ("scenario", "kind", "probability", "status", "error", "overrides",
                                            "solver_path", "npv_cost_cny", "nominal_cost_cny"):
                    row[c] = b["_head"].get(c, math.nan)
                else:
                    row[c] = b[c][k] if c in b else ("" if c in _TEXT else math.nan)
            rows.append(row)
    out = {}
    for c in _columns(group):
        vals = [r[c] for r in rows]
        if c in _TEXT:
            out[c] = pd.array(np.asarray(vals, dtype=object).astype(str), dtype="str")
        else:
            out[c] = np.asarray(vals, dtype=np.int64 if c == "year" else float)
    return pd.DataFrame(out, index=pd.RangeIndex(len(rows)))


def test_chunk_frame_equals_a_row_by_row_frame():
    """``_frame`` (each text converted once and repeated; numbers concatenated per column) equals a
    frame built row by row, values and dtypes: scenarios with rows, invalid ones (one empty row),
    texts with quotes and non-ASCII characters, entity ids repeated across scenarios, no scenarios."""
    import math

    import numpy as np

    from planner.studies.sweep import GROUP_HEAD, HEAD_COLUMNS, _columns, _frame

    rng = random.Random(3)
    for group in (False, True):
        cols = [c for c in _columns(group) if c not in HEAD_COLUMNS and c not in GROUP_HEAD]
        for _trial in range(30):
            blocks = []
            for i in range(rng.randint(0, 12)):
                head = {"scenario": f"s{i}", "kind": rng.choice(["grid", "price_path"]),
                        "probability": rng.choice([math.nan, 0.25]), "status": rng.choice(["optimal", "invalid"]),
                        "error": rng.choice(["", 'bad "x" – ü']), "overrides": '{"a": 1}',
                        "solver_path": rng.choice(["", "cold", "objective_only"]),
                        "npv_cost_cny": rng.random(), "nominal_cost_cny": rng.random()}
                n = rng.randint(1, 5)
                b = {"_head": head, "_n": n}
                for c in cols:
                    if c in ("entity", "level"):
                        b[c] = np.asarray([rng.choice(["E1", "电厂", "(group)"]) for _ in range(n)], dtype=object)
                    elif c == "year":
                        b[c] = np.asarray([rng.randint(2025, 2030) for _ in range(n)], dtype=np.int64)
                    elif rng.random() < 0.8:
                        b[c] = np.asarray([rng.random() for _ in range(n)])
                blocks.append(b)
            pd.testing.assert_frame_equal(_frame(blocks, group), _frame_reference(blocks, group), check_exact=True)


def test_chunk_frame_takes_runs_of_batch_rows_as_a_row_by_row_frame():
    """Blocks whose rows lie in a batch's arrays (``planner.solve.warm.LedgerRows``: 2-D columns per
    scenario, 1-D columns shared, columns missing) give the frame built row by row: runs of
    consecutive scenarios, scenarios skipped (a failed solve), runs broken by other blocks, two
    batches, scenarios out of order, texts shared by the batch."""
    import math

    import numpy as np

    from planner.solve.warm import LedgerRows
    from planner.studies.sweep import HEAD_COLUMNS, _columns, _frame

    rng = random.Random(8)
    cols = [c for c in _columns(False) if c not in HEAD_COLUMNS]
    for _trial in range(40):
        n = rng.randint(1, 4)
        batches = []
        for _ in range(2):
            m = rng.randint(1, 6)
            columns = {"entity": np.asarray([rng.choice(["E1", "电厂"]) for _ in range(n)], dtype=object),
                       "year": np.arange(2026, 2026 + n, dtype=np.int64)}
            for c in cols[2:]:
                r = rng.random()
                if r < 0.6:
                    columns[c] = rng.random() * np.arange(m * n, dtype=float).reshape(m, n)
                elif r < 0.8:
                    columns[c] = np.full(n, rng.choice([math.nan, 1.5]))
            batches.append((columns, m))
        blocks = []
        for i in range(rng.randint(0, 14)):
            head = {"scenario": f"s{i}", "kind": "price_path", "probability": math.nan, "status": "optimal",
                    "error": "", "overrides": "{}", "solver_path": "objective_only",
                    "npv_cost_cny": rng.random(), "nominal_cost_cny": rng.random()}
            columns, m = rng.choice(batches)
            if rng.random() < 0.2:  # another kind of block in between (an invalid scenario)
                blocks.append({"_head": {**head, "status": "invalid"}, "_n": 1,
                               "entity": np.asarray([""], dtype=object), "year": np.asarray([-1], dtype=np.int64)})
                continue
            k = blocks[-1]["_rows"].k + 1 if blocks and "_rows" in blocks[-1] and rng.random() < 0.6 else rng.randrange(m)
            if k >= m:
                k = 0
            blocks.append({"_head": head, "_n": n, "_rows": LedgerRows(columns, k)})
        pd.testing.assert_frame_equal(_frame(blocks, False), _frame_reference(blocks, False), check_exact=True)


def test_scenario_cost_split_into_compliance_and_terminal_value():
    """Two years with discount factors 1 and 0.9; the terminal component -100 CNY in the last year
    (holdings worth 100 CNY at the end): terminal value 0.9 x 100 = 90 (NPV); with an NPV cost of
    1,000 the cost of compliance is 1,090. A scenario without a plan has neither."""
    import math
    from types import SimpleNamespace

    import numpy as np

    from planner.studies.sweep import _block, _empty_block
    from planner.studies.variants import Variant

    data = SimpleNamespace(years=(2025, 2026), discount_factor=(1.0, 0.9))
    ent = {"entity": np.asarray(["E", "E"], dtype=object), "year": np.asarray([2025, 2026]),
           "total_cost_cny": np.asarray([600.0, 500.0]), "cost_terminal_cny": np.asarray([0.0, -100.0])}
    v = Variant(id="s", kind="grid", overrides={})
    head = _block(v, ent, None, data, "optimal", "cold", 1000.0)["_head"]
    assert (head["npv_cost_cny"], head["compliance_npv_cny"], head["terminal_value_cny"]) == (1000.0, 1090.0, 90.0)
    empty = _empty_block(v, "infeasible", "no plan")["_head"]
    assert math.isnan(empty["compliance_npv_cny"]) and math.isnan(empty["terminal_value_cny"])
