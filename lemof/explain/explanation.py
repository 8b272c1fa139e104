"""One stay's explanation: prediction and interval, level SHAP, head contributions, attention.

This is the API the app and ``python -m lemof explain`` share. Everything comes from the model
the run stores; nothing is approximated for display. For a stay of the very cohort the run was
trained on, training stored the prediction, the head contributions and the exact level Shapley
values (``predictions.parquet``, ``level_shap.parquet``), so the explanation is read without
running the network (or importing torch); the cross-modal attention is always computed, on
request (``stay_attention``). For any other cohort of the same family everything is computed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lemof.data.bundle import CohortBundle
from lemof.runs.run import Run, check_run_fits_cohort, require_lemof
from lemof.evaluation.evaluate import stored_predictions
from lemof.explain.level_shap import level_shapley


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
    source: str  # "stored" (computed at training, read from the run) or "computed" (now)
    head_names: list[str]
    head_kinds: dict[str, str]  # head -> modality-level / cross-modal / level-specific
    head_predictions: dict[str, float | None]  # log1p-days
    contributions: dict[str, float | None]  # w_i * y_i; None: head absent
    meta_bias: float
    meta_output: float
    attention: dict[str, Any] | None = None  # None: no biosignal, or not asked for

    def to_dict(self, *, per_head_attention: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if out["attention"] is not None and not per_head_attention:
            for key in ("ehr_to_sig", "sig_to_ehr"):
                out["attention"][key].pop("per_head", None)
        return out

    def kind_totals(self) -> dict[str, float]:
        """Sum of the present heads' contributions per head kind (log1p-days)."""
        totals: dict[str, float] = {}
        for name in self.head_names:
            value = self.contributions[name]
            if value is not None:
                kind = self.head_kinds[name]
                totals[kind] = totals.get(kind, 0.0) + value
        return totals


@dataclass
class StayPrediction:
    """What every run gives for a stay, LeMoF or baseline: the prediction and its interval."""

    stay_id: int
    run_id: str
    fusion: str
    cohort: str
    split: str
    observed_los_days: float
    los_days: float
    interval_days: list[float]
    interval_level: float
    has_signal: bool
    source: str  # "stored" or "computed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def predict_stay(run: Run, bundle: CohortBundle, stay_id: int | str) -> StayPrediction:
    """The prediction of any run for one stay: stored for the cohort it was trained on, else computed."""
    from lemof.models.inference import predict_rows  # lazy: imports torch (stored explanations are read without it)

    check_run_fits_cohort(run, bundle)
    row = bundle.row_of(stay_id)
    rows = np.array([row])
    stored = run.predictions is not None and run.cohort.fingerprint == bundle.fingerprint
    pred = stored_predictions(run, bundle, rows) if stored or run.spec is None else predict_rows(run.model, run.preprocessor, bundle, rows)
    stays = bundle.stays
    return StayPrediction(
        stay_id=int(stays["stay_id"].iloc[row]),
        run_id=run.run_id,
        fusion=run.fusion,
        cohort=bundle.name,
        split=str(stays["split"].iloc[row]),
        observed_los_days=float(stays["los_days"].iloc[row]),
        los_days=float(pred["los_days"][0]),
        interval_days=[float(v) for v in pred["interval_days"][0]],
        interval_level=run.interval_level,
        has_signal=bool(pred["sig_available"][0]),
        source="stored" if stored else "computed",
    )


def _none_if_nan(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype=float)]


def _stored(run: Run, bundle: CohortBundle, stay_id: int) -> dict[str, Any] | None:
    """The stored results of ``stay_id`` when the run was trained on this very cohort."""
    if run.cohort.fingerprint != bundle.fingerprint:
        return None
    row, shap = run.stored_prediction(stay_id), run.stored_level_shap(stay_id)
    if row is None or shap is None:
        return None
    names = run.spec.heads
    return {
        "has_signal": bool(row["sig_available"]),
        "los_days": float(row["los_days"]),
        "interval": [float(row["interval_low_days"]), float(row["interval_high_days"])],
        "heads": np.array([row[f"head:{h.name}"] for h in names], dtype=float),
        "contributions": np.array([row[f"contribution:{h.name}"] for h in names], dtype=float),
        "bias": float(row["bias"]),
        "final": float(row["final"]),
        "phi": shap[0],
        "stacker_output": shap[1],
        "base": float(run.level_importance.base_value),
        "source": "stored",
    }


def _computed(run: Run, bundle: CohortBundle, row: int) -> dict[str, Any]:
    """Run the network on one stay and compute its exact level Shapley values."""
    from lemof.models.inference import predict_rows  # lazy: imports torch (stored explanations are read without it)

    pred = predict_rows(run.model, run.preprocessor, bundle, np.array([row]))
    has_signal = bool(pred["sig_available"][0])
    n_ehr = len(run.level_importance.levels["ehr"])
    present = np.ones(len(run.level_importance.all_levels), dtype=bool)
    present[n_ehr:] = has_signal
    phi, base = level_shapley(run.model.stacker, pred["stacker_inputs"][:1], present[None, :])
    return {
        "has_signal": has_signal,
        "los_days": float(pred["los_days"][0]),
        "interval": [float(v) for v in pred["interval_days"][0]],
        "heads": pred["heads"][0].astype(float),
        "contributions": pred["contributions"][0],
        "bias": float(pred["bias"][0]),
        "final": float(pred["final"][0]),
        "phi": phi[0],
        "stacker_output": float(pred["stacker_output"][0]),
        "base": base,
        "source": "computed",
    }


def stay_attention(run: Run, bundle: CohortBundle, stay_id: int | str, *, per_head: bool = True) -> dict[str, Any] | None:
    """Cross-modal attention of one stay in both directions (None without a biosignal).

    ``ehr_to_sig`` is (heads, EHR tokens, biosignal tokens): which biosignal times each EHR hour
    attends to; ``sig_to_ehr`` the reverse. Token centres are in hours (EHR) and seconds.
    """
    from lemof.models.inference import predict_rows  # lazy: imports torch (stored explanations are read without it)

    require_lemof(run)
    check_run_fits_cohort(run, bundle)
    row = bundle.row_of(stay_id)
    pred = predict_rows(run.model, run.preprocessor, bundle, np.array([row]), keep_attention=True)
    if not bool(pred["sig_available"][0]):
        return None
    times = run.model.token_times()
    e2s, s2e = pred["attn_ehr_to_sig"][0], pred["attn_sig_to_ehr"][0]  # (H, Te, Ts), (H, Ts, Te)
    return {
        "ehr_hours": [round(t, 4) for t in times["ehr"]],
        "sig_seconds": [round(t, 4) for t in times["sig"]],
        "ehr_to_sig": {"shape": list(e2s.shape), "mean": e2s.mean(axis=0).tolist(), "per_head": e2s.tolist() if per_head else None},
        "sig_to_ehr": {"shape": list(s2e.shape), "mean": s2e.mean(axis=0).tolist(), "per_head": s2e.tolist() if per_head else None},
    }


def explain_stay(run: Run, bundle: CohortBundle, stay_id: int | str, *, attention: bool = True, per_head_attention: bool = True) -> StayExplanation:
    """Explain one stay of ``bundle`` with ``run``'s model. Unknown ids raise ``StayNotFoundError``.

    With ``attention=False`` the attention maps are left out (``stay_attention`` computes them),
    and a stay of the cohort the run was trained on is explained from stored results alone.
    A run of a baseline raises ``RunError`` (see ``predict_stay`` for what every run gives).
    """
    require_lemof(run)
    check_run_fits_cohort(run, bundle)
    row = bundle.row_of(stay_id)
    sid = int(bundle.stays["stay_id"].iloc[row])
    r = _stored(run, bundle, sid) or _computed(run, bundle, row)
    imp = run.level_importance
    n_ehr = len(imp.levels["ehr"])
    phi = np.asarray(r["phi"], dtype=float).copy()
    if not r["has_signal"]:
        phi[n_ehr:] = np.nan  # absent modality: never zero evidence
    heads = run.spec.heads
    contrib = np.asarray(r["contributions"], dtype=float)
    head_preds = np.where(np.isfinite(contrib), r["heads"], np.nan)
    stays = bundle.stays
    return StayExplanation(
        stay_id=sid,
        run_id=run.run_id,
        cohort=bundle.name,
        split=str(stays["split"].iloc[row]),
        observed_los_days=float(stays["los_days"].iloc[row]),
        los_days=r["los_days"],
        interval_days=r["interval"],
        interval_level=run.interval_level,
        has_signal=r["has_signal"],
        scale="log1p(days)",
        level_names={m: list(imp.levels[m]) for m in ("ehr", "sig")},
        level_shap={"ehr": _none_if_nan(phi[:n_ehr]), "sig": _none_if_nan(phi[n_ehr:])},
        level_importance={m: [float(v) for v in imp.importance[m]] for m in ("ehr", "sig")},
        selected_levels={m: list(imp.selected[m]) for m in ("ehr", "sig")},
        shap_base=r["base"],
        stacker_output=r["stacker_output"],
        source=r["source"],
        head_names=[h.name for h in heads],
        head_kinds={h.name: h.kind for h in heads},
        head_predictions=dict(zip([h.name for h in heads], _none_if_nan(head_preds))),
        contributions=dict(zip([h.name for h in heads], _none_if_nan(contrib))),
        meta_bias=r["bias"],
        meta_output=r["final"],
        attention=stay_attention(run, bundle, sid, per_head=per_head_attention) if attention and r["has_signal"] else None,
    )
