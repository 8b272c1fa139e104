"""The sidebar: which cohort and which trained run are active. The single source of truth.

The choice lives in two widgets (cohort; run, keyed per cohort) and is mirrored into the URL
(``?cohort=…&run=…``) so a view can be shared. A link is applied once, when it is new; a link
that names something unknown is reported, with what is shown instead.
"""

from __future__ import annotations

import logging
import threading

import streamlit as st

from lemof import CohortEntry, LemofError, RunEntry, build_cohort, list_cohorts, list_runs
from lemof.runs.catalog import preferred_order, run_id_from_link
from ui import loaders
from ui.context import ActiveContext

log = logging.getLogger("lemof.app")
_build_lock = threading.Lock()
_APPLIED = "_lemof_links_applied"


def _link(param: str) -> str | None:
    """``?param=`` if it is new since it was last applied (then it is marked applied)."""
    value = st.query_params.get(param)
    applied = st.session_state.setdefault(_APPLIED, {})
    if value is None or applied.get(param) == value:
        return None
    applied[param] = value
    return value


def _mark_applied(param: str, value: str) -> None:
    st.session_state.setdefault(_APPLIED, {})[param] = value
    st.query_params[param] = value


def _ensure_built(entry: CohortEntry) -> bool:
    """Build a built-in cohort on first use, with a progress bar."""
    if entry.ready:
        return True
    if entry.builtin is None:
        st.error(f"Cohort {entry.label} is missing at {entry.path}.")
        return False
    text = f"Building {entry.label} (first use only, up to half a minute)…"
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
    wanted = _link("cohort")
    if wanted is not None:
        if wanted in keys:
            st.session_state["cohort_select"] = wanted
        else:
            current = st.session_state.get("cohort_select", keys[0])
            shown = cohorts[keys.index(current)] if current in keys else cohorts[0]
            st.warning(f"The link asks for cohort {wanted!r}, which is not available here. Showing **{shown.label}** instead.")
    if st.session_state.get("cohort_select") not in keys:
        st.session_state["cohort_select"] = keys[0]
    labels = {c.key: c.label for c in cohorts}
    key = st.sidebar.selectbox("Cohort", keys, key="cohort_select", format_func=labels.__getitem__)
    _mark_applied("cohort", key)
    return cohorts[keys.index(key)]


def _choose_run(cohort: CohortEntry, runs: list[RunEntry]) -> RunEntry:
    ids = [r.run_id for r in runs]
    widget = f"run_select:{cohort.key}"  # one selection per cohort: switching cohorts never shows a stale run
    wanted = _link("run")
    if wanted is not None:
        wanted = run_id_from_link(wanted, ids)
        if wanted in ids:
            st.session_state[widget] = wanted
        else:
            current = st.session_state.get(widget, ids[0])
            shown = current if current in ids else ids[0]
            st.warning(f"The link asks for model {wanted!r}, which is not available for {cohort.label}. Showing **{shown}** instead.")
    if st.session_state.get(widget) not in ids:
        st.session_state[widget] = ids[0]
    labels = {r.run_id: r.label for r in runs}
    run_id = st.sidebar.selectbox("Model (trained run)", ids, key=widget, format_func=labels.__getitem__)
    _mark_applied("run", run_id)
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
        st.error(f"Cannot open cohort {cohort.label}: {exc}")
        return None
    runs, problems = list_runs(source=bundle.source)
    for problem in problems:
        log.warning(problem)
    if not runs:
        st.warning(f"No trained model for {bundle.source!r} cohorts yet. Train one with `python -m lemof train --data {cohort.path} --out RUN_DIR`.")
        return None
    entry = _choose_run(cohort, preferred_order(runs, bundle.name))
    try:
        run = loaders.run(entry.path)
    except LemofError as exc:
        st.error(f"Cannot load model {entry.run_id}: {exc}")
        return None
    for warning in run.warnings:
        st.warning(warning)
    ctx = ActiveContext(cohort, bundle, entry, run)
    note = "" if ctx.trained_on_this_cohort else " · trained on another draw of this cohort family"
    st.sidebar.success(
        f"**Active model:** {entry.run_id}  \n{run.encoders} · trained on {run.cohort.name}{note}  \n"
        f"**Active cohort:** {bundle.name} ({len(bundle):,} stays, {bundle.source})"
    )
    if bundle.provenance.get("citation"):
        st.sidebar.caption(f"Data: {bundle.provenance['citation']}")
    st.sidebar.caption(
        "LeMoF Explorer · research software, not a medical device. Synthetic data is generated; "
        "PhysioNet/MIMIC data keep their own licences."
    )
    return ctx
