"""The tabular peer: gradient boosting on per-stay summary statistics (``fusion = "gbm"``).

What a clinical researcher tries first: for every EHR variable and biosignal channel the count,
mean, minimum, maximum, first and last observed value over the window, plus the static facts;
scikit-learn's ``HistGradientBoostingRegressor`` on log1p(days), its loss and size chosen on the
validation split, a split-conformal interval from validation residuals. Its predictions are
stored per stay; the fitted model is not kept (it could only be stored as a pickle).
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.models.conformal import conformal_quantile
from lemof.progress import Progress
from lemof.training.config import TrainConfig

STATS = ("count", "mean", "min", "max", "first", "last")
GRID = {"loss": ("squared_error", "absolute_error"), "learning_rate": (0.05, 0.1), "max_leaf_nodes": (15, 31)}
_CHUNK = 256


def _summaries(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(n, steps, k) values + observed mask -> (n, k, 6) count, mean, min, max, first, last (NaN if none)."""
    n, t, k = values.shape
    v = np.where(observed, values, np.nan).astype(np.float64)
    count = observed.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(v, axis=1) / count
    lo = np.where(count > 0, np.nanmin(np.where(observed, v, np.inf), axis=1), np.nan)
    hi = np.where(count > 0, np.nanmax(np.where(observed, v, -np.inf), axis=1), np.nan)
    steps = np.arange(t)[None, :, None]
    first_i = np.where(observed, steps, t).min(axis=1)
    last_i = np.where(observed, steps, -1).max(axis=1)
    take = lambda i: np.take_along_axis(v, np.clip(i, 0, t - 1)[:, None, :], axis=1)[:, 0, :]  # noqa: E731
    first = np.where(count > 0, take(first_i), np.nan)
    last = np.where(count > 0, take(last_i), np.nan)
    return np.stack([count, mean, lo, hi, first, last], axis=2)


def summary_features(bundle: CohortBundle) -> pd.DataFrame:
    """One row per stay: 6 statistics of every EHR variable and biosignal channel, and the static facts."""
    n = len(bundle)
    ehr_names, sig_names = bundle.ehr_feature_names, bundle.signal_channels
    ehr = np.empty((n, len(ehr_names), len(STATS)))
    sig = np.full((n, len(sig_names), len(STATS)), np.nan)
    has_signal = bundle.stays["has_signal"].to_numpy(dtype=bool)
    for start in range(0, n, _CHUNK):
        sl = slice(start, start + _CHUNK)
        ehr[sl] = _summaries(np.asarray(bundle.ehr_values[sl], dtype=np.float64), np.asarray(bundle.ehr_mask[sl]).astype(bool))
        values = np.asarray(bundle.signal[sl], dtype=np.float32).transpose(0, 2, 1) * bundle.signal_scale  # (b, L, C)
        observed = np.isfinite(values) if bundle.signal_mask is None else np.asarray(bundle.signal_mask[sl]).astype(bool).transpose(0, 2, 1)
        observed &= has_signal[sl][:, None, None]
        sig[sl] = _summaries(values, observed)
    cols = {f"ehr:{f}:{s}": ehr[:, j, k] for j, f in enumerate(ehr_names) for k, s in enumerate(STATS)}
    cols |= {f"sig:{c}:{s}": sig[:, j, k] for j, c in enumerate(sig_names) for k, s in enumerate(STATS)}
    table = pd.DataFrame(cols)
    table["sig:available"] = has_signal.astype(float)
    stays = bundle.stays
    for s in bundle.static_features:
        if s["kind"] == "numeric":
            table[f"static:{s['name']}"] = stays[s["name"]].astype(float).to_numpy()
        else:
            for c in s["categories"]:
                table[f"static:{s['name']}={c}"] = (stays[s["name"]].astype(str) == str(c)).to_numpy(dtype=float)
    return table


def train_gbm(bundle: CohortBundle, rows: dict[str, np.ndarray], cfg: TrainConfig, progress: Progress | None, say) -> dict:
    """Fit on train, choose on val, predict every stay; returns predictions and what was chosen."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    x = summary_features(bundle)
    y = np.log1p(bundle.stays["los_days"].to_numpy(dtype=np.float64))
    tr, va = rows["train"], rows["val"]
    say(f"gbm: {x.shape[1]} summary features for {len(x)} stays")
    grid = [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]
    best = None
    for i, params in enumerate(grid):
        started = time.time()
        model = HistGradientBoostingRegressor(max_iter=500, early_stopping=True, validation_fraction=0.15, n_iter_no_change=20, random_state=cfg.seed, **params)
        model.fit(x.iloc[tr], y[tr])
        val_mae = float(np.mean(np.abs(np.expm1(model.predict(x.iloc[va])).clip(min=0) - np.expm1(y[va]))))
        say(f"gbm {params}: {model.n_iter_} trees, validation MAE {val_mae:.3f} d ({time.time() - started:.1f} s)")
        if best is None or val_mae < best[0]:
            best = (val_mae, params, model)
        if progress is not None:
            progress("gbm: choosing on validation", i + 1, len(grid), f"best validation MAE {best[0]:.3f} d")
    val_mae, params, model = best
    final = model.predict(x)
    halfwidth = conformal_quantile(np.abs(y[va] - final[va]), cfg.interval_alpha)
    say(f"gbm chosen {params} (validation MAE {val_mae:.3f} d, {model.n_iter_} trees); interval ±{halfwidth:.3f} (log1p)")
    return {"final": final, "halfwidth": np.full(len(final), halfwidth), "params": params, "n_trees": int(model.n_iter_), "features": list(x.columns), "val_mae_days": val_mae}
