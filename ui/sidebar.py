"""The sidebar: which cohort and which trained run are active. The single source of truth.

The choice lives in two widgets (cohort; run, keyed per cohort) and is mirrored into the URL
(``?cohort=…&run=…``) so a view can be shared. A link is applied once, when it is new
(``ui.links``); a link that names something unknown is reported, with what is shown instead.
This module is the only writer of its widgets' keys: another page that changes the active model
calls ``activate``.
"""

from __future__ import annotations

import logging
import threading

import streamlit as st

from lemof import CohortEntry, LemofError, RunEntry, build_cohort, list_cohorts, list_runs
from lemof.runs.catalog import preferred_order, run_id_from_link
from lemof.runs.shared_default import read_defaults
from lemof.paths import cache_dir
from ui import links, loaders
from ui.context import ActiveContext
from ui.widgets import md

log = logging.getLogger("lemof.app")
_build_lock = threading.Lock()
LINK_SCOPE = "sidebar"  # of its links (ui.links)
COHORT_WIDGET = "cohort_select"


def _run_widget(cohort_key: str) -> str:
    return f"run_select:{cohort_key}"  # one selection per cohort: switching cohorts never shows a stale run


def activate(cohort_key: str, run_id: str) -> str | None:
    """Make ``run_id`` the active model on cohort ``cohort_key`` (a catalog key), as if picked here.

    Call it from a button callback: it runs before the sidebar's widgets are drawn, and the next
    run shows the choice. Returns why it cannot be done (a cohort the app does not know, a run not
    offered for that cohort's family), with nothing changed, or None when done.
    """
    cohorts = {c.key: c for c in list_cohorts()}
    cohort = cohorts.get(cohort_key)
    if cohort is None:
        return (f"Cannot make {run_id} the active model: its cohort {cohort_key!r} is not one the app knows "
                f"(it offers cohorts under {cache_dir() / 'cohorts'} and those listed in LEMOF_COHORTS).")
    runs, _ = list_runs(source=cohort.source)
    if run_id not in {r.run_id for r in runs}:
        return f"Cannot make {run_id} the active model: it is not a readable run for {md(cohort.label)}."
    st.session_state[COHORT_WIDGET] = cohort.key
    st.session_state[_run_widget(cohort.key)] = run_id
    links.mirror(LINK_SCOPE, "cohort", cohort.key)
    links.mirror(LINK_SCOPE, "run", run_id)
    return None


def _ensure_built(entry: CohortEntry) -> bool:
    """Build a built-in cohort on first use, with a progress bar."""
    if entry.ready:
        return True
    if entry.builtin is None:
        st.error(f"Cohort {md(entry.label)} is missing at {md(entry.path)}.")
        return False
    text = f"Building {md(entry.label)} (first use only, up to half a minute)…"
    bar = st.progress(0.0, text=text)

    def progress(stage: str, done: int, total: int, message: str = "", **info) -> None:
        bar.progress(min(done / total, 1.0) if total else 0.0, text=f"{text} {stage}: {done:,} / {total:,}")

    with _build_lock:  # one build per server process; others wait, then find it ready
        if not entry.ready:
            build_cohort(entry, progress=progress)
    bar.empty()
    return True


def _choose_cohort(cohorts: list[CohortEntry]) -> CohortEntry:
    keys = [c.key for c in cohorts]
    wanted = links.take(LINK_SCOPE, "cohort")
    if wanted is not None:
        if wanted in keys:
            st.session_state[COHORT_WIDGET] = wanted
        else:
            current = st.session_state.get(COHORT_WIDGET, keys[0])
            shown = cohorts[keys.index(current)] if current in keys else cohorts[0]
            st.warning(f"The link asks for cohort {wanted!r}, which is not available here. Showing **{md(shown.label)}** instead.")
    if st.session_state.get(COHORT_WIDGET) not in keys:
        st.session_state[COHORT_WIDGET] = keys[0]
    labels = {c.key: c.label for c in cohorts}
    key = st.sidebar.selectbox("Cohort", keys, key=COHORT_WIDGET, format_func=labels.__getitem__)
    links.mirror(LINK_SCOPE, "cohort", key)
    return cohorts[keys.index(key)]


def _choose_run(cohort: CohortEntry, runs: list[RunEntry], shared: str | None) -> RunEntry:
    """``shared``: the run a trainer made the default for everyone on this cohort (or None)."""
    ids = [r.run_id for r in runs]
    widget = _run_widget(cohort.key)
    wanted = links.take(LINK_SCOPE, "run")
    if wanted is not None:
        wanted = run_id_from_link(wanted, ids)
        if wanted in ids:
            st.session_state[widget] = wanted
        else:
            current = st.session_state.get(widget, ids[0])
            shown = current if current in ids else ids[0]
            st.warning(f"The link asks for model {wanted!r}, which is not available for {md(cohort.label)}. Showing **{shown}** instead.")
    if st.session_state.get(widget) not in ids:
        st.session_state[widget] = shared if shared in ids else ids[0]
    labels = {r.run_id: r.label for r in runs}
    run_id = st.sidebar.selectbox("Model (trained run)", ids, key=widget, format_func=labels.__getitem__)
    links.mirror(LINK_SCOPE, "run", run_id)
    return runs[ids.index(run_id)]


def render() -> ActiveContext | None:
    """Draw the cohort and model selectors; return the active context, or None with a message."""
    st.sidebar.header("Data and model")
    cohorts = list_cohorts()
    cohort = _choose_cohort(cohorts)
    try:
        if not _ensure_built(cohort):
            return None
        bundle = loaders.bundle(cohort.path)
    except LemofError as exc:
        st.error(f"Cannot open cohort {md(cohort.label)}: {md(exc)}")
        return None
    runs, problems = list_runs(source=bundle.source)
    for problem in problems:
        log.warning(problem)
    if not runs:
        st.warning(f"No trained model for {bundle.source!r} cohorts yet. Train one with `python -m lemof train --data {cohort.path} --out RUN_DIR`.")
        return None
    shared = read_defaults().get(cohort.key)  # read once per run
    entry = _choose_run(cohort, preferred_order(runs, bundle.name), shared and shared.get("run"))
    try:
        run = loaders.run(entry.path)
    except LemofError as exc:
        st.error(f"Cannot load model {entry.run_id}: {exc}")
        return None
    for warning in run.warnings:
        st.warning(warning)
    ctx = ActiveContext(cohort, bundle, entry, run)
    rel = ctx.relation
    note = {"own": "", "external": " · external to this cohort (none of its stays seen)",
            "overlapping": f" · saw {rel.n_seen:,} of this cohort's stays in training"}.get(rel.kind, " · trained on another cohort of this family")
    st.sidebar.success(
        f"**Active model:** {entry.run_id}  \n{run.encoders} · trained on {md(run.cohort.name)}{note}  \n"
        f"**Active cohort:** {md(bundle.name)} ({len(bundle):,} stays, {md(bundle.source)})"
    )
    if shared and shared.get("run") == entry.run_id:
        st.sidebar.caption(f"The default model for everyone on this cohort, set by {md(shared.get('by', '?'))} on {md(shared.get('at', '?'))}.")
    if bundle.provenance.get("citation"):
        st.sidebar.caption(f"Data: {md(bundle.provenance['citation'])}")
    st.sidebar.caption(
        "LeMoF Explorer · research software, not a medical device. Synthetic data is generated; "
        "PhysioNet/MIMIC data keep their own licences."
    )
    return ctx
