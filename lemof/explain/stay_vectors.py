"""Per-stay vectors a LeMoF run stores for the cohort it was trained on, so that the case review
paints without running the network: the fused representation (similar stays) and the attention
each biosignal token receives (the strip under the ECG).

Computed at training (``lemof.training.pipeline``) or, for a run trained before this file
existed, by ``python -m lemof precompute --run R --data D`` (no retraining: the same network
on the same cohort).
"""

from __future__ import annotations

import numpy as np

from lemof.data.bundle import CohortBundle
from lemof.models.representation import unit_rows
from lemof.progress import Progress


def attention_to_signal(attn_ehr_to_sig: np.ndarray, sig_available: np.ndarray) -> np.ndarray:
    """(n, Ts): the mean weight each biosignal token receives from the EHR tokens, averaged over
    heads, from (n, H, Te, Ts) maps; NaN rows for stays without a biosignal."""
    received = np.asarray(attn_ehr_to_sig, dtype=np.float64).mean(axis=(1, 2))
    return np.where(np.asarray(sig_available, dtype=bool)[:, None], received, np.nan)


def compute_stay_vectors(model, pre, bundle: CohortBundle, *, device="cpu", batch_size: int = 256, progress: Progress | None = None) -> dict[str, np.ndarray]:
    """One forward pass over every stay of ``bundle`` (in batches, so the attention maps of the
    whole cohort are never held at once): the tensors of ``stay_vectors.safetensors``."""
    from lemof.models.inference import predict_rows  # lazy: imports torch; the app reads these vectors without it

    n = len(bundle)
    reps, received = [], []
    for start in range(0, n, batch_size):
        rows = np.arange(start, min(start + batch_size, n))
        out = predict_rows(model, pre, bundle, rows, device=device, keep_attention=True, batch_size=batch_size)
        reps.append(unit_rows(out["representation"]))
        received.append(attention_to_signal(out["attn_ehr_to_sig"], out["sig_available"]))
        if progress is not None:
            progress("stay vectors", int(rows[-1]) + 1, n, "fused representation and attention of every stay")
    return {
        "stay_id": bundle.stays["stay_id"].to_numpy(dtype=np.int64),
        "representation": np.concatenate(reps),
        "attention_to_signal": np.concatenate(received),
        "sig_seconds": np.asarray(model.token_times()["sig"], dtype=np.float64),
    }
