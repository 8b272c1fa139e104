"""The page registry, the sidebar and the hand-over of the active context: what ``app.py`` runs."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import context, sidebar

ROOT = Path(__file__).resolve().parent.parent


def pages() -> list:
    return [
        st.Page(str(ROOT / "pages" / "case_review.py"), title="Case review", icon=":material/person_search:", default=True),
        st.Page(str(ROOT / "pages" / "compare.py"), title="Compare runs", icon=":material/compare_arrows:"),
        st.Page(str(ROOT / "pages" / "model_card.py"), title="Model and cohort", icon=":material/insights:"),
        st.Page(str(ROOT / "pages" / "retrain.py"), title="Retrain", icon=":material/model_training:"),
    ]


def route():
    """Register the pages (the sidebar menu), follow a ``?page=`` link, draw the sidebar and
    publish the active context; returns the page to run."""
    registry = pages()
    page = st.navigation(registry)
    context.follow_page_link(registry, page)
    context.publish(sidebar.render())
    return page
