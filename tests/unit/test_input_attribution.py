"""Integrated Gradients over the inputs: complete, shaped like the inputs, absent modality absent."""

from __future__ import annotations

import numpy as np
import pytest

from lemof import load_run, open_bundle
from lemof.explain.input_attribution import input_attributions


@pytest.mark.parametrize("which", ["with_signal", "without_signal"])
def test_attributions_are_complete_and_shaped_like_the_inputs(tiny_run, tiny_cohort, stay_ids, which):
    run, bundle = load_run(tiny_run), open_bundle(tiny_cohort)
    a = input_attributions(run, bundle, stay_ids[which], steps=128)
    assert np.asarray(a.ehr).shape == (len(bundle.ehr_feature_names), 24)
    assert set(a.static) == {"age", "sex", "admission_type", "first_careunit"}
    # completeness: the parts add up to prediction(x) - prediction(baseline), up to captum's delta
    assert a.total == pytest.approx(a.output - a.reference_output + a.delta, abs=1e-6)
    assert abs(a.delta) <= 0.05 * abs(a.output - a.reference_output) + 0.01
    expl_output = __import__("lemof").explain_stay(run, bundle, stay_ids[which])["heads"].output
    assert a.output == pytest.approx(expl_output, abs=1e-6), "the attributed output is the prediction"
    if which == "without_signal":
        assert a.sig is None and a.sig_channels is None
    else:
        assert np.asarray(a.sig).shape == (len(run.preprocessor.sig_channels), run.preprocessor.sig_len)
        assert a.sig_seconds[-1] < 10.0


def test_inputs_at_the_baseline_get_zero_attribution(tiny_run, tiny_cohort, stay_ids):
    """Attributions vanish exactly where the input equals the baseline (both channels zero)."""
    run, bundle = load_run(tiny_run), open_bundle(tiny_cohort)
    sid = stay_ids["with_signal"]
    a = input_attributions(run, bundle, sid, steps=16)
    x = run.preprocessor.ehr(bundle, np.array([bundle.row_of(sid)]))[0]  # (T, 2F + S)
    f = len(run.preprocessor.ehr_features)
    at_baseline = (x[:, :f] == 0) & (x[:, f : 2 * f] == 0)  # (T, F)
    assert at_baseline.any()
    assert np.allclose(np.asarray(a.ehr).T[at_baseline], 0.0, atol=1e-12)
