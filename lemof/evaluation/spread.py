"""Distributions over a cohort's stays, summarised by quantiles before anything is drawn.

Level importance (the distribution of |φ|, the stay's exact level Shapley value, over the stays
where the level's modality is present) and head contributions (the total of each head kind per
stay, separately with and without the biosignal): count, mean and the 5/25/50/75/95th
percentiles. Only these numbers reach a figure, never the stays, so it costs the same for 600 or
100,000 stays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lemof.models.spec import MODALITIES, kind_totals

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
QUANTILE_COLUMNS = ("q05", "q25", "median", "q75", "q95")


def box_stats(values: np.ndarray) -> dict:
    """n, mean and the ``QUANTILES`` of the finite values (NaN when there are none)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"n": 0, "mean": np.nan, **{c: np.nan for c in QUANTILE_COLUMNS}}
    return {"n": int(len(v)), "mean": float(v.mean()), **dict(zip(QUANTILE_COLUMNS, np.quantile(v, QUANTILES).tolist()))}


def level_spread(level_shap: pd.DataFrame, levels: dict[str, list[str]], selected: dict[str, list[str]]) -> pd.DataFrame:
    """One row per level: modality, whether selected, and the distribution of |φ| over the stays
    of ``level_shap`` (rows = stays; NaN where the modality is absent)."""
    chosen = {level for m in MODALITIES for level in selected.get(m, [])}
    rows = []
    for modality in MODALITIES:
        for level in levels[modality]:
            phi = level_shap[level].to_numpy(dtype=float) if level in level_shap else np.array([])
            rows.append({"level": level, "modality": modality, "selected": level in chosen, **box_stats(np.abs(phi))})
    return pd.DataFrame(rows)


def head_kind_totals(predictions: pd.DataFrame, head_kinds: dict[str, str]) -> pd.DataFrame:
    """Per stay (rows of ``predictions``, with a ``contribution:<head>`` column per head), the
    summed contribution of each head kind, NaN where every head of that kind is absent for the
    stay (``lemof.models.spec.kind_totals``)."""
    columns = {h: predictions[f"contribution:{h}"].to_numpy(dtype=float) for h in head_kinds if f"contribution:{h}" in predictions}
    return pd.DataFrame(kind_totals(columns, head_kinds), index=predictions.index)


def head_spread(totals: pd.DataFrame, sig_available: np.ndarray) -> pd.DataFrame:
    """One row per head kind and availability pattern: the distribution of its total contribution."""
    avail = np.asarray(sig_available, dtype=bool)
    rows = []
    for kind in totals.columns:
        values = totals[kind].to_numpy(dtype=float)
        for with_signal in (True, False):
            rows.append({"kind": kind, "with_signal": with_signal, **box_stats(values[avail == with_signal])})
    return pd.DataFrame(rows)
