"""Checks shared by the hostile-text tests: what a case report's HTML holds, what a figure's text holds."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

# Raw (unescaped) forms of the payloads: none may survive into an HTML element or figure text.
RAW_FRAGMENTS = ("<script", "<img", "<b>bold", "<a href", 'onerror="', "</script")
# What the case report writes itself; an injected element would show up as another tag.
REPORT_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "b", "div", "figure", "figcaption", "ol", "li", "table", "tr", "th", "td", "script"}


class ReportHtml(HTMLParser):
    """Elements, scripts and visible text of an HTML page, as a browser's tokenizer splits them
    (``<script>`` content is raw text up to ``</script``, so a break-out shows as a new element)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self._texts: list[str] = []
        self._inside: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))
        if tag in ("script", "style"):
            self._inside = tag
            if tag == "script":
                self.scripts.append("")

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, attrs))

    def handle_endtag(self, tag):
        if tag == self._inside:
            self._inside = None

    def handle_data(self, data):
        if self._inside == "script":
            self.scripts[-1] += data
        elif self._inside is None:
            self._texts.append(data)

    @property
    def text(self) -> str:
        """The visible text, character references decoded (what a reader sees)."""
        return re.sub(r"\s+", " ", " ".join(self._texts))


def plotly_script_kind(script: str) -> str | None:
    """Which of Plotly's own scripts ``script`` is (config, library, figure), or None."""
    s = script.strip()
    if s.startswith("window.PlotlyConfig"):
        return "config"
    if s.startswith("/**") and "plotly.js v" in s[:200]:
        return "library"
    if s.startswith("window.PLOTLYENV") and "Plotly.newPlot(" in s:
        return "figure"
    return None


def newplot_figures(script: str) -> list[dict]:
    """The ``data`` and ``layout`` of every ``Plotly.newPlot(id, data, layout, config)`` call, as JSON."""
    decoder = json.JSONDecoder()
    out = []
    for m in re.finditer(r"Plotly\.newPlot\(\s*", script):
        values, i = [], m.end()
        for _ in range(4):
            value, i = decoder.raw_decode(script, i)
            values.append(value)
            i = re.compile(r"\s*,?\s*").match(script, i).end()
        out.append({"data": values[1], "layout": values[2]})
    return out


def strings(obj) -> list[str]:
    """Every string inside a JSON value (keys of dicts included)."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in (*strings(k), *strings(v))]
    if isinstance(obj, list):
        return [s for v in obj for s in strings(v)]
    return []


def figure_texts(figure: dict) -> list[str]:
    """Every string of a figure's JSON that Plotly may draw: all but a trace's ``customdata``, which
    carries raw values back to the app on selection and is drawn only if a template names it."""
    out = strings(figure.get("layout", {}))
    for trace in figure.get("data", []):
        templates = " ".join(str(trace.get(k, "")) for k in ("hovertemplate", "texttemplate"))
        out += strings({k: v for k, v in trace.items() if k != "customdata" or "customdata" in templates})
    return out


def raw_payloads(texts: list[str]) -> list[str]:
    """The texts that hold a payload unescaped."""
    return [t for t in texts if any(f in t for f in RAW_FRAGMENTS)]


def shown(markdown: str) -> str:
    """What Streamlit shows of Markdown source that only escapes characters (CommonMark: a
    backslash before ASCII punctuation stands for that character): AppTest sees the source."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def stay_in(bundle, care_unit: str, with_signal: bool = True) -> int:
    """The first stay of the hostile cohort in ``care_unit`` (with or without a biosignal)."""
    s = bundle.stays
    pick = s.loc[(s["first_careunit"] == care_unit) & (s["has_signal"] == with_signal), "stay_id"]
    assert len(pick), f"the hostile cohort has a stay in {care_unit!r}"
    return int(pick.iloc[0])
