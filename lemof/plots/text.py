"""Text from a cohort or a run, shown literally: the one escape for HTML and for Plotly figure text.

Cohort bundles and runs carry text the app shows but did not write: the cohort's name, source
and citation, care units and other categorical values, feature names, labels, units and groups,
channel names, run ids. Two places would read markup in it:

- the case report, an HTML page (``lemof.report``);
- every Plotly figure: Plotly draws titles, axis and tick labels, legend names, annotations and
  hover text through its own small HTML reader (``<b>``, ``<i>``, ``<br>``, ``<sup>``,
  ``<span style>``, ``<a href>`` and character references such as ``&amp;``).

``literal`` makes any text read as written in both, so ``Ca++ & Mg`` and ``MICU/SICU`` still
read right and ``<b>x</b>`` or ``<img onerror=…>`` is shown, not obeyed. It writes ``&``, ``<``,
``>``, ``"`` and ``'`` as character references (numeric for the quotes, the form Plotly also
decodes), so its output is safe in HTML text, in an HTML attribute value and in figure text.

The rule: every plot function takes plain text and passes what it puts into a figure through
``literal``; the report passes every value through ``literal``. A figure's one-line text
alternative is kept in the same (escaped) form and ``plain`` turns it back into plain text for
the places that are not markup (Streamlit's ``alt``, its caption). Streamlit itself shows
``st.markdown`` text with raw HTML escaped, so the app's own text needs no escaping here.
"""

from __future__ import annotations

import html

_REFERENCES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&#34;", ord("'"): "&#39;"}


def literal(value: object) -> str:
    """``value`` as text that HTML and Plotly show exactly as written (no tag, no entity obeyed)."""
    return str(value).translate(_REFERENCES)


def plain(text: str) -> str:
    """Figure or HTML text back to plain text: the inverse of ``literal``."""
    return html.unescape(text)
