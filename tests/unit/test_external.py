"""External validation: which stays of a cohort a run has seen, and the sentence a reader gets."""

from __future__ import annotations

import numpy as np
import pytest

from testkit.paths import SHIPPED_PHYSIONET_RUN


def test_own_cohort_another_draw_and_the_same_draw(tiny_cohort, tiny_run, tmp_path):
    from lemof import load_run, open_bundle
    from lemof.data.synthetic import generate_synthetic
    from lemof.evaluation.external import relation

    run = load_run(tiny_run)
    own = relation(run, open_bundle(tiny_cohort))
    assert own.kind == "own" and own.n_seen == int((open_bundle(tiny_cohort).stays["split"] != "test").sum())
    assert "only its held-out test stays" in own.sentence(run.run_id, "tiny")

    generate_synthetic(tmp_path / "other-draw", n=80, seed=2)
    other = relation(run, open_bundle(tmp_path / "other-draw"))
    assert other.kind == "external" and other.external and other.n_seen == 0 and other.n_stays == 80
    assert other.sentence(run.run_id, "draw 2").startswith("External validation:")

    generate_synthetic(tmp_path / "same-draw", n=80, seed=1)  # the first 80 stays of the run's own cohort, split differently
    same = relation(run, open_bundle(tmp_path / "same-draw"))
    stored = run.predictions.set_index("stay_id")
    ids = open_bundle(tmp_path / "same-draw").stays["stay_id"].to_numpy()
    expected = int(stored.loc[ids, "split"].isin(["train", "val"]).sum())
    assert same.kind == "overlapping" and same.n_seen == expected > 0
    assert same.sentence(run.run_id, "same").startswith(f"Not external: {expected} of the 80 stays")


def test_a_physionet_run_on_one_set_is_not_external_when_it_trained_on_both(physionet_cohort):
    from lemof import load_run, open_bundle
    from lemof.evaluation.external import relation
    from lemof.runs.catalog import ensure_cohort

    run = load_run(SHIPPED_PHYSIONET_RUN)  # trained on sets a+b
    set_a = open_bundle(ensure_cohort("physionet2012-a"))
    rel = relation(run, set_a)
    stored = run.predictions
    fitted = stored.loc[stored["split"].isin(["train", "val"]), "stay_id"]
    assert rel.kind == "overlapping" and rel.n_seen == int(np.isin(set_a.stays["stay_id"], fitted).sum())
    assert 0.7 * len(set_a) < rel.n_seen < 0.95 * len(set_a)  # about the train + val share (85 %) of set a
