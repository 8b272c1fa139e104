"""URL parameters: a ``?param=`` link is applied once, when it is new; a choice is mirrored back.

Every widget whose choice can be shared (cohort, run, stay, the compared runs) follows the same
three steps: ``take`` the link before the widget is drawn (it returns the value only when it
differs from the one last applied or written, so a link never overrides the user's later
choice), set the widget from it, and ``mirror`` the widget's value into the URL afterwards.

What was applied is remembered per *scope* (``"sidebar"``, ``"case"``, ``"compare"``) and
parameter, in one session-state entry, so two pages that both use ``?stay=`` do not swallow each
other's links: the compare page writing ``?stay=7`` does not make the case review's ``?stay=7``
look already applied.
"""

from __future__ import annotations

import streamlit as st

_APPLIED = "_lemof_links_applied"  # {"<scope>:<param>": the value last applied or written}


def _applied() -> dict[str, str]:
    return st.session_state.setdefault(_APPLIED, {})


def take(scope: str, param: str) -> str | None:
    """``?param=`` if it is new for ``scope`` since it was last applied or written (it is then
    marked applied), else None."""
    value = st.query_params.get(param)
    if value is None or _applied().get(f"{scope}:{param}") == value:
        return None
    _applied()[f"{scope}:{param}"] = value
    return value


def mirror(scope: str, param: str, value: str) -> None:
    """Write the current choice into the URL, marked applied (so it is never re-applied as a link)."""
    st.query_params[param] = value
    _applied()[f"{scope}:{param}"] = value
