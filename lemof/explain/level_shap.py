"""Exact Shapley values of the encoder levels (stage 2), by batched coalition enumeration.

Players are the levels of both modalities. The value of a coalition S is the level stacker's
output with the levels outside S at their background expectation (one background row: the
mean level prediction over training stays). With P <= 12 players all 2^P coalitions of every
stay are evaluated in one batched forward pass of the stacker, and

    phi_i = sum_{S not containing i} |S|! (P - |S| - 1)! / P! * (v(S + i) - v(S)),

so ``sum(phi) == stacker(x) - base`` to float64 rounding. This is exactly what shap's
``ExactExplainer`` computes with one background row (the tests check both against each other
and against a brute-force enumeration), without its multi-second first-call compile, so a
stay of a cohort the run was not trained on is explained in milliseconds.
Levels of a modality a stay does not have are reported as NaN (absent), never as zero evidence.
"""

from __future__ import annotations

from functools import lru_cache
from math import factorial
from typing import Callable

import numpy as np

from lemof.errors import ConfigError

MAX_EXACT_PLAYERS = 12
_MAX_ROWS_PER_PASS = 1 << 18  # coalition rows evaluated per forward pass (bounded memory)


@lru_cache(maxsize=16)
def _coalitions(n_players: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Masks (2^P, P) of every coalition, and per player the coalitions without it, the same
    coalitions with it, and their Shapley weights."""
    codes = np.arange(1 << n_players)
    masks = ((codes[:, None] >> np.arange(n_players)[None, :]) & 1).astype(bool)  # (2^P, P)
    size = masks.sum(axis=1)
    weight_of_size = np.array([factorial(s) * factorial(n_players - s - 1) / factorial(n_players) for s in range(n_players)])
    without = np.stack([codes[~masks[:, i]] for i in range(n_players)])  # (P, 2^(P-1))
    with_ = without | (1 << np.arange(n_players))[:, None]
    weights = weight_of_size[size[without]]  # (P, 2^(P-1))
    return masks, without, with_, weights


def exact_shapley(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, float]:
    """Shapley values (n, P) of ``f`` at each row of ``x`` (n, P) against one ``background`` row (P,).

    ``f`` maps (m, P) float64 inputs to (m,) outputs. Returns (phi, base) with base = f(background).
    """
    x = np.asarray(x, dtype=np.float64)
    n, p = x.shape
    if p > MAX_EXACT_PLAYERS:
        raise ConfigError(f"{p} levels: exact Shapley values are only computed up to {MAX_EXACT_PLAYERS} levels")
    background = np.asarray(background, dtype=np.float64).reshape(p)
    masks, without, with_, weights = _coalitions(p)
    k = len(masks)
    phi = np.empty((n, p))
    per_pass = max(1, _MAX_ROWS_PER_PASS // k)
    for start in range(0, n, per_pass):
        xs = x[start : start + per_pass]  # (b, P)
        z = np.where(masks[None, :, :], xs[:, None, :], background[None, None, :])  # (b, 2^P, P)
        v = np.asarray(f(z.reshape(-1, p)), dtype=np.float64).reshape(len(xs), k)  # (b, 2^P)
        phi[start : start + len(xs)] = np.einsum("bpk,pk->bp", v[:, with_] - v[:, without], weights)
    base = float(np.asarray(f(background[None, :]), dtype=np.float64)[0])
    return phi, base


def level_shapley(stacker, stacker_inputs: np.ndarray, present: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Shapley values (n, P) of the P levels for each row of ``stacker_inputs`` and the base value.

    ``stacker`` is the run's ``LevelStacker``; ``present`` (n, P) bool marks levels whose
    modality the stay has; absent ones are NaN.
    """
    phi, base = exact_shapley(stacker.predict_numpy, stacker_inputs, stacker.background.numpy())
    if present is not None:
        phi = np.where(present, phi, np.nan)
    return phi, base


def global_importance(phi: np.ndarray) -> np.ndarray:
    """Mean |phi| of each level over the stays where it is present, (P,)."""
    return np.nanmean(np.abs(phi), axis=0)
