"""The 12-lead display (``lemof.plots.ecg``) as Chromium draws it: 25 mm/s and 10 mm/mV on screen
(pixels per second = 2.5 x pixels per mV at any width), and screenshots of the two real records
for a person to look at (test-artifacts/ecg-ptb-12lead.png, test-artifacts/ecg-monitor.png).
The figure's own settings are tested in ``tests/unit/test_ecg_plot.py``."""

from __future__ import annotations

import pytest

from lemof.plots import ecg_figure
from testkit.paths import REPO

REAL = REPO.parent / "shared" / "data" / "real-ecg"
ARTIFACTS = REPO / "test-artifacts"


@pytest.mark.parametrize(("record", "png"), [("s0010_re", "ecg-ptb-12lead.png"), ("3000003_0003", "ecg-monitor.png")])
def test_real_record_on_screen_keeps_paper_speed_and_gain(record, png, tmp_path, browser):
    wfdb = pytest.importorskip("wfdb")
    if not (REAL / f"{record}.hea").exists():
        pytest.skip(f"real ECG record {REAL / record} absent (../shared/data/real-ecg/ not checked out)")
    rec = wfdb.rdrecord(str(REAL / record))
    fig = ecg_figure(rec.p_signal.T, rec.sig_name, rec.fs, title=f"{record} ({rec.fs:g} Hz)")
    page_path = tmp_path / f"{record}.html"
    fig.write_html(page_path, include_plotlyjs=True)
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1100, 700):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(page_path.as_uri())
        page.wait_for_function("() => document.querySelector('.js-plotly-plot .main-svg') !== null", timeout=30_000)
        px_per_s, px_per_mv = page.evaluate(
            "() => { const l = document.querySelector('.js-plotly-plot')._fullLayout; return [l.xaxis._m, -l.yaxis._m]; }"
        )
        assert px_per_s / px_per_mv == pytest.approx(25 / 10, rel=1e-6)
        if width == 1100:
            page.locator(".js-plotly-plot").screenshot(path=str(ARTIFACTS / png))
        page.close()
