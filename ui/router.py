"""The page registry, the sidebar and the hand-over of the active context: what ``app.py`` runs."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from lemof.deploy.access import Role
from ui import access, context, sidebar

LOGO = Path(__file__).resolve().parent.parent / "assets" / "logo.png"


def configure() -> None:
    """Title, local favicon and wide layout, on every run whichever way the page was reached (a
    page's own icon would otherwise become the favicon, fetched from the internet)."""
    st.set_page_config(page_title="LeMoF Explorer", page_icon=str(LOGO), layout="wide")


def pages(role: Role = Role.TRAINER) -> list:
    """The pages ``role`` may open (Retrain: trainers only); paths are relative to the entry point
    (app.py), as Streamlit resolves them (the same page identity in both multipage modes, so
    widget state survives)."""
    registry = [
        st.Page("pages/case_review.py", title="Case review", icon=":material/person_search:", default=True),
        st.Page("pages/worklist.py", title="Worklist", icon=":material/checklist:"),
        st.Page("pages/compare.py", title="Compare runs", icon=":material/compare_arrows:"),
        st.Page("pages/evidence.py", title="Benchmark evidence", icon=":material/science:"),
        st.Page("pages/model_card.py", title="Model and cohort", icon=":material/insights:"),
        st.Page("pages/cohort.py", title="Cohort", icon=":material/groups:"),
    ]
    if role >= Role.TRAINER:
        registry.append(st.Page("pages/retrain.py", title="Retrain", icon=":material/model_training:"))
    return registry


def follow_page_link(registry: list, page) -> None:
    """``?page=compare`` (a page's URL path) opens that page, keeping the link's other parameters
    (a one-shot parameter: removed once followed)."""
    wanted = st.query_params.get("page")
    if not wanted:
        return
    params = {k: v for k, v in st.query_params.items() if k != "page"}
    target = next((p for p in registry if p.url_path == wanted), None)
    if target is None:
        st.query_params.pop("page")
        st.warning(f"The link asks for page {wanted!r}, which does not exist; showing {page.title} instead.")
        return
    if target.url_path != page.url_path:
        st.switch_page(target, query_params=params)
    st.query_params.pop("page")


def route():
    """Sign-in first (nothing of a patient before it), then register the visitor's pages (the
    sidebar menu), follow a ``?page=`` link, draw the sidebar and publish the active context;
    returns the page to run."""
    configure()
    visitor = access.gate()
    registry = pages(visitor.role)
    page = st.navigation(registry)
    follow_page_link(registry, page)
    access.entered(page.url_path)
    access.sidebar_badge(visitor)
    context.publish(sidebar.render())
    return page
