"""A MIMIC-IV cohort opens in the app (AppTest), with a run trained on it; the loader itself is tested in tests/unit/test_mimic.py."""

from __future__ import annotations

from lemof.data.bundle import open_bundle


def test_a_mimic_cohort_opens_in_the_app(mimic_bundle, mimic_run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from testkit.paths import REPO

    monkeypatch.setenv("LEMOF_COHORTS", str(mimic_bundle))
    monkeypatch.setenv("LEMOF_RUNS", str(mimic_run.parent))
    b = open_bundle(mimic_bundle)
    sid = int(b.stays["stay_id"].iloc[0])
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params["cohort"] = f"dir:{mimic_bundle}"
    at.query_params["stay"] = str(sid)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    status = at.sidebar.success[0].value
    assert "mimic-tiny" in status and "mimic-iv" in status
    assert any(m.label == "Predicted length of stay" for m in at.metric)
