"""Level SHAP is exact: it adds up, and it equals a brute-force Shapley enumeration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lemof import CohortResults, explain_stay, load_run, open_bundle
from lemof.explain.level_shap import level_shapley


def _brute_force_shapley(f, x, background):
    n = len(x)
    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for k in range(n):
            for subset in itertools.combinations(others, k):
                z = background.copy()
                z[list(subset)] = x[list(subset)]
                without = f(z[None])[0]
                z[i] = x[i]
                with_i = f(z[None])[0]
                phi[i] += math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) * (with_i - without)
    return phi


def test_enumeration_equals_shaps_exact_explainer():
    import shap

    from lemof.explain.level_shap import exact_shapley

    rng = np.random.default_rng(3)
    weights = rng.normal(size=(7, 5))

    def f(z):  # non-additive: interactions make the coalition order matter
        return np.tanh(z @ weights).sum(axis=1) + z[:, 0] * z[:, 3]

    x, background = rng.normal(size=(40, 7)), rng.normal(size=7)
    phi, base = exact_shapley(f, x, background)
    reference = shap.explainers.Exact(f, shap.maskers.Independent(background[None, :], max_samples=1))(x, silent=True)
    assert np.allclose(phi, reference.values, atol=1e-12)
    assert base == pytest.approx(float(np.asarray(reference.base_values).reshape(-1)[0]), abs=1e-12)
    assert np.allclose(phi.sum(axis=1) + base, f(x), atol=1e-12), "efficiency: they add up to f(x)"


def test_too_many_levels_for_exact_values_is_a_clear_error():
    from lemof.errors import ConfigError
    from lemof.explain.level_shap import exact_shapley

    with pytest.raises(ConfigError, match="only computed up to 12 levels"):
        exact_shapley(lambda z: z.sum(axis=1), np.zeros((1, 13)), np.zeros(13))


def test_shap_matches_brute_force_enumeration(tiny_run):
    run = load_run(tiny_run)
    stacker = run.model.stacker
    rng = np.random.default_rng(0)
    x = stacker.background.numpy()[None, :] + rng.normal(0, 0.4, size=(3, stacker.n_levels))
    phi, base = level_shapley(stacker, x)
    assert base == pytest.approx(float(stacker.predict_numpy(stacker.background.numpy()[None])[0]), abs=1e-12)
    for row in range(3):
        expected = _brute_force_shapley(stacker.predict_numpy, x[row], stacker.background.numpy())
        assert np.allclose(phi[row], expected, atol=1e-10)


@pytest.mark.parametrize("which", ["with_signal", "without_signal", "another"])
def test_stay_shap_sums_to_stacker_output_and_contributions_to_prediction(tiny_run, tiny_cohort, stay_ids, which):
    run, bundle = load_run(tiny_run), open_bundle(tiny_cohort)
    stay = CohortResults(run, bundle).stay(stay_ids[which])
    e, heads = explain_stay(run, bundle, stay_ids[which])["level_shap"], stay.attribute("heads")
    assert e.total == pytest.approx(e.output - e.base, abs=1e-5)
    assert heads.base + heads.total == pytest.approx(heads.output, abs=1e-5)
    assert stay.prediction.los_days == pytest.approx(max(math.expm1(heads.output), 0.0), rel=1e-6)
    sig = [v for v, g in zip(e.values, e.groups) if g == "sig"]
    if which == "without_signal":
        assert sig == [None] * len(sig), "absent modality must not read as zero"
        assert all(v is None for k, v in zip(heads.names, heads.values) if k.startswith("sig."))
        assert stay.attention is None
    else:
        assert all(v is not None for v in sig)
        att = stay.attention.mean("ehr_to_sig")
        assert att.shape == (len(stay.attention.ehr_hours), len(stay.attention.sig_seconds))
        assert np.allclose(att.sum(axis=1), 1.0, atol=1e-5), "attention rows are distributions"


def test_stored_and_recomputed_explanations_agree(tiny_run, tiny_cohort, stay_ids):
    run, bundle = load_run(tiny_run), open_bundle(tiny_cohort)
    for which in ("with_signal", "without_signal"):
        stored_stay = CohortResults(run, bundle).stay(stay_ids[which])
        stored = explain_stay(run, bundle, stay_ids[which])
        assert stored["level_shap"].detail["origin"] == "stored" and stored_stay.prediction.origin == "stored"
        fresh = load_run(tiny_run)
        fresh.predictions = None  # as for a cohort the run was not trained on
        computed_stay = CohortResults(fresh, bundle).stay(stay_ids[which])
        computed = explain_stay(fresh, bundle, stay_ids[which])
        assert computed["level_shap"].detail["origin"] == "computed" and computed_stay.prediction.origin == "computed"
        # Training explained all stays in batches; float32 batch effects move values by ~1e-6.
        a, b = stored["level_shap"].values, computed["level_shap"].values
        assert [v is None for v in a] == [v is None for v in b]
        assert np.allclose([v for v in a if v is not None], [v for v in b if v is not None], atol=1e-5)
        assert stored_stay.prediction.los_days == pytest.approx(computed_stay.prediction.los_days, abs=1e-5)
        assert np.allclose(stored_stay.prediction.interval_days, computed_stay.prediction.interval_days, atol=1e-5)
        for head, x, y in zip(stored["heads"].names, stored["heads"].values, computed["heads"].values):
            assert (x is None) == (y is None) and (x is None or x == pytest.approx(y, abs=1e-5)), head
        assert stored["heads"].base == pytest.approx(computed["heads"].base) and stored["heads"].groups == computed["heads"].groups


def test_a_stored_explanation_needs_no_torch(tiny_run, tiny_cohort, stay_ids):
    import subprocess
    import sys

    from testkit.paths import REPO

    code = (
        "import sys; from lemof import load_run, open_bundle, explain_stay; "
        f"e = explain_stay(load_run({str(tiny_run)!r}), open_bundle({str(tiny_cohort)!r}), {stay_ids['with_signal']}); "
        "print(e['level_shap'].detail['origin'], 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["stored", "False"]
