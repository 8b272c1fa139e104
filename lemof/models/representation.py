"""The fused representation of a stay as it is stored and compared: scaled to unit length.

Stored per stay in ``stay_vectors.safetensors`` (float16, rescaled when read), computed by a
forward pass for another cohort, and compared by ``lemof.explain.similar``: after scaling, the
cosine similarity of two stays is a dot product.
"""

from __future__ import annotations

import numpy as np


def unit_rows(z, dtype=np.float32) -> np.ndarray:
    """``z`` as ``dtype``, each vector along the last axis scaled to unit length (a zero vector stays zero)."""
    z = np.asarray(z, dtype=dtype)
    return z / np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-12)
