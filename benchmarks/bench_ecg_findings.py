"""The ECG's findings against the synthetic cohort's truth (issue 24, section 4).

On held-out test stays with an ECG of the default synthetic cohort, with the shipped run:

- heart rate measured (``lemof.ecg.measure``) against the generator's true ``ecg_heart_rate_bpm`` (MAE);
- each finding's score (``lemof.ecg.findings``) against the true cause: AUROC for AF, a wide QRS and
  ischaemia;
- the drivers' ECG part split into its findings as the app splits it (``lemof.explain.ecg_effects``:
  the run's ECG contribution regressed on the findings present over 400 training stays, read from
  the run's ``ecg_finding_effects.json``, fitted here when the run has none): Spearman correlation of
  the effect given to each finding with its cause's true log-LOS part (the effect in days, and on the
  model's log scale — the scale of the true parts: days multiply each stay's log-scale effect by its
  own expm1 slope, which reorders stays whose true part is the same), and the fit's R².

    python -m benchmarks.bench_ecg_findings [--stays 150]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks._common import save


def auroc(score: np.ndarray, label: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    from scipy.stats import rankdata  # lazy: scipy only here

    pos = label.astype(bool)
    if pos.all() or not pos.any():
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stays", type=int, default=150)
    args = ap.parse_args()
    import pandas as pd
    from scipy.stats import spearmanr

    from lemof import CohortResults, load_run, open_bundle
    from lemof.data.synthetic import ensure_synthetic
    from lemof.explain import evaluation as ev
    from lemof.explain.drivers import drivers_attribution
    from lemof.explain.ecg_effects import fit_ecg_effects
    from lemof.explain.explainers import NETWORK_ROUNDING
    from testkit.paths import SHIPPED_RUN

    path = ensure_synthetic()
    bundle, run = open_bundle(path), load_run(SHIPPED_RUN)
    causes = pd.read_parquet(path / "latent_causes.parquet").set_index("stay_id")
    cohort = CohortResults(run, bundle)
    fitted = run.ecg_effects() or fit_ecg_effects(cohort)
    rows = np.sort(ev.signal_rows(bundle, "test", args.stays, seed=0))
    ids = bundle.stays["stay_id"].to_numpy()[rows].astype(int)
    hr_err, t_measure, t_drivers = [], [], []
    scores, effects, log_effects = ({f: [] for f in ("af", "wide_qrs", "st_deviation")} for _ in range(3))
    for sid in ids:
        stay = cohort.stay(int(sid))
        t0 = time.perf_counter()
        m = stay.ecg
        t_measure.append(time.perf_counter() - t0)
        if m is not None and m.heart_rate_bpm is not None:
            hr_err.append(abs(m.heart_rate_bpm - causes.loc[sid, "ecg_heart_rate_bpm"]))
        for f in stay.ecg_findings():
            scores[f.finding].append(np.nan if f.score is None else f.score)
        t0 = time.perf_counter()
        d = drivers_attribution(stay.input_gradients, bundle, stay.sig_label, los_days=stay.prediction.los_days, ecg=m, ecg_effects=fitted,
                                network_rounding=NETWORK_ROUNDING)
        t_drivers.append(time.perf_counter() - t0)
        by = {k: v for k, v in zip(d.detail["findings"], d.values) if k}
        for f in effects:
            effects[f].append(by.get(f, np.nan))
            log_effects[f].append(by.get(f, np.nan) / d.detail["days_per_log1p_day"])  # on the model's log scale, as the true parts are
    truth = {"af": "af", "wide_qrs": "wide_qrs", "st_deviation": "ischaemia"}
    out = {"ecg_effects": {k: fitted[k] for k in ("beta", "base_rate", "intercept", "r2", "n")}, "stays": len(ids), "heart_rate_mae_bpm": round(float(np.mean(hr_err)), 2), "heart_rate_measured": len(hr_err), "findings": {}}
    for f, cause in truth.items():
        s = np.asarray(scores[f], dtype=float)
        label = causes.loc[ids, cause].to_numpy(dtype=bool)
        part = causes.loc[ids, f"log_los_part_{cause}"].to_numpy(dtype=float)
        e = np.asarray(effects[f], dtype=float)
        ok = np.isfinite(s)
        rho = spearmanr(e[np.isfinite(e)], part[np.isfinite(e)]).statistic if np.isfinite(e).sum() > 2 else float("nan")
        el = np.asarray(log_effects[f], dtype=float)
        rho_log = spearmanr(el[np.isfinite(el)], part[np.isfinite(el)]).statistic if np.isfinite(el).sum() > 2 else float("nan")
        out["findings"][f] = {"cause": cause, "positives": int(label.sum()), "auroc_score": round(auroc(s[ok], label[ok]), 3),
                              "spearman_effect_days_vs_true_part": round(float(rho), 3),
                              "spearman_effect_log_scale_vs_true_part": round(float(rho_log), 3)}
    out["seconds_per_stay"] = {"measure_median": round(float(np.median(t_measure)), 3), "drivers_median": round(float(np.median(t_drivers)), 3)}
    save("ecg_findings", out)


if __name__ == "__main__":
    main()
