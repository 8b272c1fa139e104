"""How every chart, failure and long computation is shown."""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from typing import Iterator

import plotly.graph_objects as go
import streamlit as st

from lemof import LemofError
from lemof.plots import alt_text

log = logging.getLogger("lemof.app")
PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
_MARKDOWN = re.compile(r"([\\`*_\[\]<>!|~$&])")  # what opens Markdown (or Streamlit's :color[...]) inside a line


def md(value: object) -> str:
    """Text from a cohort or a run (a name, a citation, a care unit, a feature label) as Markdown
    that Streamlit shows exactly as written: every Markdown character backslash-escaped, so
    ``![x](http://…)`` is neither an image fetched from outside nor ``[a](b)`` a link, nor
    ``**x**`` bold. (Streamlit already shows raw HTML as text.) The app's own text needs none.
    Not covered: Streamlit turns a bare URL or e-mail address into a link whatever the escaping
    (a link is only followed on a click; nothing is fetched)."""
    return _MARKDOWN.sub(r"\\\1", " ".join(str(value).splitlines()))  # one line: no heading, list or block from a value


def chart(fig: go.Figure, key: str) -> None:
    """A Plotly figure with its one-line text alternative: as the chart's ``alt`` (read by screen
    readers) and as a caption under it (read by everyone)."""
    text = alt_text(fig)
    st.plotly_chart(fig, key=key, config=PLOTLY_CONFIG, alt=text or None)
    if text:
        st.caption(md(text))  # it names features, units and care units: cohort text


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Show a failure of one section as an error box and let the rest of the page run."""
    try:
        yield
    except LemofError as exc:
        st.error(f"{what}: {exc}")
    except Exception:  # noqa: BLE001 - the page must keep working; details go to the log
        log.exception("%s failed", what)
        st.error(f"{what} could not be shown because of an internal error; the details are in the server log.")


@contextmanager
def section(title: str) -> Iterator[None]:
    """A page section: its subheader, then its body guarded like ``guarded``."""
    st.subheader(title)
    with guarded(title):
        yield
