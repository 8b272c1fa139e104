"""Statistics of the benchmark grid (benchmarks/grid_report.py): pure functions and the report on fake runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lemof.evaluation.stats import bootstrap_index_slices, bootstrap_indices, bootstrap_mean_ci
from benchmarks import grid_report as gr
from benchmarks.grid_run import ABLATIONS, BASELINES, Cell, GridSpec


def test_bootstrap_ci_of_a_mean_covers_the_truth_with_the_expected_width():
    n = 400
    x = np.random.default_rng(0).normal(3.0, 1.0, n)  # one fixed draw; coverage over many draws is the next test
    ci = gr.bootstrap_mean_ci(x, B=2000, seed=1)
    assert ci["lo"] < 3.0 < ci["hi"]
    assert ci["lo"] < ci["estimate"] < ci["hi"]
    assert ci["hi"] - ci["lo"] == pytest.approx(2 * 1.96 / np.sqrt(n), rel=0.15)


def test_bootstrap_ci_covers_the_truth_in_most_draws():
    cis = [gr.bootstrap_mean_ci(np.random.default_rng(k).normal(3.0, 1.0, 100), B=500, seed=k) for k in range(100)]
    covered = sum(c["lo"] < 3.0 < c["hi"] for c in cis)
    assert covered >= 88  # nominal 95


def test_bootstrap_is_reproducible_and_ignores_undefined_replicates():
    assert gr.bootstrap_indices(50, 10, seed=3).tolist() == gr.bootstrap_indices(50, 10, seed=3).tolist()
    assert gr.bootstrap_indices(50, 10, seed=3).shape == (10, 50)
    assert gr.percentile_ci([np.nan, 1.0, 2.0, 3.0], level=0.5) == (1.5, 2.5)
    assert gr.percentile_ci([np.nan, np.nan]) == (None, None)


def test_paired_bootstrap_detects_a_real_difference():
    rng = np.random.default_rng(0)
    err_b = rng.gamma(2.0, 1.0, 300)
    res = gr.paired_bootstrap(err_b - 0.5, err_b)
    assert res["estimate"] == pytest.approx(-0.5)
    assert res["hi"] < 0 and res["excludes_zero"]
    noisy = err_b + rng.normal(0, 0.3, 300)  # A = B - 0.5 up to noise
    res = gr.paired_bootstrap(noisy - 0.5, err_b)
    assert res["hi"] < 0 and res["excludes_zero"]


def test_paired_bootstrap_finds_nothing_between_identical_methods():
    rng = np.random.default_rng(1)
    err_b = rng.gamma(2.0, 1.0, 300)
    same = gr.paired_bootstrap(err_b, err_b)
    assert same["estimate"] == 0 and not same["excludes_zero"]
    res = gr.paired_bootstrap(err_b + rng.normal(0, 0.2, 300), err_b)
    assert res["lo"] < 0 < res["hi"] and not res["excludes_zero"]


def test_the_paired_interval_is_narrower_than_the_unpaired_one():
    rng = np.random.default_rng(2)
    common = rng.gamma(2.0, 1.0, 300)  # most of the error is the stay's, shared by both methods
    a, b = common + rng.normal(0, 0.1, 300), common + rng.normal(0, 0.1, 300)
    paired = gr.paired_bootstrap(a, b)
    alone = gr.bootstrap_mean_ci(a)
    assert paired["hi"] - paired["lo"] < (alone["hi"] - alone["lo"]) / 3


def test_best_baseline_excludes_lemof_and_its_ablations():
    mae = {"lemof": 0.5, "no_meta": 0.4, "all_levels": 0.45, "early": 1.1, "mmtm": 0.9, "gbm": 1.0, "late": None}
    assert gr.best_baseline(mae) == "mmtm"
    assert gr.best_baseline({"lemof": 0.5, "gbm": 0.8, "early": 0.9}) == "gbm"  # gbm is a baseline
    assert gr.best_baseline({"lemof": 0.5, **{a: 0.1 for a in ABLATIONS}}) is None
    assert set(BASELINES) | {"gbm"} == {f for f in gr.FUSIONS if gr.method_kind(f) == "baseline"}


def test_grid_cells_run_seed_by_seed_with_gbm_once_per_seed():
    spec = GridSpec(["synthetic"], ["early", "gbm", "lemof"], {"synthetic": ["gru+resnet1d", "tcn+tcn"]}, [0, 1], {})
    names = [c.name for c in spec.cells()]
    assert names[:5] == [
        "lemof__gru+resnet1d__seed0", "gbm__tabular__seed0", "early__gru+resnet1d__seed0", "lemof__tcn+tcn__seed0", "early__tcn+tcn__seed0",
    ]
    assert len(names) == 10 and all(n.endswith("seed1") for n in names[5:])
    assert Cell.parse("synthetic", "no_meta__tcn+tcn__seed12") == Cell("synthetic", "no_meta", "tcn+tcn", 12)
    assert Cell.parse("synthetic", "report.json") is None


def test_a_cell_finished_meanwhile_by_another_grid_process_is_not_trained_again(tmp_path):
    """Two grid processes may share one OUT (e.g. one per seed); a cell the other finished after this
    one listed its work is taken as done: no training, no failure record."""
    from benchmarks.grid_run import run_cell

    cell = Cell("synthetic", "early", "gru+resnet1d", 2)
    run_dir = cell.run_dir(tmp_path)
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps({"test": {"model": {"mae_days": 1.25}}}))
    cell.failed_path(tmp_path).write_text("{}")  # a stale failure from an earlier try
    result = run_cell(cell, tmp_path / "no-such-cohort", tmp_path, {}, "cpu")
    assert result == {"status": "done", "seconds": 0.0, "mae": 1.25}
    assert not cell.failed_path(tmp_path).exists() and sorted(p.name for p in run_dir.iterdir()) == ["metrics.json"]


def _fake_run(run_dir, stays, fingerprint, fusion, seed, error_sd, rng, **train_options):
    run_dir.mkdir(parents=True)
    observed = stays["los_days"].to_numpy()
    predicted = np.clip(observed + rng.normal(0, error_sd, len(stays)), 0.05, None)
    pd.DataFrame({
        "stay_id": stays["stay_id"].to_numpy(), "split": stays["split"].astype(str).to_numpy(),
        "sig_available": stays["has_signal"].to_numpy(),
        "los_days": predicted, "interval_low_days": predicted * 0.6, "interval_high_days": predicted * 1.6,
    }).to_parquet(run_dir / "predictions.parquet", index=False)
    cfg = {"fusion": fusion, "train": {"encoders": "gru+resnet1d", "seed": seed, "fusion": fusion, **train_options},
           "cohort": {"source": "synthetic", "name": "tiny", "fingerprint": fingerprint}, "training_seconds": 12.5, "device": "cpu"}
    (run_dir / "config.json").write_text(json.dumps(cfg))
    test = (stays["split"] == "test").to_numpy()
    model = {"n": int(test.sum()), "mae_days": float(np.mean(np.abs(predicted - observed)[test]))}
    metrics = {"train_median_los_days": 2.0, "test": {"model": model, "baseline_train_median": model}, "val": {}}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture(scope="module")
def grid_cohort(tmp_path_factory):
    """A 60-stay synthetic cohort the fake grid runs predict (read only; one per module)."""
    from lemof.data.synthetic import generate_synthetic

    cohort = tmp_path_factory.mktemp("grid-cohort") / "cohort"
    generate_synthetic(cohort, n=60, seed=1)
    return cohort


def test_report_on_fake_runs_lists_cells_comparisons_and_missing_ones(tmp_path, grid_cohort):
    from lemof import open_bundle

    cohort = grid_cohort
    bundle = open_bundle(cohort)
    out = tmp_path / "grid"
    rng = np.random.default_rng(0)
    _fake_run(out / "synthetic" / "lemof__gru+resnet1d__seed0", bundle.stays, bundle.fingerprint, "lemof", 0, 0.3, rng)
    _fake_run(out / "synthetic" / "early__gru+resnet1d__seed0", bundle.stays, bundle.fingerprint, "early", 0, 2.0, rng)
    failure = {"error_type": "ConfigError", "error": "unknown fusion 'early'"}
    (out / "synthetic" / "early__gru+resnet1d__seed1.failed.json").write_text(json.dumps(failure))
    (out / "synthetic" / ".lemof__gru+resnet1d__seed1.abc.partial").mkdir()  # a killed run's leftovers are ignored
    encoders = {"synthetic": ["gru+resnet1d"], "physionet2012": ["gru+resnet1d"]}
    spec = GridSpec(["synthetic", "physionet2012"], ["lemof", "early"], encoders, [0, 1], {})

    report = gr.build_report(out, spec, {"synthetic": cohort}, B=200)
    c = report["cohorts"]["synthetic"]
    n_test = int((bundle.stays["split"] == "test").sum())
    assert c["n_test_stays"] == n_test
    assert sorted(r["cell"] for r in c["cells"]) == ["early__gru+resnet1d__seed0", "lemof__gru+resnet1d__seed0"]
    for r in c["cells"]:
        mae = r["metrics"]["mae_days"]
        assert mae["estimate"] == pytest.approx(r["metrics_json_mae_days"])  # observed LOS joined by stay
        assert mae["lo"] <= mae["estimate"] <= mae["hi"]
        assert r["training_seconds"] == 12.5
    assert {m["fusion"]: m["seeds"] for m in c["methods"]} == {"lemof": [0], "early": [0]}
    (paired,) = c["paired_best_baseline"]
    assert paired["best_baseline"] == "early" and paired["seeds"] == [0]
    assert paired["diff_lemof_minus_baseline"]["estimate"] < 0
    (comp,) = c["comparisons"]
    assert comp["diff_method_minus_lemof"]["estimate"] == pytest.approx(-paired["diff_lemof_minus_baseline"]["estimate"])
    assert c["ablations"] == []
    assert {m["cell"]: m["status"] for m in c["missing"]} == {
        "lemof__gru+resnet1d__seed1": "not run",
        "early__gru+resnet1d__seed1": "failed",
    }

    physionet = report["cohorts"]["physionet2012"]  # never started: reported without building its cohort
    assert physionet["bundle"] is None and len(physionet["missing"]) == 4 and physionet["cells"] == []

    saved = json.loads((out / "report.json").read_text())
    assert saved["cohorts"]["synthetic"]["missing"] == c["missing"]
    md = (out / "report.md").read_text()
    assert "LeMoF vs the best baseline" in md and "Early fusion" in md
    assert "`lemof__gru+resnet1d__seed1`: not run" in md and "unknown fusion 'early'" in md
    assert "## physionet2012 (nothing run yet)" in md
    html = gr.write_forest(out, "synthetic", c, png=False)
    assert [p.name for p in html] == ["forest_synthetic.html"] and "LeMoF better" in html[0].read_text()

    again = gr.build_report(out, spec, {"synthetic": cohort}, B=200)  # from the bootstrap cache
    assert again["cohorts"]["synthetic"]["cells"] == c["cells"]


def test_report_pairs_lemof_with_the_tabular_head_against_every_method(tmp_path, grid_cohort):
    from lemof import open_bundle

    bundle = open_bundle(grid_cohort)
    out = tmp_path / "grid"
    rng = np.random.default_rng(1)
    _fake_run(out / "synthetic" / "lemof_tab__gru+resnet1d__seed0", bundle.stays, bundle.fingerprint, "lemof", 0, 0.1, rng, tabular_head=True)
    _fake_run(out / "synthetic" / "lemof__gru+resnet1d__seed0", bundle.stays, bundle.fingerprint, "lemof", 0, 0.5, rng)
    _fake_run(out / "synthetic" / "early__gru+resnet1d__seed0", bundle.stays, bundle.fingerprint, "early", 0, 2.0, rng)
    spec = GridSpec(["synthetic"], ["lemof", "lemof_tab", "early"], {"synthetic": ["gru+resnet1d"]}, [0], {})
    c = gr.build_report(out, spec, {"synthetic": grid_cohort}, B=200)["cohorts"]["synthetic"]
    versus = {v["fusion"]: v for v in c["lemof_tab_vs"]}
    assert set(versus) == {"lemof", "early"}, "every other method, not the variant itself"
    for v in versus.values():
        d = v["diff_method_minus_lemof_tab"]
        assert v["seeds"] == [0] and d["estimate"] > 0 and d["lo"] > 0  # errors of sd 0.1 d against 0.5 d and 2 d
    # the same pair seen from LeMoF's side is the same difference with the sign flipped
    (tab_vs_lemof,) = [x for x in c["comparisons"] if x["fusion"] == "lemof_tab"]
    assert tab_vs_lemof["diff_method_minus_lemof"]["estimate"] == pytest.approx(-versus["lemof"]["diff_method_minus_lemof_tab"]["estimate"])
    assert "### LeMoF + tabular head vs every method (paired, on the same test stays)" in (out / "report.md").read_text()
    # the forest plot can be drawn against either reference; against the head's LeMoF every other method is a marker
    from lemof.plots.evidence import forest_figure, forest_references

    assert forest_references(c) == ["lemof", "lemof_tab"]
    fig = forest_figure("synthetic", c, reference="lemof_tab")
    assert "vs LeMoF + tabular head" in fig.layout.title.text
    assert sorted(y for t in fig.data for y in t.y) == ["Early fusion", "LeMoF"]
    assert all(x > 0 for t in fig.data for x in t.x), "both are worse than the head's LeMoF here"


# --- the hierarchical bootstrap: seeds, then stays ------------------------------------------------

def test_hierarchical_bootstrap_with_one_seed_is_the_stay_bootstrap():
    from lemof.evaluation.stats import hierarchical_bootstrap, hierarchical_indices

    x = np.random.default_rng(3).gamma(2.0, 1.0, 250)
    h = hierarchical_bootstrap(x[None, :], B=500, seed=7)
    _, stay_idx = hierarchical_indices(1, len(x), 500, 7)
    plain = gr.bootstrap_mean_ci(x, idx=stay_idx)  # the same stay draws: the same interval
    assert h["n_seeds"] == 1 and h["estimate"] == pytest.approx(x.mean())
    assert (h["lo"], h["hi"]) == pytest.approx((plain["lo"], plain["hi"]), abs=1e-12)


def test_hierarchical_interval_covers_the_seed_to_seed_spread_that_the_stay_bootstrap_misses():
    from lemof.evaluation.stats import hierarchical_bootstrap

    rng = np.random.default_rng(4)
    stay = rng.gamma(2.0, 1.0, 400)  # each stay's own difficulty, shared by every seed
    offsets = np.array([-0.3, 0.0, 0.3])  # one training seed is clearly better than another
    errors = stay[None, :] + offsets[:, None] + rng.normal(0, 0.05, (3, 400))
    h = hierarchical_bootstrap(errors, B=1000, seed=1)
    stays_only = gr.bootstrap_mean_ci(errors.mean(axis=0), B=1000, seed=1)  # what the grid reported before: seed-averaged errors
    assert h["estimate"] == pytest.approx(stays_only["estimate"])
    # resampling 3 seeds moves the mean by up to ±0.3 d: the interval must be much wider than the stays' alone
    assert h["hi"] - h["lo"] > 2 * (stays_only["hi"] - stays_only["lo"])
    assert h["lo"] < errors.mean() - 0.1 and h["hi"] > errors.mean() + 0.1


def test_hierarchical_paired_difference_pairs_seeds_and_stays():
    from lemof.evaluation.stats import hierarchical_bootstrap_diff

    rng = np.random.default_rng(5)
    base = rng.gamma(2.0, 1.0, (3, 300)) + np.array([[-0.4], [0.0], [0.4]])  # large seed effects, shared by both methods
    d = hierarchical_bootstrap_diff(base - 0.2, base, B=500)
    assert d["estimate"] == pytest.approx(-0.2) and d["excludes_zero"]
    assert (d["lo"], d["hi"]) == pytest.approx((-0.2, -0.2), abs=1e-9)  # a constant difference: nothing to resample
    same = hierarchical_bootstrap_diff(base, base + rng.normal(0, 0.2, base.shape), B=500)
    assert same["lo"] < 0 < same["hi"] and not same["excludes_zero"]
    with pytest.raises(ValueError, match="same shape"):
        hierarchical_bootstrap_diff(base, base[:2])


def test_grid_report_intervals_are_hierarchical_over_seeds(tmp_path, grid_cohort):
    from lemof import open_bundle
    from lemof.evaluation.stats import hierarchical_bootstrap

    cohort = grid_cohort
    bundle = open_bundle(cohort)
    out = tmp_path / "grid"
    rng = np.random.default_rng(0)
    for seed, sd in ((0, 0.3), (1, 1.5)):  # two seeds of very different quality
        _fake_run(out / "synthetic" / f"lemof__gru+resnet1d__seed{seed}", bundle.stays, bundle.fingerprint, "lemof", seed, sd, rng)
        _fake_run(out / "synthetic" / f"early__gru+resnet1d__seed{seed}", bundle.stays, bundle.fingerprint, "early", seed, 2.0, rng)
    spec = GridSpec(["synthetic"], ["lemof", "early"], {"synthetic": ["gru+resnet1d"]}, [0, 1], {})
    report = gr.build_report(out, spec, {"synthetic": cohort}, B=300)
    c = report["cohorts"]["synthetic"]
    lemof = next(m for m in c["methods"] if m["fusion"] == "lemof")
    cells = {r["seed"]: r for r in c["cells"] if r["fusion"] == "lemof"}
    assert lemof["seeds"] == [0, 1]
    assert lemof["metrics"]["mae_days"]["estimate"] == pytest.approx(np.mean([cells[s]["metrics"]["mae_days"]["estimate"] for s in (0, 1)]))
    test = bundle.stays[bundle.stays["split"] == "test"].sort_values("stay_id")
    errs = []
    for s in (0, 1):
        pred = pd.read_parquet(out / "synthetic" / f"lemof__gru+resnet1d__seed{s}" / "predictions.parquet").set_index("stay_id")
        errs.append(np.abs(pred.loc[test["stay_id"], "los_days"].to_numpy() - test["los_days"].to_numpy()))
    expected = hierarchical_bootstrap(np.stack(errs), B=300, seed=gr.SEED_DEFAULT)
    assert (lemof["metrics"]["mae_days"]["lo"], lemof["metrics"]["mae_days"]["hi"]) == pytest.approx((expected["lo"], expected["hi"]))
    (paired,) = c["paired_best_baseline"]
    assert paired["seeds"] == [0, 1] and paired["diff_lemof_minus_baseline"]["n_seeds"] == 2
    assert "hierarchical" in (out / "report.md").read_text()


def test_external_protocol_scores_every_stay_of_another_cohort_as_evaluate_does(tiny_cohort, tiny_run, tmp_path):
    import shutil

    from lemof import evaluate_run, load_run, open_bundle
    from lemof.data.synthetic import generate_synthetic

    run = load_run(tiny_run)
    external = tmp_path / "external"
    generate_synthetic(external, n=80, seed=2)  # another draw: none of its stays was seen in training
    out = tmp_path / "grid"
    shutil.copytree(tiny_run, out / "synthetic" / f"lemof__{run.encoders}__seed0")
    spec = GridSpec(["synthetic"], ["lemof"], {"synthetic": [run.encoders]}, [0], {})
    report = gr.build_report(out, spec, {"synthetic": tiny_cohort}, B=200, external_dirs={"synthetic": external})
    ext = report["external"]["synthetic"]
    assert ext["n_test_stays"] == 80 and ext["bundle"]["fingerprint"] == open_bundle(external).fingerprint
    (cell,) = ext["cells"]
    expected = evaluate_run(run, open_bundle(external), split="all")["model"]["mae_days"]
    assert cell["metrics"]["mae_days"]["estimate"] == pytest.approx(expected, rel=1e-6)  # float32 network, same stays
    internal = report["cohorts"]["synthetic"]["cells"][0]["metrics"]["mae_days"]["estimate"]
    assert internal == pytest.approx(json.loads((tiny_run / "metrics.json").read_text())["test"]["model"]["mae_days"])
    assert list((out / "synthetic" / ".external").glob("*.parquet"))  # computed once, then read
    again = gr.build_report(out, spec, {"synthetic": tiny_cohort}, B=200, external_dirs={"synthetic": external})
    assert again["external"]["synthetic"]["cells"] == ext["cells"]
    assert "## External: trained on synthetic, scored on all 80 stays" in (out / "report.md").read_text()
    with pytest.raises(ValueError, match="training cohort itself"):
        gr.build_report(out, spec, {"synthetic": tiny_cohort}, B=50, external_dirs={"synthetic": tiny_cohort})


def test_bootstrap_in_slices_draws_the_same_resamples_as_at_once():
    """A large cohort is resampled in slices (bounded memory): the same draws, so the same interval."""
    for n, B, budget in [(7, 5, 14), (1001, 13, 3000), (3, 400, 20), (50, 9, 1)]:
        slices = list(bootstrap_index_slices(n, B, seed=5, budget=budget))
        assert len(slices) > 1
        assert np.array_equal(np.concatenate(slices), bootstrap_indices(n, B, seed=5))
    x = np.random.default_rng(0).exponential(4.0, 3000)
    assert bootstrap_mean_ci(x, B=2000, seed=2) == bootstrap_mean_ci(x, idx=bootstrap_indices(len(x), 2000, seed=2))  # 6e6 values: two slices
