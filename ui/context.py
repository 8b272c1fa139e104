"""The active context (cohort, bundle, run) a page works on: built once per script run by the
sidebar in ``app.py`` and handed to the page that runs next.

Streamlit has two multipage modes. ``app.py`` uses ``st.navigation``; but while a server has
not yet run ``st.navigation`` once, the presence of a ``pages/`` folder makes it run a page file
named in the very first request *directly*, without ``app.py`` (and ``AppTest.switch_page``
always does). ``current()`` detects that mode exactly (``PagesManager.uses_pages_directory``),
routes as ``app.py`` would (menu, sidebar, context) and runs the page from there, then stops
the direct run: one run, so no click is lost, and the page's widgets always live under the
router's page identity, so their state survives from run to run.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import streamlit as st

from lemof import CohortBundle, CohortEntry, Run, RunEntry

_KEY = "_lemof_active_context"


@dataclass(frozen=True)
class ActiveContext:
    cohort: CohortEntry
    bundle: CohortBundle
    run_entry: RunEntry
    run: Run

    @property
    def sig_label(self) -> str:
        """Short name of the cohort's biosignal ("ECG", "Bedside")."""
        return self.bundle.sig_label

    @property
    def trained_on_this_cohort(self) -> bool:
        return self.run.cohort.fingerprint == self.bundle.fingerprint


def publish(ctx: ActiveContext | None) -> None:
    """Called by ``app.py`` after the sidebar, before the page runs."""
    st.session_state[_KEY] = ctx


def current() -> ActiveContext:
    """The active context for a page; stops the page (a message is already shown) if there is none."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:  # a page file run without app.py: run it through the router instead
        from ui import router  # lazy: ui.router imports ui.sidebar, which imports this module

        router.route().run()  # st.navigation (ends this mode), the sidebar, then this very page, in this run
        st.stop()
    ctx = st.session_state.get(_KEY)
    if ctx is None:
        st.stop()
    return ctx


def follow_page_link(pages: list, current) -> None:
    """``?page=compare`` (a page's URL path) opens that page, keeping the link's other parameters."""
    wanted = st.query_params.get("page")
    if not wanted:
        return
    params = {k: v for k, v in st.query_params.items() if k != "page"}
    target = next((p for p in pages if p.url_path == wanted), None)
    if target is None:
        st.query_params.pop("page")
        st.warning(f"The link asks for page {wanted!r}, which does not exist; showing {current.title} instead.")
        return
    if target.url_path != current.url_path:
        st.switch_page(target, query_params=params)
    st.query_params.pop("page")


def case_link(ctx: ActiveContext, run_id: str, stay_id: int) -> str:
    """URL of the case review of ``stay_id`` under ``run_id`` in the active cohort (relative to
    the app; encoded, so a '+' in a run id survives)."""
    return "./?" + urlencode({"cohort": ctx.cohort.key, "run": run_id, "stay": int(stay_id)})
