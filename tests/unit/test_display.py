"""Clinical names, one unit system, values rounded as charted, the patient line, and an EHR
timeline whose axes do not exaggerate (``lemof.data.display``, ``lemof.plots.context``)."""

from __future__ import annotations

import dataclasses
import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from lemof.data import mimic_schema
from lemof.data import physionet2012 as pn
from lemof.data import synthetic as syn
from lemof.data.bundle import feature_title, open_bundle
from lemof.data.display import DISPLAYS, clinical_features, fact_text, fmt_number, fmt_value, patient_line
from lemof.data.patient import stay_context
from lemof.data.schema import icu_static_features
from testkit.paths import REPO

# Abbreviations clinicians write as such: a label may equal the stored name only for these.
CLINICAL_ABBREVIATIONS = {"PaCO2", "PaO2", "FiO2", "SpO2", "AST", "ALT", "pH"}


def _mimic_features() -> dict:
    """The features.json MIMIC-IV bundles carry (built as ``lemof.data.mimic`` builds it; the
    builder needs a database, the metadata does not)."""
    feats = [{"name": f, "label": lab, "unit": u, "display_range": [lo, hi]} for f, (lab, u, lo, hi) in mimic_schema.FEATURES.items()]
    return {"ehr": {"features": feats}, "static": icu_static_features(mimic_schema.ADMISSION_TYPES, mimic_schema.CARE_UNITS), "signal": {"channels": []}}


FEATURES_OF = {
    "synthetic": syn._features_meta,
    "physionet2012": pn._features_meta,
    "mimic-iv": _mimic_features,
}


@pytest.fixture(scope="module")
def physionet_bundle(tmp_path_factory):
    """A real PhysioNet 2012 bundle from the test excerpt (set a, 21 records: a second)."""
    tmp = tmp_path_factory.mktemp("pn")
    src = tmp / "src"
    src.mkdir()
    shutil.copytree(REPO / "tests" / "data" / "physionet2012" / "set-a", src / "set-a")
    shutil.copy(REPO / "tests" / "data" / "physionet2012" / "Outcomes-a.txt", src / "Outcomes-a.txt")
    pn.build_physionet2012(src, tmp / "bundle")
    return open_bundle(tmp / "bundle")


@pytest.mark.parametrize("source", sorted(FEATURES_OF))
def test_every_feature_of_every_source_has_a_clinical_name_and_unit(source):
    raw = FEATURES_OF[source]()
    shown = clinical_features(source, raw)
    mapping = DISPLAYS[source].variables
    for before, after in zip(raw["ehr"]["features"], shown["ehr"]["features"]):
        var = mapping[before["name"]]  # KeyError: a feature without a clinical name
        assert (after["label"], after["unit"], after["decimals"]) == (var.label, var.unit, var.decimals)
        is_word = re.fullmatch(r"[A-Z][a-z]+", before["name"]) is not None  # "Platelets" is already a clinical name; "K", "NISysABP", "HCO3" are codes
        assert after["label"] != before["name"] or is_word or before["name"] in CLINICAL_ABBREVIATIONS, after
        words = [w for w in after["label"].split() if w not in CLINICAL_ABBREVIATIONS]
        assert not any(re.search(r"[a-z][A-Z]", w) for w in words), f"{after['label']!r} reads as a code"
        assert after["display_range"] == before["display_range"], "the physiological limits (stored unit) are kept"
        assert after["unit"] not in ("points", "flag", "fraction", "mEq/L", "10^9/L"), f"{after['label']}: {after['unit']!r} is no charted unit"
    for channel, label in zip(shown["signal"]["channels"], shown["signal"].get("channel_labels", [])):
        assert label == mapping[channel].label
    # every category of a fact reads as words, not as its code
    for fact in shown["static"]:
        assert fact["label"][0].isupper() and "_" not in fact["label"]
        for category in fact.get("categories", []):
            label, text = fact_text(source, fact["name"], category)
            if fact["name"] in ("first_careunit", "sex"):
                assert text != category, (fact["name"], category)
            assert text == text.strip() and (fact["name"] == "first_careunit" or text == text.lower()), text
    assert clinical_features(source, shown) == shown, "idempotent (an edited copy of a bundle passes through again)"


def test_no_raw_code_in_the_physionet_labels(physionet_bundle):
    titles = [feature_title(f) for f in physionet_bundle.features["ehr"]["features"]]
    assert "Potassium (mmol/L)" in titles and not any("mEq" in t or "points" in t for t in titles)
    channels = physionet_bundle.features["signal"]["channel_labels"]
    assert channels[physionet_bundle.signal_channels.index("NISysABP")] == "Non-invasive systolic BP"


def test_one_unit_system_across_cohorts(tiny_cohort, physionet_bundle):
    """Potassium is mmol/L on both opened bundles; and a variable named alike in two families has one unit."""
    synthetic = open_bundle(tiny_cohort)
    for bundle, name in ((synthetic, "potassium"), (physionet_bundle, "K")):
        meta = next(f for f in bundle.features["ehr"]["features"] if f["name"] == name)
        assert (meta["label"], meta["unit"]) == ("Potassium", "mmol/L")
    units: dict[str, set[str]] = {}
    for display in DISPLAYS.values():
        for var in display.variables.values():
            units.setdefault(var.label, set()).add(var.unit)
    assert {label: u for label, u in units.items() if len(u) > 1} == {}


def test_values_are_rounded_as_charted():
    assert fmt_number(3.5999, 1) == "3.6"
    assert fmt_number(329.67, 0) == "330"
    assert fmt_number(float(np.float32(2.05)), 1) == "2.1", "a float32 2.05 (2.04999995) is charted 2.1"
    assert fmt_number(-0.04, 1) == "0.0"
    assert fmt_number(0.012345, None) == "0.0123" and fmt_number(1234.6, None) == "1235"  # unknown charting: three significant digits, whole above 1000
    var = DISPLAYS["synthetic"].variables
    assert fmt_value(var["potassium"], 3.5999) == "3.6 mmol/L"
    assert fmt_value(var["platelets"], 329.67) == "330 ×10³/µL"
    assert fmt_value(var["creatinine"], 1.23) == "1.2 mg/dL"
    assert fmt_value(var["hr"], 115.4) == "115 bpm"
    assert fmt_value(var["temp"], 37.84) == "37.8 °C"
    assert fmt_value(var["lactate"], 2.05) == "2.1 mmol/L"
    assert fmt_value(var["spo2"], 95.2) == "95%"
    assert fmt_value(DISPLAYS["physionet2012"].variables["MechVent"], 1.0) == "yes"
    # the bundle's own feature entry formats the same way
    shown = clinical_features("synthetic", syn._features_meta())
    k = next(f for f in shown["ehr"]["features"] if f["name"] == "potassium")
    assert fmt_value(k, np.float32(3.5999)) == "3.6 mmol/L" and fmt_value(k, 3.5999, unit=False) == "3.6"


def test_patient_line_and_facts_of_a_synthetic_stay(tiny_cohort):
    bundle = open_bundle(tiny_cohort)
    row = bundle.stays.iloc[0]
    ctx = stay_context(bundle, int(row["stay_id"]))
    person = {"F": "woman", "M": "man"}[row["sex"]]
    units = {"MICU": "Medical ICU", "SICU": "Surgical ICU", "CCU": "Coronary care unit", "CVICU": "Cardiovascular ICU", "TSICU": "Trauma surgical ICU"}
    expected = f"{int(round(row['age']))}-year-old {person} · {units[row['first_careunit']]} · {row['admission_type'].lower()} admission"
    assert ctx.patient_line == expected
    facts = dict(ctx.facts)
    assert list(facts) == ["Age", "Sex", "Unit", "Admission"]
    assert facts["Age"] == f"{int(round(row['age']))} years" and facts["Sex"] in ("female", "male")
    assert patient_line("synthetic", {"age": 71.0, "sex": "F", "first_careunit": "MICU", "admission_type": "EMERGENCY"}) == (
        "71-year-old woman · Medical ICU · emergency admission"
    )


def test_patient_line_and_facts_of_a_physionet_stay(physionet_bundle):
    stays = physionet_bundle.stays
    known = stays[(stays["sex"] != "unknown") & stays["age"].notna() & (stays["first_careunit"] != "unknown")]
    row = known.iloc[0]
    ctx = stay_context(physionet_bundle, int(row["stay_id"]))
    person = {"F": "woman", "M": "man"}[row["sex"]]
    units = {"CCU": "Coronary care unit", "CSRU": "Cardiac surgery recovery unit", "MICU": "Medical ICU", "SICU": "Surgical ICU"}
    assert ctx.patient_line == f"{int(round(row['age']))}-year-old {person} · {units[row['first_careunit']]}", "PhysioNet has no admission type"
    labels = [label for label, _ in ctx.facts]
    assert "set" not in labels and "Set" not in labels, "the challenge set is bookkeeping"
    assert labels[:3] == ["Age", "Sex", "Unit"]
    # a missing height or an unknown sex is no fact; the line says only what is known
    assert patient_line("physionet2012", {"age": 70.4, "sex": "unknown", "first_careunit": "CSRU", "set": "a"}) == "70 years old · Cardiac surgery recovery unit"
    static = {"age": 70.0, "sex": "F", "height_cm": math.nan, "weight_kg": 80.26, "first_careunit": "CSRU", "set": "b"}
    assert dataclasses.replace(ctx, static=static).facts == [("Age", "70 years"), ("Sex", "female"), ("Unit", "Cardiac surgery recovery unit"), ("Weight", "80.3 kg")]


def _flat_context(bundle, feature: str, values: list[float]):
    """The context of the bundle's first stay with only ``feature`` observed, at ``values`` (stored unit)."""
    ctx = stay_context(bundle, int(bundle.stays["stay_id"].iloc[0]))
    meta = next(f for f in bundle.features["ehr"]["features"] if f["name"] == feature)
    timeline = pd.DataFrame({"hour": [float(h) for h in range(len(values))], "feature": feature, "label": meta["label"], "unit": meta["unit"],
                             "group": meta.get("group", ""), "value": values})
    return dataclasses.replace(ctx, timeline=timeline, signal_time_h=None)


def test_the_timeline_does_not_exaggerate_a_flat_series(tiny_cohort):
    from lemof.plots.context import panel_range, timeline_figure

    bundle = open_bundle(tiny_cohort)
    hb = next(f for f in bundle.features["ehr"]["features"] if f["name"] == "hemoglobin")
    lo, hi = panel_range(hb, np.array([12.1, 12.0, 12.1, 12.0]))
    assert lo <= 12.0 and hi >= 17.5, "the strip spans at least haemoglobin's reference range (12.0–17.5 g/dL)"
    fig = timeline_figure(_flat_context(bundle, "hemoglobin", [12.1, 12.0, 12.1, 12.0]), 24)
    (trace,) = [t for t in fig.data if t.x and t.x[0] is not None]  # one trace per feature
    y = np.asarray(trace.y)
    assert 0 < y.min() and y.max() < 1, "the values lie inside their strip (one y-unit high)"
    assert y.max() - y.min() < 0.02, "a 0.1 g/dL step is under 2 % of the strip's height"
    assert list(trace.customdata) == [12.1, 12.0, 12.1, 12.0], "hovered as measured"
    (band,) = [s for s in fig.layout.shapes if s.type == "rect"]
    assert 0 <= band.y0 < band.y1 <= 1 and band.y1 - band.y0 == pytest.approx(5.5 / (hi - lo)), "the shaded band is the reference range"
    assert y.min() >= band.y0 - 1e-9, "12.0 sits on the band's lower edge"
    assert list(fig.layout.yaxis.ticktext) == ["12.0", "17.5"], "the strip's ticks are the reference bounds, as charted"
    assert set(trace.marker.symbol) == {"circle"}, "no value is outside the range"
    assert "Haemoglobin (g/dL)" in [a.text for a in fig.layout.annotations], "the unit is in the strip title"
    # a value outside the range is marked, and the strip still holds it
    fig = timeline_figure(_flat_context(bundle, "potassium", [4.0, 4.0, 6.2]), 24)
    assert 0 < min(fig.data[0].y) and max(fig.data[0].y) < 1
    assert list(fig.data[0].marker.symbol) == ["circle", "circle", "diamond"]
    assert "Potassium (mmol/L) (1 of 3)" in fig.layout.meta["alt"]


def test_the_timeline_is_one_subplot_per_column_and_one_trace_per_feature(tiny_cohort):
    """Plotly's page elements grow with the square of the number of subplots: the features share
    a subplot per column."""
    from lemof.plots.context import timeline_figure

    bundle = open_bundle(tiny_cohort)
    ctx = stay_context(bundle, int(bundle.stays["stay_id"].iloc[0]))
    fig = timeline_figure(ctx, 24)
    measured = ctx.timeline["feature"].nunique()
    assert measured > 3
    axes = [k for k in fig.layout.to_plotly_json() if k.startswith("xaxis")]
    assert len(axes) == 3
    assert len([t for t in fig.data if t.x and t.x[0] is not None]) == measured
    assert len([a for a in fig.layout.annotations if a.yref != "paper"]) == measured, "one title per feature, no per-point text"


def test_a_variable_without_a_reference_range_spans_ten_percent_of_its_level():
    from lemof.plots.context import panel_range

    lo, hi = panel_range({"name": "Weight"}, np.array([80.0, 80.5]))
    assert lo <= 72.0 and hi >= 88.0
    lo, hi = panel_range({"name": "x", "normal_range": [0.0, 0.01]}, np.array([0.005]))
    assert lo >= -0.01 and lo < 0.0 < 0.01 < hi, "a quantity never negative is not drawn far below zero"


def test_a_family_without_a_mapping_is_shown_as_written():
    """A user's own cohort: its labels, units and category values stay as its features.json and
    stays table write them (nothing lower-cased or renamed), numbers to three significant digits."""
    static = {"age": 60.0, "sex": "X", "first_careunit": "Ward 7", "admission_type": "EMERGENCY", "score": 12.345}
    assert patient_line("my-own-cohort", static) == "60 years old · sex X · Ward 7 · EMERGENCY admission"
    assert fact_text("my-own-cohort", "first_careunit", "Ward 7") == ("First careunit", "Ward 7")
    assert fact_text("my-own-cohort", "score", 12.345) == ("Score", "12.3")
    raw = {"ehr": {"features": [{"name": "hr", "label": "Pulse", "unit": "/min"}]}, "static": [], "signal": {"channels": ["II"]}}
    assert clinical_features("my-own-cohort", raw) == raw
