"""Deterministic train/val/test splits by patient.

All stays of one patient land in the same split. The order of patients is a keyed hash of
their id, so a split does not depend on row order, and a patient keeps its split when the
seed is the same.
"""

from __future__ import annotations

import hashlib

import numpy as np

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.70, 0.15, 0.15)


def _hash_rank(subject_ids: np.ndarray, seed: int) -> np.ndarray:
    keys = np.array(
        [hashlib.sha256(f"lemof-split:{seed}:{int(s)}".encode()).digest()[:8] for s in subject_ids],
        dtype="S8",
    )
    return np.argsort(keys, kind="stable")


def assign_splits(
    subject_ids: np.ndarray, seed: int, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
) -> np.ndarray:
    """Split label (``train``/``val``/``test``) for each stay, grouped by ``subject_ids``.

    With at least three patients every split gets at least one patient.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    subject_ids = np.asarray(subject_ids)
    unique = np.unique(subject_ids)
    order = _hash_rank(unique, seed)
    n = len(unique)
    n_val = int(round(fractions[1] * n))
    n_test = int(round(fractions[2] * n))
    if n >= 3:
        n_val = max(n_val, 1 if fractions[1] > 0 else 0)
        n_test = max(n_test, 1 if fractions[2] > 0 else 0)
    n_train = n - n_val - n_test
    labels = np.empty(n, dtype=object)
    labels[order[:n_train]] = "train"
    labels[order[n_train : n_train + n_val]] = "val"
    labels[order[n_train + n_val :]] = "test"
    lookup = dict(zip(unique.tolist(), labels.tolist()))
    return np.array([lookup[s] for s in subject_ids.tolist()], dtype=object)
