"""The case review's first screen: stored reasons (drivers and ECG measurements), the reasons in
days that add up, where in the biosignal, and the per-user outcomes preference."""

from __future__ import annotations

import gzip
import json
import shutil
import multiprocessing

import numpy as np
import pytest

from lemof import load_run, open_bundle


@pytest.fixture(scope="module")
def stored_run(tiny_run, tiny_cohort, stay_ids, tmp_path_factory):
    """A copy of the tiny run with the reasons of its test stays stored (what ``precompute`` writes)."""
    from lemof.explain.results import CohortResults
    from lemof.explain.stay_reasons import compute_stay_reasons
    from lemof.runs.stay_reasons_file import STAY_REASONS_FILE, write_stay_reasons

    path = tmp_path_factory.mktemp("stored") / "run"
    shutil.copytree(tiny_run, path)
    run, bundle = load_run(path), open_bundle(tiny_cohort)
    reasons = compute_stay_reasons(CohortResults(run, bundle), stay_ids=[stay_ids["with_signal"], stay_ids["without_signal"]])
    write_stay_reasons(path / STAY_REASONS_FILE, reasons, weights_sha256=run.weights_sha256, fingerprint=bundle.fingerprint)
    return path


def test_stored_reasons_are_the_computed_ones(stored_run, tiny_run, tiny_cohort, stay_ids):
    from lemof.explain.results import CohortResults

    bundle = open_bundle(tiny_cohort)
    stored = CohortResults(load_run(stored_run), bundle)
    computed = CohortResults(load_run(tiny_run), bundle)
    for which in ("with_signal", "without_signal"):
        a, b = stored.stay(stay_ids[which]), computed.stay(stay_ids[which])
        assert a.reasons_stored() and not b.reasons_stored()
        da, db = a.attribute("drivers"), b.attribute("drivers")
        assert not a.computed("input_gradients"), "a stored stay runs no Integrated Gradients for its reasons"
        assert da == db, "JSON keeps every float64: the stored drivers are the computed ones, exactly"
        assert abs(da.completeness_gap) <= da.tolerance
        assert a.ecg == b.ecg


def test_precompute_computes_afresh_even_over_a_stored_file(stored_run, tiny_cohort, stay_ids, monkeypatch):
    """Writing the reasons again must compute them, not copy the file it replaces."""
    import lemof.explain.results as results_module
    from lemof.explain.results import CohortResults
    from lemof.explain.stay_reasons import compute_stay_reasons

    calls = []
    real = results_module.input_attributions
    monkeypatch.setattr(results_module, "input_attributions", lambda *a, **k: calls.append(1) or real(*a, **k))
    cohort = CohortResults(load_run(stored_run), open_bundle(tiny_cohort))
    assert cohort.stay(stay_ids["with_signal"]).reasons_stored()
    compute_stay_reasons(cohort, stay_ids=[stay_ids["with_signal"]])
    assert calls == [1], "Integrated Gradients ran: the stored file was not read"


def test_reasons_of_other_weights_or_a_corrupt_file_are_ignored_with_a_warning(stored_run, tiny_cohort, stay_ids, tmp_path):
    from lemof.explain.results import CohortResults
    from lemof.runs.stay_reasons_file import STAY_REASONS_FILE

    bundle = open_bundle(tiny_cohort)
    other = tmp_path / "other"
    shutil.copytree(stored_run, other)
    data = json.loads(gzip.decompress((other / STAY_REASONS_FILE).read_bytes()))
    data["weights_sha256"] = "0" * 64
    (other / STAY_REASONS_FILE).write_bytes(gzip.compress(json.dumps(data).encode()))
    run = load_run(other)
    stay = CohortResults(run, bundle).stay(stay_ids["with_signal"])
    assert not stay.reasons_stored()
    assert any("other weights" in w for w in run.warnings)
    (other / STAY_REASONS_FILE).write_bytes(b"\x1f\x8b not gzip at all")
    run = load_run(other)
    assert not CohortResults(run, bundle).stay(stay_ids["with_signal"]).reasons_stored()
    assert any("unreadable" in w for w in run.warnings)
    # and the drivers are computed instead, the same way
    assert CohortResults(run, bundle).stay(stay_ids["with_signal"]).attribute("drivers").method == "drivers"


@pytest.mark.parametrize("which", ["with_signal", "without_signal"])
def test_the_reasons_add_up_as_shown(stored_run, tiny_cohort, stay_ids, which):
    """Starting point + the named effects + everything else = the prediction, in the one-decimal
    numbers a reader sees (each rounded number is within 0.05 of its value, so the shown sum is exact
    by construction of 'everything else'; the test checks that construction)."""
    from lemof.explain.case_summary import reasons
    from lemof.explain.results import CohortResults

    stay = CohortResults(load_run(stored_run), open_bundle(tiny_cohort)).stay(stay_ids[which])
    found = reasons(stay)
    shown = round(found.start_days, 1) + sum(round(r.days, 1) for r in found.items) + found.rest_days
    assert shown == pytest.approx(round(stay.prediction.los_days, 1), abs=1e-9)
    assert found.sum_text.endswith(f"= {stay.prediction.los_days:.1f} d")
    assert 1 <= len(found.items) <= 5 and all(abs(r.days) >= 0.05 for r in found.items)
    assert ("with " in found.start_text) == (which == "with_signal")
    text = " ".join(found.lines()) + found.sum_text
    assert "log1p" not in text and "ϕ" not in text and "meta-learner" not in text


def test_tabular_reasons_are_in_days_and_add_up(gbm_run, tiny_cohort, stay_ids):
    from lemof.explain.case_summary import reasons
    from lemof.explain.results import CohortResults

    stay = CohortResults(load_run(gbm_run), open_bundle(tiny_cohort)).stay(stay_ids["with_signal"])
    found = reasons(stay)
    assert found.method == "TreeSHAP"
    shown = round(found.start_days, 1) + sum(round(r.days, 1) for r in found.items) + found.rest_days
    assert shown == pytest.approx(round(stay.prediction.los_days, 1), abs=1e-9)


def test_where_in_the_signal_leaves_the_padded_edges_out():
    from lemof.explain.signal_where import attention_peak, attribution_peak, story

    seconds = (np.arange(1000) + 0.5) / 100  # 10 s at 100 Hz
    sig = np.zeros((2, 1000))
    sig[1, -20:] = 5.0  # the last 0.2 s: inside the padded edge
    sig[0, 300:350] = 1.0  # 3.0-3.5 s, lead "II"
    where = attribution_peak(sig, seconds, ["I", "II"])
    assert where.lo < 3.5 and where.hi > 3.0 and where.leads[0] == "I", "the padded edge is not 'where': the window holds 3.0-3.5 s"
    weights = np.full(125, 0.01)
    weights[-1] = 1.0  # attention at the very edge is left out too
    weights[90] = 0.5
    att_s = (np.arange(125) + 0.5) * 0.08
    peak = attention_peak(weights.tolist(), att_s.tolist())
    assert peak == pytest.approx(att_s[90])
    text = story("ECG", where, peak)
    assert "peaks elsewhere" in text and "need not agree" in text
    same = story("ECG", where, (where.lo + where.hi) / 2)
    assert "same window" in same


def _prefer_outcomes(user: str) -> None:
    from lemof.deploy.preferences import set_preference

    set_preference(user, "show_outcomes", True)


def test_outcomes_preference_is_per_user_and_survives_concurrent_writers(tmp_path, monkeypatch):
    from lemof.deploy import preferences as prefs

    monkeypatch.setenv("LEMOF_CACHE_DIR", str(tmp_path))
    assert prefs.preference("a@x.org", "show_outcomes", False) is False
    prefs.set_preference("a@x.org", "show_outcomes", True)
    assert prefs.preference("a@x.org", "show_outcomes", False) is True
    assert prefs.preference("b@x.org", "show_outcomes", False) is False, "one user's choice is not another's"
    assert "a@x.org" not in prefs.preferences_path().read_text(), "no sign-in name in the file"
    users = [f"user{i}@x.org" for i in range(24)]
    with multiprocessing.get_context("fork").Pool(4) as pool:  # separate processes: only flock keeps them from losing writes
        pool.map(_prefer_outcomes, users)
    assert all(prefs.preference(u, "show_outcomes", False) for u in users), "no write lost"
    with pytest.raises(TypeError):
        prefs.set_preference("a@x.org", "show_outcomes", "yes")
    with pytest.raises(KeyError):
        prefs.set_preference("a@x.org", "no_such_preference", True)
    prefs.preferences_path().write_text("{not json")
    assert prefs.preference("a@x.org", "show_outcomes", False) is False, "a corrupt file reads as defaults"


def test_bedside_channels_are_named_by_what_they_showed():
    from lemof.explain.bedside import channel_parts, channel_text

    hr = np.array([90, 110, 120, np.nan, 95, 130], dtype=float)  # half-hour bins: 3 above 100 bpm = 1.5 h
    assert channel_text("Heart rate", "bpm", 0, (">", 100, "tachycardia"), hr, 0.5, 3.0) == "Heart rate above 100 bpm for 1.5 of 2.5 h recorded (tachycardia)"
    bp = np.array([80, 75, 90], dtype=float)
    assert channel_text("Arterial mean BP", "mmHg", 0, ("<", 65, "hypotension"), bp, 0.5, 1.5) == "Arterial mean BP never below 65 mmHg (lowest 75 mmHg)"
    assert channel_text("Urine output", "mL", 0, None, np.array([40.0, 60, 120]), 0.5, 1.5) == "Urine output median 60 mL (40–120)"
    assert channel_text("O2 saturation", "%", 0, ("<", 90, "desaturation"), np.full(4, np.nan), 0.5, 2.0) == "O2 saturation not recorded in the first 2 h"
    sig_attr = np.array([[0.1, 0.2, -0.05], [0.3, -0.1, 0.0]])
    physical = np.array([[110.0, 120, 90], [60, 62, 70]])
    seconds = (np.arange(3) + 0.5) * 1800
    parts = channel_parts(sig_attr, ["HR", "MAP"], physical, "physionet2012", ["HR", "MAP"], seconds, "Bedside")
    assert [round(a, 6) for _, a, _ in parts] == [0.25, 0.2], "each channel's part is its attribution summed over time"
    assert sum(a for _, a, _ in parts) == pytest.approx(sig_attr.sum(), abs=1e-12), "the channels add up to the whole series"
    assert parts[1][2] == "Bedside arterial mean BP below 65 mmHg for 1 of 1.5 h recorded (hypotension)"
