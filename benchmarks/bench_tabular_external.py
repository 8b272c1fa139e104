"""The tabular head on the external protocol: LeMoF + tabular head (lemof_tab) against the LightGBM peer and
LeMoF, paired over seeds 0-2 and stays (hierarchical bootstrap), trained on one PhysioNet 2012 set and scored on
its own test split and on every stay of the other set. Reads the cells of
``OMP_NUM_THREADS=1 python -m benchmarks.bench_grid --cohorts physionet2012-a physionet2012-b --seeds 0 1 2 --fusions lemof lemof_tab gbm --threads 1 --out benchmarks/results/grid-external-tab --external``
(their external predictions cached by the grid report); writes ``grid-external-tab/paired_tabular.json``.

    python -m benchmarks.bench_tabular_external
"""
import json
from pathlib import Path
import numpy as np, pandas as pd
from lemof import open_bundle
from lemof.evaluation.stats import hierarchical_bootstrap_diff
from lemof.paths import cache_dir
OUT = Path(__file__).resolve().parent / "results" / "grid-external-tab"
B = {"physionet2012-a": open_bundle(cache_dir()/"cohorts"/"physionet2012-seta-vendored-v1"), "physionet2012-b": open_bundle(cache_dir()/"cohorts"/"physionet2012-setb-vendored-v1")}
res = {}
for src, tgt in (("physionet2012-a", "physionet2012-b"), ("physionet2012-b", "physionet2012-a")):
    for scope in ("test", "external"):
        errs = {}
        for m, enc in (("lemof", "gru+resnet1d"), ("lemof_tab", "gru+resnet1d"), ("gbm", "tabular")):
            rows = []
            for s in (0, 1, 2):
                d = OUT / src / f"{m}__{enc}__seed{s}"
                if scope == "external":
                    target = B[tgt]
                    cache = list((OUT / src / ".external").glob(f"{d.name}__{target.fingerprint}__*.parquet"))[0]
                    t = pd.read_parquet(cache).set_index("stay_id")
                    los = target.stays.set_index("stay_id")["los_days"]
                else:
                    p = pd.read_parquet(d / "predictions.parquet"); t = p[p["split"].astype(str) == "test"].set_index("stay_id")
                    los = B[src].stays.set_index("stay_id")["los_days"].loc[t.index]
                t = t.loc[los.index]
                rows.append(np.abs(t["los_days"].to_numpy() - los.to_numpy()))
            errs[m] = np.stack(rows)
        key = f"{src} -> {tgt if scope=='external' else src}"
        res[key] = {"n_stays": int(errs["gbm"].shape[1]),
                    "mae": {m: round(float(e.mean()), 3) for m, e in errs.items()},
                    "lemof_tab_minus_gbm": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in hierarchical_bootstrap_diff(errs["lemof_tab"], errs["gbm"]).items()},
                    "lemof_tab_minus_lemof": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in hierarchical_bootstrap_diff(errs["lemof_tab"], errs["lemof"]).items()},
                    "lemof_minus_gbm": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in hierarchical_bootstrap_diff(errs["lemof"], errs["gbm"]).items()}}
        print(key, json.dumps(res[key]))
json.dump({"what": "paired differences over seeds 0-2 and stays (hierarchical bootstrap, B=2000) from the cells of benchmarks/results/grid-external-tab", "command": "python -m benchmarks.bench_tabular_external", "results": res}, open(OUT / "paired_tabular.json", "w"), indent=1)
