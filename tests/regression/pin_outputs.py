"""Pin what users get from the example cases, to hold a refactoring to "no output changes".

    python tests/regression/pin_outputs.py record PINS.json   # before the change
    python tests/regression/pin_outputs.py check PINS.json    # after it: exit 1 on any difference

Every example case (``cases/*.yaml`` and the group case) is run through the CLI with the default
outputs; every file of the plan folder but ``run.json`` (timestamps and timings) is hashed. The sweep
studies in ``cases/studies`` are run with 1 and 2 workers: their result tables must be equal to each
other and to the pin. The pins depend on the solver and library versions, so record and check on
the same environment.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SWEEPS = {
    "price_study": ("cases/coal_2x660.yaml", "cases/studies/price_study.yaml"),
    "group_study": ("cases/group_hn_generation/group.yaml", None),
}
# The group example's tornado in sweep file form (its seeded price paths include MIPs that take
# many minutes to prove at the default gap).
GROUP_STUDY = """\
name: pinned group study
tornado: {transfers.mode: [none, free], limits.*.buy_limit_t: [1000000, 3000000]}
tables: fast
"""


def _cli(*args: str) -> None:
    r = subprocess.run([sys.executable, "-m", "planner.cli", *args], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"planner {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sweep_table(folder: Path) -> str:
    """The sweep's rows, independent of the Parquet writer's metadata and of the worker count."""
    import pandas as pd

    df = pd.read_parquet(folder / "results.parquet")
    drop = [c for c in ("solve_s", "worker", "solver_path") if c in df.columns]
    df = df.drop(columns=drop)
    return hashlib.sha256(df.to_csv(index=False, float_format="%.9g").encode()).hexdigest()


def pins() -> dict[str, str]:
    out: dict[str, str] = {}
    cases = sorted(ROOT.glob("cases/*.yaml")) + [ROOT / "cases/group_hn_generation/group.yaml"]
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            name = case.relative_to(ROOT).as_posix()
            folder = Path(tmp) / name.replace("/", "_")
            _cli("run", str(case), "--out", str(folder))
            for f in sorted(folder.iterdir()):
                if f.name != "run.json":
                    out[f"{name}:{f.name}"] = _digest(f)
        for study, (case, spec) in SWEEPS.items():
            tables = {}
            if spec is None:
                spec = str(Path(tmp) / f"{study}.yaml")
                Path(spec).write_text(GROUP_STUDY, encoding="utf-8")
            for workers in (1, 2):
                folder = Path(tmp) / f"{study}-{workers}"
                _cli("sweep", case, spec, "--out", str(folder), "--workers", str(workers))
                tables[workers] = _sweep_table(folder)
            if tables[1] != tables[2]:
                raise SystemExit(f"{study}: the sweep table differs between 1 and 2 workers")
            out[f"sweep:{study}"] = tables[1]
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("record", "check"):
        print(__doc__)
        return 2
    path = Path(argv[1])
    now = pins()
    if argv[0] == "record":
        path.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"recorded {len(now)} pins in {path}")
        return 0
    then = json.loads(path.read_text(encoding="utf-8"))
    changed = sorted(k for k in set(then) | set(now) if then.get(k) != now.get(k))
    for k in changed:
        print(f"changed: {k}")
    print(f"{len(now) - len(changed)} of {len(set(then) | set(now))} pins unchanged")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
