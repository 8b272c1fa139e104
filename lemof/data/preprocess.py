"""From a cohort bundle to model inputs, with statistics fitted on the training split.

EHR: each feature is (log-transformed if skewed and positive,) standardised, carried
forward from its last observation (the mean before the first one), and paired with its
observation mask; static features are standardised or one-hot encoded and repeated at every
step. Input (N, T, 2F + S).

Biosignal, dense (an ECG): a subset of channels, average-pooled to a lower rate, per-record
centred (baseline), divided by the training standard deviation: input (N, C, L').
Biosignal, sparse (bedside series with ``signal_mask.npy``): standardised with training
statistics, carried forward like the EHR, paired with its mask: input (N, 2C, L).
With ``time_since_last`` every sparse feature (EHR and bedside) also gets the log-scaled time
since its last observation (GRU-D's "delta"): (N, T, 3F + S) and (N, 3C, L).
A stay with no biosignal gets zeros and ``available = False``.

All fitted numbers are plain JSON, stored in the run's ``config.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lemof.data.bundle import CohortBundle
from lemof.errors import CohortError

_CHUNK = 512
DEFAULT_ECG_CHANNELS = ("I", "II", "V2")
DEFAULT_ECG_RATE_HZ = 100.0


@dataclass
class Preprocessor:
    ehr_features: list[str]
    ehr_log: list[bool]
    ehr_mean: list[float]
    ehr_std: list[float]
    n_steps: int
    static: list[dict[str, Any]]
    sig_channels: list[str]
    sig_channel_index: list[int]
    sig_pool: int
    sig_centering: str  # "per_record" (ECG baseline) or "none"
    sig_std: list[float]
    sig_source_len: int
    sig_fs_hz: float
    sig_mean: list[float] | None = None  # sparse series only
    sig_masked: bool = False  # sparse series: values carried forward + mask channels
    time_since_last: bool = False  # add, per sparse feature, the time since its last observation

    @property
    def per_feature_groups(self) -> int:
        """Channels per sparse feature: value (carried forward), mask (+ time since last observation)."""
        return 3 if self.time_since_last else 2

    # --- shapes ---------------------------------------------------------------------
    @property
    def ehr_channels(self) -> int:
        n_static = sum(1 if s["kind"] == "numeric" else len(s["categories"]) for s in self.static)
        return self.per_feature_groups * len(self.ehr_features) + n_static

    def static_channel_names(self) -> list[str]:
        """The static feature behind each static input channel (one per category if categorical)."""
        names: list[str] = []
        for s in self.static:
            names += [s["name"]] * (1 if s["kind"] == "numeric" else len(s["categories"]))
        return names

    @property
    def sig_in_channels(self) -> int:
        return len(self.sig_channels) * (self.per_feature_groups if self.sig_masked else 1)

    @property
    def sig_len(self) -> int:
        return self.sig_source_len // self.sig_pool

    @property
    def sig_duration_s(self) -> float:
        return self.sig_source_len / self.sig_fs_hz

    # --- fitting --------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        bundle: CohortBundle,
        rows: np.ndarray,
        sig_channels: list[str] | None = None,
        sig_rate_hz: float | None = None,
        time_since_last: bool = False,
    ) -> "Preprocessor":
        """Fit on the stays ``rows`` (the training split)."""
        names = bundle.ehr_feature_names
        f = len(names)
        sums, sq, counts = np.zeros(f), np.zeros(f), np.zeros(f)
        positive = np.ones(f, dtype=bool)
        samples: list[list[np.ndarray]] = [[] for _ in range(f)]
        for start in range(0, len(rows), _CHUNK):
            r = np.sort(rows[start : start + _CHUNK])
            vals = np.asarray(bundle.ehr_values[r], dtype=np.float64)
            mask = np.asarray(bundle.ehr_mask[r]).astype(bool)
            for j in range(f):
                v = vals[..., j][mask[..., j]]
                positive[j] &= bool(np.all(v > 0))
                samples[j].append(v[:2000])
        log = []
        for j in range(f):
            v = np.concatenate(samples[j]) if samples[j] else np.zeros(0)
            skew = float(((v - v.mean()) ** 3).mean() / (v.std() ** 3 + 1e-12)) if len(v) > 2 else 0.0
            log.append(bool(positive[j] and len(v) > 2 and skew > 1.0))
        for start in range(0, len(rows), _CHUNK):
            r = np.sort(rows[start : start + _CHUNK])
            vals = np.asarray(bundle.ehr_values[r], dtype=np.float64)
            mask = np.asarray(bundle.ehr_mask[r]).astype(bool)
            vals = np.where(np.array(log), np.log(np.where(mask & (vals > 0), vals, 1.0)), vals)
            vals = np.where(mask, vals, 0.0)
            sums += vals.sum(axis=(0, 1))
            sq += (vals**2).sum(axis=(0, 1))
            counts += mask.sum(axis=(0, 1))
        mean = sums / np.maximum(counts, 1)
        std = np.sqrt(np.maximum(sq / np.maximum(counts, 1) - mean**2, 0))
        std = np.where(std > 1e-6, std, 1.0)

        static = []
        train = bundle.stays.iloc[rows]
        for s in bundle.static_features:
            if s["kind"] == "numeric":
                col = train[s["name"]].astype(float)
                sd = float(col.std()) if col.notna().sum() > 1 else 1.0
                static.append({"name": s["name"], "kind": "numeric", "mean": float(col.mean()), "std": sd if sd > 1e-6 else 1.0})
            else:
                static.append({"name": s["name"], "kind": "categorical", "categories": list(s["categories"])})

        sig_meta = bundle.features["signal"]
        available = bundle.signal_channels
        is_ecg = sig_meta.get("kind") == "ecg"
        if sig_channels is None:
            wanted = list(DEFAULT_ECG_CHANNELS) if is_ecg and set(DEFAULT_ECG_CHANNELS) <= set(available) else available
        else:
            wanted = list(sig_channels)
        unknown = [c for c in wanted if c not in available]
        if unknown:
            raise CohortError(f"biosignal channel(s) {unknown} not in the cohort; available: {available}")
        fs = bundle.signal_fs
        rate = sig_rate_hz if sig_rate_hz is not None else (DEFAULT_ECG_RATE_HZ if is_ecg else fs)
        pool = max(1, int(round(fs / rate)))
        pre = cls(
            ehr_features=names,
            ehr_log=log,
            ehr_mean=mean.tolist(),
            ehr_std=std.tolist(),
            n_steps=int(bundle.features["ehr"]["n_steps"]),
            static=static,
            sig_channels=wanted,
            sig_channel_index=[available.index(c) for c in wanted],
            sig_pool=pool,
            sig_centering="per_record" if is_ecg else "none",
            sig_std=[1.0] * len(wanted),
            sig_source_len=int(bundle.signal.shape[2]),
            sig_fs_hz=fs,
            time_since_last=time_since_last,
        )
        with_sig = rows[bundle.stays["has_signal"].to_numpy()[rows]]
        if bundle.signal_mask is not None:
            pre.sig_masked = True
            idx = np.array(pre.sig_channel_index)
            vals = np.asarray(bundle.signal[np.sort(with_sig)][:, idx], dtype=np.float64) * bundle.signal_scale
            mask = np.asarray(bundle.signal_mask[np.sort(with_sig)][:, idx]).astype(bool)
            n_obs = np.maximum(mask.sum(axis=(0, 2)), 1)
            mean = np.where(mask, vals, 0.0).sum(axis=(0, 2)) / n_obs
            sd = np.sqrt(np.where(mask, (vals - mean[None, :, None]) ** 2, 0.0).sum(axis=(0, 2)) / n_obs)
            pre.sig_mean = mean.tolist()
            pre.sig_std = np.where(sd > 1e-6, sd, 1.0).tolist()
        elif len(with_sig):
            x, _ = pre.signal(bundle, with_sig[:2000])
            sd = x.std(axis=(0, 2))
            pre.sig_std = np.where(sd > 1e-6, sd, 1.0).tolist()
        return pre

    # --- transforming -------------------------------------------------------------------
    def check_compatible(self, bundle: CohortBundle) -> None:
        """Raise ``CohortError`` if ``bundle`` lacks the features this model was trained on."""
        if bundle.ehr_feature_names != self.ehr_features:
            raise CohortError(
                f"cohort {bundle.name!r} has EHR features {bundle.ehr_feature_names}, the model expects {self.ehr_features}"
            )
        if int(bundle.features["ehr"]["n_steps"]) != self.n_steps:
            raise CohortError(f"cohort {bundle.name!r} has {bundle.features['ehr']['n_steps']} EHR steps, the model expects {self.n_steps}")
        missing = [c for c in self.sig_channels if c not in bundle.signal_channels]
        if missing or int(bundle.signal.shape[2]) != self.sig_source_len or (bundle.signal_mask is not None) != self.sig_masked:
            raise CohortError(
                f"cohort {bundle.name!r} biosignal (channels {bundle.signal_channels}, length {bundle.signal.shape[2]}) "
                f"does not fit the model (channels {self.sig_channels}, length {self.sig_source_len})"
            )

    def ehr(self, bundle: CohortBundle, rows: np.ndarray) -> np.ndarray:
        """EHR model input of ``rows``, (n, T, 2F + S) float32."""
        out = np.empty((len(rows), self.n_steps, self.ehr_channels), dtype=np.float32)
        log = np.array(self.ehr_log)
        mean, std = np.array(self.ehr_mean), np.array(self.ehr_std)
        static = self._static(bundle, rows)  # (n, S)
        f = len(self.ehr_features)
        t_idx = np.arange(self.n_steps)[None, :, None]
        for start in range(0, len(rows), _CHUNK):
            r = rows[start : start + _CHUNK]
            vals = np.asarray(bundle.ehr_values[r], dtype=np.float64)
            mask = np.asarray(bundle.ehr_mask[r]).astype(bool)
            vals = np.where(log, np.log(np.where(mask & (vals > 0), vals, 1.0)), vals)
            z = np.where(mask, (vals - mean) / std, 0.0)
            last = np.maximum.accumulate(np.where(mask, t_idx, -1), axis=1)  # (n, T, F) last observed step
            filled = np.take_along_axis(z, np.maximum(last, 0), axis=1)
            filled = np.where(last >= 0, filled, 0.0)
            block = out[start : start + len(r)]
            block[..., :f] = filled
            block[..., f : 2 * f] = mask
            if self.time_since_last:
                block[..., 2 * f : 3 * f] = _elapsed(last, t_idx, self.n_steps)
            block[..., self.per_feature_groups * f :] = static[start : start + len(r), None, :]
        return out

    def _static(self, bundle: CohortBundle, rows: np.ndarray) -> np.ndarray:
        table = bundle.stays.iloc[rows]
        cols = []
        for s in self.static:
            col = table[s["name"]]
            if s["kind"] == "numeric":
                cols.append(((col.astype(float) - s["mean"]) / s["std"]).fillna(0.0).to_numpy()[:, None])
            else:
                values = col.astype(str).to_numpy()
                cols.append(np.stack([values == c for c in s["categories"]], axis=1).astype(float))
        return np.concatenate(cols, axis=1) if cols else np.zeros((len(rows), 0))

    def signal(self, bundle: CohortBundle, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Biosignal model input of ``rows`` (n, C, L') float32, and availability (n,) bool."""
        available = bundle.stays["has_signal"].to_numpy(dtype=bool)[rows]
        if self.sig_masked:
            return self._sparse_signal(bundle, rows), available
        out = np.zeros((len(rows), len(self.sig_channels), self.sig_len), dtype=np.float32)
        idx = np.array(self.sig_channel_index)
        std = np.array(self.sig_std, dtype=np.float32)[None, :, None]
        usable = self.sig_len * self.sig_pool
        for start in range(0, len(rows), _CHUNK // 4):
            r = rows[start : start + _CHUNK // 4]
            x = np.asarray(bundle.signal[r][:, idx, :usable], dtype=np.float32) * bundle.signal_scale
            x = np.nan_to_num(x, nan=0.0)
            x = x.reshape(len(r), len(idx), self.sig_len, self.sig_pool).mean(axis=3)
            if self.sig_centering == "per_record":
                x = x - x.mean(axis=2, keepdims=True)
            out[start : start + len(r)] = x / std
        out[~available] = 0.0
        return out, available

    def _sparse_signal(self, bundle: CohortBundle, rows: np.ndarray) -> np.ndarray:
        """(n, 2C or 3C, L): standardised values carried forward (0 before the first), the mask (and
        the time since the last observation)."""
        idx = np.array(self.sig_channel_index)
        c = len(idx)
        mean = np.array(self.sig_mean)[None, :, None]
        std = np.array(self.sig_std)[None, :, None]
        out = np.zeros((len(rows), self.per_feature_groups * c, self.sig_len), dtype=np.float32)
        t_idx = np.arange(self.sig_len)[None, None, :]
        for start in range(0, len(rows), _CHUNK):
            r = rows[start : start + _CHUNK]
            vals = np.asarray(bundle.signal[r][:, idx], dtype=np.float64) * bundle.signal_scale
            mask = np.asarray(bundle.signal_mask[r][:, idx]).astype(bool)
            z = np.where(mask, (vals - mean) / std, 0.0)
            last = np.maximum.accumulate(np.where(mask, t_idx, -1), axis=2)
            filled = np.where(last >= 0, np.take_along_axis(z, np.maximum(last, 0), axis=2), 0.0)
            out[start : start + len(r), :c] = filled
            out[start : start + len(r), c : 2 * c] = mask
            if self.time_since_last:
                out[start : start + len(r), 2 * c :] = _elapsed(last, t_idx, self.sig_len)
        return out

    # --- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Preprocessor":
        return cls(**data)


def _elapsed(last: np.ndarray, t_idx: np.ndarray, n_steps: int) -> np.ndarray:
    """Time since the last observation as a fraction of the window, log-scaled: 0 when observed
    at this step, 1 before the first observation (``last`` = -1)."""
    since = np.where(last >= 0, t_idx - last, n_steps)
    return np.log1p(since) / np.log1p(n_steps)
