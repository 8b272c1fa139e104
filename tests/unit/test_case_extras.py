"""Drivers in words, what-if, similar stays and the case report."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from testkit.paths import REPO
from lemof import ConfigError, input_attributions, load_run, open_bundle, predict_stay, stay_attention


@pytest.fixture(scope="module")
def tiny(tiny_run, tiny_cohort):
    return load_run(tiny_run), open_bundle(tiny_cohort)


@pytest.mark.parametrize("which", ["with_signal", "without_signal"])
def test_drivers_add_up_to_the_prediction_in_days(tiny, stay_ids, which):
    from lemof.explain.drivers import rest_days, secant_slope, shown, sum_text
    from lemof.explain.results import CohortResults

    run, bundle = tiny
    results = CohortResults(run, bundle).stay(stay_ids[which])
    attr, drivers = results.input_gradients, results.attribute("drivers")
    assert attr.reference_stays is not None and len(attr.reference_stays) == len(set(attr.reference_stays)) > 1
    train = set(bundle.stays.loc[bundle.stays["split"] == "train", "stay_id"].astype(int))
    assert set(attr.reference_stays) <= train, "the reference population is training stays"
    named = shown(drivers)
    assert drivers.base + sum(drivers.values[i] for i in named) + rest_days(drivers) == pytest.approx(results.prediction.los_days, abs=0.01)
    assert drivers.base == pytest.approx(math.expm1(attr.reference_output))
    s = secant_slope(attr.output, attr.reference_output)
    # every input (measurement timing included) is one part: they add up to the prediction minus the reference, up to captum's error
    assert drivers.total == pytest.approx(s * attr.total, rel=1e-9, abs=1e-9)
    assert s * attr.total == pytest.approx(math.expm1(attr.output) - drivers.base + drivers.detail["integration_error_days"], abs=1e-4)  # captum works in float32
    sizes = [abs(drivers.values[i]) for i in named]
    assert sizes == sorted(sizes, reverse=True) and len(named) <= 5
    for i in named:
        assert abs(drivers.values[i]) >= 0.05 and drivers.groups[i] != "timing"
        assert ("lengthened" in drivers.texts[i]) == (drivers.values[i] > 0) and drivers.texts[i].endswith(".")
    assert (attr.sig is None) == (which == "without_signal") and not any(g == "signal" for g in drivers.groups if which == "without_signal")
    assert f"= {results.prediction.los_days:.1f} d" in sum_text(drivers)


def test_not_measured_only_for_unmeasured_variables(tiny, stay_ids):
    from lemof.explain.results import CohortResults

    run, bundle = tiny
    for sid in (stay_ids["with_signal"], stay_ids["without_signal"], stay_ids["another"]):
        drivers = CohortResults(run, bundle).stay(sid).attribute("drivers")
        mask = np.asarray(bundle.ehr_mask[bundle.row_of(sid)]).astype(bool)
        labels = {f["label"]: bundle.ehr_feature_names.index(f["name"]) for f in bundle.features["ehr"]["features"]}
        ehr = [(g, n, t) for g, n, t in zip(drivers.groups, drivers.names, drivers.texts) if g in ("value", "not measured")]
        assert len(ehr) == len(bundle.ehr_feature_names)
        for kind, name, text in ehr:
            assert (kind == "not measured") == (not mask[:, labels[name]].any()), text
            assert ("not measured" in text) == (kind == "not measured") and ("at hour" in text) == (kind == "value")
        assert sum(g == "timing" for g in drivers.groups) == sum(g == "value" for g in drivers.groups), "one timing part per measured variable"


def test_a_value_at_the_reference_mean_is_not_a_driver(tiny, stay_ids):
    """A variable set, at every hour, to the reference stays' mean gets (nearly) no effect; the
    same variable set to the top of its range does: the check can fail both ways."""
    from lemof.explain.drivers import drivers_attribution
    from lemof.explain.input_attribution import reference_background
    from lemof.explain.whatif import Edit, edited_stay

    run, bundle = tiny
    pre = run.preprocessor
    sid = stay_ids["with_signal"]
    bg = reference_background(run, bundle, True)
    effects = {}
    checked = pre.ehr_features[:4]  # four variables: the property is the method's, and each costs 2 x 32 x 16 IG passes
    for j, name in enumerate(checked):
        z = bg.ehr[:, :, j].mean(axis=0)  # reference mean of the value channel at each hour
        v = z * pre.ehr_std[j] + pre.ehr_mean[j]
        v = np.exp(v) if pre.ehr_log[j] else v
        hi = next(f["display_range"][1] for f in bundle.features["ehr"]["features"] if f["name"] == name)
        step = bundle.ehr_step_hours
        for case, values in (("mean", v), ("high", np.full_like(v, hi))):
            one = edited_stay(bundle, sid, [Edit("value", name, hour=t * step, value=float(x)) for t, x in enumerate(values)])
            drivers = drivers_attribution(input_attributions(run, one, sid, background=bg), one)
            label = bundle.features["ehr"]["features"][j]["label"]
            effects[name, case] = next(v for g, n, v in zip(drivers.groups, drivers.names, drivers.values) if g == "value" and n == label)
    assert len(checked) == 4
    for name in checked:
        assert abs(effects[name, "mean"]) < 0.25 * abs(effects[name, "high"]) + 0.02, (name, effects)


def test_explain_prints_drivers_that_add_up(tiny_run, tiny_cohort, stay_ids):
    proc = subprocess.run([sys.executable, "-m", "lemof", "explain", "--run", str(tiny_run), "--data", str(tiny_cohort), "--stay", str(stay_ids["without_signal"])],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    drivers = out["drivers"]
    assert isinstance(drivers["reference"]["description"], str) and drivers["reference"]["los_days"] > 0
    assert drivers["items"] and all(set(d) >= {"input", "kind", "effect_days", "text"} and d["kind"] in ("value", "not measured", "signal", "static") for d in drivers["items"])
    total = drivers["reference"]["los_days"] + sum(d["effect_days"] for d in drivers["items"]) + drivers["rest_days"]
    assert total == pytest.approx(out["prediction"]["los_days"], abs=0.01)
    parts = out["explanations"]["drivers"]
    assert parts["base"] + sum(p["value"] for p in parts["parts"]) + parts["residual"] == pytest.approx(parts["output"], abs=1e-6)


def test_what_if_changes_only_what_it_says(tiny, stay_ids):
    from lemof.explain.whatif import Edit, what_if

    run, bundle = tiny
    sid = stay_ids["with_signal"]
    original = predict_stay(run, bundle, sid)
    same = what_if(run, bundle, sid, [])
    assert same.prediction.origin == "computed" and same.prediction.los_days == pytest.approx(original.los_days, abs=1e-4)
    assert set(same.attributions) == {"level_shap", "heads"}, "what-if re-explains with what needs no network pass on request"
    hidden = what_if(run, bundle, sid, [Edit("hide_signal")])
    shap = hidden.attributions["level_shap"]
    assert not hidden.prediction.has_signal and [v for v, g in zip(shap.values, shap.groups) if g == "sig"] == [None] * shap.groups.count("sig")
    feature = bundle.ehr_feature_names[0]
    lo, hi = bundle.features["ehr"]["features"][0]["display_range"]
    higher = what_if(run, bundle, sid, [Edit("value", feature, hour=20, value=hi)])
    lower = what_if(run, bundle, sid, [Edit("value", feature, hour=20, value=lo)])
    assert higher.prediction.los_days != pytest.approx(lower.prediction.los_days, abs=1e-6), "the edit reaches the model"
    from lemof.explain.whatif import edited_stay

    one = edited_stay(bundle, sid, [Edit("value", feature, hour=20, value=hi), Edit("shift", feature, delta=0.0)])
    assert one.ehr_values[0, 20, 0] == pytest.approx(hi) and one.ehr_mask[0, 20, 0] == 1 and len(one) == 1
    unchanged = np.delete(np.asarray(one.ehr_values[0]), 20, axis=0)
    original_values = np.delete(np.asarray(bundle.ehr_values[bundle.row_of(sid)]), 20, axis=0)
    assert np.array_equal(np.isnan(unchanged), np.isnan(original_values)) and np.allclose(np.nan_to_num(unchanged), np.nan_to_num(original_values))
    with pytest.raises(ConfigError, match="outside the physiological limits"):
        what_if(run, bundle, sid, [Edit("value", feature, hour=20, value=hi * 10 + 1)])
    with pytest.raises(ConfigError, match="outside the .*-hour window"):
        what_if(run, bundle, sid, [Edit("value", feature, hour=99, value=lo)])
    with pytest.raises(ConfigError, match="cannot be edited value by value"):
        what_if(run, bundle, sid, [Edit("value", bundle.signal_channels[0], hour=1, value=0.1)])
    assert predict_stay(run, bundle, sid).los_days == original.los_days, "the cohort itself is untouched"


def test_similar_stays_are_training_stays_ordered_by_similarity(tiny, stay_ids):
    from lemof.explain.results import CohortResults

    run, bundle = tiny
    results = CohortResults(run, bundle)
    assert run.stored_stay_vectors()[0] is not None, "training stored the stay vectors"
    index = results.similarity_index
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-5)
    train_ids = set(bundle.stays.loc[bundle.stays["split"] == "train", "stay_id"])
    assert set(index.stay_ids) == train_ids and len(index.stay_ids) == len(train_ids), "fitted on the training stays alone"
    similar = results.stay(stay_ids["with_signal"]).similar(5)
    ids = similar.stay_ids
    assert len(similar) == 5 and set(ids) <= train_ids and stay_ids["with_signal"] not in set(ids)
    sims = [n.similarity for n in similar.neighbours]
    pct = [n.percentile for n in similar.neighbours]
    assert sims == sorted(sims, reverse=True)
    assert all(0 <= p <= 100 for p in pct)
    assert pct == sorted(pct, reverse=True), "the percentile is ordered with the similarity"
    stays = bundle.stays.set_index("stay_id")
    assert all(n.observed_los_days == pytest.approx(stays.loc[n.stay_id, "los_days"], abs=0.05) and n.has_signal == bool(stays.loc[n.stay_id, "has_signal"]) for n in similar.neighbours)
    shared, values = similar.shared, similar.key_values
    assert f"of 5 also had an {bundle.sig_label} recording" in shared
    from lemof.data.bundle import feature_title

    titles = {feature_title(f) for f in bundle.features["ehr"]["features"]}
    assert 1 <= len(values) <= 3 and {k.feature for k in values} <= titles, "named as the timeline names them, with units"
    # a training stay's nearest neighbour, itself excluded, is another stay; itself included, it is itself
    own = int(bundle.stays.loc[bundle.stays["split"] == "train", "stay_id"].iloc[0])
    mine = index.vectors[list(index.stay_ids).index(own)]
    top, sims = index.nearest(mine, k=1)
    assert index.stay_ids[top[0]] == own and sims[0] == pytest.approx(1.0, abs=1e-5)
    top, _ = index.nearest(mine, k=3, exclude=own)
    assert own not in set(index.stay_ids[top]) and len(top) == 3
    assert results.stay(own).similar(3).stay_ids[0] != own


@pytest.mark.parametrize("metric", ["cosine", "centred", "whitened", "mahalanobis"])
def test_similarity_space_is_fitted_on_training_stays_only(metric):
    """The mean, whitening and percentile scale come from the vectors given to ``fit`` (the
    training stays): other stays moving does not change them, the training stays moving does."""
    from lemof.explain.similar import SimilarityIndex

    rng = np.random.default_rng(0)
    common = rng.normal(size=32)
    train = (common + 0.3 * rng.normal(size=(300, 32)) * np.linspace(0.05, 1, 32)).astype(np.float32)
    train[:, 28:] = 0.0  # four directions without variance
    train /= np.linalg.norm(train, axis=1, keepdims=True)
    index = SimilarityIndex.fit(np.arange(300), train, metric)
    if metric != "cosine":
        assert np.allclose(index.mean, train.astype(np.float64).mean(axis=0))
    if metric in ("whitened", "mahalanobis"):
        whitened = (train - index.mean) @ index.projection
        assert np.allclose(np.cov(whitened, rowvar=False), np.eye(whitened.shape[1]), atol=1e-6), "unit covariance on the training stays"
        assert index.components_kept <= 28, "the components without variance are dropped"
    query = train[0] + 0.01 * rng.normal(size=32)
    before = index.similarities(query)
    moved = SimilarityIndex.fit(np.arange(300), np.vstack([train[:150], -train[150:]]), metric)
    assert not np.allclose(moved.similarities(query), before), "refitting on other training vectors changes the space"
    pct = index.percentile(np.sort(before)[::-1][:10])
    assert ((0 <= pct) & (pct <= 100)).all() and np.all(np.diff(pct) <= 0) and pct[0] > 90


def test_similarity_metric_of_the_page_is_the_one_chosen_on_validation():
    from lemof.explain.similar import DEFAULT_METRIC, METRICS

    recorded = json.loads((REPO / "benchmarks/results/similar_stays.json").read_text())
    assert recorded["chosen_on_validation"]["metric"] == DEFAULT_METRIC
    assert set(recorded["cohorts"]["synthetic"]["val"]) == set(METRICS)


def test_similar_command_prints_every_stay_in_one_call(tiny_run, tiny_cohort, stay_ids):
    cmd = [sys.executable, "-m", "lemof", "similar", "--run", str(tiny_run), "--data", str(tiny_cohort), "--k", "4"]
    ids = [stay_ids["with_signal"], stay_ids["without_signal"]]
    proc = subprocess.run(cmd + [a for s in ids for a in ("--stay", str(s))], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [o["stay_id"] for o in out] == ids
    for o in out:
        assert len(o["neighbours"]) == 4 and o["stay_id"] not in {n["stay_id"] for n in o["neighbours"]}
        assert set(o["neighbours"][0]) == {"stay_id", "similarity", "percentile", "observed_los_days"}
        sims = [n["similarity"] for n in o["neighbours"]]
        assert sims == sorted(sims, reverse=True) and all(0 <= n["percentile"] <= 100 for n in o["neighbours"])
    bad = subprocess.run(cmd + ["--stay", str(ids[0]), "--stay", "999999999"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.strip().count("\n") == 0 and "999999999" in bad.stderr


def test_stored_stay_vectors_match_the_network(tiny, stay_ids):
    """What the page reads at first paint (stored at training) is what the network gives for the
    stay on its own. Tolerance: the vectors are stored as float16 (relative rounding 2**-11 = 4.9e-4
    of a component no larger than 1), which dominates the float32 batch-versus-single differences
    (~1e-6), so 1e-3 per component; a cosine between two such vectors moves by ~1e-4."""
    from lemof.explain.results import CohortResults

    run, bundle = tiny
    for key in ("with_signal", "without_signal"):
        stay = CohortResults(run, bundle).stay(stay_ids[key])
        computed = stay.forward["representation"]
        computed = computed / np.linalg.norm(computed)
        assert np.allclose(stay.representation, computed, atol=1e-3), key
    stay = CohortResults(run, bundle).stay(stay_ids["with_signal"])
    seconds, stored = stay.attention_received.seconds, stay.attention_received.weights
    from_maps = stay.attention.ehr_to_sig.mean(axis=(0, 1))
    assert np.allclose(stored, from_maps, atol=2e-3), "stored as float16: 3 significant digits"
    assert seconds == stay.attention.sig_seconds
    assert CohortResults(run, bundle).stay(stay_ids["without_signal"]).attention_received is None


def test_stay_vectors_of_other_weights_are_ignored_with_a_warning(tiny_run, tiny_cohort, tmp_path, stay_ids):
    import shutil

    from lemof.explain.results import CohortResults
    from lemof.runs.stay_vectors_file import STAY_VECTORS_FILE, write_stay_vectors
    from safetensors.numpy import load_file

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)
    tensors = load_file(str(run_dir / STAY_VECTORS_FILE))
    tensors["representation"] = np.ones_like(tensors["representation"])
    write_stay_vectors(run_dir / STAY_VECTORS_FILE, tensors, weights_sha256="0" * 64, fingerprint=load_run(run_dir).cohort.fingerprint)
    run, bundle = load_run(run_dir), open_bundle(tiny_cohort)
    stay = CohortResults(run, bundle).stay(stay_ids["with_signal"])
    assert not np.allclose(stay.representation, stay.representation[0]), "the network's vector, not the planted ones"
    assert any("computed for other weights" in w for w in run.warnings)
    (run_dir / STAY_VECTORS_FILE).write_bytes(b"not a safetensors file")
    run = load_run(run_dir)
    assert len(CohortResults(run, bundle).stay(stay_ids["with_signal"]).similar(3)) == 3
    assert any("unreadable" in w for w in run.warnings)


def test_precompute_writes_the_stay_vectors_of_an_older_run(tiny_run, tiny_cohort, tmp_path):
    import shutil

    from lemof.runs.stay_vectors_file import STAY_VECTORS_FILE

    run_dir = tmp_path / "older"
    shutil.copytree(tiny_run, run_dir)
    (run_dir / STAY_VECTORS_FILE).unlink()
    assert load_run(run_dir).stored_stay_vectors()[0] is None
    # --reasons none: the stored reasons and the ECG findings' effects have their own tests
    # (test_first_screen, test_ecg_findings); computing them here took most of this test's minutes
    proc = subprocess.run([sys.executable, "-m", "lemof", "precompute", "--run", str(run_dir), "--data", str(tiny_cohort), "--reasons", "none"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    written = json.loads(proc.stdout)
    assert written["stays"] == len(open_bundle(tiny_cohort)) and "reasons" not in written
    fresh = load_run(run_dir).stored_stay_vectors()[0]
    original = load_run(tiny_run).stored_stay_vectors()[0]
    assert np.array_equal(fresh.stay_ids, original.stay_ids)
    assert np.allclose(fresh.representation, original.representation, atol=1e-3), "the same network on the same cohort (float16)"


def test_report_errors_are_one_line(tiny_run, tiny_cohort):
    proc = subprocess.run([sys.executable, "-m", "lemof", "report", "--run", str(tiny_run), "--data", str(tiny_cohort), "--stay", "12345", "--out", "/tmp/never.html"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "stay 12345 is not in cohort" in lines[0]


def test_a_missing_patient_fact_is_left_out_of_the_case_report(tiny):
    """The report prints the facts the page prints (``StayContext.facts``): a NaN is no fact."""
    import dataclasses
    import re

    from lemof.explain.results import CohortResults
    from lemof.report import case_report_html

    run, bundle = tiny
    sid = int(bundle.stays["stay_id"].iloc[0])

    def facts(b) -> str:
        return re.search(r"<p class='lead'><b>(.*?)</b>", case_report_html(CohortResults(run, b).stay(sid))).group(1)

    assert "-year-old" in facts(bundle)
    stays = bundle.stays.copy()
    stays.loc[stays.index[0], "age"] = np.nan
    shown = facts(dataclasses.replace(bundle, stays=stays))
    assert "year" not in shown and "nan" not in shown.lower() and shown.split(" · ")[0] in ("man", "woman")


def test_one_forward_pass_serves_a_stay_of_another_cohort(tiny_run, tmp_path, monkeypatch):
    """Prediction, explanation, attention and the fused representation of a stay the run has no
    stored results for come from one pass of the network (it took four before)."""
    import lemof.models.inference
    from lemof.data.synthetic import generate_synthetic
    from lemof.explain.results import CohortResults

    generate_synthetic(tmp_path / "other", n=40, seed=5)
    run, bundle = load_run(tiny_run), open_bundle(tmp_path / "other")
    assert bundle.fingerprint != run.cohort.fingerprint
    calls = []
    real = lemof.models.inference.forward_arrays
    monkeypatch.setattr(lemof.models.inference, "forward_arrays", lambda *a, **k: calls.append(len(a[1])) or real(*a, **k))
    sid = int(bundle.stays.loc[bundle.stays["has_signal"], "stay_id"].iloc[0])
    stay = CohortResults(run, bundle).stay(sid)
    assert stay.attribute("level_shap").detail["origin"] == "computed" and stay.prediction.origin == "computed"
    assert math.expm1(stay.attribute("heads").output) == pytest.approx(stay.prediction.los_days, rel=1e-6)
    assert stay.attention is not None and stay.attention_received is not None
    assert stay.representation.shape == (4 * run.spec.d_model,)
    assert stay_attention(run, bundle, sid) is not None  # the public API: a new results object, one more pass
    assert calls == [1, 1], "one single-stay pass per results object"


def test_compute_slots_bound_concurrent_work_and_are_reentrant():
    """At most ``compute_workers()`` network computations at once, whoever asks; a computation that
    needs another part inside its slot does not wait for a second one (no deadlock with one slot)."""
    import threading
    import time

    from lemof.explain.compute import compute_slot, compute_workers

    running, peak, lock = [0], [0], threading.Lock()

    def work():
        with compute_slot():
            with compute_slot():  # re-entrant: the inner part runs in the same slot
                with lock:
                    running[0] += 1
                    peak[0] = max(peak[0], running[0])
                time.sleep(0.05)
                with lock:
                    running[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(3 * compute_workers() + 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "every computation finished (no deadlock)"
    assert peak[0] == compute_workers(), f"{peak[0]} ran at once with {compute_workers()} slots"
