"""Exact Shapley values of the encoder levels (stage 2), computed with ``shap``.

Players are the levels of both modalities. The value of a coalition is the level stacker's
output with the absent levels at their background expectation (one background row: the
mean level prediction over training stays). With at most 12 players shap's Exact explainer
enumerates every coalition, so for each stay ``sum(phi) == stacker(x) - base`` exactly (up
to float64 rounding). Levels of a modality a stay does not have are reported as NaN
(absent), never as zero evidence.

shap's Exact explainer compiles (numba) on its first call, about 10 s on a laptop-class
CPU; training computes the values of every stay once and stores them in the run, so the
dashboard only calls this for cohorts the run has not seen.
"""

from __future__ import annotations

import numpy as np

from lemof.models.stacker import LevelStacker

MAX_EXACT_PLAYERS = 12


def level_shapley(
    stacker: LevelStacker, stacker_inputs: np.ndarray, present: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Shapley values (n, P) of the P levels for each row of ``stacker_inputs`` and the base value.

    ``present`` (n, P) bool marks levels whose modality the stay has; absent ones are NaN.
    """
    import shap  # imported here: it takes seconds, and only training and unseen cohorts need it

    x = np.asarray(stacker_inputs, dtype=np.float64)
    n_players = x.shape[1]
    if n_players > MAX_EXACT_PLAYERS:
        raise ValueError(f"{n_players} levels: exact Shapley values are only computed up to {MAX_EXACT_PLAYERS}")
    background = stacker.background.numpy()[None, :]
    explainer = shap.explainers.Exact(stacker.predict_numpy, shap.maskers.Independent(background, max_samples=1))
    result = explainer(x, silent=True)
    phi = np.asarray(result.values, dtype=np.float64)
    base = float(np.asarray(result.base_values).reshape(-1)[0])
    if present is not None:
        phi = np.where(present, phi, np.nan)
    return phi, base


def global_importance(phi: np.ndarray) -> np.ndarray:
    """Mean |phi| of each level over the stays where it is present, (P,)."""
    return np.nanmean(np.abs(phi), axis=0)
