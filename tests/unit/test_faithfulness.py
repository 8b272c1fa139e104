"""The helpers of the explanation benchmarks (lemof/explain/evaluation.py): deletion removes exactly
what it says, curves and shares are well formed, and the synthetic truth is labelled as defined."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lemof.explain import evaluation as ev


@pytest.fixture(scope="module")
def loaded(tiny_run, tiny_cohort):
    from lemof import load_run, open_bundle

    return load_run(tiny_run), open_bundle(tiny_cohort)


@pytest.fixture(scope="module")
def outputs(loaded):
    run, bundle = loaded
    rows = ev.signal_rows(bundle, "test", 8, seed=0)
    return rows, ev.lemof_outputs(run, bundle, rows)


def test_signal_rows_are_test_stays_with_a_signal_and_nested(loaded):
    _, bundle = loaded
    every = ev.signal_rows(bundle, "test")
    assert (bundle.stays["split"].to_numpy()[every] == "test").all() and bundle.stays["has_signal"].to_numpy()[every].all()
    assert set(ev.signal_rows(bundle, "test", 8)) <= set(every)
    assert list(ev.signal_rows(bundle, "test", 3)) == list(ev.signal_rows(bundle, "test", 8)[:3])


def test_batched_level_shap_and_contributions_match_explain_stay(loaded, outputs):
    from lemof import explain_stay

    run, bundle = loaded
    _, out = outputs
    for i in range(2):
        e = explain_stay(run, bundle, int(out["stay_id"][i]))
        phi = np.array([np.nan if v is None else v for v in e["level_shap"].values], dtype=float)
        assert np.allclose(out["phi"][i], phi, atol=1e-6)
        assert out["base"] == pytest.approx(e["level_shap"].base, abs=1e-9)
        assert np.allclose(out["contributions"][i], [np.nan if v is None else v for v in e["heads"].values], atol=1e-6, equal_nan=True)


def test_level_deletion_ends_at_the_base_value(loaded, outputs):
    run, _ = loaded
    _, out = outputs
    stacker, x, phi = run.model.stacker, out["stacker_inputs"], out["phi"]
    n, p = x.shape
    background = stacker.background.numpy()
    # removing levels by hand: the k-th row has exactly the first k levels of the order at their background
    order = ev.top_first_order(phi[0])
    z = ev.levels_removed(x[0], background, order)
    assert z.shape == (p + 1, p)
    assert np.array_equal(z[0], x[0]) and np.array_equal(z[-1], background)
    for k in range(p + 1):
        removed = set(order[:k].tolist())
        for j in range(p):
            assert z[k, j] == (background[j] if j in removed else x[0, j])
    assert abs(phi[0, order[0]]) == np.abs(phi[0]).max()
    assert stacker.predict_numpy(z[-1:])[0] == pytest.approx(out["base"], abs=1e-12), "all removed: the base value"

    top, rand = ev.level_deletion_curves(stacker, x, phi, n_random=4, seed=0)
    assert top.shape == rand.shape == (n, p + 1)
    assert np.all(top[:, 0] == 0) and np.all(rand[:, 0] == 0)
    final = np.abs(out["stacker_output"] - out["base"])
    assert np.allclose(top[:, -1], final, atol=1e-12) and np.allclose(rand[:, -1], final, atol=1e-12)
    # one removal, top first: exactly the stacker with the most important level at its background
    v1 = stacker.predict_numpy(z[1:2])[0]
    assert top[0, 1] == pytest.approx(abs(v1 - out["stacker_output"][0]), abs=1e-12)


def test_area_between_curves():
    xs = np.arange(5) / 4
    top = np.array([[0, 1, 1, 1, 1.0]])
    rand = np.array([[0, 0.25, 0.5, 0.75, 1.0]])
    assert ev.area_between(top, rand, xs)[0] == pytest.approx((0.75 + 0.5 + 0.25) / 4)
    assert ev.area_between(top, top, xs)[0] == 0


def test_input_cells_partition_the_inputs(loaded):
    run, _ = loaded
    pre = run.preprocessor
    cells = ev.input_cells(pre)
    f, t = len(pre.ehr_features), pre.n_steps
    assert cells.ehr_id.shape == (t, pre.ehr_channels) and cells.sig_id.shape == (pre.sig_in_channels, pre.sig_len)
    used = np.union1d(np.unique(cells.ehr_id), np.unique(cells.sig_id))
    assert np.array_equal(used, np.arange(cells.n)), "every cell covers some input and every input is in a cell"
    assert (cells.kinds == "ehr").sum() == f * t and (cells.kinds == "static").sum() == len(pre.static)
    # an EHR cell is one feature at one hour: its value and mask channels together
    c = cells.feature_cell[2, 5]
    where = np.argwhere(cells.ehr_id == c)
    assert sorted(map(tuple, where)) == [(5, 2), (5, f + 2)]
    seg = cells.segment
    assert seg == max(1, round(pre.sig_len * ev.SEGMENT_FRACTION))
    assert (cells.sig_id[0, :seg] == cells.sig_id[0, 0]).all() and cells.sig_id[0, seg] != cells.sig_id[0, 0]
    # a masked bedside series with time since last: value, mask and elapsed channels of a channel share its cells
    masked = dataclasses.replace(pre, sig_masked=True, time_since_last=True)
    mc = ev.input_cells(masked)
    nc = len(pre.sig_channels)
    assert mc.sig_id.shape == (3 * nc, pre.sig_len) and np.array_equal(mc.sig_id[:nc], mc.sig_id[2 * nc :])
    assert sorted(map(tuple, np.argwhere(mc.ehr_id == mc.feature_cell[0, 0]))) == [(0, 0), (0, f), (0, 2 * f)]


def test_input_deletion_ends_at_the_baseline_prediction(loaded, stay_ids):
    from lemof.explain.input_attribution import input_attributions

    run, bundle = loaded
    pre, sid = run.preprocessor, stay_ids["with_signal"]
    rows = np.array([bundle.row_of(sid)])
    ehr_x, (sig_x, avail) = pre.ehr(bundle, rows)[0], pre.signal(bundle, rows)
    sig_x = sig_x[0]
    a = input_attributions(run, bundle, sid, steps=16)
    cells = ev.input_cells(pre)
    score = ev.cell_attributions(cells, a)
    assert score.sum() == pytest.approx(a.total, abs=1e-9), "cells split the attributions without losing any"
    e0, s0 = ev.cells_removed(cells, ehr_x, sig_x, np.ones(cells.n, dtype=bool))
    assert not e0.any() and not s0.any(), "every cell removed: the all-zero baseline"
    e1, s1 = ev.cells_removed(cells, ehr_x, sig_x, np.zeros(cells.n, dtype=bool))
    assert np.array_equal(e1[0], ehr_x) and np.array_equal(s1[0], sig_x)
    # removing one cell zeroes exactly its elements
    k = int(cells.feature_cell[0, 3])
    one = np.zeros(cells.n, dtype=bool)
    one[k] = True
    e2, _ = ev.cells_removed(cells, ehr_x, sig_x, one)
    changed = e2[0] != ehr_x
    assert changed.any() and (cells.ehr_id[changed] == k).all() and not e2[0][cells.ehr_id == k].any()

    masks = ev.removal_masks(ev.top_first_order(score), ev.INPUT_FRACTIONS, cells.n)
    assert list(masks.sum(axis=1)) == [round(fr * cells.n) for fr in ev.INPUT_FRACTIONS]
    assert masks[1][np.argmax(np.abs(score))], "the top cell goes first"
    top, rand, original = ev.input_deletion_curves(run.model, cells, ehr_x, sig_x, bool(avail[0]), score, n_random=3, seed=0)
    assert top.shape == (len(ev.INPUT_FRACTIONS),) and rand.shape == (3, len(ev.INPUT_FRACTIONS))
    assert top[0] == 0 and np.all(rand[:, 0] == 0)
    assert original == pytest.approx(a.output, abs=1e-5)
    assert top[-1] == pytest.approx(abs(a.reference_output - a.output), abs=1e-5)
    assert np.allclose(rand[:, -1], top[-1])


def test_shares_are_fractions_that_add_up(loaded, outputs, stay_ids):
    from lemof.explain.input_attribution import input_attributions

    run, bundle = loaded
    _, out = outputs
    lv = ev.level_shap_shares(out["phi"], out["n_ehr_levels"])
    hd = ev.head_shares(out["contributions"], run.heads)
    for s in (lv, hd):
        assert np.all((s["sig"] >= 0) & (s["sig"] <= 1))
        assert np.allclose(s["ehr"] + s["sig"], 1.0)
    # by hand for one stay
    a = np.abs(out["phi"][0])
    assert lv["sig"][0] == pytest.approx(a[out["n_ehr_levels"] :].sum() / a.sum())
    c = np.abs(out["contributions"][0])
    sig_heads = [i for i, h in enumerate(run.heads) if h.modality == "sig"]
    mod_heads = [i for i, h in enumerate(run.heads) if h.modality is not None]
    assert hd["sig"][0] == pytest.approx(c[sig_heads].sum() / c[mod_heads].sum())
    # a stay without a biosignal: level SHAP puts nothing on the absent levels
    phi_absent = out["phi"][:1].copy()
    phi_absent[:, out["n_ehr_levels"] :] = np.nan
    assert ev.level_shap_shares(phi_absent, out["n_ehr_levels"])["sig"][0] == 0
    attrs = [input_attributions(run, bundle, stay_ids[k], steps=8) for k in ("with_signal", "without_signal")]
    ig = ev.ig_shares(attrs)
    total = ig["ehr"] + ig["static"] + ig["sig"]
    assert np.allclose(total, 1.0) and all(np.all((v >= 0) & (v <= 1)) for v in ig.values())
    assert ig["sig"][1] == 0 and ig["sig"][0] > 0
    m = ev.ig_masses(attrs[0])
    assert ig["sig"][0] == pytest.approx(m["sig"] / sum(m.values()))
    lactate = np.asarray(attrs[0].ehr)[attrs[0].ehr_features.index("lactate")]
    assert ev.ig_feature_mass(attrs[0], ["lactate"]) == pytest.approx(np.abs(lactate).sum())


def test_depth_halves_and_deep_share():
    assert [list(h) for h in ev.depth_halves(4)] == [[0, 1], [2, 3]]
    assert [list(h) for h in ev.depth_halves(3)] == [[0], [2]]
    phi = np.array([[1.0, -1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    ds = ev.deep_share(phi)
    assert ds[0] == pytest.approx(2 / 4) and np.isnan(ds[1])


def test_truth_labels_match_a_hand_computation(loaded):
    _, bundle = loaded
    causes = bundle.latent_causes()
    truth = ev.truth_table(causes)
    assert len(truth) == len(bundle) and (truth["stay_id"] == bundle.stays["stay_id"]).all()
    for i in [0, 1, 2, 3, int(np.flatnonzero(causes["af"].to_numpy())[0]), int(np.flatnonzero(causes["ischaemia"].to_numpy())[0])]:
        row = causes.iloc[i]
        ecg = abs(row["log_los_part_af"]) + abs(row["log_los_part_ischaemia"]) + abs(row["log_los_part_wide_qrs"])
        ehr = sum(abs(row[f"log_los_part_{c}"]) for c in ("severity", "trajectory", "renal", "infection"))
        assert truth["ecg_part"].iloc[i] == pytest.approx(ecg)
        assert truth["ehr_part"].iloc[i] == pytest.approx(ehr)
        assert bool(truth["ecg_driven"].iloc[i]) == (ecg > ehr)
        parts = {c: abs(row[f"log_los_part_{c}"]) for c in ("af", "ischaemia", "wide_qrs")}
        expected = max(parts, key=parts.get) if max(parts.values()) > 0 else "none"
        assert truth["ecg_cause"].iloc[i] == expected
    # AF alone is AF-driven; AF with ischaemia gives the larger part (0.60 + 0.25 vs 0.45 + 0.25) to ischaemia
    both = causes["af"].to_numpy() & causes["ischaemia"].to_numpy()
    assert (truth["ecg_cause"].to_numpy()[both] == "ischaemia").all()
    only_af = causes["af"].to_numpy() & ~causes["ischaemia"].to_numpy() & ~causes["wide_qrs"].to_numpy()
    assert (truth["ecg_cause"].to_numpy()[only_af] == "af").all()
    assert ((truth["ecg_cause"] == "none") == (truth["ecg_part"] == 0)).all()
    # centred: each part minus its mean over the given stays, then |.|
    centre = np.arange(0, len(causes), 2)
    centred = ev.truth_table(causes, centre_rows=centre)
    mean = {c: causes[f"log_los_part_{c}"].to_numpy()[centre].mean() for c in ("af", "ischaemia", "wide_qrs")}
    row = causes.iloc[1]
    assert centred["ecg_part"].iloc[1] == pytest.approx(sum(abs(row[f"log_los_part_{c}"] - mean[c]) for c in mean))
    assert (centred["ecg_cause"] == truth["ecg_cause"]).all()


def test_statistics():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    y = x + rng.normal(size=60)
    y[:5] = y[5]  # ties
    assert ev.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)
    ci = ev.spearman_ci(x, y, B=300)
    assert ci["lo"] < ci["rho"] < ci["hi"] and ci["n"] == 60
    labels = np.r_[np.ones(20, bool), np.zeros(40, bool)]
    a = ev.auroc_ci(labels, np.r_[np.arange(20) + 100.0, np.arange(40)], B=200)
    assert a["estimate"] == 1.0 and a["n_pos"] == 20 and a["n_neg"] == 40
    assert ev.auroc_ci(labels, -np.r_[np.arange(20) + 100.0, np.arange(40)], B=200)["estimate"] == 0.0
