"""Per-stay summary statistics of a cohort: the tabular peer's features (``fusion = "gbm"``).

What a clinical researcher computes first from a stay's observation window, one number each:

- every EHR variable (hourly bins): ``count`` (observed bins), ``mean``, ``std`` (variability,
  population SD of the observed values; NaN below 2), ``min``, ``max``, ``first`` and ``last``
  observed value, ``slope`` (least-squares linear trend over the window, units per hour; NaN
  below 2 observations) and ``hours_since_last`` (from the last observed bin to the window's
  last bin: 0 = observed in the final hour);
- the biosignal: a sparse series (bedside channels with an observed mask) gets the same nine per
  channel; a waveform (the ECG) gets ``mean``, ``std``, ``min``, ``max`` per lead (count, order
  and timing mean nothing inside a 10-second recording);
- ``sig:available`` (the stay has a biosignal; without one every biosignal summary is NaN);
- the static facts: numeric as they are, categorical one-hot (``static:sex=F``).

Never observed = NaN, which LightGBM routes natively (no imputation). Column names are stable
(``ehr:<variable>:<statistic>``, ``sig:<channel>:<statistic>``, ``static:<name>[=<category>]``)
and ``SummarySchema.label`` titles them for display. The schema (variables, channels, static facts
and their categories, the window) is taken from the training cohort and stored with the run
(``config.json``), so any bundle of the family is summarised into the *same* columns;
``check_compatible`` names what a bundle lacks. Arrays are read in chunks (bundles are memmapped).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lemof.data.bundle import CohortBundle, feature_title
from lemof.errors import CohortError

SERIES_STATS = ("count", "mean", "std", "min", "max", "first", "last", "slope", "hours_since_last")
WAVEFORM_STATS = ("mean", "std", "min", "max")
STAT_TITLES = {
    "count": "observations",
    "mean": "mean",
    "std": "variability (SD)",
    "min": "minimum",
    "max": "maximum",
    "first": "first value",
    "last": "last value",
    "slope": "trend per hour",
    "hours_since_last": "hours since last observation",
}
_EHR_CHUNK = 256
_SIGNAL_CHUNK = 64  # a waveform chunk: 64 stays x 12 leads x 5,000 samples in float64 is 31 MB


def series_summaries(values: np.ndarray, observed: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """(n, T, k) values, observed mask and (T,) bin times in hours -> (n, k, 9) ``SERIES_STATS``."""
    v = np.where(observed, values, np.nan).astype(np.float64)
    count = observed.sum(axis=1).astype(np.float64)  # (n, k)
    seen = count > 0
    t = hours.astype(np.float64)[None, :, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(observed, v, 0.0).sum(axis=1) / count
        dev = np.where(observed, v - mean[:, None, :], 0.0)
        std = np.where(count >= 2, np.sqrt((dev**2).sum(axis=1) / count), np.nan)
        t_mean = np.where(observed, t, 0.0).sum(axis=1) / count
        dt = np.where(observed, t - t_mean[:, None, :], 0.0)
        sxx = (dt**2).sum(axis=1)
        slope = np.where((count >= 2) & (sxx > 0), (dt * dev).sum(axis=1) / sxx, np.nan)
    lo = np.where(seen, np.where(observed, v, np.inf).min(axis=1), np.nan)
    hi = np.where(seen, np.where(observed, v, -np.inf).max(axis=1), np.nan)
    steps = np.arange(v.shape[1])[None, :, None]
    first_i = np.where(observed, steps, v.shape[1]).min(axis=1)
    last_i = np.where(observed, steps, -1).max(axis=1)
    take = lambda i: np.take_along_axis(v, np.clip(i, 0, v.shape[1] - 1)[:, None, :], axis=1)[:, 0, :]  # noqa: E731
    first = np.where(seen, take(first_i), np.nan)
    last = np.where(seen, take(last_i), np.nan)
    since = np.where(seen, hours[-1] - hours[np.clip(last_i, 0, len(hours) - 1)], np.nan)
    return np.stack([count, mean, std, lo, hi, first, last, slope, since], axis=2)


def waveform_summaries(values: np.ndarray) -> np.ndarray:
    """(n, C, L) dense waveform -> (n, C, 4) ``WAVEFORM_STATS`` (non-finite samples left out)."""
    v = values.astype(np.float64)
    if np.isfinite(v).all():
        return np.stack([v.mean(axis=2), v.std(axis=2), v.min(axis=2), v.max(axis=2)], axis=2)
    with warnings.catch_warnings():  # a lead with no finite sample is NaN, silently
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.stack([np.nanmean(v, axis=2), np.nanstd(v, axis=2), np.nanmin(v, axis=2), np.nanmax(v, axis=2)], axis=2)


@dataclass(frozen=True)
class SummarySchema:
    """Which summaries make the tabular peer's features; plain JSON in the run's ``config.json``."""

    ehr: list[dict[str, Any]]  # {"name", "label", "unit"} of every EHR variable
    n_steps: int
    step_hours: float
    signal_kind: str  # "series" (a mask of observed samples) or "waveform"
    signal_channels: list[str]
    signal_titles: list[str]  # display names of the channels
    signal_fs_hz: float
    signal_length: int
    sig_label: str
    static: list[dict[str, Any]]  # features.json "static" entries (categories fixed here)

    @classmethod
    def of(cls, bundle: CohortBundle) -> SummarySchema:
        sig = bundle.features["signal"]
        labels, units = sig.get("channel_labels"), sig.get("units")
        titles = [
            feature_title({"name": c, "label": labels[i] if labels else c, "unit": units[i] if units else ""}) if labels else f"{bundle.sig_label} {c}"
            for i, c in enumerate(bundle.signal_channels)
        ]
        return cls(
            ehr=[{"name": f["name"], "label": f.get("label", f["name"]), "unit": f.get("unit", "")} for f in bundle.features["ehr"]["features"]],
            n_steps=int(bundle.features["ehr"]["n_steps"]),
            step_hours=bundle.ehr_step_hours,
            signal_kind="series" if bundle.signal_mask is not None else "waveform",
            signal_channels=bundle.signal_channels,
            signal_titles=titles,
            signal_fs_hz=bundle.signal_fs,
            signal_length=int(bundle.signal.shape[2]),
            sig_label=bundle.sig_label,
            static=[dict(s) for s in bundle.static_features],
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SummarySchema:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})

    # --- columns --------------------------------------------------------------------------
    @property
    def signal_stats(self) -> tuple[str, ...]:
        return SERIES_STATS if self.signal_kind == "series" else WAVEFORM_STATS

    @property
    def names(self) -> list[str]:
        """Every column, in the model's order."""
        cols = [f"ehr:{f['name']}:{s}" for f in self.ehr for s in SERIES_STATS]
        cols += [f"sig:{c}:{s}" for c in self.signal_channels for s in self.signal_stats]
        cols.append("sig:available")
        for s in self.static:
            cols += [f"static:{s['name']}"] if s["kind"] == "numeric" else [f"static:{s['name']}={c}" for c in s["categories"]]
        return cols

    def label(self, name: str) -> str:
        """Display title of a column: ``Heart rate (bpm): trend per hour``, ``ECG lead II: variability (SD)``.

        A variable, channel or category may itself hold ``:`` or ``=`` (a bundle's names are free
        text): the column is read as ``<kind>:<variable>:<stat>`` from both ends."""
        kind, _, rest = name.partition(":")
        if kind == "ehr":
            variable, _, stat = rest.rpartition(":")
            meta = next(f for f in self.ehr if f["name"] == variable)
            return f"{feature_title(meta)}: {STAT_TITLES[stat]}"
        if name == "sig:available":
            return f"{self.sig_label} recorded"
        if kind == "sig":
            channel, _, stat = rest.rpartition(":")
            return f"{self.signal_titles[self.signal_channels.index(channel)]}: {STAT_TITLES[stat]}"
        meta = next((s for s in self.static if rest == s["name"] or rest.startswith(f"{s['name']}=")), {"name": rest.partition("=")[0]})
        static = meta["name"]
        fact = meta.get("label") or static.replace("_", " ")  # clinical names (lemof.data.display) for a model trained since they exist
        if len(rest) <= len(static):
            return fact
        category = rest[len(static) + 1:]
        words = (meta.get("value_labels") or {}).get(category, category.lower() if meta.get("label") else category)
        return f"{fact} = {words}"

    def modality(self, name: str) -> str:
        """``sig`` for a biosignal column, ``ehr`` for the EHR and static facts (LeMoF's EHR input holds both)."""
        return "sig" if name.startswith("sig:") else "ehr"

    # --- a bundle ---------------------------------------------------------------------------
    def check_compatible(self, bundle: CohortBundle) -> None:
        """``CohortError`` naming what ``bundle`` lacks to be summarised into these columns."""
        have = set(bundle.ehr_feature_names)
        missing = [f["name"] for f in self.ehr if f["name"] not in have]
        if missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise CohortError(f"cohort {bundle.name!r} lacks EHR variable(s) {', '.join(missing[:5])}{more} that the tabular model summarises")
        if int(bundle.features["ehr"]["n_steps"]) != self.n_steps or bundle.ehr_step_hours != self.step_hours:
            raise CohortError(
                f"cohort {bundle.name!r} has an EHR window of {bundle.features['ehr']['n_steps']} x {bundle.ehr_step_hours:g} h, "
                f"the tabular model summarises {self.n_steps} x {self.step_hours:g} h"
            )
        missing = [c for c in self.signal_channels if c not in bundle.signal_channels]
        kind = "series" if bundle.signal_mask is not None else "waveform"
        if missing or kind != self.signal_kind:
            raise CohortError(
                f"cohort {bundle.name!r} biosignal ({kind}, channels {bundle.signal_channels}) does not fit the tabular model "
                f"({self.signal_kind}, channels {self.signal_channels})"
            )
        static = {s["name"]: s["kind"] for s in bundle.static_features}
        wrong = [s["name"] for s in self.static if static.get(s["name"]) != s["kind"] or s["name"] not in bundle.stays]
        if wrong:
            raise CohortError(f"cohort {bundle.name!r} lacks the static fact(s) {', '.join(wrong)} (as the tabular model reads them)")

    def features(self, bundle: CohortBundle, rows: np.ndarray | None = None) -> np.ndarray:
        """(n, len(names)) float64 summaries of ``rows`` of ``bundle`` (every stay by default)."""
        self.check_compatible(bundle)
        rows = np.arange(len(bundle)) if rows is None else np.asarray(rows, dtype=np.int64)
        n = len(rows)
        ehr_cols = [bundle.ehr_feature_names.index(f["name"]) for f in self.ehr]
        sig_cols = [bundle.signal_channels.index(c) for c in self.signal_channels]
        ehr = np.empty((n, len(ehr_cols), len(SERIES_STATS)))
        hours = np.arange(self.n_steps) * self.step_hours
        for start in range(0, n, _EHR_CHUNK):
            r = rows[start : start + _EHR_CHUNK]
            values = np.asarray(bundle.ehr_values[r], dtype=np.float64)[:, :, ehr_cols]
            observed = np.asarray(bundle.ehr_mask[r]).astype(bool)[:, :, ehr_cols]
            ehr[start : start + len(r)] = series_summaries(values, observed, hours)
        has_signal = bundle.stays["has_signal"].to_numpy(dtype=bool)[rows]
        sig = np.full((n, len(sig_cols), len(self.signal_stats)), np.nan)
        sig_hours = np.arange(self.signal_length) / self.signal_fs_hz / 3600.0
        with_signal = np.flatnonzero(has_signal)
        for start in range(0, len(with_signal), _SIGNAL_CHUNK):
            at = with_signal[start : start + _SIGNAL_CHUNK]
            r = rows[at]
            values = np.asarray(bundle.signal[r], dtype=np.float32)[:, sig_cols, :] * bundle.signal_scale  # (b, C, L) physical units
            if self.signal_kind == "series":
                observed = np.asarray(bundle.signal_mask[r]).astype(bool)[:, sig_cols, :]
                sig[at] = series_summaries(values.transpose(0, 2, 1), observed.transpose(0, 2, 1), sig_hours)
            else:
                sig[at] = waveform_summaries(values)
        blocks = [ehr.reshape(n, -1), sig.reshape(n, -1), has_signal.astype(np.float64)[:, None]]
        stays = bundle.stays.iloc[rows]
        for s in self.static:
            if s["kind"] == "numeric":
                blocks.append(stays[s["name"]].astype(float).to_numpy()[:, None])
            elif s["categories"]:
                text = stays[s["name"]].astype(str).to_numpy()
                blocks.append(np.stack([(text == str(c)).astype(np.float64) for c in s["categories"]], axis=1))
        return np.concatenate(blocks, axis=1)
