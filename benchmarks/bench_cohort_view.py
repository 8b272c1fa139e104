"""The Cohort page at 100,000 stays: time of every aggregation step and of drawing its figures.

The page aggregates before drawing (``lemof/evaluation/cohort_view.py`` and the modules it names): only percentiles, bin counts and
bootstrap intervals reach the figures. This benchmark tiles the shipped synthetic run's stored
test predictions, level Shapley values and the cohort's stays to N stays (default 100,000,
fresh stay ids, the same columns as the page uses) and times each step the page runs after
the run's predictions are known: subgroup columns, the probability of a long stay, the
reliability table, error by subgroup with bootstrap CIs, level and head-kind spreads, and the
four figures (their JSON size too, which is what the browser receives).

    python -m benchmarks.bench_cohort_view [N]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from benchmarks._common import peak_rss_mb, save

from testkit.paths import REPO


def main(n: int = 100_000) -> None:
    from lemof import load_run, open_bundle
    from lemof.runs.catalog import cache_dir
    from lemof.evaluation.long_stay import prob_long_stay, validation_residuals
    from lemof.evaluation.reliability import bin_of, brier_score, reliability_table
    from lemof.evaluation.spread import head_kind_totals, head_spread, level_spread
    from lemof.evaluation.subgroups import subgroup_columns, subgroup_errors
    from lemof.evaluation.stats import PAGE_B, bootstrap_mean_ci
    from lemof.plots.cohort_view import head_spread_figure, level_spread_figure, reliability_figure, subgroup_figure

    run = load_run(REPO / "assets" / "models" / "synthetic-gru+resnet1d")
    bundle = open_bundle(cache_dir() / "cohorts" / "synthetic-n4000-seed0-v1")
    stays = bundle.stays.set_index("stay_id")
    pred = run.predictions.set_index("stay_id")
    test = pred[pred["split"] == "test"]
    reps = -(-n // len(test))
    take = np.tile(np.arange(len(test)), reps)[:n]
    big_pred = test.iloc[take].reset_index(drop=True)
    big_stays = stays.reindex(test.index).iloc[take].reset_index(drop=True)
    big_shap = run.level_shap.set_index("stay_id").reindex(test.index).iloc[take].reset_index(drop=True)
    observed = big_stays["los_days"].to_numpy(dtype=float)
    avail = big_pred["sig_available"].to_numpy(dtype=bool)
    val = pred[pred["split"] == "val"]

    steps: dict[str, float] = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        steps[name] = round((time.perf_counter() - t0) * 1000, 1)
        return out

    t_all = time.perf_counter()
    groups = timed("subgroup columns", lambda: subgroup_columns(big_stays, avail, "ECG"))
    residuals = validation_residuals(val["final"].to_numpy(), stays.reindex(val.index)["los_days"].to_numpy(), val["sig_available"].to_numpy())
    p_long = timed("P(LOS > 7 d) per stay", lambda: prob_long_stay(big_pred["final"].to_numpy(), avail, residuals))
    y_long = (observed > 7).astype(float)
    reliability = timed("reliability table + Brier", lambda: (reliability_table(p_long, y_long), brier_score(p_long, y_long), bin_of(p_long))[0])
    err = np.abs(big_pred["los_days"].to_numpy() - observed)
    timed("overall MAE with bootstrap CI", lambda: bootstrap_mean_ci(err, PAGE_B))
    subgroups = timed("error by subgroup with bootstrap CIs", lambda: subgroup_errors(err, groups))
    levels = timed("level spread", lambda: level_spread(big_shap, run.level_importance.levels, run.level_importance.selected))
    heads = timed("head-kind spread", lambda: head_spread(head_kind_totals(big_pred, run.head_kinds), avail))
    aggregate_ms = round((time.perf_counter() - t_all) * 1000, 1)
    overall = {"n": n, "mae_days": float(err.mean()), "lo": float(err.mean()), "hi": float(err.mean())}
    figures = {
        "level spread": lambda: level_spread_figure(levels, "ECG"),
        "head spread": lambda: head_spread_figure(heads, "ECG"),
        "reliability": lambda: reliability_figure(reliability, 0.1, 0.12),
        "subgroups": lambda: subgroup_figure(subgroups, overall),
    }
    sizes = {}
    t0 = time.perf_counter()
    for name, make in figures.items():
        sizes[name] = len(timed(f"figure: {name}", make).to_json())
    figures_ms = round((time.perf_counter() - t0) * 1000, 1)
    save("cohort_view", {
        "stays": n, "run": run.run_id, "tiled_from_test_stays": len(test),
        "steps_ms": steps, "aggregation_total_ms": aggregate_ms, "figures_total_ms": figures_ms,
        "figure_json_bytes": sizes, "peak_rss_mb": round(peak_rss_mb(), 1),
    })


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
