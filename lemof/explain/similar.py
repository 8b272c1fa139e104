"""Similar stays: the training stays closest to a stay in LeMoF's fused representation.

The fused representation (``LeMoF.fused_representation``, (4d,) per stay) is what the
cross-modal fused head reads: the stay as the model sees it across both modalities. Stays are
compared by cosine similarity; the search is exact (one matrix product over the training
stays' L2-normalised vectors), which takes milliseconds up to ~100,000 stays (see
``benchmarks/bench_similar.py``), so no approximate index is needed at these sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.runs.run import Run, check_run_fits_cohort, require_lemof


def fused_vectors(run: Run, bundle: CohortBundle, rows: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(n, 4d) fused representations of ``rows``, L2-normalised, float32."""
    import torch

    model, pre = run.model, run.preprocessor
    out = []
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            r = np.asarray(rows[start : start + batch_size])
            ehr = torch.as_tensor(pre.ehr(bundle, r))
            sig, avail = pre.signal(bundle, r)
            out.append(model.fused_representation(ehr, torch.as_tensor(sig), torch.as_tensor(avail)).numpy())
    z = np.concatenate(out).astype(np.float32)
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


@dataclass
class SimilarityIndex:
    stay_ids: np.ndarray  # (N,)
    vectors: np.ndarray  # (N, D), unit length

    def nearest(self, query: np.ndarray, k: int = 10, exclude: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Indices and cosine similarities of the ``k`` nearest stays to ``query`` (D,)."""
        sims = self.vectors @ (query / max(float(np.linalg.norm(query)), 1e-12))
        if exclude is not None:
            sims = np.where(self.stay_ids == exclude, -np.inf, sims)
        k = min(k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        return top, sims[top]


def training_index(run: Run, bundle: CohortBundle) -> SimilarityIndex:
    """The index of the cohort's training stays (a LeMoF run)."""
    require_lemof(run)
    check_run_fits_cohort(run, bundle)
    rows = bundle.rows("train")
    return SimilarityIndex(bundle.stays["stay_id"].to_numpy()[rows], fused_vectors(run, bundle, rows))


def _summary(row: pd.Series, sig_label: str) -> str:
    parts = []
    if "age" in row and pd.notna(row["age"]):
        parts.append(f"age {row['age']:.0f}")
    if "sex" in row and pd.notna(row["sex"]):
        parts.append(str(row["sex"]))
    for unit in ("first_careunit", "icu_type"):
        if unit in row and pd.notna(row[unit]):
            parts.append(str(row[unit]))
            break
    parts.append(f"with {sig_label}" if row["has_signal"] else f"no {sig_label}")
    return ", ".join(parts)


def similar_stays(run: Run, bundle: CohortBundle, stay_id: int | str, index: SimilarityIndex, k: int = 10, sig_label: str = "ECG") -> pd.DataFrame:
    """The ``k`` training stays nearest to ``stay_id``: similarity, observed LOS, a one-line summary."""
    row = bundle.row_of(stay_id)
    query = fused_vectors(run, bundle, np.array([row]))[0]
    top, sims = index.nearest(query, k, exclude=int(bundle.stays["stay_id"].iloc[row]))
    stays = bundle.stays.set_index("stay_id")
    ids = index.stay_ids[top]
    return pd.DataFrame(
        {
            "stay": ids.astype(int),
            "similarity": np.round(sims, 3),
            "observed LOS (days)": stays.loc[ids, "los_days"].round(1).to_numpy(),
            "summary": [_summary(stays.loc[i], sig_label) for i in ids],
        }
    )
