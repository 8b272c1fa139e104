"""Batched inference of a trained network (LeMoF or a baseline) on rows of a cohort bundle."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from lemof.data.bundle import CohortBundle
from lemof.data.preprocess import Preprocessor
from lemof.models.conformal import interval_days


def _concat(parts: list):
    first = parts[0]
    if isinstance(first, dict):
        return {k: _concat([p[k] for p in parts]) for k in first}
    if isinstance(first, tuple):
        return tuple(_concat([p[i] for p in parts]) for i in range(len(first)))
    return torch.cat(parts) if isinstance(first, torch.Tensor) else np.concatenate(parts)


def in_batches(module: torch.nn.Module, n: int, step: Callable[[slice], Any], batch_size: int = 256):
    """``step(rows)`` over rows 0..n-1 in slices of ``batch_size``, with ``module`` in eval mode
    and no gradients; the outputs concatenated along the first axis (``step`` may return a
    tensor, an array, or a tuple or dict of them). The one batched inference loop of the project."""
    module.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            parts.append(step(slice(start, min(start + batch_size, n))))
    return _concat(parts)


def tabular_features(model: torch.nn.Module, bundle: CohortBundle, rows: np.ndarray, sig_available: np.ndarray) -> np.ndarray | None:
    """(n, F) summaries the network's tabular head reads for ``rows`` (None without one): a stay
    whose biosignal is not available to the network (none recorded, or hidden) has every
    biosignal summary missing and ``sig:available`` 0, exactly as a stay without one."""
    gbm = getattr(model, "tabular_model", None)
    if gbm is None:
        if getattr(getattr(model, "spec", None), "tabular_head", False):
            raise ValueError("this network has a tabular head but its LightGBM model is not attached (load the run with load_run)")
        return None
    x = gbm.features(bundle, rows)
    names = gbm.schema.names
    absent = ~np.asarray(sig_available, dtype=bool)
    sig_cols = np.array([n.startswith("sig:") and n != "sig:available" for n in names])
    x[np.ix_(absent, sig_cols)] = np.nan
    x[absent, names.index("sig:available")] = 0.0
    return x


def tabular_values(model: torch.nn.Module, bundle: CohortBundle, rows: np.ndarray, sig_available: np.ndarray) -> np.ndarray | None:
    """(n,) the tabular head's predictions (log1p-days) for ``rows`` (``tabular_features``), or
    None for a network without one."""
    x = tabular_features(model, bundle, rows, sig_available)
    return None if x is None else model.tabular_model.raw(x)


def forward_arrays(
    model: torch.nn.Module,
    ehr_x: np.ndarray,
    sig_x: np.ndarray,
    sig_available: np.ndarray,
    *,
    device: torch.device | str = "cpu",
    batch_size: int = 256,
    keep_attention: bool = False,
    tabular: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Run the model on preprocessed arrays; every output as a numpy array over all rows.

    Attention maps are (n, H, Te, Ts) and (n, H, Ts, Te): kept only when asked for. ``tabular``
    (n,) is the tabular head's prediction of each row (``tabular_values``) for a network with one.
    """

    def step(sl: slice) -> dict[str, np.ndarray]:
        extra = {} if tabular is None else {"tabular": torch.as_tensor(tabular[sl], device=device)}
        out = model(
            torch.as_tensor(ehr_x[sl], device=device),
            torch.as_tensor(sig_x[sl], device=device),
            torch.as_tensor(sig_available[sl], device=device),
            **extra,
        )
        return {key: val.cpu().numpy() for key, val in out.items() if keep_attention or not key.startswith("attn_")}

    return in_batches(model, len(ehr_x), step, batch_size)


def predict_rows(
    model: torch.nn.Module,
    pre: Preprocessor,
    bundle: CohortBundle,
    rows: np.ndarray,
    *,
    device: torch.device | str = "cpu",
    keep_attention: bool = False,
    hide_signal: bool = False,
    batch_size: int = 256,
) -> dict[str, np.ndarray]:
    """Predictions for ``rows`` of ``bundle``: ``los_days``, ``interval_days`` and every model output.

    ``hide_signal`` predicts every stay as if it had no biosignal (how the ``ehr`` availability
    pattern is calibrated)."""
    rows = np.asarray(rows)
    ehr_x = pre.ehr(bundle, rows)
    sig_x, available = pre.signal(bundle, rows)
    if hide_signal:
        available = np.zeros_like(available)
    tabular = tabular_values(model, bundle, rows, available)
    out = forward_arrays(model, ehr_x, sig_x, available, device=device, keep_attention=keep_attention, batch_size=batch_size, tabular=tabular)
    out["sig_available"] = available
    out["los_days"] = np.expm1(out["final"]).clip(min=0.0)
    out["interval_days"] = interval_days(out["final"], out["halfwidth"])
    out["stay_id"] = bundle.stays["stay_id"].to_numpy()[rows]
    return out


def prediction_table(pred: dict[str, np.ndarray], head_names: list[str], split: np.ndarray, without_signal: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """One row per stay of ``predict_rows`` output, as stored in a run's ``predictions.parquet``.

    Columns: stay_id, split, sig_available, los_days, interval_low_days, interval_high_days,
    final (log1p-days), halfwidth; for a model with a meta-learner also bias, stacker_output
    (LeMoF), ``head:<name>`` (each head's prediction, log1p-days) and ``contribution:<name>``
    (w_i * y_i; NaN where the head is absent). With ``without_signal`` (the same rows predicted
    with the biosignal hidden): ``final_without_signal`` and ``head_without_signal:<name>``, from
    which the intervals' calibration can be recomputed at any level.
    """
    table = {
        "stay_id": pred["stay_id"].astype(np.int64),
        "split": np.asarray(split).astype(str),
        "sig_available": pred["sig_available"].astype(bool),
        "los_days": pred["los_days"],
        "interval_low_days": pred["interval_days"][:, 0],
        "interval_high_days": pred["interval_days"][:, 1],
        "final": pred["final"],
        "halfwidth": pred["halfwidth"],
    }
    for key in ("bias", "stacker_output"):
        if key in pred:
            table[key] = pred[key]
    for j, name in enumerate(head_names):
        table[f"head:{name}"] = pred["heads"][:, j].astype(np.float64)
        table[f"contribution:{name}"] = pred["contributions"][:, j]
    if without_signal is not None:
        table["final_without_signal"] = without_signal["final"]
        for j, name in enumerate(head_names):
            table[f"head_without_signal:{name}"] = without_signal["heads"][:, j].astype(np.float64)
    return pd.DataFrame(table)
