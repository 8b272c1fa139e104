"""Level guidance, settled: stage 3 fitted on every (EHR level, biosignal level) pair.

For each cohort and training seed: stage 1 (both modality models) and stage 2 (exact level
Shapley values, the top-1 level of each modality: "the Shapley pair") run once, exactly as
``lemof.training.pipeline`` runs them; then, from copies of that same stage-2 network, stage 3
(cross-modal attention over the pair's tokens, then the meta-learner, fitted on validation
stays as in training) is fitted once per level pair, every pair with the same initialisation
seed, and each is scored on the validation and test stays. Only the stage-3 level choice
differs between the pairs of a seed.

What it reports per cohort (``benchmarks/results/level_pairs.json``, figures ``level_pairs_<cohort>.png``):

- ``pairs``: every pair with its per-seed validation and test MAE under ``seeds`` and its test
  MAE over seeds with the hierarchical interval (resample seeds, then stays);
- ``shapley_rank``: where the Shapley pair (stage 2's choice, per seed) ranks among all pairs by
  mean test MAE (1 = best), with a bootstrap interval of that rank;
- the pair chosen on validation (per seed, the pair with the lowest validation MAE), the spread
  (best − worst pair), and paired differences with intervals: Shapley pair − the average pair
  (what a random level pair gives in expectation), Shapley pair − the validation-chosen pair.

Cohorts: ``physionet2012`` (sets a+b, its recipe) and ``rhythm2.5`` (the synthetic knob's point
``ecg_strength`` 2.5, ``ecg_focus`` rhythm, 1,500 stays, cohort seed 0, where level guidance came
closest to paying: docs/BENCHMARKS.md). Both at the grid budget (20 + 20 epochs, patience 5),
encoders ``gru+resnet1d``, 1 torch thread. Resumable: a finished (cohort, seed) is read from
``benchmarks/results/level_pairs/<cohort>/seed<k>.json`` (+ ``.npz``: per-stay absolute errors).

    OMP_NUM_THREADS=1 python -m benchmarks.bench_level_pairs [--cohorts physionet2012 rhythm2.5]
        [--seeds 0 1 2] [--report-only]
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks._common import RESULTS, machine
from lemof.evaluation.stats import B_DEFAULT, LEVEL, hierarchical_bootstrap, hierarchical_bootstrap_diff, hierarchical_indices

ENCODERS = "gru+resnet1d"
OUT = RESULTS / "level_pairs"
COHORTS = ("physionet2012", "rhythm2.5")
NAME = "level_pairs"
OPTIONS: dict = {}  # extra TrainConfig options (--epochs, for a smoke test)


def cohort_data(cohort: str) -> tuple[Path, str]:
    """The bundle directory of a benchmark cohort and the recipe family it trains with."""
    if cohort == "rhythm2.5":
        from lemof.data.synthetic import ensure_synthetic

        return Path(ensure_synthetic(1500, 0, ecg_strength=2.5, ecg_focus="rhythm")), "synthetic"
    from lemof.runs.catalog import ensure_cohort

    return Path(ensure_cohort(cohort)), cohort


def run_seed(cohort: str, seed: int, say=print) -> tuple[dict, dict[str, np.ndarray]]:
    """Stage 1 and 2 once, stage 3 on every pair. Returns the record and per-stay errors."""
    import torch

    from lemof.data.bundle import open_bundle
    from lemof.models.inference import predict_rows
    from lemof.runs.train_config import TrainConfig
    from lemof.training import pipeline as P
    from lemof.training.inputs import prepare_inputs
    from lemof.training.loop import resolve_device, seed_everything
    from lemof.training.recipes import load_recipe

    data, family = cohort_data(cohort)
    cfg = TrainConfig(**dict(load_recipe(family), **OPTIONS, seed=seed, encoders=ENCODERS))
    seed_everything(seed)
    dev = resolve_device("cpu")
    log = P.TrainingLog(lambda line: say(f"  {cohort} seed {seed} {line}"))
    bundle = open_bundle(data)
    inputs = prepare_inputs(bundle, cfg, dev)
    model = P.build_network(inputs, cfg)
    t0 = time.perf_counter()
    s1 = P.stage1(model, inputs, cfg, None, log)
    s2 = P.stage2(model, inputs, s1, cfg, None, log)
    stage12_s = time.perf_counter() - t0
    names = model.level_names
    n_e, n_s = len(names["ehr"]), len(names["sig"])
    los = bundle.stays["los_days"].to_numpy(dtype=float)
    rows = {"val": inputs.val, "test": inputs.rows["test"]}
    errors: dict[str, np.ndarray] = {}
    pairs = []
    for e in range(n_e):
        for s in range(n_s):
            t1 = time.perf_counter()
            net = copy.deepcopy(model)
            seed_everything(seed + 101)  # the same fusion initialisation for every pair of this seed
            net.set_selected_levels({"ehr": [e], "sig": [s]}, {"ehr": [1.0], "sig": [1.0]})
            net.to(dev)
            rep, _, _, _ = P.stage3(net, inputs, s1, replace(s2, selected={"ehr": [e], "sig": [s]}, weights={"ehr": [1.0], "sig": [1.0]}), cfg, None, log)
            net.eval()
            rec = {"ehr_level": names["ehr"][e], "sig_level": names["sig"][s], "ehr_index": e, "sig_index": s,
                   "stage3_best_epoch": rep.best_epoch, "stage3_epochs": rep.epochs_run}
            for split, r in rows.items():
                with torch.no_grad():
                    pred = predict_rows(net, inputs.pre, bundle, r, device=dev)
                err = np.abs(pred["los_days"] - los[r])
                errors[f"{split}:{e}:{s}"] = err.astype(np.float32)
                rec[f"{split}_mae_days"] = round(float(err.mean()), 5)
            rec["seconds"] = round(time.perf_counter() - t1, 1)
            pairs.append(rec)
            say(f"  {cohort} seed {seed} pair ({names['ehr'][e]}, {names['sig'][s]}): val {rec['val_mae_days']:.3f} test {rec['test_mae_days']:.3f} d, {rec['seconds']:.0f} s")
    shap_pair = {"ehr_index": s2.selected["ehr"][0], "sig_index": s2.selected["sig"][0]}
    record = {"cohort": cohort, "bundle": bundle.name, "fingerprint": bundle.fingerprint, "seed": seed, "levels": names,
              "importance": s2.importance, "shapley_pair": shap_pair, "stage12_seconds": round(stage12_s, 1),
              "n_val": int(len(rows["val"])), "n_test": int(len(rows["test"])), "pairs": pairs,
              "test_stay_ids": bundle.stays["stay_id"].to_numpy()[rows["test"]].astype(int).tolist()[:3] + ["..."]}
    return record, errors


def seed_paths(cohort: str, seed: int) -> tuple[Path, Path]:
    d = OUT / cohort
    return d / f"seed{seed}.json", d / f"seed{seed}.npz"


def save_seed(cohort: str, seed: int, record: dict, errors: dict[str, np.ndarray]) -> None:
    from lemof.paths import write_json_atomic

    js, npz = seed_paths(cohort, seed)
    js.parent.mkdir(parents=True, exist_ok=True)
    tmp = npz.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **{k.replace(":", "__"): v for k, v in errors.items()})
    tmp.replace(npz)
    write_json_atomic(js, record)  # written last: a seed counts as done once its JSON exists


def load_seed(cohort: str, seed: int) -> tuple[dict, dict[str, np.ndarray]] | None:
    js, npz = seed_paths(cohort, seed)
    if not (js.exists() and npz.exists()):
        return None
    with np.load(npz, allow_pickle=False) as z:
        errors = {k.replace("__", ":"): z[k].astype(float) for k in z.files}
    return json.loads(js.read_text()), errors


def _replicates(values: np.ndarray, seed_idx: np.ndarray, stay_idx: np.ndarray) -> np.ndarray:
    """(B,) replicate means of ``values`` (n_seeds, n) under hierarchical draws (seeds, then stays)."""
    per_seed = np.stack([v[stay_idx].mean(axis=1) for v in values])  # (n_seeds, B)
    return per_seed[seed_idx, np.arange(len(stay_idx))[:, None]].mean(axis=1)


def _ci(d: dict, nd: int = 3) -> dict:
    return {k: (round(v, nd) if isinstance(v, float) else v) for k, v in d.items()}


def analyse(cohort: str, seeds: list[int], B: int = B_DEFAULT) -> dict | None:
    """Everything the JSON holds about one cohort, over the finished seeds."""
    loaded = {s: r for s in seeds if (r := load_seed(cohort, s)) is not None}
    if not loaded:
        return None
    seeds = sorted(loaded)
    first = loaded[seeds[0]][0]
    keys = [(p["ehr_index"], p["sig_index"]) for p in first["pairs"]]
    lab = {(p["ehr_index"], p["sig_index"]): (p["ehr_level"], p["sig_level"]) for p in first["pairs"]}

    def err(split: str, key) -> np.ndarray:  # (n_seeds, n_stays)
        return np.stack([loaded[s][1][f"{split}:{key[0]}:{key[1]}"] for s in seeds])

    shap_keys = {s: (loaded[s][0]["shapley_pair"]["ehr_index"], loaded[s][0]["shapley_pair"]["sig_index"]) for s in seeds}
    val_mae = {s: {k: float(loaded[s][1][f"val:{k[0]}:{k[1]}"].mean()) for k in keys} for s in seeds}
    val_keys = {s: min(keys, key=lambda k: val_mae[s][k]) for s in seeds}
    test = np.stack([err("test", k) for k in keys])  # (pairs, seeds, stays)
    shap_err = np.stack([loaded[s][1][f"test:{shap_keys[s][0]}:{shap_keys[s][1]}"] for s in seeds])
    val_err = np.stack([loaded[s][1][f"test:{val_keys[s][0]}:{val_keys[s][1]}"] for s in seeds])
    avg_err = test.mean(axis=0)  # the expected error of a pair drawn at random, per seed and stay
    pair_mae = test.mean(axis=(1, 2))
    shap_mae = float(shap_err.mean())
    rank = 1 + int((pair_mae < shap_mae - 1e-12).sum())
    # the rank's interval: the same hierarchical draws (seeds, then stays) for every pair and the Shapley choice
    seed_idx, stay_idx = hierarchical_indices(len(seeds), test.shape[2], B, 0)
    rep_pairs = np.stack([_replicates(test[i], seed_idx, stay_idx) for i in range(len(keys))])  # (pairs, B)
    ranks = 1 + (rep_pairs < _replicates(shap_err, seed_idx, stay_idx)[None, :] - 1e-12).sum(axis=0)
    lo, hi = np.percentile(ranks, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    pairs = []
    for i, k in enumerate(keys):
        per_seed = {str(s): {"val_mae_days": round(val_mae[s][k], 4),
                             "test_mae_days": round(float(loaded[s][1][f"test:{k[0]}:{k[1]}"].mean()), 4),
                             "shapley_choice": shap_keys[s] == k, "validation_choice": val_keys[s] == k}
                    for s in seeds}
        pairs.append({"ehr_level": lab[k][0], "sig_level": lab[k][1], "seeds": per_seed,
                      "test_mae_days": _ci(hierarchical_bootstrap(test[i], B)),
                      "minus_shapley_days": _ci(hierarchical_bootstrap_diff(test[i], shap_err, B))})
    order = np.argsort(pair_mae, kind="stable")
    return {
        "cohort": cohort, "bundle": first["bundle"], "fingerprint": first["fingerprint"], "seeds": seeds,
        "n_test_stays": first["n_test"], "n_val_stays": first["n_val"], "levels": first["levels"],
        "n_pairs": len(keys),
        "shapley_pairs": {str(s): list(lab[shap_keys[s]]) for s in seeds},
        "validation_pairs": {str(s): list(lab[val_keys[s]]) for s in seeds},
        "importance": {str(s): loaded[s][0]["importance"] for s in seeds},
        "shapley_test_mae_days": _ci(hierarchical_bootstrap(shap_err, B)),
        "validation_choice_test_mae_days": _ci(hierarchical_bootstrap(val_err, B)),
        "average_pair_test_mae_days": _ci(hierarchical_bootstrap(avg_err, B)),
        "shapley_rank": {"rank": rank, "of": len(keys), "lo": int(lo), "hi": int(hi),
                         "meaning": "1 + the number of fixed pairs whose mean test MAE over seeds is lower than the Shapley choice's (stage 2's pair, per seed); interval: percentiles of the rank over hierarchical bootstrap draws"},
        "best_pair_by_test": list(lab[keys[order[0]]]), "worst_pair_by_test": list(lab[keys[order[-1]]]),
        "spread_days": round(float(pair_mae[order[-1]] - pair_mae[order[0]]), 4),
        "shapley_minus_average_pair_days": _ci(hierarchical_bootstrap_diff(shap_err, avg_err, B)),
        "shapley_minus_validation_choice_days": _ci(hierarchical_bootstrap_diff(shap_err, val_err, B)),
        "validation_choice_minus_average_pair_days": _ci(hierarchical_bootstrap_diff(val_err, avg_err, B)),
        "pairs": pairs,
        "seconds": {str(s): {"stage1_and_2": loaded[s][0]["stage12_seconds"], "stage3_per_pair_median": float(np.median([p["seconds"] for p in loaded[s][0]["pairs"]]))} for s in seeds},
    }


def write(results: list[dict], meta: dict, png: bool) -> None:
    from lemof.paths import write_json_atomic

    where = RESULTS if OUT == RESULTS / NAME else OUT  # a smoke test (--out) keeps its report beside its runs
    write_json_atomic(where / f"{NAME}.json", {"benchmark": NAME, "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), **meta, "cohorts": results})
    if png and results:
        from benchmarks.grid_report import html_to_png
        from lemof.plots.evidence import level_pairs_figure

        for r in results:  # one figure per cohort: level_pairs_<cohort>.png (the app draws the same figure from the JSON)
            html = where / f"{NAME}_{r['cohort']}.html"
            level_pairs_figure(r).write_html(html, include_plotlyjs=True, full_html=True)  # offline: the PNG is rendered without a network
            html_to_png(html)
            html.unlink()


def show(r: dict) -> None:
    f = lambda d: f"{d['estimate']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"  # noqa: E731
    print(f"\n{r['cohort']}: seeds {r['seeds']}, {r['n_pairs']} pairs, Shapley pairs {r['shapley_pairs']}, validation pairs {r['validation_pairs']}")
    for p in sorted(r["pairs"], key=lambda p: p["test_mae_days"]["estimate"]):
        t = p["test_mae_days"]
        print(f"  {p['ehr_level']:>8} x {p['sig_level']:<8} test {t['estimate']:.3f} [{t['lo']:.3f}, {t['hi']:.3f}]  "
              + " ".join(f"s{s}:{v['test_mae_days']:.3f}{'*' if v['shapley_choice'] else ''}{'v' if v['validation_choice'] else ''}" for s, v in p["seeds"].items()))
    sr = r["shapley_rank"]
    print(f"  Shapley rank {sr['rank']} of {sr['of']} [{sr['lo']}, {sr['hi']}]; spread {r['spread_days']:.3f} d")
    print(f"  Shapley - average pair {f(r['shapley_minus_average_pair_days'])}; Shapley - validation choice {f(r['shapley_minus_validation_choice_days'])}; "
          f"validation choice - average {f(r['validation_choice_minus_average_pair_days'])}")


def main() -> None:
    global OUT
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cohorts", nargs="+", default=list(COHORTS), choices=COHORTS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--B", type=int, default=B_DEFAULT)
    ap.add_argument("--epochs", type=int, default=None, help="epochs_stage1 = epochs_stage3 (default: the grid budget, 20); a smoke test only")
    ap.add_argument("--out", type=Path, default=OUT, help="where the per-seed files go")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--no-png", action="store_true")
    args = ap.parse_args()
    OUT = args.out
    import torch

    if args.epochs is not None:
        OPTIONS.update(epochs_stage1=args.epochs, epochs_stage3=args.epochs)
    torch.set_num_threads(1)
    meta = {"options": OPTIONS, "encoders": ENCODERS, "budget": "20 + 20 epochs, patience 5 (TrainConfig defaults), each cohort's recipe", "torch_threads": 1, "device": "cpu",
            "interval": f"{int(100 * LEVEL)} % hierarchical percentile bootstrap, {args.B} replicates: resample seeds, then the (shared) test stays",
            "command": "OMP_NUM_THREADS=1 python -m benchmarks.bench_level_pairs " + " ".join(["--cohorts", *args.cohorts, "--seeds", *map(str, args.seeds)])}
    t0 = time.perf_counter()
    if not args.report_only:
        for cohort in args.cohorts:
            for seed in args.seeds:
                if load_seed(cohort, seed) is not None:
                    continue
                rec, errors = run_seed(cohort, seed)
                save_seed(cohort, seed, rec, errors)
                print(f"{cohort} seed {seed} done ({time.perf_counter() - t0:.0f} s elapsed)", flush=True)
                done = [r for c in args.cohorts if (r := analyse(c, args.seeds, args.B)) is not None]
                write(done, {**meta, "wall_seconds": round(time.perf_counter() - t0, 1)}, png=False)
    done = [r for c in args.cohorts if (r := analyse(c, args.seeds, args.B)) is not None]
    write(done, meta, png=not args.no_png)
    for r in done:
        show(r)


if __name__ == "__main__":
    main()
