"""Similar stays: the training stays closest to a stay in LeMoF's fused representation.

The fused representation (the ``representation`` output of ``LeMoF.forward``, (4d,) per stay)
is what the cross-modal fused head reads: the stay as the model sees it across both modalities. Stays are
compared by cosine similarity; the search is exact (one matrix product over the training
stays' L2-normalised vectors), which takes milliseconds up to ~100,000 stays, so no
approximate index is needed at these sizes. For the cohort a run was trained on the vectors are
stored in the run (``stay_vectors.safetensors``); ``lemof.explain.results`` builds the index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle


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


def neighbour_table(bundle: CohortBundle, index: SimilarityIndex, query: np.ndarray, stay_id: int, k: int = 10, sig_label: str = "ECG") -> pd.DataFrame:
    """The ``k`` stays of ``index`` nearest to ``query`` (``stay_id`` itself excluded): similarity,
    observed LOS and a one-line summary of each."""
    top, sims = index.nearest(query, k, exclude=int(stay_id))
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
