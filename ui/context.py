"""The active context (cohort, bundle, run) a page works on: built once per script run by the
sidebar, published by the router (``ui.router``, run by ``app.py``) and read by the page that runs
next (``current()``).

Streamlit has two multipage modes. ``app.py`` uses ``st.navigation``; but while a server has
not yet run ``st.navigation`` once, the presence of a ``pages/`` folder makes it run a page file
named in the very first request *directly*, without ``app.py`` (and ``AppTest.switch_page``
may do the same). ``current()`` detects that mode exactly (``PagesManager.uses_pages_directory``),
runs the app's entry point in its place (Streamlit's main script, ``app.py``: menu, sidebar,
context, then this very page) and stops the direct run: one run, so no click is lost, and the
page's widgets always live under the router's page identity, so their state survives from run
to run. This module imports nothing of ``ui``: the router and the sidebar import it.
"""

from __future__ import annotations

import runpy
from dataclasses import dataclass
from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from lemof import CohortBundle, CohortEntry, Run, RunEntry
from lemof.evaluation.external import CohortRelation, relation
from lemof.evaluation.predictions import reads_stored

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
        return reads_stored(self.run, self.bundle)

    @property
    def relation(self) -> CohortRelation:
        """Whether scoring the run on this cohort is an external validation (which stays it saw)."""
        return relation(self.run, self.bundle)


def publish(ctx: ActiveContext | None) -> None:
    """Called by the router after the sidebar, before the page runs."""
    st.session_state[_KEY] = ctx


def current() -> ActiveContext:
    """The active context for a page (every page starts with it); stops the page (a message is
    already shown) if there is none."""
    if PagesManager.uses_pages_directory:  # a page file run without app.py: run app.py instead
        runpy.run_path(get_script_run_ctx().main_script_path)  # st.navigation (ends this mode), the sidebar, then this very page
        st.stop()
    ctx = st.session_state.get(_KEY)
    if ctx is None:
        st.stop()
    return ctx


def case_link(ctx: ActiveContext, run_id: str, stay_id: int) -> str:
    """URL of the case review of ``stay_id`` under ``run_id`` in the active cohort (relative to
    the app; encoded, so a '+' in a run id survives)."""
    return "./?" + urlencode({"cohort": ctx.cohort.key, "run": run_id, "stay": int(stay_id)})
