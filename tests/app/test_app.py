"""AppTest: the pages run for several stays, a stay without ECG, bad links and bad files, and
show what the user should see (values, warnings, the right model after a cohort switch)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from testkit.apptest import charts as _charts, no_failures as _no_failures
from testkit.paths import REPO, SHIPPED_PHYSIONET_RUN, SHIPPED_RUN
from lemof import open_bundle

TIMEOUT = 120


def _app(default_cohort, **params) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _array(value) -> np.ndarray:
    """A data array of a Plotly figure's JSON: a list, or Plotly's typed array {dtype, bdata, shape}."""
    if isinstance(value, dict) and "bdata" in value:
        import base64

        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(v) for v in str(shape).split(",")]) if shape else flat
    return np.asarray(value, dtype=float)


def _sidebar_box(at: AppTest, label: str):
    return [s for s in at.sidebar.selectbox if s.label.startswith(label)][0]


def _metric(at: AppTest, label: str) -> str:
    return [m for m in at.metric if m.label == label][0].value


PREDICTED = "Predicted length of stay"


def _open(at: AppTest, view: str) -> AppTest:
    """Open one of the case page's views (the segmented control under the first screen)."""
    at.button_group(key="case_view").set_value(view).run()
    return at


def _reasons(at: AppTest) -> str:
    return [m.value for m in at.markdown if m.value.startswith("Starting point")][0]


def _signal_line(at: AppTest, label: str) -> str:
    return [m.value for m in at.markdown if m.value.startswith(f"**{label}")][0]


@pytest.fixture(scope="module")
def picks(default_cohort) -> dict[str, int]:
    stays = open_bundle(default_cohort).stays
    test = stays[stays["split"] == "test"]
    with_sig = test.loc[test["has_signal"], "stay_id"].to_numpy()
    return {"a": int(with_sig[0]), "b": int(with_sig[-1]), "no_ecg": int(test.loc[~test["has_signal"], "stay_id"].iloc[0])}


def test_app_opens_on_case_review_with_the_shipped_model(default_cohort):
    at = _app(default_cohort)
    _no_failures(at)
    status = at.sidebar.success[0].value
    assert SHIPPED_RUN.name in status and "synthetic-n4000-seed0" in status
    assert [m.label for m in at.metric] == [PREDICTED], "a prospective review: no outcome until asked for"
    assert any(m.value.startswith("**90 % interval:") for m in at.markdown)
    assert any("ICU admission to ICU discharge" in c.value for c in at.caption), "what LOS means here"
    assert "everything else" in _reasons(at) and "the predicted stay" in _reasons(at), "the reasons, in days, on the first screen"
    first_screen = " ".join([m.value for m in at.markdown] + [c.value for c in at.caption])
    for jargon in ("log1p", "ϕ", "meta-learner"):
        assert jargon not in first_screen
    assert not _charts(at), "nothing below the first screen is drawn until a view is opened"
    _open(at, "Model internals")
    _no_failures(at)
    charts = _charts(at)
    assert len(charts) >= 3 and all(c["alt"] for c in charts.values()), "every chart carries a text alternative"


@pytest.mark.parametrize("which", ["a", "b", "no_ecg"])
def test_case_review_for_several_stays(default_cohort, picks, which):
    at = _app(default_cohort, stay=str(picks[which]))
    _no_failures(at)
    assert not at.warning
    chosen = [s for s in at.selectbox if s.label.startswith("ICU stay")][0]
    assert chosen.value == picks[which]
    assert ("none recorded" in _signal_line(at, "ECG")) is (which == "no_ecg")
    views = at.button_group(key="case_view").options
    assert ("ECG" in views) is (which != "no_ecg"), "a stay without an ECG has no ECG view (no empty column)"
    _open(at, "Model internals")
    _no_failures(at)
    captions = " ".join(c.value for c in at.caption)
    assert "level-stacker output" in captions and "prediction" in captions
    charts = _charts(at)
    waterfall = [c["figure"] for t, c in charts.items() if t.startswith("How the prediction")][0]
    legend = [t.get("name", "") for t in waterfall["data"] if t.get("name")]
    assert any(n.startswith("EHR heads") for n in legend) and any(n.startswith("cross-modal head") for n in legend)
    bar_labels = waterfall["data"][0]["y"]
    assert any(str(l).startswith("Cross-modal fusion head") for l in bar_labels)
    if which == "no_ecg":
        assert "absent (ECG not recorded)" in json.dumps(waterfall["layout"]), "absent heads are named, not drawn as zero"
        assert not any(str(l).startswith("ECG") for l in bar_labels)
        assert any("no ECG data" in i.value or "No cross-modal attention" in i.value for i in at.info)
    else:
        assert any(t.startswith("EHR → ECG") for t in charts), "the attention map is drawn"
    assert at.query_params["stay"] == [str(picks[which])] or at.query_params["stay"] == str(picks[which])


def test_waterfall_caption_names_three_head_kinds_that_add_up(default_cohort, picks):
    at = _open(_app(default_cohort, stay=str(picks["a"])), "Model internals")
    caption = [c.value for c in at.caption if c.value.startswith("Waterfall on the log1p-days scale")][0]
    import re

    numbers = {k: float(v) for k, v in re.findall(r"(modality-level|cross-modal|level-specific) heads ([+-][0-9.]+)", caption)}
    assert set(numbers) == {"modality-level", "cross-modal", "level-specific"}
    bias = float(re.search(r"bias ([+-][0-9.]+)", caption).group(1))
    prediction = float(re.search(r"prediction ([0-9.]+) log1p-days", caption).group(1))
    assert bias + sum(numbers.values()) == pytest.approx(prediction, abs=2e-3)


@pytest.mark.parametrize("bad", ["abc", "123", "-1"])
def test_bad_stay_link_warns_and_the_app_keeps_working(default_cohort, bad):
    at = _app(default_cohort, stay=bad)
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert bad in warnings and "Showing another stay" in warnings
    assert any(m.label == PREDICTED for m in at.metric)


def test_unknown_cohort_and_model_in_a_link_are_reported(default_cohort):
    at = _app(default_cohort, cohort="nonsense", run="nonsense")
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "'nonsense'" in warnings and "cohort" in warnings and "model" in warnings
    assert "Showing **Synthetic ICU cohort" in warnings and f"Showing **{SHIPPED_RUN.name}**" in warnings
    assert SHIPPED_RUN.name in at.sidebar.success[0].value
    assert at.query_params["cohort"] in ("synthetic", ["synthetic"]), "the URL names what is shown"


def test_sidebar_shows_the_active_model_after_a_cohort_switch(default_cohort, physionet_cohort):
    at = _app(default_cohort)
    assert _sidebar_box(at, "Model").value == SHIPPED_RUN.name
    _sidebar_box(at, "Cohort").set_value("physionet2012").run()
    _no_failures(at)
    assert _sidebar_box(at, "Model").value == SHIPPED_PHYSIONET_RUN.name
    assert SHIPPED_PHYSIONET_RUN.name in at.sidebar.success[0].value
    assert at.query_params["run"] in (SHIPPED_PHYSIONET_RUN.name, [SHIPPED_PHYSIONET_RUN.name])
    at.switch_page("pages/model_card.py").run()
    _no_failures(at)
    assert _sidebar_box(at, "Model").value == SHIPPED_PHYSIONET_RUN.name, "the model card page too"
    assert SHIPPED_PHYSIONET_RUN.name in " ".join(m.value for m in at.markdown)
    # the PhysioNet default is LeMoF with the tabular head: named in the summary, its weight and settings shown
    assert "tabular head (LightGBM)" in " ".join(m.value for m in at.markdown)
    assert any(s.value.startswith("Tabular head: what training cross-validation chose") for s in at.subheader)
    _sidebar_box(at, "Cohort").set_value("synthetic").run()
    assert _sidebar_box(at, "Model").value == SHIPPED_RUN.name and SHIPPED_RUN.name in at.sidebar.success[0].value


def test_picking_stays_with_the_widgets(default_cohort, picks):
    at = _app(default_cohort)
    stay_box = [s for s in at.selectbox if s.label.startswith("ICU stay")][0]
    stay_box.set_value(picks["no_ecg"]).run()
    _no_failures(at)
    assert "none recorded" in _signal_line(at, "ECG")
    stays = open_bundle(default_cohort).stays.set_index("stay_id")
    unit = stays.loc[picks["a"], "first_careunit"]
    at.multiselect[0].set_value([unit]).run()
    _no_failures(at)
    stay_box = [s for s in at.selectbox if s.label.startswith("ICU stay")][0]
    expected = int(((stays["split"] == "test") & (stays["first_careunit"] == unit)).sum())
    assert stay_box.label.startswith(f"ICU stay ({expected:,} match")
    assert stays.loc[stay_box.value, "first_careunit"] == unit


def test_ecg_filter_lists_only_stays_with_or_without_an_ecg(default_cohort):
    at = _app(default_cohort)
    stays = open_bundle(default_cohort).stays
    test = stays[stays["split"] == "test"]
    radio = [r for r in at.radio if r.label == "ECG"][0]
    for choice, has in (("absent", False), ("recorded", True)):
        radio.set_value(choice).run()
        _no_failures(at)
        box = [s for s in at.selectbox if s.label.startswith("ICU stay")][0]
        assert box.label.startswith(f"ICU stay ({int((test['has_signal'] == has).sum()):,} match")
        assert bool(stays.set_index("stay_id").loc[box.value, "has_signal"]) is has
        assert ("none recorded" in _signal_line(at, "ECG")) is (not has)
        radio = [r for r in at.radio if r.label == "ECG"][0]


def test_attention_controls_change_the_heatmap(default_cohort, picks):
    at = _open(_app(default_cohort, stay=str(picks["a"])), "Model internals")

    def heatmap():
        return [c["figure"] for t, c in _charts(at).items() if "→" in t and ("EHR →" in t or "→ EHR" in t)][0]

    mean = heatmap()
    assert "mean of 4 heads" in mean["layout"]["title"]["text"]
    [s for s in at.selectbox if s.label == "Head"][0].set_value(1).run()
    _no_failures(at)
    head2 = heatmap()
    assert "head 2 of 4" in head2["layout"]["title"]["text"]
    z_mean, z_head2 = _array(mean["data"][0]["z"]), _array(head2["data"][0]["z"])
    assert z_mean.shape == z_head2.shape and not np.allclose(z_mean, z_head2), "another head shows other weights"
    assert np.allclose(z_mean.sum(axis=1), 1.0, atol=1e-4), "each EHR hour's attention is a distribution"
    at.button_group(key="attn_direction").set_value("sig_to_ehr").run()
    _no_failures(at)
    reverse = heatmap()
    assert reverse["layout"]["title"]["text"].startswith("ECG → EHR")
    assert _array(reverse["data"][0]["z"]).shape == z_head2.shape[::-1], "rows are now the ECG tokens"


def _count_integrated_gradients(monkeypatch) -> list:
    """Fresh shared results (no stay computed yet) and a list that records every Integrated Gradients pass."""
    import lemof.explain.results as results_module
    from ui import loaders

    loaders._cohort_results.clear()
    calls: list = []
    real = results_module.input_attributions

    def counted(run, bundle, stay_id, **kw):
        calls.append(int(stay_id))
        return real(run, bundle, stay_id, **kw)

    monkeypatch.setattr(results_module, "input_attributions", counted)
    return calls


@pytest.mark.parametrize("which", ["a", "no_ecg"])
def test_reasons_are_read_and_gradients_computed_only_for_the_view_that_needs_them(default_cohort, picks, which, monkeypatch):
    from lemof.report import case_report_html
    from ui import loaders

    calls = _count_integrated_gradients(monkeypatch)
    at = _app(default_cohort, stay=str(picks[which]))
    _no_failures(at)
    assert "everything else" in _reasons(at)
    assert calls == [], "the reasons of the run's own test stays are stored (stay_reasons.json.gz): no Integrated Gradients to open the page"
    _open(at, "Inputs over time")
    _no_failures(at)
    assert calls == [picks[which]], "asked once: computed once"
    caption = " ".join(c.value for c in at.caption)
    assert "Integrated Gradients" in caption and "add up" in caption
    if which == "no_ecg":
        assert any("none to attribute" in i.value for i in at.info)
    # another rerun and the case report reuse the same computation
    at.run()
    html = case_report_html(loaders.stay(loaders.run(SHIPPED_RUN), loaders.bundle(default_cohort), picks[which]))
    assert "Why this prediction" in html and "Inputs over time" in html
    assert calls == [picks[which]], "the report reuses what the page computed"


def test_model_card_page(default_cohort):
    at = _app(default_cohort)
    at.switch_page("pages/model_card.py").run()
    _no_failures(at)
    assert at.title[0].value == "Model and cohort"
    assert {m.label for m in at.metric} >= {"Test MAE", "Interval coverage", "AUROC, LOS > 7 days"}
    split_table = [d.value for d in at.dataframe if "Split" in d.value.columns][0]
    assert list(split_table["Split"]) == ["Training", "Validation", "Test (held out)"]
    assert all(v.endswith(" %") for v in split_table["With ECG"]), "shares in percent, in words"
    weights = [d.value for d in at.dataframe if "with ECG" in d.value.columns][0]
    assert "Cross-modal fusion head (cross-modal)" in weights.index and "without ECG" in weights.columns
    assert SHIPPED_RUN.name in at.sidebar.success[0].value, "the sidebar is drawn on every page"


def test_a_broken_run_is_reported_not_fatal(default_cohort, tmp_path, monkeypatch):
    import shutil

    broken = tmp_path / "runs" / "zz-broken"
    shutil.copytree(SHIPPED_RUN, broken)
    (broken / "model.safetensors").write_bytes(b"garbage")
    monkeypatch.setenv("LEMOF_RUNS", str(tmp_path / "runs"))
    at = _app(default_cohort, run="zz-broken")
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "zz-broken" in errors and "changed or damaged after training" in errors
    # The good run stays on offer; switching to it in the sidebar brings the page back.
    _sidebar_box(at, "Model").set_value(SHIPPED_RUN.name).run()
    _no_failures(at)
    assert any(m.label == PREDICTED for m in at.metric)
    assert SHIPPED_RUN.name in at.sidebar.success[0].value


def test_first_use_generates_the_cohort_with_a_progress_bar(tmp_path, monkeypatch):
    import lemof.runs.catalog

    monkeypatch.setenv("LEMOF_CACHE_DIR", str(tmp_path / "fresh-cache"))
    monkeypatch.setattr(lemof.runs.catalog, "DEFAULT_SYNTHETIC_N", 60)  # a small cohort keeps the test fast
    at = _app(None)
    _no_failures(at)
    generated = tmp_path / "fresh-cache" / "cohorts" / "synthetic-n60-seed0-v1"
    assert (generated / "provenance.json").exists()
    assert any(m.label == PREDICTED for m in at.metric)
    assert "synthetic-n60-seed0" in at.sidebar.success[0].value


def test_broken_cohort_and_incompatible_run_are_reported(default_cohort, tmp_path, monkeypatch):
    import shutil

    from testkit.cohorts import copy_bundle, inject_nan

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
    for has_signal in (True, False):
        pick = test[test["has_signal"] == has_signal]
        assert not pick.empty, f"the PhysioNet test split has stays with has_signal={has_signal}"
        sid = int(pick["stay_id"].iloc[0])
        at = _app(default_cohort, cohort="physionet2012", stay=str(sid))
        _no_failures(at)
        status = at.sidebar.success[0].value
        assert SHIPPED_PHYSIONET_RUN.name in status and "physionet2012-setab" in status
        assert "Silva I" in " ".join(c.value for c in at.sidebar.caption), "the data citation is shown"
        assert [s for s in at.selectbox if s.label.startswith("ICU stay")][0].value == sid
        assert any("to the end of the hospitalisation" in c.value for c in at.caption), "PhysioNet's LOS runs to hospital discharge"
        lines = [m.value for m in at.markdown if m.value.startswith("**Bedside series**")]
        assert bool(lines) is (not has_signal), "a stay without bedside series says so; one with them has no such line"
        assert "everything else" in _reasons(at)
    # only models of the cohort's own family are offered
    options = _sidebar_box(at, "Model").options
    assert options and all("physionet2012" in o for o in options)


def test_reasons_what_if_similar_stays_and_report_button(default_cohort, picks, monkeypatch):
    _count_integrated_gradients(monkeypatch)
    at = _app(default_cohort, stay=str(picks["a"]))
    _no_failures(at)
    block = _reasons(at)
    assert "the model's average prediction for 32 random training stays with an ECG" in block, "the starting point, as a prediction in days"
    items = [line for line in block.splitlines() if line[:1].isdigit()]
    assert 2 <= len(items) <= 6 and items[-1].split(". ", 1)[1].startswith("Everything else"), "up to five reasons, then everything else"
    assert "the predicted stay" in items[0]
    predicted = _metric(at, PREDICTED)  # e.g. "4.4 days"
    assert block.rstrip("*").endswith(f"= {predicted.split()[0]} d"), "the sum ends at the prediction"
    import re

    total_line = block.splitlines()[-1].strip("*")  # "2.3 d + 1.0 − 0.5 … everything else = 4.4 d"
    terms = [float(x) for x in re.findall(r"^(\d+\.\d)", total_line)] + [
        (1 if sign == "+" else -1) * float(x) for sign, x in re.findall(r"([+−]) (\d+\.\d)", total_line)
    ]
    assert abs(sum(terms) - float(predicted.split()[0])) < 1e-9 + 0.05, f"the shown numbers add up: {total_line}"
    assert any(m.value.startswith("**Similar stays**: The 10 most similar training stays") for m in at.markdown)
    assert not any("and stayed" in m.value for m in at.markdown), "a prospective review: this stay's outcome is not shown"
    assert [b for b in at.get("download_button")], "the case report can be downloaded"
    _open(at, "Similar stays")
    _no_failures(at)
    similar = [d.value for d in at.dataframe if "similarity" in d.value.columns][0]
    assert len(similar) == 10 and similar["open in case review"].str.contains("stay=").all()
    assert {"percentile", "observed LOS (days)", "care unit", "age"} <= set(similar.columns)
    assert similar["percentile"].between(0, 100).all()
    assert any(m.value.startswith("**What they share**") for m in at.markdown)
    assert any("Percentile" in c.value and "random" in c.value for c in at.caption)
    # what-if: hide the ECG
    _open(at, "What if")
    at.checkbox[0].check()
    [b for b in at.button if b.label == "Apply"][0].click().run()
    _no_failures(at)
    text = " ".join(m.value for m in at.markdown)
    assert "**What if** biosignal hidden" in text and "instead of" in text
    titles = [(json.loads(c.proto.spec)["layout"].get("title") or {}).get("text", "") for c in at.get("plotly_chart")]
    assert len(titles) >= 2, "the explanations before / after the edit"
    # an invalid edit: a value far outside the limits
    box = [s for s in at.selectbox if s.label == "Variable"][0]
    box.set_value(box.options[1])
    at.checkbox[0].uncheck()
    [n for n in at.number_input if n.label == "Value / shift"][0].set_value(1e6)
    [b for b in at.button if b.label == "Apply"][0].click().run()
    assert not at.exception
    assert any("outside the physiological limits" in e.value for e in at.error)


def test_outcomes_are_hidden_until_asked_for_and_the_choice_is_remembered(default_cohort, picks, tmp_path, monkeypatch):
    import lemof.deploy.preferences as prefs

    monkeypatch.setattr(prefs, "preferences_path", lambda: tmp_path / "preferences.json")  # a fresh preferences file (AppTest runs in this process)
    at = _app(default_cohort, stay=str(picks["a"]))
    _no_failures(at)
    stays = open_bundle(default_cohort).stays.set_index("stay_id")
    observed = f"{stays.loc[picks['a'], 'los_days']:.1f}"
    box = [s for s in at.selectbox if s.label.startswith("ICU stay")][0]
    assert "observed" not in box.format_func(box.value) and not any(s.label.startswith("Observed LOS") for s in at.slider)
    assert [m.label for m in at.metric] == [PREDICTED]
    at.toggle(key="show_outcomes").set_value(True).run()
    _no_failures(at)
    assert _metric(at, "Observed length of stay") == f"{observed} days"
    box = [s for s in at.selectbox if s.label.startswith("ICU stay")][0]
    assert box.format_func(box.value).endswith(f"{observed} d observed")
    assert any(s.label.startswith("Observed LOS") for s in at.slider), "a retrospective review can filter by outcome"
    assert any("and stayed" in m.value for m in at.markdown)
    again = _app(default_cohort, stay=str(picks["a"]))  # a new session of the same user
    assert again.toggle(key="show_outcomes").value is True, "remembered per user"
    assert any(m.label == "Observed length of stay" for m in again.metric)
