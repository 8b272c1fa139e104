"""How a clinician reads each cohort family's variables: one display mapping per family.

For every EHR feature (and every bedside channel) a clinical name, a unit, the decimals it is
charted with and, where one exists, the adult reference interval; for every static fact a name and
its values in words; and the bookkeeping columns a clinician never sees (PhysioNet's challenge
``set``, MIMIC's ECG study id). ``clinical_features`` lays the mapping over a bundle's
``features.json`` when the bundle is opened (``CohortBundle``), so every reader of
``bundle.features`` (timeline, drivers, similar stays, what-if) gets the clinical names.

**One unit system: US conventional units, as MIMIC-IV and PhysioNet 2012 chart them** (``UNIT_NOTE``):
electrolytes in mmol/L (for the monovalent ions Na⁺, K⁺ and HCO₃⁻, mEq/L = mmol/L, so PhysioNet's
"mEq/L" values are unchanged), creatinine, urea nitrogen, glucose and bilirubin in mg/dL,
haemoglobin and albumin in g/dL, cell counts in ×10³/µL (= 10⁹/L, the same number), troponins in
ng/mL (= µg/L), temperature in °C. No value is converted: every display unit below is the unit the
bundle stores, numerically (``Variable.factor`` is 1 throughout; a family that needs a conversion
sets it, and ``fmt_value`` applies it at display time only). PhysioNet 2012's magnesium is
documented as mmol/L, but its values (median 2.0, 5–95 % 1.4–2.7) are mg/dL as charted in the US
(2.0 mmol/L would be severe hypermagnesaemia): it is shown in mg/dL.

Reference intervals: standard adult reference intervals (conventional units, as in Harrison's
Principles of Internal Medicine, 21st ed., appendix "Laboratory values of clinical importance";
vital signs as usual adult resting ranges). Sex-specific intervals are given as the union
(haemoglobin 12.0–17.5 g/dL). They shade the timeline and mark values outside them; they are not
ICU targets.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping

UNIT_NOTE = (
    "Units: US conventional, as MIMIC-IV and PhysioNet 2012 chart them — electrolytes in mmol/L (= mEq/L for Na, K, HCO3), "
    "creatinine, blood urea nitrogen, glucose and bilirubin in mg/dL, haemoglobin in g/dL, cell counts in ×10³/µL. "
    "Shaded: adult reference range."
)
UNKNOWN_VALUES = frozenset({"unknown", "nan", "none", ""})  # a categorical fact with one of these is no fact


@dataclass(frozen=True)
class Variable:
    """One EHR feature or bedside channel as a clinician reads it."""

    label: str  # "Non-invasive systolic BP"
    unit: str = ""  # display unit; "" for a unitless value (pH, FiO2, GCS)
    decimals: int = 0  # as charted: potassium 1 (3.6), platelets 0 (330)
    normal: tuple[float, float] | None = None  # adult reference interval, display unit
    axis: tuple[float, float] | None = None  # the least y-span of a timeline panel (default: ``normal`` padded)
    factor: float = 1.0  # display value = stored value * factor (1: no conversion)
    kind: str = "number"  # "flag": 0/1 shown as no/yes
    alarm: tuple[str, float, str] | None = None  # a bedside channel's clinical threshold: (">" or "<", value, what crossing it is called)


@dataclass(frozen=True)
class Fact:
    """One static fact (a column of ``stays.parquet``) as a clinician says it."""

    label: str  # "Unit"
    unit: str = ""  # "years", "cm"
    decimals: int = 0
    values: Mapping[str, str] = field(default_factory=dict)  # stored category -> words ("MICU" -> "Medical ICU")


@dataclass(frozen=True)
class SourceDisplay:
    variables: Mapping[str, Variable]  # EHR features and bedside channels, by name
    facts: Mapping[str, Fact]  # static facts, by column, in the order a clinician says them
    hidden: frozenset[str] = frozenset()  # bookkeeping columns, never shown to a clinician


# --- the variables -------------------------------------------------------------------------
_HR = Variable("Heart rate", "bpm", 0, (60, 100), alarm=(">", 100, "tachycardia"))
_RR = Variable("Respiratory rate", "breaths/min", 0, (12, 20), alarm=(">", 24, "tachypnoea"))
_TEMP = Variable("Temperature", "°C", 1, (36.5, 37.5), alarm=(">", 38.3, "fever"))
_GCS = Variable("Glasgow Coma Scale", "", 0, None, axis=(3, 15))  # 15 is normal: no band, the whole scale shown
_CREATININE = Variable("Creatinine", "mg/dL", 1, (0.6, 1.2))
_LACTATE = Variable("Lactate", "mmol/L", 1, (0.5, 2.0))
_WBC = Variable("White cell count", "×10³/µL", 1, (4.0, 11.0))
_PLATELETS = Variable("Platelets", "×10³/µL", 0, (150, 400))
_SODIUM = Variable("Sodium", "mmol/L", 0, (135, 145))
_POTASSIUM = Variable("Potassium", "mmol/L", 1, (3.5, 5.0))
_BICARBONATE = Variable("Bicarbonate", "mmol/L", 0, (22, 29))
_BUN = Variable("Blood urea nitrogen", "mg/dL", 0, (7, 20))
_GLUCOSE = Variable("Glucose", "mg/dL", 0, (70, 140))  # random (non-fasting) glucose
_BILIRUBIN = Variable("Total bilirubin", "mg/dL", 1, (0.1, 1.2))

# The 19 features of the synthetic and MIMIC-IV cohorts (same names; MIMIC's BP pools arterial and cuff).
_ICU_FEATURES = {
    "hr": _HR,
    "sbp": Variable("Systolic BP", "mmHg", 0, (90, 140)),
    "dbp": Variable("Diastolic BP", "mmHg", 0, (60, 90)),
    "mbp": Variable("Mean BP", "mmHg", 0, (70, 105)),
    "rr": _RR,
    "spo2": Variable("SpO2", "%", 0, (95, 100), axis=(90, 100)),
    "temp": _TEMP,
    "gcs": _GCS,
    "creatinine": _CREATININE,
    "lactate": _LACTATE,
    "wbc": _WBC,
    "hemoglobin": Variable("Haemoglobin", "g/dL", 1, (12.0, 17.5)),
    "platelets": _PLATELETS,
    "sodium": _SODIUM,
    "potassium": _POTASSIUM,
    "bicarbonate": _BICARBONATE,
    "bun": _BUN,
    "glucose": _GLUCOSE,
    "bilirubin": _BILIRUBIN,
}

_PHYSIONET_FEATURES = {
    "GCS": _GCS,
    "FiO2": Variable("FiO2", "", 2, None, axis=(0.21, 1.0)),  # a fraction; room air 0.21
    "MechVent": Variable("Mechanical ventilation", "", 0, None, axis=(0, 1), kind="flag"),
    "pH": Variable("Arterial pH", "", 2, (7.35, 7.45)),
    "PaCO2": Variable("PaCO2", "mmHg", 0, (35, 45)),
    "PaO2": Variable("PaO2", "mmHg", 0, (80, 100)),
    "HCT": Variable("Haematocrit", "%", 1, (36, 50)),
    "K": _POTASSIUM,  # stored as PhysioNet's mEq/L: the same number
    "Platelets": _PLATELETS,
    "Creatinine": _CREATININE,
    "BUN": _BUN,
    "HCO3": _BICARBONATE,
    "Mg": Variable("Magnesium", "mg/dL", 1, (1.7, 2.2)),  # see the module docstring
    "Na": _SODIUM,
    "Glucose": _GLUCOSE,
    "WBC": _WBC,
    "Lactate": _LACTATE,
    "Bilirubin": _BILIRUBIN,
    "AST": Variable("AST", "U/L", 0, (10, 40)),
    "ALT": Variable("ALT", "U/L", 0, (7, 56)),
    "ALP": Variable("Alkaline phosphatase", "U/L", 0, (44, 147)),
    "Albumin": Variable("Albumin", "g/dL", 1, (3.5, 5.0)),
    "TroponinT": Variable("Troponin T", "ng/mL", 2, (0.0, 0.01)),
    "TroponinI": Variable("Troponin I", "ng/mL", 2, (0.0, 0.04)),
    "Cholesterol": Variable("Total cholesterol", "mg/dL", 0, None),  # "desirable < 200": no interval
    "Weight": Variable("Weight", "kg", 1, None),
    # bedside channels (the biosignal of this family)
    "HR": _HR,
    # alarms: MAP < 65 mmHg (Surviving Sepsis Campaign target), systolic < 90 mmHg, SpO2/SaO2 < 90 %
    "SysABP": Variable("Arterial systolic BP", "mmHg", 0, (90, 140), alarm=("<", 90, "hypotension")),
    "DiasABP": Variable("Arterial diastolic BP", "mmHg", 0, (60, 90)),
    "MAP": Variable("Arterial mean BP", "mmHg", 0, (70, 105), alarm=("<", 65, "hypotension")),
    "NISysABP": Variable("Non-invasive systolic BP", "mmHg", 0, (90, 140), alarm=("<", 90, "hypotension")),
    "NIDiasABP": Variable("Non-invasive diastolic BP", "mmHg", 0, (60, 90)),
    "NIMAP": Variable("Non-invasive mean BP", "mmHg", 0, (70, 105), alarm=("<", 65, "hypotension")),
    "RespRate": _RR,
    "SaO2": Variable("O2 saturation", "%", 0, (95, 100), axis=(90, 100), alarm=("<", 90, "desaturation")),
    "Temp": _TEMP,
    "Urine": Variable("Urine output", "mL", 0, None),  # per 30-min bin
}

# --- the static facts ----------------------------------------------------------------------
_AGE = Fact("Age", "years", 0)
_SEX = Fact("Sex", values={"F": "female", "M": "male"})
_CARE_UNITS = {
    "MICU": "Medical ICU", "SICU": "Surgical ICU", "CCU": "Coronary care unit", "CVICU": "Cardiovascular ICU",
    "TSICU": "Trauma surgical ICU", "CSRU": "Cardiac surgery recovery unit",
}
_MIMIC_CARE_UNITS = {
    "Medical Intensive Care Unit (MICU)": "Medical ICU",
    "Surgical Intensive Care Unit (SICU)": "Surgical ICU",
    "Coronary Care Unit (CCU)": "Coronary care unit",
    "Cardiac Vascular Intensive Care Unit (CVICU)": "Cardiovascular ICU",
    "Trauma SICU (TSICU)": "Trauma surgical ICU",
    "Medical/Surgical Intensive Care Unit (MICU/SICU)": "Medical/surgical ICU",
    "Neuro Surgical Intensive Care Unit (Neuro SICU)": "Neurosurgical ICU",
    "other": "other ICU",
}
_MIMIC_ADMISSIONS = {
    "EW EMER.": "emergency", "DIRECT EMER.": "direct emergency", "URGENT": "urgent", "ELECTIVE": "elective",
    "OBSERVATION ADMIT": "observation", "EU OBSERVATION": "emergency-unit observation", "DIRECT OBSERVATION": "direct observation",
    "AMBULATORY OBSERVATION": "ambulatory observation", "SURGICAL SAME DAY ADMISSION": "same-day surgical",
}

DISPLAYS: dict[str, SourceDisplay] = {
    "synthetic": SourceDisplay(
        _ICU_FEATURES,
        {"age": _AGE, "sex": _SEX, "first_careunit": Fact("Unit", values=_CARE_UNITS), "admission_type": Fact("Admission")},
    ),
    "physionet2012": SourceDisplay(
        _PHYSIONET_FEATURES,
        {"age": _AGE, "sex": _SEX, "first_careunit": Fact("Unit", values=_CARE_UNITS), "height_cm": Fact("Height", "cm", 0),
         "weight_kg": Fact("Weight", "kg", 1)},
        hidden=frozenset({"set"}),  # which challenge set a record came from: bookkeeping
    ),
    "mimic-iv": SourceDisplay(
        _ICU_FEATURES,
        {"age": _AGE, "sex": _SEX, "first_careunit": Fact("Unit", values=_MIMIC_CARE_UNITS), "admission_type": Fact("Admission", values=_MIMIC_ADMISSIONS)},
        hidden=frozenset({"ecg_study_id", "hadm_id"}),
    ),
}
_NONE = SourceDisplay({}, {})


def display_of(source: str) -> SourceDisplay:
    """The display mapping of cohort family ``source`` (an empty one for a family it does not know:
    its bundle's own labels and units are shown, numbers to three significant digits)."""
    return DISPLAYS.get(source, _NONE)


# --- numbers -------------------------------------------------------------------------------
def fmt_number(value: float, decimals: int | None) -> str:
    """``value`` rounded as charted: ``decimals`` places, halves rounded up (3.5999 -> "3.6",
    329.67 -> "330", 2.05 -> "2.1"); ``None``: three significant digits (a variable of unknown
    charting). A stored float32 (2.05 is 2.04999995) is read to 7 significant digits first."""
    value = float(value)
    if not math.isfinite(value):
        return "–"
    if decimals is None:
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    exact = Decimal(f"{value:.7g}").quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = f"{exact:f}"
    return text.lstrip("-") if exact == 0 else text  # no "-0.0"


def _with_unit(number: str, unit: str) -> str:
    if not unit:
        return number
    return f"{number}{unit}" if unit == "%" else f"{number} {unit}"


def fmt_value(meta: Mapping[str, Any] | Variable, value: float, *, unit: bool = True) -> str:
    """A value as charted, with its unit: ``fmt_value(meta, 3.5999) == "3.6 mmol/L"``.

    ``meta``: a feature's entry of ``bundle.features`` (as ``clinical_features`` leaves it: ``unit``,
    ``decimals``, ``factor``, ``kind``) or a ``Variable``. ``value`` is in the bundle's stored unit;
    ``factor`` converts it to the display unit here, at display time only."""
    v = meta if isinstance(meta, Variable) else None
    kind = v.kind if v else str(meta.get("kind", "number"))
    factor = v.factor if v else float(meta.get("factor", 1.0))
    decimals = v.decimals if v else meta.get("decimals")
    shown_unit = (v.unit if v else str(meta.get("unit", "") or "")).strip()
    if kind == "flag":
        return "yes" if float(value) >= 0.5 else "no"
    number = fmt_number(float(value) * factor, None if decimals is None else int(decimals))
    return _with_unit(number, shown_unit) if unit else number


# --- features.json, clinically -------------------------------------------------------------
def clinical_features(source: str, features: Mapping[str, Any]) -> dict[str, Any]:
    """``features`` (a bundle's ``features.json``) with the family's display mapping laid over it:
    every EHR feature it names gets its clinical ``label``, ``unit``, ``decimals``, ``factor``,
    ``kind``, ``normal_range`` and ``axis_range``; every static fact its ``label``, ``unit``,
    ``decimals`` and ``value_labels``; bedside channels their labels and units. The stored ``name``
    and ``display_range`` (physiological limits, stored unit) are kept. A new dict; idempotent."""
    shown = display_of(source)
    out = copy.deepcopy(dict(features))
    for meta in out.get("ehr", {}).get("features", []):
        var = shown.variables.get(meta["name"])
        if var is None:
            continue
        meta.update(label=var.label, unit=var.unit, decimals=var.decimals, factor=var.factor, kind=var.kind,
                    normal_range=list(var.normal) if var.normal else None, axis_range=list(var.axis) if var.axis else None)
    for meta in out.get("static", []):
        fact = shown.facts.get(meta["name"])
        if fact is not None:
            meta.update(label=fact.label, unit=fact.unit, decimals=fact.decimals, value_labels=dict(fact.values))
    sig = out.get("signal")
    if sig and shown.variables and any(c in shown.variables for c in sig.get("channels", [])):
        labels = list(sig.get("channel_labels") or sig["channels"])
        units = list(sig.get("units") or [str(sig.get("unit", ""))] * len(sig["channels"]))
        for i, c in enumerate(sig["channels"]):
            if (var := shown.variables.get(c)) is not None:
                labels[i], units[i] = var.label, var.unit
        sig.update(channel_labels=labels, units=units)
    return out


def fact_text(source: str, name: str, value: Any) -> tuple[str, str] | None:
    """A static fact as (label, value) words: ``("Unit", "Medical ICU")``, ``("Age", "71 years")``,
    ``("Sex", "female")``; None when the value is missing (NaN, None, "unknown") or the column is
    bookkeeping (``SourceDisplay.hidden``). A fact the family's mapping does not name is shown
    as written (its column name capitalised, its value unchanged)."""
    shown = display_of(source)
    if name in shown.hidden or _missing(value):
        return None
    known = name in shown.facts
    fact = shown.facts[name] if known else Fact(name.replace("_", " ").capitalize())
    if isinstance(value, (bool,)) or not isinstance(value, (int, float)):
        text = str(value)
        return fact.label, fact.values.get(text, text.lower() if known else text)  # another family's words as written
    number = fmt_number(float(value), fact.decimals if known else None)
    return fact.label, _with_unit(number, fact.unit)


def static_facts(source: str, static: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every fact of ``static`` a clinician reads, as (label, value) words: the family's facts in
    their order first, then any other column; bookkeeping and missing values left out."""
    order = list(display_of(source).facts)
    names = [n for n in order if n in static] + [n for n in static if n not in order]
    return [t for n in names if (t := fact_text(source, n, static[n])) is not None]


def patient_line(source: str, static: Mapping[str, Any]) -> str:
    """One line for a page's headline: "71-year-old woman · Medical ICU · emergency admission" —
    only the parts the stay has (a PhysioNet stay has no admission type)."""
    parts = []
    age = static.get("age")
    sex = static.get("sex")
    sex_text = fact_text(source, "sex", sex) if "sex" in static else None
    person = {"female": "woman", "male": "man"}.get(sex_text[1] if sex_text else "", "")
    if not _missing(age) and isinstance(age, (int, float)):
        years = fmt_number(float(age), 0)
        parts.append(f"{years}-year-old {person}" if person else f"{years} years old")
    elif person:
        parts.append(person)
    if sex_text and not person:  # a family whose sexes are not female/male words: as written
        parts.append(f"sex {sex_text[1]}")
    if (unit := fact_text(source, "first_careunit", static["first_careunit"]) if "first_careunit" in static else None) is not None:
        parts.append(unit[1])
    if (adm := fact_text(source, "admission_type", static["admission_type"]) if "admission_type" in static else None) is not None:
        parts.append(f"{adm[1]} admission")
    return " · ".join(parts)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip().lower() in UNKNOWN_VALUES
