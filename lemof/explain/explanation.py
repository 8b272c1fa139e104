"""One stay's explanation: prediction and interval, level SHAP, head contributions, attention.

This is the API the app and ``python -m lemof explain`` share. Everything is computed by the
same model the run stores; nothing here is approximated for display.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lemof.data.bundle import CohortBundle
from lemof.errors import CohortError
from lemof.explain.level_shap import level_shapley
from lemof.inference import predict_rows
from lemof.runs import Run

# Stored values are used when the live stacker output agrees to this (float32 batch effects
# are about 1e-6); the stored output is then reported, so the values add up exactly.
_STORED_TOLERANCE = 1e-4


@dataclass
class StayExplanation:
    stay_id: int
    run_id: str
    cohort: str
    split: str
    observed_los_days: float
    los_days: float  # predicted
    interval_days: list[float]  # [low, high]
    interval_level: float  # e.g. 0.9
    has_signal: bool
    scale: str  # the meta-learner's output scale
    level_names: dict[str, list[str]]
    level_shap: dict[str, list[float | None]]  # None: modality absent for this stay
    level_importance: dict[str, list[float]]  # global, mean |phi| over validation stays
    selected_levels: dict[str, list[str]]
    shap_base: float
    stacker_output: float
    shap_source: str  # "stored" (computed at training) or "computed"
    head_names: list[str]
    head_predictions: dict[str, float | None]
    contributions: dict[str, float | None]  # w_i * y_i; None: head absent
    meta_bias: float
    meta_output: float
    attention: dict[str, Any] | None

    def to_dict(self, *, per_head_attention: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if out["attention"] is not None and not per_head_attention:
            for key in ("ehr_to_sig", "sig_to_ehr"):
                out["attention"][key].pop("per_head", None)
        return out


def _none_if_nan(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype=float)]


def check_run_fits_cohort(run: Run, bundle: CohortBundle) -> None:
    """A model explains only cohorts of the family (source) it was trained on."""
    if run.cohort.get("source") != bundle.source:
        raise CohortError(
            f"run {run.run_id!r} was trained on {run.cohort.get('source')!r} data and cannot explain "
            f"the {bundle.source!r} cohort {bundle.name!r}"
        )
    run.preprocessor.check_compatible(bundle)


def _level_shap_for(
    run: Run, bundle: CohortBundle, stay_id: int, stacker_inputs: np.ndarray, stacker_output: float, present: np.ndarray
) -> tuple[np.ndarray, float, float, str]:
    """(phi, base, stacker output, source): stored when this run was trained on this very cohort, else computed now."""
    stored = run.stored_level_shap(stay_id) if run.cohort.get("fingerprint") == bundle.fingerprint else None
    if stored is not None and abs(stored[1] - stacker_output) < _STORED_TOLERANCE:
        return stored[0], float(run.level_importance["base_value"]), stored[1], "stored"
    phi, base = level_shapley(run.model.stacker, stacker_inputs[None, :], present[None, :])
    return phi[0], base, stacker_output, "computed"


def explain_stay(run: Run, bundle: CohortBundle, stay_id: int | str, *, per_head_attention: bool = True) -> StayExplanation:
    """Explain one stay of ``bundle`` with ``run``'s model. Unknown ids raise ``StayNotFoundError``."""
    check_run_fits_cohort(run, bundle)
    row = bundle.row_of(stay_id)
    sid = int(bundle.stays["stay_id"].iloc[row])
    pred = predict_rows(run.model, run.preprocessor, bundle, np.array([row]), keep_attention=True)
    model = run.model
    names = model.level_names
    n_ehr = len(names["ehr"])
    has_signal = bool(pred["sig_available"][0])
    present = np.ones(n_ehr + len(names["sig"]), dtype=bool)
    present[n_ehr:] = has_signal
    stacker_in = pred["stacker_inputs"][0]
    stacker_out = float(pred["stacker_output"][0])
    phi, base, stacker_out, source = _level_shap_for(run, bundle, sid, stacker_in, stacker_out, present)
    phi = np.where(present, phi, np.nan)
    heads = model.head_names
    contrib = pred["contributions"][0]
    head_preds = np.where(np.isfinite(contrib), pred["heads"][0], np.nan)
    attention = None
    if has_signal:
        times = model.token_times()
        e2s, s2e = pred["attn_ehr_to_sig"][0], pred["attn_sig_to_ehr"][0]  # (H, Te, Ts), (H, Ts, Te)
        attention = {
            "ehr_hours": [round(t, 4) for t in times["ehr"]],
            "sig_seconds": [round(t, 4) for t in times["sig"]],
            "ehr_to_sig": {"shape": list(e2s.shape), "mean": e2s.mean(axis=0).tolist(), "per_head": e2s.tolist() if per_head_attention else None},
            "sig_to_ehr": {"shape": list(s2e.shape), "mean": s2e.mean(axis=0).tolist(), "per_head": s2e.tolist() if per_head_attention else None},
        }
    stays = bundle.stays
    imp = run.level_importance
    alpha = float(run.config["train"]["interval_alpha"])
    return StayExplanation(
        stay_id=sid,
        run_id=run.run_id,
        cohort=bundle.name,
        split=str(stays["split"].iloc[row]),
        observed_los_days=float(stays["los_days"].iloc[row]),
        los_days=float(pred["los_days"][0]),
        interval_days=[float(v) for v in pred["interval_days"][0]],
        interval_level=1 - alpha,
        has_signal=has_signal,
        scale="log1p(days)",
        level_names=names,
        level_shap={"ehr": _none_if_nan(phi[:n_ehr]), "sig": _none_if_nan(phi[n_ehr:])},
        level_importance={m: [float(v) for v in imp["importance"][m]] for m in ("ehr", "sig")},
        selected_levels={m: list(imp["selected"][m]) for m in ("ehr", "sig")},
        shap_base=base,
        stacker_output=stacker_out,
        shap_source=source,
        head_names=heads,
        head_predictions=dict(zip(heads, _none_if_nan(head_preds))),
        contributions=dict(zip(heads, _none_if_nan(contrib))),
        meta_bias=float(pred["bias"][0]),
        meta_output=float(pred["final"][0]),
        attention=attention,
    )
