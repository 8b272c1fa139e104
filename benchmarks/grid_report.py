"""Analysis of the benchmark grid: bootstrap statistics, report.json, report.md, forest plots.

Every cell of a cohort is scored on the same stays: the held-out test stays of the cohort it was
trained on, and in the external protocol (``grid_run.EXTERNAL``) every stay of another cohort of
the family that no choice looked at. Percentile intervals, B = 2000 draws with fixed seeds:
- Per cell: every metric recomputed by ``lemof.evaluation.metrics.los_metrics`` on each resample
  of the stays.
- Per method (fusion, encoders): the mean over seeds. Its MAE interval is a hierarchical bootstrap
  (``lemof.evaluation.stats.hierarchical_bootstrap``): each replicate resamples the seeds, then the
  stays, so it covers both the seed-to-seed and the stay-to-stay variation. Other metrics use the
  mean over seeds of each resample's per-seed values (stay variation only); the seed-to-seed SD of
  the MAE is reported beside them.
- Paired comparisons: per-stay absolute errors of the seeds both methods have, differenced seed by
  seed and stay by stay, the mean difference bootstrapped hierarchically with the same seed and
  stay draws for both methods.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.grid_run import FUSIONS, GBM, LEMOF, LEMOF_TAB, TABULAR, Cell, GridSpec, config_mismatch, method_kind, scan
from lemof.evaluation.stats import (  # noqa: F401  (re-exported: the grid's statistics in one place)
    B_DEFAULT, LEVEL, METRICS, SEED_DEFAULT, bootstrap_indices, bootstrap_mean_ci, hierarchical_bootstrap, hierarchical_bootstrap_diff,
    metric_replicates, paired_bootstrap, percentile_ci,
)

LABELS = {
    "lemof": "LeMoF", "lemof_ft": "LeMoF: encoders fine-tuned", "lemof_tab": "LeMoF + tabular head", "gbm": "GBM (tabular)", "early": "Early fusion", "late": "Late fusion", "xattn_last": "Cross-attention, last level",
    "mmtm": "MMTM", "medfuse": "MedFuse", "all_levels": "LeMoF: all levels", "last_level": "LeMoF: last level only",
    "random_level": "LeMoF: random level", "no_meta": "LeMoF: no meta-learner", "no_global": "LeMoF: no global heads",
}


# --- statistics (pure functions; the bootstrap itself is lemof.evaluation.stats, shared with the compare page) ---

def best_baseline(mean_mae: dict[str, float | None]) -> str | None:
    """The baseline (not LeMoF, not an ablation; gbm counts) with the lowest mean MAE."""
    cands = {f: m for f, m in mean_mae.items() if method_kind(f) == "baseline" and m is not None and np.isfinite(m)}
    return min(cands, key=lambda f: (cands[f], f)) if cands else None


# --- reading the cells -----------------------------------------------------------------------

@dataclass
class CellData:
    cell: Cell
    run_dir: Path
    observed: np.ndarray  # test stays in stay_id order
    predicted: np.ndarray
    interval: np.ndarray | None  # (n, 2) days
    config: dict
    metrics_json: dict  # metrics.json test.model

    @property
    def abs_err(self) -> np.ndarray:
        return np.abs(self.predicted - self.observed)


def external_table(run_dir: Path, config: dict, target) -> pd.DataFrame:
    """The run's predictions for every stay of ``target`` (another cohort of its family), computed by
    the run once and cached under ``OUT/<cohort>/.external/`` (keyed by the run and the target)."""
    from lemof import load_run
    from lemof.evaluation.predictions import run_predictions
    from lemof.paths import write_bytes_atomic

    cache = run_dir.parent / ".external" / f"{run_dir.name}__{target.fingerprint}__{config.get('run_id', 'run')}.parquet"
    if cache.exists():
        return pd.read_parquet(cache).set_index("stay_id")
    run = load_run(run_dir)
    pred = run_predictions(run, target, np.arange(len(target)), mode="network").arrays
    table = pd.DataFrame({"stay_id": pred["stay_id"], "los_days": pred["los_days"],
                          "interval_low_days": pred["interval_days"][:, 0], "interval_high_days": pred["interval_days"][:, 1]})
    cache.parent.mkdir(exist_ok=True)
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    write_bytes_atomic(cache, buffer.getvalue())
    return table.set_index("stay_id")


def load_cell(cell: Cell, run_dir: Path, test_los: pd.Series, fingerprint: str, target=None) -> CellData:
    """Read a finished cell's predictions of the scored stays, joined to the observed LOS; ValueError if
    they do not fit. The scored stays: the test split of the cohort it was trained on (fingerprint
    ``fingerprint``), or with ``target`` (an external bundle) every stay of that bundle."""
    config = json.loads((run_dir / "config.json").read_text())
    trained_on = (config.get("cohort") or {}).get("fingerprint")
    if trained_on != fingerprint:
        raise ValueError(f"trained on cohort fingerprint {trained_on}, the cohort now is {fingerprint}")
    if problem := config_mismatch(cell.fusion, config):
        raise ValueError(problem)
    if target is not None:
        test = external_table(run_dir, config, target)
    else:
        pred = pd.read_parquet(run_dir / "predictions.parquet")
        test = pred[pred["split"].astype(str) == "test"].set_index("stay_id")
    if len(test) != len(test_los) or not test.index.isin(test_los.index).all():
        raise ValueError(f"predictions cover {int(test.index.isin(test_los.index).sum())} of the {len(test_los)} scored stays")
    test = test.loc[test_los.index]
    interval = None
    if {"interval_low_days", "interval_high_days"} <= set(test.columns) and test["interval_low_days"].notna().all():
        interval = test[["interval_low_days", "interval_high_days"]].to_numpy(dtype=float)
    metrics = {} if target is not None else json.loads((run_dir / "metrics.json").read_text())["test"]["model"]
    return CellData(cell, run_dir, test_los.to_numpy(dtype=float), test["los_days"].to_numpy(dtype=float), interval, config, metrics)


def cached_replicates(data: CellData, idx: np.ndarray, key: str, tag: str = "") -> dict[str, np.ndarray]:
    """Bootstrap replicates of a cell, cached under ``OUT/<cohort>/.bootstrap/`` (keyed by the
    predictions file, the cohort and the draws), so re-reporting a large grid is quick."""
    from lemof.paths import file_sha256

    import lemof

    cache = data.run_dir.parent / ".bootstrap" / f"{data.cell.name}{'__' + tag if tag else ''}.npz"
    key = f"{key}|{lemof.__version__}|{','.join(METRICS)}|{file_sha256(data.run_dir / 'predictions.parquet')}"
    try:
        with np.load(cache) as z:
            if str(z["key"]) == key:
                return {m: z[m] for m in METRICS}
    except Exception:  # noqa: BLE001 - no cache yet, or a broken one: compute again
        pass
    reps = metric_replicates(data.observed, data.predicted, data.interval, idx)
    cache.parent.mkdir(exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.tmp.npz")
    np.savez(tmp, key=np.array(key), **reps)
    tmp.replace(cache)
    return reps


# --- the analysis ----------------------------------------------------------------------------

def _ci(est, lo, hi) -> dict:
    return {"estimate": None if est is None or not np.isfinite(est) else float(est), "lo": lo, "hi": hi}


def analyse_cohort(out: Path, cohort: str, bundle_dir: Path, expected: list[Cell], B: int = B_DEFAULT, seed: int = SEED_DEFAULT,
                   external_dir: Path | None = None) -> dict:
    """Everything report.json holds about one cohort (cells, methods, comparisons, missing cells): scored
    on its test stays, or with ``external_dir`` on every stay of that external bundle (external protocol)."""
    from lemof import open_bundle

    trained = open_bundle(bundle_dir)
    bundle = trained if external_dir is None else open_bundle(external_dir)
    if external_dir is not None and bundle.fingerprint == trained.fingerprint:
        raise ValueError(f"the external cohort {external_dir} is the training cohort itself")
    stays = bundle.stays
    scored = stays if external_dir is not None else stays[stays["split"].astype(str) == "test"]
    test_los = scored.set_index("stay_id")["los_days"].sort_index()
    idx = bootstrap_indices(len(test_los), B, seed)
    found, failures = scan(out, cohort)
    cells, skipped, reps = [], [], {}
    mine = [c for c in expected if c.cohort == cohort]
    run_order = {c.name: i for i, c in enumerate(mine)}
    for cell, run_dir in sorted(found, key=lambda cr: (run_order.get(cr[0].name, len(run_order)), cr[0].seed, cr[0].name)):
        try:
            data = load_cell(cell, run_dir, test_los, trained.fingerprint, None if external_dir is None else bundle)
        except (ValueError, KeyError, OSError) as exc:
            skipped.append({"cell": cell.name, "reason": str(exc)})
            continue
        cells.append(data)
        reps[cell.name] = cached_replicates(data, idx, f"{B}|{seed}|{bundle.fingerprint}", "" if external_dir is None else f"external-{bundle.fingerprint}")
    by_cell = {d.cell.name: _cell_row(d, reps[d.cell.name]) for d in cells}
    groups: dict[tuple[str, str], list[CellData]] = {}
    for d in sorted(cells, key=lambda d: d.cell.seed):
        groups.setdefault((d.cell.fusion, d.cell.encoders), []).append(d)
    methods = [_method_row(f, e, [by_cell[d.cell.name] for d in ds], [reps[d.cell.name] for d in ds], ds, B, seed)
               for (f, e), ds in sorted(groups.items(), key=lambda kv: (_order(kv[0][0]), kv[0][1]))]
    configs = list(dict.fromkeys([c.encoders for c in mine] + [e for _, e in groups]))
    configs = [e for e in configs if e != TABULAR]
    comparisons, paired, versus_tab = [], [], []
    for enc in configs:
        in_config = {f: ds for (f, e), ds in groups.items() if e == enc or (f == GBM and e == TABULAR)}
        mean_mae = {f: float(np.mean([by_cell[d.cell.name]["metrics"]["mae_days"]["estimate"] for d in ds])) for f, ds in in_config.items()}
        lemof = in_config.get(LEMOF)
        comparisons += _versus(LEMOF, in_config, enc, B, seed)
        versus_tab += _versus(LEMOF_TAB, in_config, enc, B, seed)  # the adopted variant against every other method
        best = best_baseline(mean_mae)
        rec = {"encoders": enc, "best_baseline": best, "baseline_mae_days": mean_mae.get(best), "lemof_mae_days": mean_mae.get(LEMOF),
               "seeds": [], "diff_lemof_minus_baseline": None}
        if lemof is not None and best is not None:
            ea, eb, rec["seeds"] = _shared_errors(lemof, in_config[best])
            rec["diff_lemof_minus_baseline"] = hierarchical_bootstrap_diff(ea, eb, B=B, seed=seed) if rec["seeds"] else None
        paired.append(rec)
    return {
        "bundle": {"path": str(bundle_dir), "name": bundle.name, "fingerprint": bundle.fingerprint},
        "n_test_stays": len(test_los), "configurations": configs, "cells": list(by_cell.values()), "methods": methods,
        "paired_best_baseline": paired, "comparisons": comparisons, "ablations": [c for c in comparisons if c["kind"] == "ablation"],
        "lemof_tab_vs": versus_tab,
        "missing": _missing(mine, set(by_cell), failures), "skipped": skipped,
    }


def _missing(expected: list[Cell], done: set[str], failures: dict[str, dict]) -> list[dict]:
    out = []
    for c in expected:
        if c.name not in done:
            f = failures.get(c.name)
            error = f"{f.get('error_type', 'error')}: {f.get('error', '')}" if f else None
            out.append({"cell": c.name, "status": "failed" if f else "not run", "error": error})
    return out


def _not_started(out: Path, cohort: str, expected: list[Cell]) -> dict:
    """A cohort of the grid with nothing under OUT yet (its bundle is not needed, nor built)."""
    mine = [c for c in expected if c.cohort == cohort]
    return {"bundle": None, "n_test_stays": None, "configurations": list(dict.fromkeys(c.encoders for c in mine if c.encoders != TABULAR)),
            "cells": [], "methods": [], "paired_best_baseline": [], "comparisons": [], "ablations": [],
            "missing": _missing(mine, set(), scan(out, cohort)[1]), "skipped": []}


def _cell_row(d: CellData, reps: dict[str, np.ndarray]) -> dict:
    from lemof.evaluation.metrics import los_metrics

    est = los_metrics(d.observed, d.predicted, d.interval).to_dict()
    return {
        "cell": d.cell.name, "fusion": d.cell.fusion, "encoders": d.cell.encoders, "seed": d.cell.seed, "kind": method_kind(d.cell.fusion),
        "metrics": {m: _ci(est[m], *percentile_ci(reps[m])) for m in METRICS},
        "training_seconds": d.config.get("training_seconds"), "device": d.config.get("device"),
        "metrics_json_mae_days": d.metrics_json.get("mae_days"), "run_dir": str(d.run_dir),
    }


def _method_row(fusion: str, encoders: str, rows: list[dict], reps: list[dict[str, np.ndarray]], cells: list["CellData"], B: int,
                seed: int) -> dict:
    """Mean over seeds; the MAE interval hierarchical (seeds, then stays), the others from the seed-mean
    of each resample (the same stay draws for every cell)."""
    rec = {"fusion": fusion, "label": LABELS.get(fusion, fusion), "kind": method_kind(fusion), "encoders": encoders,
           "seeds": [r["seed"] for r in rows]}
    h = hierarchical_bootstrap(np.stack([d.abs_err for d in cells]), B=B, seed=seed)
    rec["metrics"] = {"mae_days": _ci(h["estimate"], h["lo"], h["hi"]) | {"interval": "hierarchical: seeds, then stays"}}
    for m in METRICS:
        if m != "mae_days":  # the MAE's interval is the hierarchical one above
            vals = [r["metrics"][m]["estimate"] for r in rows]
            est = float(np.mean(vals)) if None not in vals else None
            rec["metrics"][m] = _ci(est, *percentile_ci(np.mean([r[m] for r in reps], axis=0)))
    maes = [r["metrics"]["mae_days"]["estimate"] for r in rows]
    rec["mae_days_by_seed"] = maes
    rec["mae_days_seed_sd"] = float(np.std(maes, ddof=1)) if len(maes) > 1 else None
    secs = [r["training_seconds"] for r in rows if r["training_seconds"] is not None]
    rec["training_seconds_mean"] = float(np.mean(secs)) if secs else None
    return rec


def _order(fusion: str) -> int:
    return FUSIONS.index(fusion) if fusion in FUSIONS else len(FUSIONS)


def _shared_errors(a: list[CellData], b: list[CellData]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Per-stay absolute errors of two methods, (seeds, stays), on the seeds both have (in seed order)."""
    sa, sb = {d.cell.seed: d for d in a}, {d.cell.seed: d for d in b}
    shared = sorted(set(sa) & set(sb))
    if not shared:
        return np.array([]), np.array([]), []
    return np.stack([sa[s].abs_err for s in shared]), np.stack([sb[s].abs_err for s in shared]), shared


def _versus(reference: str, in_config: dict[str, list[CellData]], enc: str, B: int, seed: int) -> list[dict]:
    """Every other method of one configuration against ``reference`` (LeMoF, or LeMoF with the tabular
    head), paired over shared seeds and stays: ``diff_method_minus_<reference>`` (> 0: the reference better)."""
    ref = in_config.get(reference)
    out = []
    for f in sorted(in_config, key=_order):
        if f != reference and ref is not None:
            ea, eb, shared = _shared_errors(ref, in_config[f])
            out.append({"encoders": enc, "fusion": f, "label": LABELS.get(f, f), "kind": method_kind(f), "seeds": shared,
                        f"diff_method_minus_{reference}": hierarchical_bootstrap_diff(eb, ea, B=B, seed=seed) if shared else None})
    return out


def build_report(out: Path, spec: GridSpec, bundle_dirs: dict[str, Path], B: int = B_DEFAULT, seed: int = SEED_DEFAULT,
                 external_dirs: dict[str, Path] | None = None) -> dict:
    """Analyse every cohort of ``spec`` and write OUT/report.json and OUT/report.md. A cohort missing from
    ``bundle_dirs`` is reported as not started (every cell missing). ``external_dirs`` (grid cohort ->
    bundle of another cohort of its family) adds the external protocol: the same cells scored on every
    stay of that bundle, under ``report["external"]``."""
    from lemof.paths import write_bytes_atomic, write_json_atomic

    expected = spec.cells()
    report = {
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "grid": spec.to_dict(),
        "bootstrap": {"B": B, "seed": seed, "level": LEVEL, "interval": "percentile", "method": __doc__.split("\n\n", 1)[1].strip()},
        "sign_conventions": {
            "diff_lemof_minus_baseline": "LeMoF MAE - baseline MAE (days); < 0: LeMoF better",
            "diff_method_minus_lemof": "method MAE - LeMoF MAE (days); > 0: LeMoF better",
            "diff_method_minus_lemof_tab": "method MAE - MAE of LeMoF with the tabular head (days); > 0: LeMoF with the head better",
        },
        "cohorts": {c: analyse_cohort(out, c, bundle_dirs[c], expected, B, seed) if c in bundle_dirs else _not_started(out, c, expected)
                    for c in spec.cohorts},
        "external": {c: {"target": str(t), **analyse_cohort(out, c, bundle_dirs[c], expected, B, seed, external_dir=t)}
                     for c, t in (external_dirs or {}).items() if c in bundle_dirs},
    }
    write_json_atomic(Path(out) / "report.json", report)
    write_bytes_atomic(Path(out) / "report.md", report_markdown(report).encode("utf-8"))
    return report


# --- markdown --------------------------------------------------------------------------------

def _f(x, nd: int = 3) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def _fci(d: dict | None, nd: int = 3) -> str:
    if not d or d.get("estimate") is None:
        return "–"
    return f"{d['estimate']:.{nd}f} [{_f(d['lo'], nd)}, {_f(d['hi'], nd)}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|", *("| " + " | ".join(r) + " |" for r in rows), ""]


def _yes(d: dict | None) -> str:
    return "–" if not d or d.get("lo") is None else ("yes" if d["excludes_zero"] else "no")


def _seeds(seeds: list[int]) -> str:
    return ",".join(map(str, seeds)) or "–"


def report_markdown(report: dict) -> str:
    bs = report["bootstrap"]
    lines = [
        "# Benchmark grid", "",
        f"Generated {report['generated']}. 95 % percentile bootstrap intervals (B = {bs['B']}, seed {bs['seed']}). "
        "Method rows are means over seeds; their MAE interval and every paired difference are hierarchical "
        "(each replicate resamples the seeds, then the stays; paired: the same draws for both methods), so they cover "
        "seed-to-seed as well as stay-to-stay variation. The other metrics' intervals cover the stays only.", "",
    ]
    for cohort, c in report["cohorts"].items():
        about = f"{c['bundle']['name']}, {c['n_test_stays']} test stays" if c["bundle"] else "nothing run yet"
        lines += _cohort_markdown(f"## {cohort} ({about})", c)
    for cohort, c in report.get("external", {}).items():
        title = (f"## External: trained on {cohort}, scored on all {c['n_test_stays']} stays of {c['bundle']['name']} "
                 "(no stay seen in training or model selection)")
        lines += _cohort_markdown(title, c, external=True)
    return "\n".join(lines)


def _cohort_markdown(title: str, c: dict, external: bool = False) -> list[str]:
    lines = [title, ""]
    scored = "every stay" if external else "the test stays"
    configs, methods = c["configurations"], c["methods"]
    if methods:
        rows = []
        for f in sorted({m["fusion"] for m in methods}, key=_order):
            mine = {m["encoders"]: m["metrics"]["mae_days"] for m in methods if m["fusion"] == f}
            rows.append([LABELS.get(f, f), method_kind(f), *[_fci(mine.get(TABULAR if f == GBM else e)) for e in configs]])
        lines += [f"### MAE (days) on {scored} [95 % CI], methods × encoder configurations", "",
                  *_table(["Method", "Kind", *configs], rows)]
        if any(m["fusion"] == GBM for m in methods):
            lines += ["GBM uses per-stay summary statistics, no encoders: the same cells appear in every column.", ""]
        rows = [[m["label"], m["encoders"], _seeds(m["seeds"]), _fci(m["metrics"]["mae_days"]), _f(m["mae_days_seed_sd"])]
                + [_f(m["metrics"][k]["estimate"]) for k in METRICS[1:]] + [_f(m["training_seconds_mean"], 0)] for m in methods]
        header = ["Method", "Encoders", "Seeds", "MAE d [95 % CI]", "MAE SD over seeds", "RMSE d", "Kappa (10 buckets)",
                  "AUROC LOS>7 d", "AUPRC LOS>7 d", "Interval coverage", "Training s"]
        lines += ["### Details (means over seeds)", "", *_table(header, rows)]
    if c["paired_best_baseline"]:
        rows = [[p["encoders"], LABELS.get(p["best_baseline"], p["best_baseline"] or "–"), _f(p["baseline_mae_days"]),
                 _f(p["lemof_mae_days"]), _seeds(p["seeds"]), _fci(p["diff_lemof_minus_baseline"]),
                 _yes(p["diff_lemof_minus_baseline"])] for p in c["paired_best_baseline"]]
        header = ["Encoders", "Best baseline", "Baseline MAE d", "LeMoF MAE d", "Seeds",
                  "LeMoF − baseline d [95 % CI] (< 0: LeMoF better)", "CI excludes 0"]
        lines += [f"### LeMoF vs the best baseline (paired, on the same {'stays' if external else 'test stays'})", "", *_table(header, rows)]
    if c.get("lemof_tab_vs"):
        rows = [[v["encoders"], v["label"], _seeds(v["seeds"]), _fci(v["diff_method_minus_lemof_tab"]), _yes(v["diff_method_minus_lemof_tab"])]
                for v in c["lemof_tab_vs"]]
        header = ["Encoders", "Method", "Seeds", "Method − LeMoF + tabular head MAE d [95 % CI] (> 0: LeMoF + head better)", "CI excludes 0"]
        lines += [f"### LeMoF + tabular head vs every method (paired, on the same {'stays' if external else 'test stays'})", "", *_table(header, rows)]
    if c["ablations"]:
        rows = [[a["encoders"], a["label"], _seeds(a["seeds"]), _fci(a["diff_method_minus_lemof"]), _yes(a["diff_method_minus_lemof"])]
                for a in c["ablations"]]
        header = ["Encoders", "Ablation", "Seeds", "Ablation − LeMoF MAE d [95 % CI] (> 0: the removed part helps)", "CI excludes 0"]
        lines += ["### Ablations vs LeMoF (paired)", "", *_table(header, rows)]
    lines += ["### Missing cells", ""]
    lines += [f"- `{m['cell']}`: {m['status']}" + (f" ({m['error']})" if m["error"] else "") for m in c["missing"]]
    lines += [f"- `{s['cell']}`: finished but not used: {s['reason']}" for s in c["skipped"]]
    lines += [] if c["missing"] or c["skipped"] else ["None: every cell of the grid is finished."]
    lines += [""]
    if c["cells"]:
        shown = ("mae_days", "kappa_linear_10bucket", "auroc_los_gt7", "interval_coverage")
        rows = [[r["cell"], *[_fci(r["metrics"][k]) for k in shown], _f(r["training_seconds"], 0)] for r in c["cells"]]
        header = ["Cell", "MAE d [95 % CI]", "Kappa [CI]", "AUROC LOS>7 d [CI]", "Coverage [CI]", "Training s"]
        lines += ["<details><summary>Per cell</summary>", "", *_table(header, rows), "</details>", ""]
    return lines


# --- forest plot -----------------------------------------------------------------------------

def write_forest(out: Path, cohort: str, c: dict, png: bool = True, say=print) -> list[Path]:
    """OUT/forest_<cohort>.html (offline Plotly; every method against LeMoF) and, with Debian's Chromium,
    OUT/forest_<cohort>.png; where the grid has LeMoF with the tabular head, also every method against it
    (OUT/forest_<cohort>_vs_lemof_tab.html/.png)."""
    from lemof.plots.evidence import forest_figure, forest_references  # lazy: plotly only when a figure is written

    written = []
    for reference in ["lemof"] + [r for r in forest_references(c) if r != "lemof"]:
        fig = forest_figure(cohort, c, reference)
        html = Path(out) / f"forest_{cohort}{'' if reference == 'lemof' else '_vs_' + reference}.html"
        fig.write_html(html, include_plotlyjs=True, full_html=True)
        written.append(html)
        if png:
            written += [p for p in [html_to_png(html, say)] if p]
    return written


def html_to_png(html: Path, say=print) -> Path | None:
    """Screenshot of the plot element of ``html``, rendered by Debian's Chromium via Playwright."""
    from testkit.browser import CHROMIUM, chromium, chromium_found  # lazy: only figures need it

    if not chromium_found():
        say(f"note: Chromium not found at {CHROMIUM}; skipped {html.with_suffix('.png').name} (the HTML has the same plot)")
        return None
    png = html.with_suffix(".png")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1000, "height": 800}, device_scale_factor=2)
        page.goto(html.resolve().as_uri())
        page.wait_for_selector(".plotly-graph-div .main-svg", timeout=30_000)
        page.locator(".plotly-graph-div").first.screenshot(path=str(png))
    return png
