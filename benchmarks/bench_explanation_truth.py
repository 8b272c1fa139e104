"""Explanations against the synthetic cohort's ground truth (its latent causes of LOS).

Over the test stays with an ECG of the synthetic cohort a run was trained on:

- truth: the ECG-borne part of a stay's log-LOS is |af| + |ischaemia| + |wide_qrs| parts, the
  EHR-borne part |severity| + |trajectory| + |renal| + |infection| parts (``latent_causes``);
  a stay is "ECG-driven" when its ECG-borne part exceeds its EHR-borne part;
- the explanation's biosignal share: (a) level SHAP, sum |phi| on the ECG levels over all
  levels, and (b) head contributions, |w y| of the ECG heads (modality-level + level-specific)
  among the modality-specific heads, both for LeMoF runs over every such stay; (c) Integrated
  Gradients, sum |IG| on the ECG over sum |IG| on every input, for every neural run, over a
  reproducible sample of ``--stays`` of them;
- AUROC of each share for ECG-driven vs EHR-driven stays with a 95 % bootstrap CI (the
  project's goal: >= 0.8 for LeMoF);
- encoder depth (LeMoF): the share of |phi| of the ECG levels on the deeper half of them, AUROC
  for AF-driven vs ischaemia-driven stays (the largest ECG-borne part), among ECG-driven stays
  and, as a larger sample, among all test stays with an ECG-borne cause;
- Spearman's rho between each cause's strength |part| and the IG on its inputs (af, ischaemia,
  wide_qrs: the ECG; severity: lactate + MBP + GCS + bicarbonate; renal: creatinine + BUN +
  potassium; infection: temperature + WBC), with a bootstrap CI.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_explanation_truth [--runs DIR ...] [--grid DIR]
        [--stays N] [--name NAME] [--quick]

``--grid benchmarks/results/grid`` adds its synthetic seed-0 cells of LeMoF (every encoder pair)
and of the xattn_last and early baselines. Writes ``results/explanation_truth.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks._common import save

from testkit.paths import REPO
from lemof.explain import evaluation as ev

SHIPPED = REPO / "assets" / "models" / "synthetic-gru+resnet1d"
GRID_FUSIONS = ("lemof", "xattn_last", "early")
GOAL_AUROC = 0.8


def grid_cells(grid: Path, fusions=GRID_FUSIONS) -> list[Path]:
    """Finished seed-0 cells of ``fusions`` under ``grid/synthetic`` (LeMoF first, then by encoders)."""
    found = []
    for d in sorted((Path(grid) / "synthetic").glob("*__seed0")):
        if not (d / "metrics.json").exists() or not (d / "config.json").exists():
            continue
        cfg = json.loads((d / "config.json").read_text())
        if cfg["fusion"] in fusions:
            found.append((fusions.index(cfg["fusion"]), cfg["train"]["encoders"], d))
    return [d for *_, d in sorted(found)]


def lemof_explanation_truth(run, bundle, truth, truth_c, rows_all: np.ndarray, ig_in_all: np.ndarray | None = None) -> dict:
    """A LeMoF run's level-SHAP and head ECG shares against the truth (AUROC, ECG- vs EHR-driven) over
    the stays ``rows_all``, and the encoder depth of its ECG |phi| (AF- vs ischaemia-driven). With
    ``ig_in_all`` (positions in ``rows_all`` of the Integrated Gradients sample) also on that sample."""
    t = time.perf_counter()
    lab_all = truth["ecg_driven"].to_numpy()[rows_all]
    lab_all_c = truth_c["ecg_driven"].to_numpy()[rows_all]

    def share_report(share: np.ndarray) -> dict:
        rep = {"all_ecg_stays": ev.auroc_ci(lab_all, share)}
        if ig_in_all is not None:
            rep["ig_sample"] = ev.auroc_ci(lab_all[ig_in_all], share[ig_in_all])
        rep.update({"all_ecg_stays_centred_truth": ev.auroc_ci(lab_all_c, share),
                    "mean_share_ecg_driven": ev._r(np.nanmean(share[lab_all])) if lab_all.any() else None,
                    "mean_share_ehr_driven": ev._r(np.nanmean(share[~lab_all])) if (~lab_all).any() else None})
        return rep

    res: dict = {}
    out = ev.lemof_outputs(run, bundle, rows_all)
    n_ehr = out["n_ehr_levels"]
    a = ev.level_shap_shares(out["phi"], n_ehr)["sig"]
    b = ev.head_shares(out["contributions"], run.heads)["sig"]
    res["level_shap_share"] = share_report(a)
    res["head_share"] = share_report(b)
    # encoder depth: AF-driven vs ischaemia-driven
    sig_levels = run.level_importance.levels["sig"]
    shallow, deep = ev.depth_halves(len(sig_levels))
    ds = ev.deep_share(out["phi"][:, n_ehr:])
    cause = truth["ecg_cause"].to_numpy()[rows_all]
    depth = {"sig_levels": sig_levels, "shallow": [sig_levels[i] for i in shallow], "deep": [sig_levels[i] for i in deep],
             "selected_sig_levels": run.level_importance.selected["sig"]}
    for label, among in (("ecg_driven", lab_all), ("all_with_an_ecg_cause", np.ones(len(rows_all), dtype=bool))):
        af, isch = among & (cause == "af"), among & (cause == "ischaemia")
        keep = af | isch
        depth[label] = {
            "n_af": int(af.sum()), "n_ischaemia": int(isch.sum()),
            "mean_deep_share_af": ev._r(np.nanmean(ds[af])) if af.any() else None,
            "mean_deep_share_ischaemia": ev._r(np.nanmean(ds[isch])) if isch.any() else None,
            "auroc_deep_share_af_vs_ischaemia": ev.auroc_ci(af[keep], ds[keep]),
        }
    depth["mean_abs_phi_per_sig_level"] = {
        c: [ev._r(v) for v in np.nanmean(np.abs(out["phi"][:, n_ehr:])[cause == c], axis=0)] if (cause == c).any() else None
        for c in ("af", "ischaemia", "wide_qrs", "none")
    }
    res["depth"] = depth
    res["lemof_seconds"] = round(time.perf_counter() - t, 1)
    return res


def evaluate_run(run, bundle, truth, truth_c, rows_all: np.ndarray, rows_ig: np.ndarray, ig_steps: int) -> dict:
    from lemof.explain.input_attribution import input_attributions

    pos_ig = {r: i for i, r in enumerate(rows_all)}
    ig_in_all = np.array([pos_ig[r] for r in rows_ig])
    res: dict = lemof_explanation_truth(run, bundle, truth, truth_c, rows_all, ig_in_all) if run.is_lemof else {}
    # Integrated Gradients
    t = time.perf_counter()
    attrs = [input_attributions(run, bundle, int(bundle.stays["stay_id"].iloc[r]), steps=ig_steps) for r in rows_ig]
    shares = ev.ig_shares(attrs)
    lab_ig = truth["ecg_driven"].to_numpy()[rows_ig]
    c = shares["sig"]
    lab_ig_c = truth_c["ecg_driven"].to_numpy()[rows_ig]
    res["ig_share"] = {"ig_sample": ev.auroc_ci(lab_ig, c), "ig_sample_centred_truth": ev.auroc_ci(lab_ig_c, c),
                       "mean_share_ecg_driven": ev._r(np.nanmean(c[lab_ig])), "mean_share_ehr_driven": ev._r(np.nanmean(c[~lab_ig]))}
    total = np.array([sum(ev.ig_masses(x).values()) for x in attrs])
    sig_mass = np.array([ev.ig_masses(x)["sig"] for x in attrs])
    spear = {}
    for cause_name in ev.ECG_CAUSES + tuple(ev.CAUSE_FEATURES):
        strength = np.abs(truth[f"part_{cause_name}"].to_numpy()[rows_ig])
        if cause_name in ev.ECG_CAUSES:
            mass, inputs = sig_mass, "ECG"
        else:
            feats = ev.CAUSE_FEATURES[cause_name]
            mass, inputs = np.array([ev.ig_feature_mass(x, feats) for x in attrs]), " + ".join(feats)
        spear[cause_name] = {"inputs": inputs, "ig_mass": ev.spearman_ci(strength, mass),
                             "ig_share": ev.spearman_ci(strength, mass / np.where(total > 0, total, np.nan)),
                             "n_stays_with_cause": int((strength > 0).sum())}
    res["spearman"] = spear
    res["ig_steps"] = ig_steps
    res["median_relative_ig_delta"] = ev._r(float(np.median([abs(x.delta) / max(abs(x.output - x.reference_output), 1e-9) for x in attrs])))
    res["ig_seconds"] = round(time.perf_counter() - t, 1)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", nargs="*", type=Path, default=None, help="run directories (default: the shipped synthetic run)")
    ap.add_argument("--grid", type=Path, default=None, help="add the grid's synthetic seed-0 cells (lemof, xattn_last, early)")
    ap.add_argument("--data", type=Path, default=None, help="the synthetic bundle (default: the app's default synthetic cohort)")
    ap.add_argument("--stays", type=int, default=200, help="test stays with an ECG for Integrated Gradients")
    ap.add_argument("--ig-steps", type=int, default=128)
    ap.add_argument("--name", default="explanation_truth", help="results/<name>.json")
    ap.add_argument("--quick", action="store_true", help="smoke test: 12 IG stays of 16 steps, writes <name>_quick.json")
    args = ap.parse_args()
    if args.quick:
        args.stays, args.ig_steps = 12, 16
    from lemof import load_run, open_bundle
    from lemof.data.synthetic import ensure_synthetic

    t_all = time.perf_counter()
    bundle = open_bundle(args.data or ensure_synthetic())
    causes = bundle.latent_causes()
    if causes is None:
        raise SystemExit(f"{bundle.name} has no latent causes: this benchmark needs a synthetic cohort")
    truth = ev.truth_table(causes)
    for cname in ev.ECG_CAUSES + ev.EHR_CAUSES:
        truth[f"part_{cname}"] = causes[f"log_los_part_{cname}"].to_numpy(dtype=float)
    assert (truth["stay_id"].to_numpy() == bundle.stays["stay_id"].to_numpy()).all()
    truth_c = ev.truth_table(causes, centre_rows=ev.signal_rows(bundle, "train"))  # parts centred on the training stays with an ECG
    rows_all = ev.signal_rows(bundle, "test")
    rows_ig = np.sort(ev.signal_rows(bundle, "test", args.stays, seed=0))
    lab = truth["ecg_driven"].to_numpy()
    causes_all = truth["ecg_cause"].to_numpy()[rows_all]
    counts = {
        "test_stays_with_ecg": len(rows_all), "ecg_driven": int(lab[rows_all].sum()), "ehr_driven": int((~lab[rows_all]).sum()),
        "ecg_driven_centred_truth": int(truth_c["ecg_driven"].to_numpy()[rows_all].sum()),
        "ig_sample": len(rows_ig), "ig_sample_ecg_driven": int(lab[rows_ig].sum()),
        "largest_ecg_cause_all": {c: int((causes_all == c).sum()) for c in ("af", "ischaemia", "wide_qrs", "none")},
        "largest_ecg_cause_ecg_driven": {c: int((causes_all[lab[rows_all]] == c).sum()) for c in ("af", "ischaemia", "wide_qrs")},
    }
    print(f"{bundle.name}: {counts['test_stays_with_ecg']} test stays with an ECG, {counts['ecg_driven']} ECG-driven, "
          f"{counts['ehr_driven']} EHR-driven; IG on {len(rows_ig)} ({counts['ig_sample_ecg_driven']} ECG-driven)", flush=True)

    paths = list(args.runs) if args.runs else ([] if args.grid else [SHIPPED])
    if args.grid:
        paths += grid_cells(args.grid)
    if not args.runs and SHIPPED not in paths:
        paths.insert(0, SHIPPED)
    results: dict = {}
    for path in [Path(p).resolve() for p in paths]:
        run = load_run(path)
        if run.kind == "tabular":
            print(f"{run.run_id}: tabular, nothing to attribute: skipped")
            continue
        if run.cohort.source != bundle.source:
            print(f"{run.run_id}: trained on {run.cohort.source}, not {bundle.source}: skipped")
            continue
        name = run.run_id  # grid cells: <fusion>__<encoders>__seed<k>
        t = time.perf_counter()
        r = evaluate_run(run, bundle, truth, truth_c, rows_all, rows_ig, args.ig_steps)
        r.update({"run": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path), "fusion": run.fusion,
                  "encoders": run.encoders, "cohort_is_training_cohort": run.cohort.fingerprint == bundle.fingerprint,
                  "test_mae_days": ev._r(run.metrics.to_dict().get("test", {}).get("model", {}).get("mae_days")),
                  "seconds": round(time.perf_counter() - t, 1)})
        if run.is_lemof:
            r["meets_goal_auroc_0.8"] = {
                k: (r[k]["all_ecg_stays"]["estimate"] or 0) >= GOAL_AUROC for k in ("level_shap_share", "head_share")
            }
            r["meets_goal_auroc_0.8"]["ig_share"] = (r["ig_share"]["ig_sample"]["estimate"] or 0) >= GOAL_AUROC
        results[name] = r
        print(f"  {name}: {r['seconds']} s", flush=True)

    def fmt(d):
        return "—" if d is None or d.get("estimate") is None else f"{d['estimate']:.3f} [{d['lo']:.3f}, {d['hi']:.3f}]"

    for label, k_all, k_ig in (("", "all_ecg_stays", "ig_sample"),
                               (" (centred truth)", "all_ecg_stays_centred_truth", "ig_sample_centred_truth")):
        print(f"\nAUROC, ECG-driven vs EHR-driven{label} (level SHAP and heads: {counts['test_stays_with_ecg']} stays; IG: {len(rows_ig)})")
        print(f"{'run':<44} {'level SHAP':>24} {'heads':>24} {'IG':>24}")
        for name, r in results.items():
            print(f"{name:<44} {fmt(r.get('level_shap_share', {}).get(k_all)):>24} "
                  f"{fmt(r.get('head_share', {}).get(k_all)):>24} {fmt(r['ig_share'][k_ig]):>24}")
    print("\nDeep share of ECG |phi|, AUROC AF vs ischaemia")
    for name, r in results.items():
        if "depth" in r:
            for k in ("ecg_driven", "all_with_an_ecg_cause"):
                d = r["depth"][k]
                print(f"{name:<44} {k:<22} AF {d['n_af']:>3} vs isch. {d['n_ischaemia']:>3}: {fmt(d['auroc_deep_share_af_vs_ischaemia'])}")
    print("\nSpearman rho, |cause part| vs IG mass on its inputs")
    causes_order = list(ev.ECG_CAUSES) + list(ev.CAUSE_FEATURES)
    print(f"{'run':<44} " + " ".join(f"{c:>22}" for c in causes_order))
    for name, r in results.items():
        cells = []
        for c in causes_order:
            s = r["spearman"][c]["ig_mass"]
            cells.append("—" if s["rho"] is None else f"{s['rho']:.2f} [{s['lo']:.2f}, {s['hi']:.2f}]")
        print(f"{name:<44} " + " ".join(f"{c:>22}" for c in cells))
    save(f"{args.name}_quick" if args.quick else args.name, {
        "cohort": bundle.name,
        "truth": "ECG-borne = |af| + |ischaemia| + |wide_qrs| parts of log-LOS; EHR-borne = |severity| + |trajectory| + |renal| + "
                 "|infection| parts; ECG-driven: ECG-borne > EHR-borne",
        "shares": {"level_shap": "sum |phi| on ECG levels / sum |phi| over all levels",
                   "heads": "|contribution| of sig.global + sig.L* heads / that of all modality-specific heads (fusion head left out)",
                   "ig": "sum |IG| on the ECG (per channel x sample) / sum |IG| on all inputs (EHR feature x hour, static features, ECG)"},
        "depth": "deep share = sum |phi| on the deeper half of the ECG levels / that on both halves (the middle level of an odd count "
                 "left out); AF- vs ischaemia-driven by the largest ECG-borne part",
        "centred_truth": "secondary: every part centred on its mean over the training stays with an ECG before taking |.| "
                         "(an explanation against an average stay sees a normal ECG as a small negative contribution)",
        "ci": "95 % percentile bootstrap over stays, 2000 resamples",
        "goal_auroc": GOAL_AUROC,
        "counts": counts,
        "runs": results,
        "total_seconds": round(time.perf_counter() - t_all, 1),
    })


if __name__ == "__main__":
    main()
