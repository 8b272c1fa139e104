"""Similar stays: the training stays closest to a stay in LeMoF's fused representation.

The fused representation (the ``representation`` output of ``LeMoF.forward``, (4d,) per stay)
is what the cross-modal fused head reads: the stay as the model sees it across both modalities.
The vectors share a large common direction, so raw cosines are all close to 1 (the ten nearest
at 0.97–0.99). ``SimilarityIndex.fit`` offers four comparison spaces, fitted on the training
stays alone:

- ``cosine``: raw cosine of the unit vectors;
- ``centred``: cosine after subtracting the training mean;
- ``whitened``: cosine after subtracting the training mean and whitening with the training
  covariance (PCA whitening, kept to the components that carry variance well above the float16
  rounding of the stored vectors), i.e. the angle under the Mahalanobis metric;
- ``mahalanobis``: minus the Euclidean distance in the whitened space.

The metric used (``DEFAULT_METRIC``) was chosen on the validation split
(``benchmarks/bench_similar.py``): raw cosine ranks the neighbours best for LOS on both cohorts
(centred is within 0.04 d, whitening is worse), so the ranking is raw cosine, and what makes the
number readable is its **percentile** among the similarities of random pairs of training stays:
99 means closer than 99 % of such pairs (the 10th neighbour's ranges from ~88 to 99.9 over
stays, where the raw cosine spans 0.007). The search is exact (one matrix product over the training
stays), milliseconds up to ~100,000 stays. For the cohort a run was trained on the vectors are
stored in the run (``stay_vectors.safetensors``); ``lemof.explain.results`` builds the index.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle, feature_title
from lemof.data.display import display_of
from lemof.errors import ConfigError
from lemof.explain.views import KeyValue, Neighbour
from lemof.models.representation import unit_rows

METRICS = ("cosine", "centred", "whitened", "mahalanobis")
DEFAULT_METRIC = "cosine"  # lowest validation MAE of the neighbours' median LOS on both cohorts (benchmarks/results/similar_stays.json)
FLOAT16_REL = 2.0**-11  # relative rounding of a float16 (half an ulp)
REFERENCE_STAYS = 1500  # stays whose pairwise similarities form the percentile scale (~1.1 M pairs)


@dataclass
class SimilarityIndex:
    """Training stays' vectors in the comparison space of ``metric``; build with ``fit``."""

    stay_ids: np.ndarray  # (N,)
    vectors: np.ndarray  # (N, D), the stored unit fused representations (raw)
    metric: str = "cosine"
    mean: np.ndarray | None = None  # (D,) training mean (centred, whitened, mahalanobis)
    projection: np.ndarray | None = None  # (D, r) whitening: eigenvectors / sqrt(eigenvalues)
    space: np.ndarray = field(default=None, repr=False)  # (N, r) the rows compared
    reference: np.ndarray = field(default=None, repr=False)  # sorted similarities of random training pairs
    components_kept: int = 0

    @classmethod
    def fit(cls, stay_ids: np.ndarray, vectors: np.ndarray, metric: str = DEFAULT_METRIC, *, seed: int = 0) -> "SimilarityIndex":
        """Fit the comparison space of ``metric`` on these (training) stays' vectors."""
        if metric not in METRICS:
            raise ConfigError(f"similarity metric must be one of {', '.join(METRICS)}; got {metric!r}")
        x = np.asarray(vectors, dtype=np.float64)
        index = cls(np.asarray(stay_ids), np.asarray(vectors, dtype=np.float32), metric)
        if metric != "cosine":
            index.mean = x.mean(axis=0)
        if metric in ("whitened", "mahalanobis"):
            centred = x - index.mean
            eigval, eigvec = np.linalg.eigh(centred.T @ centred / max(len(x) - 1, 1))
            # float16 storage adds independent rounding noise of variance ~ mean(x**2) * rel**2 / 3
            # per component; whitening divides by sqrt(eigenvalue), so a component whose variance
            # is not well above that noise would be mostly rounding: keep those >= 100x the noise
            # and >= 1e-4 of the largest.
            noise = float(np.mean(x**2)) * FLOAT16_REL**2 / 3
            keep = (eigval >= 100 * noise) & (eigval >= 1e-4 * eigval.max())
            index.projection = eigvec[:, keep] / np.sqrt(eigval[keep])
        index.space = index.transform(x)
        index.components_kept = int(index.space.shape[1])
        rng = np.random.default_rng(seed)
        sample = index.space[rng.choice(len(x), size=min(len(x), REFERENCE_STAYS), replace=False)]
        upper = np.triu_indices(len(sample), k=1)
        index.reference = np.sort(index._score(sample, sample)[upper].astype(np.float32))
        return index

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Rows in the comparison space (unit rows for the cosine metrics), float32."""
        x = np.asarray(x, dtype=np.float64)
        if self.mean is not None:
            x = x - self.mean
        if self.projection is not None:
            x = x @ self.projection
        return (x if self.metric == "mahalanobis" else unit_rows(x, np.float64)).astype(np.float32)

    def _score(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Similarities between rows of ``a`` (n, r) and ``b`` (m, r) in the comparison space."""
        if self.metric == "mahalanobis":
            sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
            return -np.sqrt(np.maximum(sq, 0.0))
        return a @ b.T

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """(N,) similarity of every indexed stay to ``query`` (D,), a raw stored vector."""
        q = self.transform(unit_rows(query, np.float64)[None, :])
        return self._score(self.space, q)[:, 0]

    def percentile(self, sims: np.ndarray) -> np.ndarray:
        """Percent of random training pairs less similar than each of ``sims``, in [0, 100]."""
        return 100.0 * np.searchsorted(self.reference, np.asarray(sims, dtype=np.float32), side="left") / len(self.reference)

    def nearest(self, query: np.ndarray, k: int = 10, exclude: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Indices and similarities of the ``k`` nearest stays to ``query`` (D,)."""
        sims = self.similarities(query)
        if exclude is not None:
            sims = np.where(self.stay_ids == exclude, -np.inf, sims)
        k = min(k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return top, sims[top]


def _unit_of(row: pd.Series) -> str | None:
    for unit in ("first_careunit", "icu_type"):
        if unit in row and pd.notna(row[unit]):
            return str(row[unit])
    return None


def neighbours(bundle: CohortBundle, index: SimilarityIndex, query: np.ndarray, stay_id: int, k: int = 10) -> list[Neighbour]:
    """The ``k`` stays of ``index`` nearest to ``query`` (``stay_id`` itself excluded): similarity,
    its percentile among random training pairs, observed LOS, and what a reader compares (care
    unit, age, sex, whether the biosignal was recorded)."""
    top, sims = index.nearest(query, k, exclude=int(stay_id))
    stays = bundle.stays.set_index("stay_id")
    ids = index.stay_ids[top]
    rows = stays.loc[ids]
    pct = np.floor(index.percentile(sims) * 10) / 10  # floored: 100.0 only when closer than every pair
    out = []
    for (sid, r), sim, p in zip(rows.iterrows(), sims, pct):
        age = r.get("age")
        sex = r.get("sex")
        out.append(Neighbour(
            stay_id=int(sid), similarity=round(float(sim), 4), percentile=float(p), observed_los_days=round(float(r["los_days"]), 1),
            care_unit=_unit_of(r), age=None if age is None or pd.isna(age) else float(round(age)),
            sex=None if sex is None or pd.isna(sex) else str(sex), has_signal=bool(r["has_signal"]),
        ))
    return out


def shared_summary(bundle: CohortBundle, stay_id: int, found: list[Neighbour], sig_label: str) -> str:
    """One line: the stay's care unit, age and biosignal against its neighbours'."""
    row = bundle.stays.iloc[bundle.row_of(stay_id)]
    n = len(found)
    parts = []
    unit = _unit_of(row)
    if unit is not None:
        parts.append(f"{sum(nb.care_unit == unit for nb in found)} of {n} were also in {unit}")
    if "age" in row and pd.notna(row["age"]):
        ages = [nb.age for nb in found if nb.age is not None]
        if ages:
            parts.append(f"median age {np.median(ages):.0f} (this stay {row['age']:.0f})")
    has = bool(row["has_signal"])
    same = sum(nb.has_signal == has for nb in found)
    article = "an" if sig_label[:1].upper() in "AEFHILMNORSX" else "a"  # an ECG, a bedside series
    parts.append(f"{same} of {n} {'also had' if has else 'also lacked'} {article} {sig_label} recording")
    return "; ".join(parts)


def window_means(bundle: CohortBundle, rows: np.ndarray) -> np.ndarray:
    """(n, F) mean of each EHR series over the observation window (NaN where never observed)."""
    values = np.asarray(bundle.ehr_values[np.asarray(rows)], dtype=np.float64)
    counts = np.isfinite(values).sum(axis=1)
    sums = np.nansum(values, axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def training_reference(bundle: CohortBundle) -> tuple[np.ndarray, np.ndarray]:
    """Median and spread (IQR / 1.349, a robust SD) of each EHR series' window mean over the
    training stays."""
    means = window_means(bundle, bundle.rows("train"))
    q1, med, q3 = np.nanpercentile(means, [25, 50, 75], axis=0)
    return med, np.maximum((q3 - q1) / 1.349, 1e-9)


def key_values(bundle: CohortBundle, stay_id: int, neighbour_ids: list[int], reference: tuple[np.ndarray, np.ndarray], n: int = 3) -> list[KeyValue]:
    """The stay's ``n`` most abnormal EHR series (window mean farthest from the training median,
    in robust SDs) against the neighbours' median and the training median."""
    med, spread = reference
    own = window_means(bundle, np.array([bundle.row_of(stay_id)]))[0]
    z = np.abs(own - med) / spread
    order = [int(i) for i in np.argsort(-np.nan_to_num(z, nan=-1.0)) if np.isfinite(z[i])][:n]
    neighbours_ = window_means(bundle, np.array([bundle.row_of(s) for s in neighbour_ids]))
    meta = {f["name"]: f for f in bundle.features["ehr"]["features"]}
    names = [feature_title(meta.get(n, {"name": n})) for n in bundle.ehr_feature_names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a series none of the neighbours had: NaN
        nb = np.nanmedian(neighbours_[:, order], axis=0) if order else np.array([])
    charted = display_of(bundle.source).variables  # values rounded as a clinician charts them (platelets 330, K 3.6)

    def as_charted(i: int, value: float) -> float:
        var = charted.get(bundle.ehr_feature_names[i])
        return round(float(value), var.decimals if var is not None else 2)

    return [
        KeyValue(feature=names[i], this_stay=as_charted(i, own[i]), neighbours_median=as_charted(i, v) if np.isfinite(v) else None,
                 training_median=as_charted(i, med[i]))
        for i, v in zip(order, nb)
    ]


PERCENTILE_NOTE = (
    "Percentile: how close this pair is compared with pairs of training stays drawn at random — 99.5 means closer than "
    "99.5 % of such pairs (100 would be closer than every pair). Similarity is the cosine of the stays' fused representations "
    "(what LeMoF's cross-modal head reads); raw cosines of these vectors are all close to 1, so read the percentile. Exact search over the training stays."
)
