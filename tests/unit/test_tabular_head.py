"""LeMoF's tabular head (``TrainConfig.tabular_head``, issue 26 part 1): LightGBM on per-stay
summaries, fitted on training stays only, one more modality-level input of the meta-learner; its
trees kept as text beside the weights (hash-checked), its value fed to the network's forward, its
TreeSHAP values joining the drivers in days. Trains (a few seconds on the tiny cohort): slow."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from testkit.cohorts import tiny_config
from lemof import RunError, load_run, open_bundle
from lemof.errors import ConfigError
from lemof.paths import file_sha256

pytestmark = pytest.mark.slow

# The stored predictions and the reloaded run's are the same float32 network and the same trees
# (parsed from the same text) on the same inputs: they agree to float32 rounding of log1p-days
# values below ~5 (a few 1e-7); 1e-5 is far above that and far below any real difference.
PRED_TOL = 1e-5
# bias + Σ w_i·y_i = final in float64 over at most ~8 heads: float64 rounding (~1e-15); the heads
# themselves are float32, so 1e-9 is a generous bound that still catches a missing head (~0.1-1).
SUM_TOL = 1e-9


@pytest.fixture(scope="module")
def tab_run(tiny_cohort, tmp_path_factory):
    """LeMoF with the tabular head, hyperparameters chosen by training-CV (the default)."""
    from lemof.training.pipeline import train  # lazy: imports torch

    out = tmp_path_factory.mktemp("runs") / "tiny-tabular"
    train(tiny_cohort, out, tiny_config(tabular_head=True), device="cpu")
    return out


def test_the_option_is_off_by_default_and_only_for_lemof():
    assert tiny_config().tabular_head is False
    with pytest.raises(ConfigError, match="tabular_head applies to LeMoF"):
        tiny_config(fusion="late", tabular_head=True)
    with pytest.raises(ConfigError, match="unknown tabular_head_params"):
        tiny_config(tabular_head=True, tabular_head_params={"max_depth": 3})
    with pytest.raises(ConfigError, match="objective"):
        tiny_config(tabular_head=True, tabular_head_params={"objective": "poisson"})


def test_a_run_with_the_head_saves_loads_and_predicts_what_it_stored(tab_run, tiny_cohort):
    from lemof.models.inference import predict_rows

    config = json.loads((tab_run / "config.json").read_text())
    assert config["model"]["tabular_head"] is True
    section = config["tabular_head"]
    assert section["sha256"] == file_sha256(tab_run / "tabular_head.lgb.txt")
    assert (tab_run / "tabular_head.lgb.txt").read_text().startswith("tree")
    report = config["stage_reports"]["tabular_head"]
    assert report["n_trees"] >= 1 and "training-CV" in report["params_chosen_by"] and report["fits"] > 1
    run = load_run(tab_run)
    assert [h.name for h in run.heads][-1] == "tabular"
    assert run.head_kinds["tabular"] == "modality-level" and not run.heads[-1].needs_signal
    bundle = open_bundle(tiny_cohort)
    stored = run.predictions
    for col in ("head:tabular", "contribution:tabular", "head_without_signal:tabular"):
        assert col in stored and np.isfinite(stored[col]).all(), col  # present in both availability patterns
    pred = predict_rows(run.model, run.preprocessor, bundle, np.arange(len(bundle)))
    assert np.abs(pred["final"] - stored["final"].to_numpy()).max() < PRED_TOL
    assert np.abs(pred["heads"][:, -1] - stored["head:tabular"].to_numpy()).max() < PRED_TOL
    # the head's column is the trees' prediction on the stay's summaries (biosignal summaries blanked without one)
    gbm = run.model.tabular_model
    x = gbm.features(bundle, np.arange(len(bundle)))
    with_sig = stored["sig_available"].to_numpy()
    assert np.abs(gbm.raw(x)[with_sig] - stored["head:tabular"].to_numpy()[with_sig]).max() < PRED_TOL
    # contributions + bias add up to final, and the head has weight in at least one pattern
    contrib = stored[[c for c in stored.columns if c.startswith("contribution:")]].to_numpy()
    assert np.abs(stored["bias"].to_numpy() + np.nansum(contrib, axis=1) - stored["final"].to_numpy()).max() < SUM_TOL
    weights = {m.pattern: m.weights for m in run.meta_weights}
    assert set(weights) == {"ehr+sig", "ehr"} and all("tabular" in w for w in weights.values())


def test_the_head_never_saw_a_validation_stay(tab_run, tiny_cohort):
    """Refitting the trees on training stays alone with the recorded hyperparameters and number
    of trees gives the stored trees: nothing but training stays went into them."""
    import lightgbm as lgb

    from lemof.data.summaries import SummarySchema
    from lemof.models.gbm import DETERMINISTIC, booster_feature_names

    config = json.loads((tab_run / "config.json").read_text())
    report = config["stage_reports"]["tabular_head"]
    bundle = open_bundle(tiny_cohort)
    schema = SummarySchema.from_dict(config["tabular_head"]["summaries"])
    x, y, tr = schema.features(bundle), np.log1p(bundle.stays["los_days"].to_numpy(dtype=float)), bundle.rows("train")
    params = {**DETERMINISTIC, **report["params"], "seed": 0, "metric": "l1", "feature_pre_filter": False}
    if params["objective"] != "huber":
        params.pop("alpha", None)
    refit = lgb.train(params, lgb.Dataset(x[tr], y[tr], feature_name=booster_feature_names(schema.names), params={"verbosity": -1}), num_boost_round=report["n_trees"])
    stored = load_run(tab_run).model.tabular_model
    assert np.array_equal(refit.predict(x), stored.raw(x))


def test_head_label_and_contributions_figure(tab_run, tiny_cohort, stay_ids):
    from lemof.explain.results import CohortResults
    from lemof.plots import head_label
    from lemof.plots.explanation import contributions_figure

    assert head_label("tabular") == "tabular (LightGBM)"
    stay = CohortResults(load_run(tab_run), open_bundle(tiny_cohort)).stay(stay_ids["without_signal"])
    heads = stay.attribute("heads")
    assert "tabular" in heads.names and heads.values[heads.names.index("tabular")] is not None
    assert abs(heads.completeness_gap) <= heads.tolerance + 1e-9
    fig = contributions_figure(heads, stay.prediction.los_days)
    assert any("tabular (LightGBM)" in str(label) for label in fig.data[0].y)


@pytest.mark.parametrize("which", ["with_signal", "without_signal"])
def test_drivers_hold_the_heads_treeshap_parts_and_add_up(tab_run, tiny_cohort, stay_ids, which):
    from lemof.explain.results import CohortResults

    run = load_run(tab_run)
    stay = CohortResults(run, open_bundle(tiny_cohort)).stay(stay_ids[which])
    attr, drivers = stay.input_gradients, stay.attribute("drivers")
    tab = attr.tabular
    assert tab is not None and tab["weight"] >= 0
    # the TreeSHAP parts are w·phi: they add up to w · (the head's prediction − its trees' expected output)
    assert sum(tab["values"]) == pytest.approx(tab["weight"] * (tab["prediction"] - tab["base_value"]), abs=1e-9)
    stored = run.stored_prediction(stay_ids[which])
    assert tab["prediction"] == pytest.approx(stored["head:tabular"], abs=PRED_TOL)
    summary = [i for i, g in enumerate(drivers.groups) if g == "summary"]
    # the head's parts on an EHR variable or a static fact join that variable's driver; the others (the biosignal's summaries) are parts of their own
    left = {lab for col, lab, v in zip(tab["names"], tab["labels"], tab["values"]) if v != 0.0 and not str(col).startswith(("ehr:", "static:"))}
    assert {drivers.names[i] for i in summary} == left
    if tab["weight"] > 0:
        assert any(v != 0.0 for col, v in zip(tab["names"], tab["values"]) if str(col).startswith("ehr:")), "the trees split on some EHR summary"
    assert abs(drivers.completeness_gap) <= drivers.tolerance, (drivers.completeness_gap, drivers.tolerance)
    assert drivers.output == pytest.approx(stay.prediction.los_days, abs=1e-6)


def test_deletion_curves_hold_the_heads_prediction(tab_run, tiny_cohort, stay_ids):
    """The faithfulness benchmark removes input cells of a head run with the tabular head's
    prediction held at the stay's value (Integrated Gradients explains the network around it)."""
    from lemof.explain import evaluation as ev
    from lemof.explain.input_attribution import input_attributions
    from lemof.models.inference import tabular_values

    run, bundle = load_run(tab_run), open_bundle(tiny_cohort)
    sid = stay_ids["with_signal"]
    rows = np.array([bundle.row_of(sid)])
    pre = run.preprocessor
    ehr_x, (sig_x, avail) = pre.ehr(bundle, rows)[0], pre.signal(bundle, rows)
    held = float(tabular_values(run.model, bundle, rows, avail)[0])
    a = input_attributions(run, bundle, sid, steps=8)
    cells = ev.input_cells(pre)
    score = ev.cell_attributions(cells, a)
    with pytest.raises(ValueError, match="tabular head"):
        ev.input_deletion_curves(run.model, cells, ehr_x, sig_x[0], bool(avail[0]), score, n_random=2, seed=0)
    top, rand, original = ev.input_deletion_curves(run.model, cells, ehr_x, sig_x[0], bool(avail[0]), score, n_random=2, seed=0, tabular=held)
    assert original == pytest.approx(a.output, abs=PRED_TOL) and original == pytest.approx(run.stored_prediction(sid)["final"], abs=PRED_TOL)
    assert top[0] == 0 and np.all(rand[:, 0] == 0) and np.allclose(rand[:, -1], top[-1])
    every = ev.model_final(run.model, np.zeros_like(ehr_x)[None], np.zeros_like(sig_x), bool(avail[0]), tabular=held)
    assert top[-1] == pytest.approx(abs(every[0] - original), abs=PRED_TOL), "removing every cell leaves the head's part in place"


def test_a_tampered_tabular_head_is_refused(tab_run, tmp_path):
    copy = tmp_path / "tampered"
    shutil.copytree(tab_run, copy)
    text = (copy / "tabular_head.lgb.txt").read_text()
    (copy / "tabular_head.lgb.txt").write_text(text.replace("shrinkage=", "shrinkage=1", 1))
    with pytest.raises(RunError, match="tabular_head.lgb.txt of run tampered does not match the SHA-256"):
        load_run(copy)
    (copy / "tabular_head.lgb.txt").unlink()
    with pytest.raises(RunError, match="has no tabular_head.lgb.txt"):
        load_run(copy)


def test_a_run_without_the_option_has_no_tabular_head(tiny_run):
    config = json.loads((tiny_run / "config.json").read_text())
    assert "tabular_head" not in config["model"] and "tabular_head" not in config
    assert not (tiny_run / "tabular_head.lgb.txt").exists()
    run = load_run(tiny_run)
    assert "tabular" not in [h.name for h in run.heads] and run.tabular_head is None
    assert not any("tabular" in c for c in run.predictions.columns)


def test_given_hyperparameters_skip_the_search(tiny_cohort, tmp_path):
    from lemof.training.pipeline import train

    out = train(tiny_cohort, tmp_path / "given", tiny_config(tabular_head=True, tabular_head_params={"num_leaves": 7, "learning_rate": 0.1}), device="cpu")
    report = json.loads((out / "config.json").read_text())["stage_reports"]["tabular_head"]
    assert report["fits"] == 1 and report["params"]["num_leaves"] == 7 and report["params"]["objective"] == "l2"
