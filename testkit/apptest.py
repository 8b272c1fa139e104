"""Helpers shared by the AppTest modules: failures on a page, its Plotly charts."""

from __future__ import annotations

import json

from testkit.paths import APP


def no_failures(at) -> None:
    """No exception and no error box on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def chart_list(at) -> list[dict]:
    """Every Plotly chart on the page in order: its figure (as JSON) and its alt text."""
    return [{"figure": json.loads(e.proto.spec), "alt": e.proto.alt} for e in at.get("plotly_chart")]


def charts(at) -> dict[str, dict]:
    """The same by title (the first line of it; an untitled chart gets a numbered name)."""
    out = {}
    for chart in chart_list(at):
        title = ((chart["figure"]["layout"].get("title") or {}).get("text") or "").split("<br>")[0]
        out[title or f"untitled-{len(out)}"] = chart
    return out


COMPARE_VIEWS = ("Level importance profiles", "What each level encodes", "Interval calibration", "Run against run, and one stay across runs")


def open_view(at, view: str, key: str = "compare_view"):
    """Open one view of a page's one-view-at-a-time control (the Compare page's, or ``case_view``)."""
    at.button_group(key=key).set_value(view).run()
    return at


def compare_page(timeout: float = 240, **params):
    """A fresh AppTest of the Compare page with ``params`` as the URL's query parameters, run once."""
    from streamlit.testing.v1 import AppTest  # lazy: the chart helpers above need no Streamlit

    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.query_params["page"] = "compare"
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()
