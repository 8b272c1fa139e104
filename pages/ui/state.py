"""Loading shared resources (cached) and the active cohort + model chosen in the sidebar."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from lemof import CohortBundle, LemofError, Run, StayExplanation, explain_stay, load_run, open_bundle
from lemof.explain.input_attribution import InputAttribution, input_attributions
from lemof.catalog import CohortEntry, RunEntry, build_cohort, list_cohorts, list_runs

log = logging.getLogger("lemof.app")
_generate_lock = threading.Lock()
_PUBLISHED = "_lemof_context_this_run"
# (file, title, icon) of every page; app.py registers them, the sidebar links to them.
PAGES = (
    ("pages/case_review.py", "Case review", ":material/person_search:"),
    ("pages/model_card.py", "Model and cohort", ":material/insights:"),
)


@dataclass
class ActiveContext:
    cohort: CohortEntry
    bundle: CohortBundle
    run_entry: RunEntry
    run: Run

    @property
    def sig_label(self) -> str:
        return str(self.bundle.features["signal"].get("short_label", "Signal"))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(show_spinner=False, max_entries=8)
def _load_run(path: str, stamp: tuple[float, float]) -> Run:
    # One shared, read-only model per (run directory, file times): a retrained run is never stale.
    return load_run(path)


def load_run_cached(path: Path) -> Run:
    return _load_run(str(path), (_mtime(path / "config.json"), _mtime(path / "model.safetensors")))


@st.cache_resource(show_spinner=False, max_entries=8)
def _open_bundle(path: str, stamp: float) -> CohortBundle:
    return open_bundle(path)


def open_bundle_cached(path: Path) -> CohortBundle:
    return _open_bundle(str(path), _mtime(path / "provenance.json"))


@st.cache_data(show_spinner=False, max_entries=512)
def _explain(run_path: str, run_stamp: tuple[float, float], cohort_path: str, cohort_stamp: float, stay_id: int) -> StayExplanation:
    run = _load_run(run_path, run_stamp)
    bundle = _open_bundle(cohort_path, cohort_stamp)
    return explain_stay(run, bundle, stay_id)


def explanation(ctx: ActiveContext, stay_id: int) -> StayExplanation:
    """The (cached) explanation of one stay under the active run and cohort."""
    run_path = ctx.run_entry.path
    stamp = (_mtime(run_path / "config.json"), _mtime(run_path / "model.safetensors"))
    return _explain(str(run_path), stamp, str(ctx.cohort.path), _mtime(ctx.cohort.path / "provenance.json"), int(stay_id))


@st.cache_data(show_spinner=False, max_entries=128)
def _attribute(run_path: str, run_stamp: tuple[float, float], cohort_path: str, cohort_stamp: float, stay_id: int) -> InputAttribution:
    return input_attributions(_load_run(run_path, run_stamp), _open_bundle(cohort_path, cohort_stamp), stay_id)


def attribution(ctx: ActiveContext, stay_id: int) -> InputAttribution:
    """The (cached) Integrated Gradients attribution of one stay's inputs."""
    run_path = ctx.run_entry.path
    stamp = (_mtime(run_path / "config.json"), _mtime(run_path / "model.safetensors"))
    return _attribute(str(run_path), stamp, str(ctx.cohort.path), _mtime(ctx.cohort.path / "provenance.json"), int(stay_id))


def _ensure_built(entry: CohortEntry) -> bool:
    """Build a built-in cohort on first use, with a progress bar."""
    if entry.ready:
        return True
    if entry.builtin is None:
        st.error(f"Cohort {entry.label} is missing at {entry.path}.")
        return False
    text = f"Building {entry.label} (first use only, up to half a minute)…"
    bar = st.progress(0.0, text=text)
    with _generate_lock:  # one build per server process; others wait, then find it ready
        if not entry.ready:
            build_cohort(entry, progress=lambda done, total: bar.progress(min(done / total, 1.0) if total else 0.0, text=f"{text} {done:,} / {total:,}"))
    bar.empty()
    return True


def _pick(label: str, options: list, key: str, param: str, format_func) -> object:
    """A sidebar selectbox whose choice also lives in the URL (``?param=``)."""
    wanted = st.query_params.get(param)
    ids = [format_func(o, short=True) for o in options]
    if key not in st.session_state and wanted in ids:
        st.session_state[key] = options[ids.index(wanted)]
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)
    choice = st.sidebar.selectbox(label, options, key=key, format_func=lambda o: format_func(o, short=False))
    st.query_params[param] = format_func(choice, short=True)
    return choice


def _disclaimer() -> None:
    st.sidebar.caption(
        "LeMoF Explorer · research software, not a medical device. Synthetic data is generated; "
        "PhysioNet/MIMIC data keep their own licences."
    )


def sidebar_context() -> ActiveContext | None:
    """Render the cohort and model selectors; return the active context or None (with a message)."""
    _disclaimer()
    st.sidebar.header("Data and model")
    cohorts = list_cohorts()
    cohort = _pick("Cohort", cohorts, "cohort_select", "cohort", lambda c, short: c.key if short else c.label)
    try:
        if not _ensure_built(cohort):
            return None
        bundle = open_bundle_cached(cohort.path)
    except LemofError as exc:
        st.error(f"Cannot open cohort {cohort.label}: {exc}")
        return None
    runs, problems = list_runs(source=bundle.source)
    for problem in problems:
        log.warning(problem)
    if not runs:
        st.warning(f"No trained model for {bundle.source!r} cohorts yet. Train one with `python -m lemof train --data {cohort.path} --out RUN_DIR`.")
        return None
    entry = _pick("Model (trained run)", runs, "run_select", "run", lambda r, short: r.run_id if short else r.label)
    try:
        run = load_run_cached(entry.path)
    except LemofError as exc:
        st.error(f"Cannot load model {entry.run_id}: {exc}")
        return None
    ctx = ActiveContext(cohort, bundle, entry, run)
    fp_note = "" if run.cohort.get("fingerprint") == bundle.fingerprint else " · trained on another draw of this cohort family"
    st.sidebar.success(
        f"**Active model:** {entry.run_id}  \n{run.encoders} · trained on {run.cohort.get('name')}{fp_note}  \n"
        f"**Active cohort:** {bundle.name} ({len(bundle):,} stays, {bundle.source})"
    )
    if bundle.provenance.get("citation"):
        st.sidebar.caption(f"Data: {bundle.provenance['citation']}")
    return ctx


def publish_context(ctx: ActiveContext | None) -> None:
    """Called by app.py after drawing the sidebar: hands the context to the page of this run."""
    st.session_state[_PUBLISHED] = ctx


def page_context() -> ActiveContext | None:
    """The active context for a page script.

    Normally app.py drew the sidebar in this same run and published the context. Streamlit
    runs a page file without app.py when the first request of a fresh server names the page
    directly (a ``pages/`` directory switches on its legacy multipage mode until
    ``st.navigation`` has been called once); the page then draws the sidebar itself.
    """
    if _PUBLISHED in st.session_state:
        return st.session_state.pop(_PUBLISHED)
    page_links()
    return sidebar_context()


def page_links() -> None:
    """The page menu, drawn as links so it works in both of Streamlit's multipage modes."""
    for path, title, icon in PAGES:
        st.sidebar.page_link(path, label=title, icon=icon)
