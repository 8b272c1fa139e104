"""When does level guidance pay? Curves over the synthetic cohort's ECG knob.

For each knob point (``ecg_strength`` x ``ecg_focus``, ``lemof/data/synthetic.py``) one synthetic
cohort (``--n`` stays, cohort seed ``--cohort-seed``; the same stays and latent causes at every
point, only the part of log-LOS the ECG carries changes) and, per training seed, one run of each
method (``--fusions``: LeMoF, the best fusion baseline on synthetic ``xattn_last``, the
``random_level`` ablation, the tabular ``gbm``), trained by ``grid_run.run_cell`` with a reduced
budget (``--epochs`` for stage 1 and stage 3; baselines get their sum end to end; 6, the default
here, leaves LeMoF's stage-1 ECG encoder short of converging, 20 is the grid's: see
docs/BENCHMARKS.md). ``random_level`` draws its levels from the training seed, the same draws at
every point; the JSON says where they were the Shapley-chosen ones (the same run). Resumable:
finished runs are skipped, a failed one is tried again. Per point:

- test MAE of every method, mean over seeds with a 95 % interval over seeds and test stays
  (bootstrap: resample the seeds, then the test stays; the test stays are the same for every
  seed and method, so one stay draw is shared by the drawn seeds);
- paired differences, same interval: LeMoF − xattn_last, LeMoF − gbm (< 0: LeMoF better) and
  random_level − LeMoF (> 0: the Shapley-chosen level beats a random one);
- explanation truth of each LeMoF run (``bench_explanation_truth.lemof_explanation_truth``):
  AUROC of the level-SHAP and head ECG shares for ECG- vs EHR-driven test stays, and of the deep
  ECG levels' share for AF- vs ischaemia-driven stays; mean over seeds (and per seed with its CI);
- the cohort's ECG share of log-LOS variance (``synthetic.ecg_variance_share``) and the levels each
  run selected.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_signal_strength [--strengths 0 1 2 2.5]
        [--focus both rhythm] [--seeds 0 1 2] [--n 1500] [--epochs 6] [--report-only]

Runs under ``benchmarks/results/signal_strength/<point>/<fusion>__<encoders>__seed<k>/``; writes
``results/signal_strength.json`` and ``results/signal_strength.html`` / ``.png`` after every point.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.grid_run import GBM, LEMOF, TABULAR, Cell, run_cell
from benchmarks._common import RESULTS, save
from benchmarks.bench_explanation_truth import lemof_explanation_truth
from benchmarks.grid_report import html_to_png, load_cell
from lemof.evaluation.stats import B_DEFAULT, LEVEL, hierarchical_bootstrap, hierarchical_bootstrap_diff
from lemof.explain import evaluation as ev

ENCODERS = "gru+resnet1d"
BASELINE = "xattn_last"
RANDOM = "random_level"
FUSIONS = (LEMOF, BASELINE, RANDOM, GBM)
OUT = RESULTS / "signal_strength"


def point_name(strength: float, focus: str) -> str:
    """The directory of a knob point's runs, e.g. ``ecg2.0-both``."""
    return f"ecg{float(strength)!r}-{focus}"


def cells_of(point: str, fusions, seeds) -> list[Cell]:
    return [Cell(point, f, TABULAR if f == GBM else ENCODERS, s) for s in seeds for f in fusions]


def analyse_point(out: Path, point: str, bundle_dir: Path, fusions, seeds, B: int) -> dict:
    """Everything the JSON holds about one knob point (only finished runs count)."""
    from lemof import load_run, open_bundle
    from lemof.data.synthetic import ecg_variance_share

    bundle = open_bundle(bundle_dir)
    stays = bundle.stays
    test_los = stays[stays["split"].astype(str) == "test"].set_index("stay_id")["los_days"].sort_index()
    causes = bundle.latent_causes()
    parts = {c.removeprefix("log_los_part_"): causes[c].to_numpy() for c in causes.columns if c.startswith("log_los_part_")}
    knob = bundle.provenance.get("ecg_knob", {"ecg_strength": 1.0, "ecg_focus": "both"})
    rec: dict = {"point": point, "bundle": bundle.name, "fingerprint": bundle.fingerprint,
                 "ecg_strength": knob["ecg_strength"], "ecg_focus": knob["ecg_focus"],
                 "ecg_variance_share": round(ecg_variance_share(parts), 4), "n_test_stays": len(test_los), "runs": {}, "methods": {}}
    errors: dict[str, dict[int, np.ndarray]] = {f: {} for f in fusions}
    truth = ev.truth_table(causes)
    truth_c = ev.truth_table(causes, centre_rows=ev.signal_rows(bundle, "train"))
    rows_all = ev.signal_rows(bundle, "test")
    rec["n_test_ecg_driven"] = int(truth["ecg_driven"].to_numpy()[rows_all].sum())
    for cell in cells_of(point, fusions, seeds):
        run_dir = cell.run_dir(out)
        if not cell.finished(out):
            continue
        data = load_cell(cell, run_dir, test_los, bundle.fingerprint)
        errors[cell.fusion][cell.seed] = data.abs_err
        row = {"fusion": cell.fusion, "seed": cell.seed, "test_mae_days": round(float(data.abs_err.mean()), 4),
               "training_seconds": data.config.get("training_seconds")}
        if cell.fusion != GBM:
            run = load_run(run_dir)
            if run.is_lemof:
                row["selected_levels"] = run.level_importance.selected
                if cell.fusion == LEMOF:
                    cache = run_dir / "explanation_truth.json"  # the run does not change: computed once
                    if cache.exists():
                        expl = json.loads(cache.read_text())
                    else:
                        from lemof.paths import write_json_atomic

                        expl = lemof_explanation_truth(run, bundle, truth, truth_c, rows_all)
                        write_json_atomic(cache, expl)
                    row["explanation"] = {
                        "level_shap_auroc": expl["level_shap_share"]["all_ecg_stays"],
                        "head_auroc": expl["head_share"]["all_ecg_stays"],
                        "depth_auroc_af_vs_ischaemia": expl["depth"]["all_with_an_ecg_cause"]["auroc_deep_share_af_vs_ischaemia"],
                        "depth_counts": {k: expl["depth"]["all_with_an_ecg_cause"][k] for k in ("n_af", "n_ischaemia")},
                    }
        rec["runs"][cell.name] = row

    def stacked(fusion: str, shared: list[int]) -> np.ndarray:
        return np.stack([errors[fusion][s] for s in shared])

    for f in fusions:
        have = sorted(errors[f])
        if have:
            rec["methods"][f] = {"seeds": have, "mae_days": hierarchical_bootstrap(stacked(f, have), B=B),
                                 "mae_per_seed": [round(float(errors[f][s].mean()), 4) for s in have]}
    pairs = {"lemof_minus_xattn_last": (LEMOF, BASELINE), "lemof_minus_gbm": (LEMOF, GBM), "random_level_minus_lemof": (RANDOM, LEMOF)}
    rec["paired"] = {}
    for key, (fa, fb) in pairs.items():
        if fa in errors and fb in errors:
            shared = sorted(set(errors[fa]) & set(errors[fb]))
            if shared:
                rec["paired"][key] = {"seeds": shared, **hierarchical_bootstrap_diff(stacked(fa, shared), stacked(fb, shared), B=B)}
    # random_level draws its levels from the training seed: where it drew the Shapley-chosen ones, the two runs are the same run
    chosen = {(r["fusion"], r["seed"]): r.get("selected_levels") for r in rec["runs"].values()}
    rec["random_level_drew_the_shapley_levels"] = {
        s: chosen[(RANDOM, s)] == chosen[(LEMOF, s)] for s in seeds if (RANDOM, s) in chosen and (LEMOF, s) in chosen}
    expl_rows = [r["explanation"] for r in rec["runs"].values() if "explanation" in r]
    rec["explanation_mean_over_seeds"] = {
        k: (None if not vals else round(float(np.mean(vals)), 4))
        for k in ("level_shap_auroc", "head_auroc", "depth_auroc_af_vs_ischaemia")
        for vals in [[e[k]["estimate"] for e in expl_rows if e[k]["estimate"] is not None]]
    }
    rec["explanation_n_seeds"] = len(expl_rows)
    return rec


def _fmt(d: dict | None, nd: int = 3) -> str:
    if not d or d.get("estimate") is None:
        return "—"
    mark = "**" if d.get("excludes_zero") else ""
    return f"{mark}{d['estimate']:+.{nd}f}{mark} [{d['lo']:+.{nd}f}, {d['hi']:+.{nd}f}]"


def print_table(points: list[dict]) -> None:
    print("\n| focus | strength | ECG var. share | seeds | LeMoF MAE d | xattn_last MAE d | gbm MAE d | LeMoF − xattn_last | LeMoF − gbm "
          "| random level − LeMoF | level-SHAP AUROC | head AUROC | depth AUROC |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p in points:
        m = p["methods"]

        def mae(f):
            x = m.get(f, {}).get("mae_days")
            return "—" if not x else f"{x['estimate']:.3f} [{x['lo']:.3f}, {x['hi']:.3f}]"

        e = p["explanation_mean_over_seeds"]
        seeds = ",".join(map(str, m.get(LEMOF, {}).get("seeds", [])))
        print(f"| {p['ecg_focus']} | {p['ecg_strength']:g} | {100 * p['ecg_variance_share']:.1f} % | {seeds} | {mae(LEMOF)} | {mae(BASELINE)} "
              f"| {mae(GBM)} | {_fmt(p['paired'].get('lemof_minus_xattn_last'))} | {_fmt(p['paired'].get('lemof_minus_gbm'))} "
              f"| {_fmt(p['paired'].get('random_level_minus_lemof'))} | "
              + " | ".join("—" if e[k] is None else f"{e[k]:.2f}" for k in ("level_shap_auroc", "head_auroc", "depth_auroc_af_vs_ischaemia"))
              + " |", flush=True)


def figure(points: list[dict]):
    """Three panels over ecg_strength, one line per focus: LeMoF − baselines, random − LeMoF, explanation AUROC."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from lemof.plots.style import OKABE_ITO, REFERENCE, base_layout, with_alt

    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=(
        "LeMoF − baseline, test MAE (days; < 0: LeMoF better)", "Random level − LeMoF (days; > 0: the Shapley-chosen level is better)",
        "Explanation vs truth, AUROC (LeMoF, mean over seeds)"))
    colours = [OKABE_ITO["vermillion"], OKABE_ITO["sky"], OKABE_ITO["green"]]
    dash = {"both": "solid", "morphology": "dot", "rhythm": "dash"}
    for focus in dict.fromkeys(p["ecg_focus"] for p in points):
        ps = sorted((p for p in points if p["ecg_focus"] == focus), key=lambda p: p["ecg_strength"])
        xs = [p["ecg_strength"] for p in ps]
        for row, key, name, colour in ((1, "lemof_minus_xattn_last", "vs xattn_last", colours[0]), (1, "lemof_minus_gbm", "vs gbm", colours[1]),
                                       (2, "random_level_minus_lemof", "random − LeMoF", colours[2])):
            ds = [p["paired"].get(key) for p in ps]
            keep = [i for i, d in enumerate(ds) if d and d["estimate"] is not None]
            if not keep:
                continue
            fig.add_trace(go.Scatter(
                x=[xs[i] for i in keep], y=[ds[i]["estimate"] for i in keep], mode="lines+markers", name=f"{name} ({focus})",
                line=dict(color=colour, dash=dash.get(focus, "solid")),
                error_y=dict(type="data", array=[ds[i]["hi"] - ds[i]["estimate"] for i in keep],
                             arrayminus=[ds[i]["estimate"] - ds[i]["lo"] for i in keep], color=colour),
                customdata=[[100 * ps[i]["ecg_variance_share"]] for i in keep],
                hovertemplate="strength %{x}, ECG share %{customdata[0]:.1f} %: %{y:.3f} d<extra></extra>"), row=row, col=1)
        for key, name, colour in (("level_shap_auroc", "level-SHAP ECG share", colours[0]), ("head_auroc", "head ECG share", colours[1]),
                                  ("depth_auroc_af_vs_ischaemia", "deep levels, AF vs ischaemia", colours[2])):
            ys = [p["explanation_mean_over_seeds"][key] for p in ps]
            keep = [i for i, y in enumerate(ys) if y is not None]
            if keep:
                fig.add_trace(go.Scatter(x=[xs[i] for i in keep], y=[ys[i] for i in keep], mode="lines+markers", name=f"{name} ({focus})",
                                         line=dict(color=colour, dash=dash.get(focus, "solid"))), row=3, col=1)
    for row in (1, 2):
        fig.add_hline(y=0, line_dash="dash", line_color=REFERENCE, row=row, col=1)
    fig.add_hline(y=0.5, line_dash="dash", line_color=REFERENCE, row=3, col=1)
    fig.update_xaxes(title_text="ecg_strength (share of log-LOS variance carried by the ECG: 0 % at 0, 9 % at 1, 36 % at 2, 57 % at 2.5)",
                     row=3, col=1)
    base_layout(fig, title="Synthetic ECG knob: LeMoF vs baselines, Shapley vs random level, explanation truth (95 % CI over seeds and stays)",
                height=900)
    fig.update_layout(legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02), margin=dict(r=230), title_x=0.015)
    return with_alt(fig, f"Curves over the ECG knob at {len(points)} points; error bars are 95 % intervals over seeds and test stays.")


def write_outputs(name: str, points: list[dict], meta: dict, png: bool) -> None:
    save(name, {**meta, "points": points})
    if not points:
        return
    html = RESULTS / f"{name}.html"
    fig = figure(points)
    tmp = html.with_name(f".{html.name}.tmp")
    fig.write_html(tmp, include_plotlyjs=True, full_html=True)
    tmp.replace(html)
    if png:
        html_to_png(html)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--strengths", nargs="+", type=float, default=[0.0, 1.0, 2.0, 2.5])
    ap.add_argument("--focus", nargs="+", default=["both"], help="ecg_focus values (both, morphology, rhythm)")
    ap.add_argument("--rhythm-strengths", nargs="*", type=float, default=None,
                    help="strengths for the focus values other than 'both' (default: --strengths without 0, which is the same LOS for every focus)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--fusions", nargs="+", default=list(FUSIONS))
    ap.add_argument("--n", type=int, default=1500, help="stays per cohort")
    ap.add_argument("--cohort-seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=6, help="epochs_stage1 = epochs_stage3 (baselines: their sum end to end)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--B", type=int, default=B_DEFAULT, help="bootstrap replicates")
    ap.add_argument("--out", type=Path, default=OUT, help="where the run directories go")
    ap.add_argument("--name", default="signal_strength", help="results/<name>.json, .html, .png")
    ap.add_argument("--report-only", action="store_true", help="analyse the finished runs, train nothing")
    ap.add_argument("--no-png", action="store_true")
    args = ap.parse_args()
    import torch

    from lemof.data.synthetic import ensure_synthetic

    torch.set_num_threads(1)
    points = [(s, "both") for s in args.strengths if "both" in args.focus]
    other = args.rhythm_strengths if args.rhythm_strengths is not None else [s for s in args.strengths if s != 0]
    points += [(s, f) for f in args.focus if f != "both" for s in other]
    options = {"epochs_stage1": args.epochs, "epochs_stage3": args.epochs}
    meta = {"n_stays_per_cohort": args.n, "cohort_seed": args.cohort_seed, "encoders": ENCODERS, "fusions": args.fusions,
            "seeds": args.seeds, "train_options": options, "torch_threads": 1, "device": args.device,
            "interval": f"{int(100 * LEVEL)} % percentile bootstrap, {args.B} replicates: resample seeds, then the (shared) test stays",
            "explanation": "bench_explanation_truth.lemof_explanation_truth over every test stay with an ECG (no Integrated Gradients)"}
    t0 = time.perf_counter()
    bundles = {point_name(s, f): ensure_synthetic(args.n, args.cohort_seed, ecg_strength=s, ecg_focus=f) for s, f in points}
    results: dict[str, dict] = {}

    def report(name: str, show: bool = True, png: bool = False) -> None:
        results[name] = analyse_point(args.out, name, bundles[name], args.fusions, args.seeds, args.B)
        done = [results[point_name(s, f)] for s, f in points if point_name(s, f) in results]
        write_outputs(args.name, done, {**meta, "points_planned": [point_name(s, f) for s, f in points],
                             "wall_seconds": round(time.perf_counter() - t0, 1)}, png=png and not args.no_png)
        if show:
            print_table(done)

    if not args.report_only:
        # focus 'both' first, then the others; within each, seed by seed, so a partial benchmark already
        # has every point of the main curve at the first seeds
        groups = [[p for p in points if p[1] == "both"], [p for p in points if p[1] != "both"]]
        todo = [(seed, point_name(s, f), fusion) for g in groups for seed in args.seeds for s, f in g for fusion in args.fusions]
        for k, (seed, name, fusion) in enumerate(todo, 1):
            cell = Cell(name, fusion, TABULAR if fusion == GBM else ENCODERS, seed)
            if cell.finished(args.out):
                continue
            r = run_cell(cell, bundles[name], args.out, options, args.device)
            tail = f"test MAE {r['mae']:.3f} d" if r["status"] == "done" else f"FAILED: {r['error']}"
            print(f"[{k}/{len(todo)}] {name}/{cell.name}: {tail}, {r['seconds']:.0f} s "
                  f"(elapsed {time.perf_counter() - t0:.0f} s)", flush=True)
            if k == len(todo) or todo[k][1] != name or todo[k][0] != seed:  # a point finished for this seed: report it
                report(name)
    for i, (s, f) in enumerate(points):  # every point with all its finished runs; the PNG once, at the end
        report(point_name(s, f), show=False, png=i == len(points) - 1)
    print_table([results[point_name(s, f)] for s, f in points])


if __name__ == "__main__":
    main()
