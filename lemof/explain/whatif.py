"""What-if: the same stay with its inputs edited, explained like any other stay.

Edits: hide the biosignal; set one EHR variable (or a sparse bedside series) to a value at an
hour; shift one whole series by a constant. Every edited value must lie within the
physiological limits the cohort's loader uses (``display_range`` of the feature; the bedside
channels' limits its family registers, ``lemof.data.sources``); anything else is a ``ConfigError`` naming the value
and the limits. The edited stay is a one-stay in-memory bundle, so the model, preprocessing and
exact level Shapley values (or, for the tabular peer, its summaries, trees and TreeSHAP values)
run exactly as for a real stay (nothing stored is reused).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lemof.data.bundle import CohortBundle
from lemof.data.sources import source_info
from lemof.errors import ConfigError
from lemof.explain.attribution import Attribution
from lemof.explain.prediction import StayPrediction
from lemof.explain.results import CohortResults
from lemof.runs.run import Run

KINDS = ("hide_signal", "value", "shift")


@dataclass(frozen=True)
class Edit:
    kind: str  # hide_signal | value | shift
    feature: str | None = None  # EHR feature or sparse biosignal channel name
    hour: float | None = None  # for ``value``
    value: float | None = None  # for ``value``: the new value, physical units
    delta: float | None = None  # for ``shift``: added to every observed value

    def describe(self, labels: dict[str, str] | None = None) -> str:
        name = (labels or {}).get(self.feature or "", self.feature)
        if self.kind == "hide_signal":
            return "biosignal hidden"
        if self.kind == "value":
            return f"{name} set to {self.value:g} at hour {self.hour:g}"
        return f"{name} shifted by {self.delta:+g}"


def limits(bundle: CohortBundle, name: str) -> tuple[float, float] | None:
    """Physiological limits of an EHR feature or a sparse biosignal channel (None if unknown)."""
    for f in bundle.features["ehr"]["features"]:
        if f["name"] == name and f.get("display_range"):
            return float(f["display_range"][0]), float(f["display_range"][1])
    return source_info(bundle.source).channel_limits.get(name)


def _check(bundle: CohortBundle, name: str, values: np.ndarray) -> None:
    lim = limits(bundle, name)
    if lim is None:
        raise ConfigError(f"{name!r} has no known physiological limits, so it cannot be edited")
    bad = values[(values < lim[0]) | (values > lim[1])]
    if len(bad):
        raise ConfigError(f"{name} {bad[0]:g} is outside the physiological limits {lim[0]:g}–{lim[1]:g}")


def edited_stay(bundle: CohortBundle, stay_id: int | str, edits: list[Edit]) -> CohortBundle:
    """A one-stay bundle holding ``stay_id`` with ``edits`` applied (the original is not touched)."""
    row = bundle.row_of(stay_id)
    stays = bundle.stays.iloc[[row]].reset_index(drop=True).copy()
    ehr_values = np.array(bundle.ehr_values[row : row + 1], dtype=np.float32)
    ehr_mask = np.array(bundle.ehr_mask[row : row + 1])
    signal = np.array(bundle.signal[row : row + 1], dtype=np.float32) * bundle.signal_scale
    signal_mask = None if bundle.signal_mask is None else np.array(bundle.signal_mask[row : row + 1])
    ehr_names, sig_names = bundle.ehr_feature_names, bundle.signal_channels
    step_h = bundle.ehr_step_hours
    for e in edits:
        if e.kind not in KINDS:
            raise ConfigError(f"unknown edit {e.kind!r}; available: {', '.join(KINDS)}")
        if e.kind == "hide_signal":
            stays["has_signal"] = False
            continue
        if e.feature in ehr_names:
            j = ehr_names.index(e.feature)
            if e.kind == "value":
                t = int(e.hour // step_h)
                if not 0 <= t < ehr_values.shape[1]:
                    raise ConfigError(f"hour {e.hour:g} is outside the {ehr_values.shape[1] * step_h:g}-hour window")
                _check(bundle, e.feature, np.array([e.value], dtype=float))
                ehr_values[0, t, j], ehr_mask[0, t, j] = e.value, 1
            else:
                observed = ehr_mask[0, :, j].astype(bool)
                if not observed.any():
                    raise ConfigError(f"{e.feature} was never measured in this stay, so it cannot be shifted")
                shifted = ehr_values[0, observed, j] + e.delta
                _check(bundle, e.feature, shifted.astype(float))
                ehr_values[0, observed, j] = shifted
        elif e.feature in sig_names and signal_mask is not None:
            c = sig_names.index(e.feature)
            fs = bundle.signal_fs
            if e.kind == "value":
                i = int(e.hour * 3600 * fs)
                if not 0 <= i < signal.shape[2]:
                    raise ConfigError(f"hour {e.hour:g} is outside the recording")
                _check(bundle, e.feature, np.array([e.value], dtype=float))
                signal[0, c, i], signal_mask[0, c, i] = e.value, 1
            else:
                observed = signal_mask[0, c].astype(bool)
                if not observed.any():
                    raise ConfigError(f"{e.feature} was never recorded in this stay, so it cannot be shifted")
                shifted = signal[0, c, observed] + e.delta
                _check(bundle, e.feature, shifted.astype(float))
                signal[0, c, observed] = shifted
        elif e.feature in sig_names:
            raise ConfigError(f"the {e.feature} waveform cannot be edited value by value; hide the biosignal instead")
        else:
            raise ConfigError(f"unknown feature {e.feature!r} for cohort {bundle.name!r}")
    provenance = dict(bundle.provenance, fingerprint=f"what-if:{bundle.fingerprint}")
    features = dict(bundle.features, signal=dict(bundle.features["signal"], scale=1.0))
    return CohortBundle(bundle.path, stays, features, provenance, ehr_values, ehr_mask, signal, signal_mask)


@dataclass(frozen=True)
class WhatIf:
    """The edited stay's prediction and its explanations (those computed without a per-stay
    network pass on request: level SHAP and head contributions for LeMoF, TreeSHAP for the
    tabular peer; none for a fusion baseline)."""

    prediction: StayPrediction
    attributions: dict[str, Attribution]


def what_if(run: Run, bundle: CohortBundle, stay_id: int | str, edits: list[Edit]) -> WhatIf:
    """``stay_id`` with ``edits`` applied, predicted and explained (computed, never the stored
    one; the tabular peer's trees summarise the edited stay like any other)."""
    results = CohortResults(run, edited_stay(bundle, stay_id, edits)).stay(stay_id)
    return WhatIf(results.prediction, {e.name: results.attribute(e.name) for e in results.explainers if not e.on_request})
