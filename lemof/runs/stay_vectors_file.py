"""``stay_vectors.safetensors``: what the case review needs at first paint beyond the stored
predictions, per stay of the cohort a LeMoF run was trained on — the fused representation
(similar stays) and the attention each biosignal token receives. Written at training or by
``python -m lemof precompute`` (computed by ``lemof.explain.stay_vectors``), bound to the weights
and the cohort it was computed for."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lemof.models.representation import unit_rows
from lemof.paths import write_bytes_atomic

STAY_VECTORS_FILE = "stay_vectors.safetensors"


@dataclass(frozen=True)
class StayVectors:
    """The stay vectors of one run, row by row (``stay_id`` gives the row of a stay)."""

    stay_ids: np.ndarray  # (N,) int64
    representation: np.ndarray  # (N, 4d) unit length, stored as float16 (cosine error ~1e-4), read as float32
    attention_to_signal: np.ndarray  # (N, Ts) float32: mean attention each biosignal token receives; NaN rows without one
    sig_seconds: np.ndarray  # (Ts,) centre of each biosignal token (s)

    def index_of(self) -> dict[int, int]:
        return {int(s): i for i, s in enumerate(self.stay_ids)}


def read_stay_vectors(path: Path, weights_sha256: str | None, fingerprint: str) -> tuple[StayVectors | None, str | None]:
    """The stored stay vectors at ``path`` if they belong to these weights and this cohort:
    (vectors, None), or (None, why not) — a missing file says nothing (None, None)."""
    if not path.exists():
        return None, None
    from safetensors import SafetensorError, safe_open

    run = path.parent.name
    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        return None, f"{STAY_VECTORS_FILE} of run {run} is unreadable ({exc}); similar stays and attention are computed instead"
    if meta.get("weights_sha256") != weights_sha256 or meta.get("cohort_fingerprint") != fingerprint:
        return None, f"{STAY_VECTORS_FILE} of run {run} was computed for other weights or another cohort; it is ignored (python -m lemof precompute rewrites it)"
    try:
        vectors = StayVectors(
            stay_ids=tensors["stay_id"].astype(np.int64),
            representation=unit_rows(tensors["representation"]),  # rescaled after float16 rounding
            attention_to_signal=tensors["attention_to_signal"].astype(np.float32),
            sig_seconds=tensors["sig_seconds"].astype(np.float64),
        )
    except KeyError as exc:
        return None, f"{STAY_VECTORS_FILE} of run {run} lacks tensor {exc}; it is ignored"
    n = len(vectors.stay_ids)
    if len(vectors.representation) != n or len(vectors.attention_to_signal) != n or not np.isfinite(vectors.representation).all():
        return None, f"{STAY_VECTORS_FILE} of run {run} is inconsistent (row counts or non-finite values); it is ignored"
    return vectors, None


def write_stay_vectors(path: Path, tensors: dict[str, np.ndarray], *, weights_sha256: str | None, fingerprint: str) -> None:
    """Write ``stay_vectors.safetensors`` atomically, bound to the weights and cohort it was computed for."""
    from safetensors.numpy import save

    data = save(
        {
            "stay_id": np.ascontiguousarray(tensors["stay_id"], dtype=np.int64),
            "representation": np.ascontiguousarray(tensors["representation"], dtype=np.float16),
            "attention_to_signal": np.ascontiguousarray(tensors["attention_to_signal"], dtype=np.float16),
            "sig_seconds": np.ascontiguousarray(tensors["sig_seconds"], dtype=np.float64),
        },
        metadata={"weights_sha256": str(weights_sha256), "cohort_fingerprint": fingerprint},
    )
    write_bytes_atomic(path, data)
