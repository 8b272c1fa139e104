"""How much each ECG finding moves a run's prediction: a concept regression on the model's own
behaviour, used to split the ECG's driver into named findings.

For training stays with an ECG (``n`` drawn with a fixed seed), the ECG's contribution to the
prediction is measured directly — the network's output with the ECG minus its output with the
ECG hidden (log1p-days; two batched forward passes) — and regressed on which findings the
measured ECG shows (``lemof.ecg.findings``: AF pattern, wide QRS, ST deviation; 0/1):

    contribution ≈ β0 + Σ_k β_k · present_k          (least squares)

β_k is how much the model's ECG contribution is higher, on average over training stays, when
finding k is present, the others held fixed. The drivers (``drivers_attribution``) then give
finding k of a stay the part β_k · (present_k − p_k), with p_k the finding's rate among the
training stays — the drivers' reference is typical stays, whose ECGs show each finding at its
base rate — and leave the rest of the ECG's Integrated-Gradients part as "the rest of the ECG".
The parts therefore add up exactly to the ECG's part, and with the other drivers to the prediction.

This is a concept-based explanation in the family of TCAV (Kim et al., ICML 2018) and regression
concept vectors (Graziani et al., 2018), fitted on the model's outputs rather than its
activations. What it cannot separate: a finding's effect for one stay is the cohort-average
effect (not this stay's magnitude); findings that always co-occur share their effect as the
regression splits it; what the findings do not explain (1 − R² of the fit) stays in "the rest of
the ECG". Validated on the synthetic truth in ``benchmarks/bench_ecg_findings.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lemof.ecg.findings import FINDINGS
from lemof.progress import Progress

N_STAYS = 400
SEED = 0


def fit_ecg_effects(cohort, n: int = N_STAYS, seed: int = SEED, progress: Progress | None = None) -> dict[str, Any] | None:
    """The finding effects of ``cohort.run`` on its own cohort (None when the cohort has no ECG or
    too few measurable ones): JSON-ready, bound to the weights and the cohort."""
    from lemof.models.inference import predict_rows  # lazy: imports torch

    run, bundle = cohort.run, cohort.bundle
    rows = bundle.rows("train")
    rows = rows[bundle.stays["has_signal"].to_numpy(dtype=bool)[rows]]
    if len(rows) == 0:
        return None
    rows = np.sort(np.random.default_rng(seed).choice(rows, size=min(n, len(rows)), replace=False))
    ids = bundle.stays["stay_id"].to_numpy()[rows]
    present, keep = [], []
    for i, sid in enumerate(ids, 1):
        stay = cohort.stay(int(sid))
        if stay.context.signal_kind != "ecg":
            return None
        found = {f.finding: f for f in stay.ecg_findings()}
        if found and all(found[k].score is not None for k in FINDINGS):
            present.append([float(found[k].present) for k in FINDINGS])
            keep.append(i - 1)
        cohort.forget(int(sid))
        if progress is not None:
            progress("ECG findings", i, len(ids), "the findings of training stays' ECGs")
    if len(keep) < 4 * (len(FINDINGS) + 1):
        return None
    rows = rows[keep]
    with_ecg = predict_rows(run.model, run.preprocessor, bundle, rows)["final"]
    without = predict_rows(run.model, run.preprocessor, bundle, rows, hide_signal=True)["final"]
    y = np.asarray(with_ecg, dtype=np.float64) - np.asarray(without, dtype=np.float64)
    p = np.asarray(present)
    x = np.c_[np.ones(len(p)), p]
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    fitted = x @ beta
    r2 = 1.0 - float(((y - fitted) ** 2).sum()) / max(float(((y - y.mean()) ** 2).sum()), 1e-12)
    return {
        "format": 1,
        "weights_sha256": run.weights_sha256,
        "cohort_fingerprint": bundle.fingerprint,
        "findings": list(FINDINGS),
        "beta": {k: float(b) for k, b in zip(FINDINGS, beta[1:])},
        "intercept": float(beta[0]),
        "base_rate": {k: float(r) for k, r in zip(FINDINGS, p.mean(axis=0))},
        "r2": r2,
        "n": int(len(p)),
        "seed": seed,
        "unit": "log1p-days",
        "method": "least squares of the ECG's contribution (prediction with the ECG minus with it hidden) on the findings present, "
                  "over training stays with a measurable ECG (lemof.explain.ecg_effects)",
    }
