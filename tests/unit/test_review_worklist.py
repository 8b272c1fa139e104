"""The worklist's order and status, "next unreviewed", and what the reviews say (agreement by band
and unit, the reviewers' estimates against the model): pure tables, no database, no model."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lemof.reviews.analysis import BAND_LABELS, agreement, estimates_vs_model, wilson
from lemof.reviews.worklist import STATUS_MINE, STATUS_NOT, STATUS_OTHERS, next_unreviewed, worklist


def _base(ids):
    return pd.DataFrame({"stay_id": np.asarray(ids, dtype=np.int64), "unit": "Medical ICU", "signal": True,
                         "predicted_los_days": 3.0, "interval_low_days": 1.0, "interval_high_days": 6.0})


def _status(rows):
    cols = ["stay_id", "mine", "my_verdict", "others", "other_models", "assigned_to_me", "assignees"]
    return pd.DataFrame(rows, columns=cols)


def test_worklist_puts_my_assigned_stays_first_then_the_unreviewed():
    base = _base([10, 11, 12, 13, 14])
    status = _status([
        (11, True, "agree", 0, 0, False, ""),
        (12, False, None, 2, 0, False, ""),
        (14, False, None, 0, 1, True, "ana@h.org"),
        (13, True, "partly", 1, 0, True, "ana@h.org, ben@h.org"),
        (99, True, "agree", 0, 0, False, ""),  # another scope's stay: left out
    ])
    table = worklist(base, status)
    assert table["stay_id"].tolist() == [14, 13, 10, 12, 11]  # assigned (unreviewed, reviewed), then unreviewed by me, then mine
    by = table.set_index("stay_id")
    assert by.loc[11, "status"] == STATUS_MINE and by.loc[11, "my_verdict"] == "agree"
    assert by.loc[12, "status"] == STATUS_OTHERS and by.loc[12, "others"] == 2
    assert by.loc[10, "status"] == STATUS_NOT and by.loc[10, "others"] == 0 and not by.loc[10, "assigned_to_me"]
    assert by.loc[14, "status"] == STATUS_NOT and by.loc[14, "other_models"] == 1  # reviewed under another model only: not reviewed here
    assert by.loc[13, "assignees"] == "ana@h.org, ben@h.org"


def test_worklist_without_any_review_or_assignment():
    table = worklist(_base([3, 1, 2]), _status([]))
    assert table["stay_id"].tolist() == [1, 2, 3]
    assert (table["status"] == STATUS_NOT).all() and (table["others"] == 0).all()


def test_next_unreviewed_follows_the_order_and_wraps_round():
    table = worklist(_base([1, 2, 3, 4]), _status([(2, True, "agree", 0, 0, False, ""), (4, True, "agree", 0, 0, False, "")]))
    # order: 1, 3 (unreviewed), 2, 4 (mine)
    assert next_unreviewed(table) == 1
    assert next_unreviewed(table, after=1) == 3
    assert next_unreviewed(table, after=3) == 1  # wraps round to the first unreviewed one
    assert next_unreviewed(table, after=2) == 1  # after a reviewed stay: the first one still to do
    done = worklist(_base([1, 2]), _status([(1, True, "agree", 0, 0, False, ""), (2, True, "partly", 0, 0, False, "")]))
    assert next_unreviewed(done) is None and next_unreviewed(done, after=1) is None


def _bundle():
    stays = pd.DataFrame({"stay_id": [1, 2, 3, 4, 5], "first_careunit": ["MICU", "MICU", "SICU", "SICU", "CCU"],
                          "los_days": [1.0, 3.0, 5.0, 10.0, np.nan]})
    return SimpleNamespace(stays=stays, source="synthetic")


def _reviews(rows):
    return pd.DataFrame(rows, columns=["stay_id", "user", "verdict", "estimate_days", "predicted_los_days"])


def test_agreement_by_band_and_unit_counts_each_verdict():
    reviews = _reviews([
        (1, "a", "agree", None, 1.5), (1, "b", "disagree", 4.0, 1.5), (2, "a", "partly", 2.0, 3.0),
        (3, "a", "agree", None, 5.0), (4, "b", "agree", 9.0, 15.0), (77, "a", "agree", None, 2.0),  # 77: not in the cohort
    ])
    band = agreement(reviews, _bundle(), "band").set_index("group")
    assert list(band.index) == [BAND_LABELS[0], BAND_LABELS[1], BAND_LABELS[2], BAND_LABELS[4]]
    assert band.loc[BAND_LABELS[0], ["reviews", "agree", "partly", "disagree"]].tolist() == [2, 1, 0, 1]
    assert band.loc[BAND_LABELS[0], "agree_share"] == pytest.approx(0.5)
    unit = agreement(reviews, _bundle(), "unit").set_index("group")
    assert unit["reviews"].sum() == 5
    assert unit.loc["Medical ICU", "reviews"] == 3 and unit.loc["Medical ICU", "partly"] == 1
    lo, hi = wilson(1, 2)
    assert unit.loc["Medical ICU", "agree_lo"] <= unit.loc["Medical ICU", "agree_share"] <= unit.loc["Medical ICU", "agree_hi"]
    assert 0 < lo < 0.5 < hi < 1


def test_wilson_interval_matches_the_textbook_value():
    # Wilson 95 % interval for 8/10: 0.4902 to 0.9433 (Newcombe 1998, method 3)
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=5e-4) and hi == pytest.approx(0.9433, abs=5e-4)


def test_estimates_against_the_model_on_reviews_with_an_outcome():
    reviews = _reviews([
        (1, "a", "disagree", 1.5, 3.0),   # reviewer |1.5-1| = 0.5, model 2.0
        (2, "b", "partly", 4.0, 3.5),     # 1.0, 0.5
        (4, "a", "agree", 9.0, 6.0),      # 1.0, 4.0
        (3, "a", "agree", None, 5.0),     # no estimate: left out
        (5, "a", "agree", 2.0, 2.0),      # no observed LOS: left out
    ])
    cmp = estimates_vs_model(reviews, _bundle(), B=500)
    assert (cmp.n, cmp.stays, cmp.reviewers) == (3, 3, 2)
    assert cmp.reviewer_mae_days == pytest.approx((0.5 + 1.0 + 1.0) / 3)
    assert cmp.model_mae_days == pytest.approx((2.0 + 0.5 + 4.0) / 3)
    d = cmp.difference
    assert d["estimate"] == pytest.approx(cmp.reviewer_mae_days - cmp.model_mae_days)
    assert d["lo"] <= d["estimate"] <= d["hi"]
    assert estimates_vs_model(_reviews([(3, "a", "agree", None, 5.0)]), _bundle()) is None
