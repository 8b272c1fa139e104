"""Patient context of one stay, for display next to its explanation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lemof.data.bundle import REQUIRED_COLUMNS, CohortBundle
from lemof.data.display import patient_line, static_facts


@dataclass
class StayContext:
    stay_id: int
    split: str
    observed_los_days: float
    static: dict[str, Any]
    timeline: pd.DataFrame  # long format: hour, feature, label, unit, group, value (observed values only)
    ehr_features: list[dict[str, Any]]  # every EHR feature's metadata, in bundle order
    signal: np.ndarray | None  # (C, L) in physical units; None when the stay has no biosignal
    signal_channels: list[str]
    signal_fs_hz: float
    signal_units: list[str]  # per channel
    signal_channel_labels: list[str]  # per channel, for display
    signal_label: str  # e.g. "12-lead ECG"
    signal_short_label: str  # e.g. "ECG", "Bedside"
    signal_time_h: float | None  # when the biosignal was recorded, hours since admission
    signal_kind: str = ""  # "ecg" for an electrocardiogram (drawn as a 12-lead printout), else the cohort's kind
    source: str = ""  # the cohort family, whose display mapping names the facts (``lemof.data.display``)

    @property
    def facts(self) -> list[tuple[str, str]]:
        """The static facts as a clinician reads them, (label, value) words: ("Age", "71 years"),
        ("Unit", "Medical ICU"); what the case page and the case report print. A missing value
        (NaN, None, "unknown") is no fact, and bookkeeping columns (PhysioNet's ``set``) are left out."""
        return static_facts(self.source, self.static)

    @property
    def patient_line(self) -> str:
        """The patient in one line, for the page's headline: "71-year-old woman · Medical ICU ·
        emergency admission" (only the parts the cohort has)."""
        return patient_line(self.source, self.static)

    @property
    def unmeasured(self) -> list[str]:
        """Display names of the EHR features never observed in this stay's window."""
        seen = set(self.timeline["feature"])
        return [f.get("label", f["name"]) for f in self.ehr_features if f["name"] not in seen]


def stay_context(bundle: CohortBundle, stay_id: int | str) -> StayContext:
    """Static facts, observed EHR values and the biosignal of ``stay_id``."""
    row = bundle.row_of(stay_id)
    rec = bundle.stays.iloc[row]
    hidden = set(REQUIRED_COLUMNS) | {bundle.features["signal"].get("time_column", "")}
    static = {k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items() if k not in hidden}
    values = np.asarray(bundle.ehr_values[row])
    mask = np.asarray(bundle.ehr_mask[row]).astype(bool)
    steps, feats = np.nonzero(mask)
    meta = bundle.features["ehr"]["features"]
    step_h = bundle.ehr_step_hours
    timeline = pd.DataFrame(
        {
            "hour": steps * step_h,
            "feature": [meta[j]["name"] for j in feats],
            "label": [meta[j].get("label", meta[j]["name"]) for j in feats],
            "unit": [meta[j].get("unit", "") for j in feats],
            "group": [meta[j].get("group", "") for j in feats],
            "value": values[steps, feats].astype(float),
        }
    )
    has_signal = bool(rec["has_signal"])
    sig_meta = bundle.features["signal"]
    time_col = sig_meta.get("time_column")
    t_sig = rec.get(time_col) if time_col else None
    return StayContext(
        stay_id=int(rec["stay_id"]),
        split=str(rec["split"]),
        observed_los_days=float(rec["los_days"]),
        static=static,
        timeline=timeline,
        ehr_features=list(meta),
        signal=bundle.signal_physical(row) if has_signal else None,
        signal_channels=bundle.signal_channels,
        signal_fs_hz=bundle.signal_fs,
        signal_units=list(sig_meta.get("units") or [str(sig_meta.get("unit", ""))] * len(bundle.signal_channels)),
        signal_channel_labels=list(sig_meta.get("channel_labels") or bundle.signal_channels),
        signal_label=str(sig_meta.get("label", "biosignal")),
        signal_short_label=bundle.sig_label,
        signal_time_h=float(t_sig) if has_signal and t_sig is not None and np.isfinite(t_sig) else None,
        signal_kind=str(sig_meta.get("kind", "")),
        source=bundle.source,
    )
