"""Faithfulness of the explanations: deletion curves of level SHAP and of Integrated Gradients.

For each run, over test stays with a biosignal:

- level SHAP (LeMoF runs): the levels are removed one at a time, by decreasing |phi| of the
  stay, a removed level taking the stacker's background value (exactly as outside a coalition
  of the Shapley game); the curve is |stacker output - original| after each removal. The
  reference removes them in random orders (mean over 10 seeded orders). Reported: the mean
  curves and the area between them (top-first minus random, over the removed fraction k/P,
  i.e. sum_k (top_k - random_k) / P), with a 95 % bootstrap CI over stays.
- Integrated Gradients (every neural run): input cells (EHR feature x hour with its value, mask
  and time-since-last channels; a static feature; a biosignal channel over ~1 % of its length)
  are ranked by |attribution| and removed by count (0, 5, 10, 20, ..., 100 % of the cells) by
  setting them to IG's baseline (zero in the standardised input space); the curve is
  |final prediction - original| in log1p-days; the reference removes them in random orders
  (5 seeds). Area between the curves over the removed fraction, with a bootstrap CI.

Default runs: the shipped synthetic run on the default synthetic cohort and the shipped
PhysioNet 2012 run on the PhysioNet cohort; ``--runs DIR ...`` adds runs (neural baselines: IG
only). Writes ``results/faithfulness.json`` and ``results/faithfulness.html``.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_faithfulness [--runs DIR ...] [--data BUNDLE ...]
        [--stays N] [--ig-stays N] [--quick]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks._common import RESULTS, save

from testkit.paths import REPO
from lemof.evaluation.stats import bootstrap_mean_ci
from lemof.explain import evaluation as ev

SHIPPED = [REPO / "assets" / "models" / "synthetic-gru+resnet1d", REPO / "assets" / "models" / "physionet2012-gru+resnet1d"]
N_RANDOM_LEVELS = 10
N_RANDOM_INPUTS = 5


def default_bundle_dir(source: str) -> Path:
    """The app's default cohort of a family (built on first use)."""
    if source == "synthetic":
        from lemof.data.synthetic import ensure_synthetic

        return Path(ensure_synthetic())
    from lemof.runs.catalog import PHYSIONET_KEY, ensure_cohort

    if source != PHYSIONET_KEY:
        raise SystemExit(f"no default cohort for {source!r} runs: pass its bundle with --data")
    return Path(ensure_cohort(PHYSIONET_KEY))


def bundle_for(run, data: list[Path], cache: dict):
    """The bundle a run is evaluated on: one of ``--data`` of its family, else the default one."""
    from lemof import open_bundle

    source = run.cohort.source
    if source not in cache:
        picks = [d for d in data if open_bundle(d).source == source]
        cache[source] = open_bundle(picks[0] if picks else default_bundle_dir(source))
    return cache[source]


def _mean_ci(values: np.ndarray) -> dict:
    """The mean with its 95 % bootstrap interval (``lemof.evaluation.stats.bootstrap_mean_ci``),
    rounded for the JSON, and n."""
    ci = bootstrap_mean_ci(values)
    return {**{k: None if v is None or not np.isfinite(v) else round(float(v), 5) for k, v in ci.items()}, "n": len(values)}


def summarise_curves(top: np.ndarray, rand: np.ndarray, xs: np.ndarray) -> dict:
    area = ev.area_between(top, rand, xs)
    return {
        "x_removed_fraction": [round(float(x), 4) for x in xs],
        "top_first_mean": [round(float(v), 5) for v in top.mean(axis=0)],
        "random_mean": [round(float(v), 5) for v in rand.mean(axis=0)],
        "area_between": _mean_ci(area),
        "area_top_first": _mean_ci(ev.area_between(top, np.zeros_like(top), xs)),
        "area_random": _mean_ci(ev.area_between(rand, np.zeros_like(rand), xs)),
        "share_of_stays_area_positive": round(float((area > 0).mean()), 4),
    }


def level_faithfulness(run, bundle, rows: np.ndarray) -> dict:
    out = ev.lemof_outputs(run, bundle, rows)
    top, rand = ev.level_deletion_curves(run.model.stacker, out["stacker_inputs"], out["phi"], n_random=N_RANDOM_LEVELS, seed=0)
    p = out["phi"].shape[1]
    # sanity: the game's efficiency, and removing everything gives the base value
    eff = np.abs(np.nansum(out["phi"], axis=1) - (out["stacker_output"] - out["base"])).max()
    end = np.abs(top[:, -1] - np.abs(out["stacker_output"] - out["base"])).max()
    res = summarise_curves(top, rand, np.arange(p + 1) / p)
    res.update({
        "levels": run.level_importance.all_levels,
        "n_stays": len(rows),
        "n_random_orders": N_RANDOM_LEVELS,
        "base_value": round(out["base"], 6),
        "mean_abs_stacker_minus_base": round(float(np.abs(out["stacker_output"] - out["base"]).mean()), 5),
        "check_max_efficiency_error": float(eff),
        "check_max_full_removal_error": float(end),
    })
    return res


def ig_faithfulness(run, bundle, rows: np.ndarray, steps: int) -> dict:
    from lemof.explain.input_attribution import input_attributions
    from lemof.models.inference import tabular_values

    pre, model = run.preprocessor, run.model
    cells = ev.input_cells(pre)
    ehr_all = pre.ehr(bundle, rows)
    sig_all, avail = pre.signal(bundle, rows)
    tab = tabular_values(model, bundle, rows, avail)  # a tabular head's predictions, held fixed (None without one)
    fr = np.array(ev.INPUT_FRACTIONS)
    tops, rands, deltas, mismatch = [], [], [], []
    t0 = time.perf_counter()
    for i, row in enumerate(rows):
        sid = int(bundle.stays["stay_id"].iloc[row])
        a = input_attributions(run, bundle, sid, steps=steps)
        score = ev.cell_attributions(cells, a)
        top, rand, original = ev.input_deletion_curves(model, cells, ehr_all[i], sig_all[i], bool(avail[i]), score,
                                                       fr, n_random=N_RANDOM_INPUTS, seed=i, tabular=None if tab is None else float(tab[i]))
        tops.append(top)
        rands.append(rand.mean(axis=0))
        deltas.append(abs(a.delta) / max(abs(a.output - a.reference_output), 1e-9))
        mismatch.append(abs(original - a.output))
    top, rand = np.array(tops), np.array(rands)
    res = summarise_curves(top, rand, fr)
    res.update({
        "n_stays": len(rows),
        "n_cells": cells.n,
        "cells": {k: int((cells.kinds == k).sum()) for k in ("ehr", "static", "sig")},
        "sig_segment_samples": cells.segment,
        "removal": "by count of cells, baseline = 0 in the standardised input space"
                   + ("; the tabular head's prediction held at the stay's value (its TreeSHAP explains it exactly)" if tab is not None else ""),
        "n_random_orders": N_RANDOM_INPUTS,
        "ig_steps": steps,
        "median_relative_ig_delta": round(float(np.median(deltas)), 4),
        "mean_abs_prediction_minus_baseline": round(float(top[:, -1].mean()), 5),
        "check_max_original_mismatch": float(max(mismatch)),
        "seconds": round(time.perf_counter() - t0, 1),
    })
    return res


def figure(results: dict, path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from lemof.plots.style import OKABE_ITO, REFERENCE, base_layout, with_alt

    panels = [(name, m, r[m]) for name, r in results.items() for m in ("level_shap", "integrated_gradients") if r.get(m)]
    cols = 2
    nrows = (len(panels) + cols - 1) // cols
    titles = [f"{name}: {'level SHAP' if m == 'level_shap' else 'Integrated Gradients'}" for name, m, _ in panels]
    fig = make_subplots(rows=nrows, cols=cols, subplot_titles=titles, vertical_spacing=0.5 / max(nrows, 1) / 2, horizontal_spacing=0.08)
    for k, (name, m, r) in enumerate(panels):
        row, col = k // cols + 1, k % cols + 1
        xs = r["x_removed_fraction"]
        a = r["area_between"]
        for key, label, colour, dash in (("top_first_mean", "top-|attribution| first", OKABE_ITO["vermillion"], "solid"),
                                         ("random_mean", "random order", REFERENCE, "dash")):
            fig.add_trace(go.Scatter(x=xs, y=r[key], mode="lines+markers", name=label, legendgroup=label, showlegend=k == 0,
                                     line=dict(color=colour, dash=dash),
                                     hovertemplate=f"{label}<br>removed %{{x:.0%}}: %{{y:.4f}} log1p-days<extra></extra>"),
                          row=row, col=col)
        fig.add_annotation(text=f"area between: {a['estimate']:.4f} [{a['lo']:.4f}, {a['hi']:.4f}], n={r['n_stays']}",
                           xref=f"x{k + 1 if k else ''} domain", yref=f"y{k + 1 if k else ''} domain", x=0.02, y=0.98,
                           showarrow=False, xanchor="left", yanchor="top", font=dict(size=11))
        fig.update_xaxes(title_text="share of levels removed" if m == "level_shap" else "share of input cells removed",
                         tickformat=".0%", row=row, col=col)
        fig.update_yaxes(title_text="|output − original| (log1p-days)", row=row, col=col)
    base_layout(fig, title="Deletion curves: removing the most-attributed parts first vs in random order (mean over test stays)",
                height=340 * nrows + 80)
    alt = "; ".join(f"{t}: area between {r['area_between']['estimate']:.4f}" for t, (_, _, r) in zip(titles, panels))
    with_alt(fig, f"Deletion curves per run and method. {alt}.")
    fig.write_html(path, include_plotlyjs=True, full_html=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", nargs="*", type=Path, default=[], help="more run directories (neural baselines: IG only)")
    ap.add_argument("--no-shipped", action="store_true", help="only the --runs, not the two shipped runs")
    ap.add_argument("--data", nargs="*", type=Path, default=[], help="cohort bundles to use instead of a family's default")
    ap.add_argument("--stays", type=int, default=300, help="test stays with a biosignal for level SHAP")
    ap.add_argument("--ig-stays", type=int, default=100, help="of those, stays for Integrated Gradients")
    ap.add_argument("--ig-steps", type=int, default=128)
    ap.add_argument("--quick", action="store_true", help="smoke test: 12 stays, 4 for IG, 16 IG steps; writes *_quick files")
    args = ap.parse_args()
    if args.quick:
        args.stays, args.ig_stays, args.ig_steps = 12, 4, 16
    from lemof import load_run

    t_all = time.perf_counter()
    paths = ([] if args.no_shipped else SHIPPED) + [p.resolve() for p in args.runs]
    cache: dict = {}
    results: dict = {}
    for path in paths:
        run = load_run(path)
        if run.kind == "tabular":
            print(f"{run.run_id}: tabular ({run.fusion}), no network to attribute: skipped")
            continue
        bundle = bundle_for(run, args.data, cache)
        rows = ev.signal_rows(bundle, "test", args.stays, seed=0)
        name = run.run_id  # grid cells: <fusion>__<encoders>__seed<k>
        entry = {"run": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path), "fusion": run.fusion,
                 "encoders": run.encoders, "cohort": bundle.name,
                 "cohort_is_training_cohort": run.cohort.fingerprint == bundle.fingerprint}
        t = time.perf_counter()
        if run.is_lemof:
            entry["level_shap"] = level_faithfulness(run, bundle, rows)
            entry["level_shap"]["seconds"] = round(time.perf_counter() - t, 1)
        entry["integrated_gradients"] = ig_faithfulness(run, bundle, rows[: args.ig_stays], args.ig_steps)
        entry["seconds"] = round(time.perf_counter() - t, 1)
        results[name] = entry
        print(f"  {name}: {entry['seconds']} s", flush=True)

    print(f"\n{'run':<52} {'method':<22} {'n':>4} {'area between [95% CI]':>30}")
    for name, r in results.items():
        for m, label in (("level_shap", "level SHAP"), ("integrated_gradients", "Integrated Gradients")):
            if m in r:
                a = r[m]["area_between"]
                print(f"{name:<52} {label:<22} {r[m]['n_stays']:>4} {a['estimate']:>10.4f} [{a['lo']:.4f}, {a['hi']:.4f}]")
    suffix = "_quick" if args.quick else ""
    html = RESULTS / f"faithfulness{suffix}.html"
    RESULTS.mkdir(exist_ok=True)
    figure(results, html)
    save(f"faithfulness{suffix}", {
        "stays": {"level_shap": args.stays, "integrated_gradients": args.ig_stays, "split": "test, with a biosignal"},
        "area_between": "top-first minus random curve, trapezoid over the removed fraction (levels: sum_k (top_k - random_k) / P); "
                        "mean over stays with a 95 % percentile bootstrap CI (2000 resamples)",
        "runs": results,
        "figure": str(html.relative_to(REPO)),
        "total_seconds": round(time.perf_counter() - t_all, 1),
    })


if __name__ == "__main__":
    main()
