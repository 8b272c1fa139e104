"""Pieces of ``features.json`` that several sources share."""

from __future__ import annotations

from lemof.data.ecg_synth import DURATION_S, FS_HZ, LEADS


def icu_static_features(admission_types: tuple[str, ...], care_units: tuple[str, ...]) -> list[dict]:
    """Age, sex, admission type and first care unit, as the synthetic and MIMIC cohorts have them."""
    return [
        {"name": "age", "kind": "numeric", "unit": "years"},
        {"name": "sex", "kind": "categorical", "categories": ["F", "M"]},
        {"name": "admission_type", "kind": "categorical", "categories": list(admission_types)},
        {"name": "first_careunit", "kind": "categorical", "categories": list(care_units)},
    ]


def ecg_signal(label: str, gain_per_mv: int) -> dict:
    """A 10 s, 500 Hz, 12-lead ECG stored as int16 (``gain_per_mv`` units per mV)."""
    return {
        "kind": "ecg",
        "label": label,
        "short_label": "ECG",
        "channels": list(LEADS),
        "unit": "mV",
        "fs_hz": FS_HZ,
        "duration_s": DURATION_S,
        "scale": 1.0 / gain_per_mv,
        "time_column": "signal_time_h",
    }
