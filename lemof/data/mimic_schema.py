"""MIMIC-IV and MIMIC-IV-ECG: table layouts, the itemids the project uses, units and limits.

Shared by the loader (``mimic.py``) and the test fixture writer (``tests/fixtures/mimic_fixture.py``), so both
speak exactly the same layout (DATA.md section 3).
"""

from __future__ import annotations

# table -> columns, in the order MIMIC-IV publishes them
COLUMNS = {
    "hosp/patients": ["subject_id", "gender", "anchor_age", "anchor_year", "anchor_year_group", "dod"],
    "hosp/admissions": [
        "subject_id", "hadm_id", "admittime", "dischtime", "deathtime", "admission_type", "admit_provider_id",
        "admission_location", "discharge_location", "insurance", "language", "marital_status", "race",
        "edregtime", "edouttime", "hospital_expire_flag",
    ],
    "icu/icustays": ["subject_id", "hadm_id", "stay_id", "first_careunit", "last_careunit", "intime", "outtime", "los"],
    "icu/chartevents": [
        "subject_id", "hadm_id", "stay_id", "caregiver_id", "charttime", "storetime", "itemid", "value", "valuenum",
        "valueuom", "warning",
    ],
    "hosp/labevents": [
        "labevent_id", "subject_id", "hadm_id", "specimen_id", "itemid", "order_provider_id", "charttime", "storetime",
        "value", "valuenum", "valueuom", "ref_range_lower", "ref_range_upper", "flag", "priority", "comments",
    ],
    "icu/d_items": [
        "itemid", "label", "abbreviation", "linksto", "category", "unitname", "param_type", "lownormalvalue", "highnormalvalue",
    ],
    "hosp/d_labitems": ["itemid", "label", "fluid", "category"],
    "hosp/diagnoses_icd": ["subject_id", "hadm_id", "seq_num", "icd_code", "icd_version"],  # optional: concepts only
}
OPTIONAL_TABLES = ("hosp/diagnoses_icd",)

# Diagnosis concepts from hosp/diagnoses_icd (administrative codes of the whole admission; never a
# model input): column of outcomes.parquet -> (concept name, {icd_version: code prefixes}). MIMIC
# writes codes without the dot (995.91 -> "99591", R65.2 -> "R652").
DIAGNOSES = {
    "dx_sepsis": ("sepsis (ICD)", {9: ("038", "99591", "99592"), 10: ("A40", "A41", "R652")}),
    "dx_aki": ("AKI (ICD)", {9: ("584",), 10: ("N17",)}),
    "dx_heart_failure": ("heart failure (ICD)", {9: ("428",), 10: ("I50",)}),
    "dx_mi": ("MI (ICD)", {9: ("410",), 10: ("I21", "I22")}),
    "dx_af": ("AF (ICD)", {9: ("4273",), 10: ("I48",)}),
}
RECORD_LIST_COLUMNS = ["subject_id", "study_id", "file_name", "ecg_time", "path"]
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

# EHR feature -> (label, unit, low, high); the same 19 features as the synthetic cohort.
FEATURES = {
    "hr": ("Heart rate", "bpm", 20, 300),
    "sbp": ("Systolic BP", "mmHg", 30, 300),
    "dbp": ("Diastolic BP", "mmHg", 10, 250),
    "mbp": ("Mean BP", "mmHg", 20, 300),
    "rr": ("Respiratory rate", "breaths/min", 1, 80),
    "spo2": ("SpO2", "%", 30, 100),
    "temp": ("Temperature", "°C", 25, 45),
    "gcs": ("GCS total", "points", 3, 15),
    "creatinine": ("Creatinine", "mg/dL", 0.05, 30),
    "lactate": ("Lactate", "mmol/L", 0.1, 40),
    "wbc": ("WBC", "10^9/L", 0.05, 300),
    "hemoglobin": ("Hemoglobin", "g/dL", 1, 25),
    "platelets": ("Platelets", "10^9/L", 1, 2000),
    "sodium": ("Sodium", "mmol/L", 90, 200),
    "potassium": ("Potassium", "mmol/L", 1, 12),
    "bicarbonate": ("Bicarbonate", "mmol/L", 1, 60),
    "bun": ("BUN", "mg/dL", 1, 300),
    "glucose": ("Glucose", "mg/dL", 10, 2000),
    "bilirubin": ("Total bilirubin", "mg/dL", 0.05, 80),
}
VITAL_GROUP = {"hr", "sbp", "dbp", "mbp", "rr", "spo2", "temp", "gcs"}

# chartevents itemid -> (feature, conversion to the feature's unit)
CHART_ITEMS = {
    220045: ("hr", None),
    220179: ("sbp", None), 220050: ("sbp", None), 225309: ("sbp", None),
    220180: ("dbp", None), 220051: ("dbp", None), 225310: ("dbp", None),
    220181: ("mbp", None), 220052: ("mbp", None), 225312: ("mbp", None),
    220210: ("rr", None), 224690: ("rr", None),
    220277: ("spo2", None),
    223762: ("temp", None), 223761: ("temp", "fahrenheit"),
    220739: ("gcs_eye", None), 223900: ("gcs_verbal", None), 223901: ("gcs_motor", None),
}
GCS_COMPONENTS = {"gcs_eye": (1, 4), "gcs_verbal": (1, 5), "gcs_motor": (1, 6)}

# labevents itemid -> feature
LAB_ITEMS = {
    50912: "creatinine", 50813: "lactate", 51301: "wbc", 51222: "hemoglobin", 51265: "platelets",
    50983: "sodium", 50971: "potassium", 50882: "bicarbonate", 51006: "bun", 50931: "glucose", 50885: "bilirubin",
}

CARE_UNITS = (
    "Medical Intensive Care Unit (MICU)",
    "Surgical Intensive Care Unit (SICU)",
    "Coronary Care Unit (CCU)",
    "Cardiac Vascular Intensive Care Unit (CVICU)",
    "Trauma SICU (TSICU)",
    "Medical/Surgical Intensive Care Unit (MICU/SICU)",
    "Neuro Surgical Intensive Care Unit (Neuro SICU)",
)
ADMISSION_TYPES = (
    "EW EMER.", "URGENT", "ELECTIVE", "DIRECT EMER.", "OBSERVATION ADMIT", "SURGICAL SAME DAY ADMISSION",
    "EU OBSERVATION", "DIRECT OBSERVATION", "AMBULATORY OBSERVATION",
)
ECG_LEADS_MIMIC_ORDER = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")
