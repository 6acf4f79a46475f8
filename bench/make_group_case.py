"""Write the example group case cases/group_hn_generation/ from the seeded fleet generator.

    .venv/bin/python bench/make_group_case.py   # rewrites plants.csv and measures.csv (seed 7, 30 plants)
"""

from pathlib import Path

import pandas as pd

from planner.testing.fleet import generate_fleet

OUT = Path(__file__).resolve().parents[1] / "cases" / "group_hn_generation"

if __name__ == "__main__":
    fleet = generate_fleet(30, seed=7)
    plants = pd.DataFrame(fleet.plants)
    plants["id"] = [f"HN-{i + 1:02d}" for i in range(len(plants))]
    ids = dict(zip([p["id"] for p in fleet.plants], plants["id"], strict=True))
    measures = pd.DataFrame(fleet.measures)
    measures["id"] = [m.replace(e, ids[e]) for m, e in zip(measures["id"], measures["entity"], strict=True)]
    measures["entity"] = measures["entity"].map(ids)
    plants["name"] = [n.split(" (")[0].replace("plant", "plant HN") + " (" + n.split(" (")[1] for n in plants["name"]]
    plants.to_csv(OUT / "plants.csv", index=False, lineterminator="\n")
    measures.to_csv(OUT / "measures.csv", index=False, lineterminator="\n")
    print(f"wrote {len(plants)} plants and {len(measures)} measures to {OUT}")
