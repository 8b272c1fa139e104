"""AppTest: the app and its pages run for several stays, a stay without ECG and bad links."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO, SHIPPED_PHYSIONET_RUN, SHIPPED_RUN
from lemof import open_bundle

TIMEOUT = 120


def _app(default_cohort, **params) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _no_failures(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture(scope="module")
def picks(default_cohort) -> dict[str, int]:
    stays = open_bundle(default_cohort).stays
    test = stays[stays["split"] == "test"]
    with_sig = test.loc[test["has_signal"], "stay_id"].to_numpy()
    return {"a": int(with_sig[0]), "b": int(with_sig[-1]), "no_ecg": int(test.loc[~test["has_signal"], "stay_id"].iloc[0])}


def test_app_opens_on_case_review_with_the_shipped_model(default_cohort):
    at = _app(default_cohort)
    _no_failures(at)
    assert at.title[0].value == "Case review"
    status = at.sidebar.success[0].value
    assert SHIPPED_RUN.name in status and "synthetic-n4000-seed0" in status
    labels = [m.label for m in at.metric]
    assert labels[:3] == ["Predicted LOS", "90 % prediction interval", "Observed LOS"]


@pytest.mark.parametrize("which", ["a", "b", "no_ecg"])
def test_case_review_for_several_stays(default_cohort, picks, which):
    at = _app(default_cohort, stay=str(picks[which]))
    _no_failures(at)
    assert not at.warning
    chosen = [s for s in at.selectbox if s.label.startswith("ICU stay")][0]
    assert chosen.value == picks[which]
    ecg = [m for m in at.metric if m.label == "ECG"][0]
    assert ecg.value == ("absent" if which == "no_ecg" else "recorded")
    captions = " ".join(c.value for c in at.caption)
    assert "level-stacker output" in captions and "prediction" in captions
    if which == "no_ecg":
        infos = " ".join(i.value for i in at.info)
        assert "has no ECG data" in infos and "absent" in infos
    assert at.query_params["stay"] == [str(picks[which])] or at.query_params["stay"] == str(picks[which])


@pytest.mark.parametrize("bad", ["abc", "123", "-1"])
def test_bad_stay_link_warns_and_the_app_keeps_working(default_cohort, bad):
    at = _app(default_cohort, stay=bad)
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert bad in warnings and "Showing another stay" in warnings
    assert any(m.label == "Predicted LOS" for m in at.metric)


def test_picking_stays_with_the_widgets(default_cohort, picks):
    at = _app(default_cohort)
    stay_box = [s for s in at.selectbox if s.label.startswith("ICU stay")][0]
    stay_box.set_value(picks["no_ecg"]).run()
    _no_failures(at)
    assert [m for m in at.metric if m.label == "ECG"][0].value == "absent"
    stays = open_bundle(default_cohort).stays.set_index("stay_id")
    unit = stays.loc[picks["a"], "first_careunit"]
    at.multiselect[0].set_value([unit]).run()
    _no_failures(at)
    stay_box = [s for s in at.selectbox if s.label.startswith("ICU stay")][0]
    expected = int(((stays["split"] == "test") & (stays["first_careunit"] == unit)).sum())
    assert stay_box.label.startswith(f"ICU stay ({expected:,} match")
    assert stays.loc[stay_box.value, "first_careunit"] == unit


def test_attention_head_and_direction_controls(default_cohort, picks):
    at = _app(default_cohort, stay=str(picks["a"]))
    head = [s for s in at.selectbox if s.label == "Head"][0]
    head.set_value(1).run()
    _no_failures(at)
    direction = at.button_group[0]
    direction.set_value("sig_to_ehr").run()
    _no_failures(at)
    assert at.button_group[0].value == "sig_to_ehr"


@pytest.mark.parametrize("which", ["a", "no_ecg"])
def test_input_attribution_on_request(default_cohort, picks, which):
    at = _app(default_cohort, stay=str(picks[which]))
    assert not any("Integrated Gradients (captum)" in c.value for c in at.caption), "not computed until asked"
    at.toggle(key="show_attribution").set_value(True).run()
    _no_failures(at)
    caption = " ".join(c.value for c in at.caption)
    assert "Integrated Gradients (captum)" in caption and "add up to prediction" in caption
    if which == "no_ecg":
        assert any("none to attribute" in i.value for i in at.info)


def test_model_card_page(default_cohort):
    at = _app(default_cohort)
    at.switch_page("pages/model_card.py").run()
    _no_failures(at)
    assert at.title[0].value == "Model and cohort"
    assert {m.label for m in at.metric} >= {"Test MAE", "Interval coverage"}


def test_a_broken_run_is_reported_not_fatal(default_cohort, tmp_path, monkeypatch):
    import shutil

    from lemof.catalog import list_runs

    broken = tmp_path / "runs" / "zz-broken"
    shutil.copytree(SHIPPED_RUN, broken)
    (broken / "model.safetensors").write_bytes(b"garbage")
    monkeypatch.setenv("LEMOF_RUNS", str(tmp_path / "runs"))
    at = _app(default_cohort, run="zz-broken")
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "zz-broken" in errors and "corrupt" in errors
    # The good run stays on offer; switching to it in the sidebar brings the page back.
    shipped = [r for r in list_runs("synthetic")[0] if r.path == SHIPPED_RUN][0]
    [s for s in at.sidebar.selectbox if s.label.startswith("Model")][0].set_value(shipped).run()
    _no_failures(at)
    assert any(m.label == "Predicted LOS" for m in at.metric)
    assert SHIPPED_RUN.name in at.sidebar.success[0].value


def test_first_use_generates_the_cohort_with_a_progress_bar(tmp_path, monkeypatch):
    import lemof.catalog

    monkeypatch.setenv("LEMOF_CACHE_DIR", str(tmp_path / "fresh-cache"))
    monkeypatch.setattr(lemof.catalog, "DEFAULT_SYNTHETIC_N", 60)  # a small cohort keeps the test fast
    at = _app(None)
    _no_failures(at)
    generated = tmp_path / "fresh-cache" / "cohorts" / "synthetic-n60-seed0-v1"
    assert (generated / "provenance.json").exists()
    assert any(m.label == "Predicted LOS" for m in at.metric)
    assert "synthetic-n60-seed0" in at.sidebar.success[0].value


def test_broken_cohort_and_incompatible_run_are_reported(default_cohort, tmp_path, monkeypatch):
    import json
    import shutil

    from conftest import copy_bundle, inject_nan

    bad = copy_bundle(default_cohort, tmp_path / "nan-cohort", link=("signal.npy",))
    inject_nan(bad)
    monkeypatch.setenv("LEMOF_COHORTS", str(bad))
    at = _app(default_cohort, cohort=f"dir:{bad}")
    assert not at.exception
    assert "NaN" in " ".join(e.value for e in at.error)

    run = tmp_path / "runs" / "future-run"
    shutil.copytree(SHIPPED_RUN, run)
    cfg = json.loads((run / "config.json").read_text())
    cfg["model"]["sig_encoder"] = "wavenet9"
    (run / "config.json").write_text(json.dumps(cfg))
    monkeypatch.setenv("LEMOF_RUNS", str(tmp_path / "runs"))
    at = _app(default_cohort, run="future-run")
    assert not at.exception
    assert "unknown sig encoder 'wavenet9'" in " ".join(e.value for e in at.error)


def test_physionet_cohort_with_its_own_model(default_cohort, physionet_cohort):
    stays = open_bundle(physionet_cohort).stays
    test = stays[stays["split"] == "test"]
    for sid in (int(test["stay_id"].iloc[0]), int(test["stay_id"].iloc[-1])):
        at = _app(default_cohort, cohort="physionet2012", stay=str(sid))
        _no_failures(at)
        status = at.sidebar.success[0].value
        assert SHIPPED_PHYSIONET_RUN.name in status and "physionet2012-setab" in status
        assert "Silva I" in " ".join(c.value for c in at.sidebar.caption), "the data citation is shown"
        assert [s for s in at.selectbox if s.label.startswith("ICU stay")][0].value == sid
        assert [m for m in at.metric if m.label == "Bedside"][0].value in ("recorded", "absent")
    # only models of the cohort's own family are offered
    options = [s for s in at.sidebar.selectbox if s.label.startswith("Model")][0].options
    assert options and all("physionet2012" in o for o in options)
