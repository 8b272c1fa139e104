"""Cached loading shared by every session of the server: the app's one caching module.

Runs and cohorts are loaded once per server (``st.cache_resource``, keyed by path and file
times, so a retrained run is never served stale) and never mutated per user. Per-stay results
live in one ``CohortResults`` per (run, cohort), shared by every session: a stay's prediction,
explanation, attention, similar stays and attributions are computed once, whoever asks first.
What the Compare and Cohort pages aggregate over a cohort (``comparison``, ``cohort_view``) and
the figures drawn from those aggregates (``figure``) are cached here too, keyed the same way.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pandas as pd
import streamlit as st

from lemof import CohortBundle, CohortResults, Run, StayResults, load_run, open_bundle
from lemof.models.gbm import MODEL_FILE as GBM_MODEL_FILE
from lemof.runs.layout import CONFIG_FILE
from lemof.runs.weights import WEIGHTS_FILE
from lemof.evaluation.cohort_view import CohortView, build_view
from lemof.evaluation.compare import Comparison, compare_runs
from lemof.explain.compute import compute_slot
from lemof.explain.whatif import WhatIf
from lemof.reviews import ReviewStore, default_url
from lemof.reviews.worklist import stays_to_review


if TYPE_CHECKING:
    import plotly.graph_objects as go


log = logging.getLogger("lemof.app")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def run_stamp(path: Path) -> tuple[float, float, float]:
    return (_mtime(path / CONFIG_FILE), _mtime(path / WEIGHTS_FILE), _mtime(path / GBM_MODEL_FILE))


def bundle_stamp(path: Path) -> float:
    return _mtime(path / "provenance.json")


def _build_network(run: Run) -> None:
    try:
        run.model  # imports torch and builds the network once (gbm: LightGBM and its trees); the page uses it for attention or TreeSHAP
    except Exception:  # noqa: BLE001 - the page reports it when it needs the network
        log.warning("building the network of run %s in the background failed", run.run_id, exc_info=True)


@st.cache_resource(show_spinner=False, max_entries=16)
def _run(path: str, stamp: tuple[float, float, float]) -> Run:
    return load_run(path)


_warming: set[int] = set()
_warming_lock = threading.Lock()


def warm(run: Run) -> None:
    """Build the run's network off the script thread, once, so the first view that needs it (the
    ECG's attribution, what-if, another cohort's stays) does not wait for torch. Called by a page
    after its first screen: importing torch holds the interpreter for seconds, and a cold server's
    first page must not wait for it."""
    with _warming_lock:
        if id(run) in _warming:
            return
        _warming.add(id(run))
    threading.Thread(target=_build_network, args=(run,), name=f"build-{run.run_id}", daemon=True).start()


@st.cache_resource(show_spinner=False, max_entries=8)
def _bundle(path: str, stamp: float) -> CohortBundle:
    return open_bundle(path)


def run(path: Path) -> Run:
    """The shared, read-only run at ``path`` (its network is built on first use)."""
    return _run(str(path), run_stamp(path))


def bundle(path: Path) -> CohortBundle:
    return _bundle(str(path), bundle_stamp(path))


@st.cache_resource(show_spinner=False, max_entries=32)
def _cohort_results(key: tuple, _run: Run, _bundle: CohortBundle) -> CohortResults:
    return CohortResults(_run, _bundle)


def results(run: Run, bundle: CohortBundle) -> CohortResults:
    """The one shared results object of ``run`` on ``bundle`` (every session, every page): each
    stay's parts are computed once, when first asked for. Keyed by the loaded objects, which the
    loaders above replace when their files change."""
    return _cohort_results((str(run.path), run.weights_sha256, id(run), bundle.fingerprint, id(bundle)), run, bundle)


def stay(run: Run, bundle: CohortBundle, stay_id: int) -> StayResults:
    """The results object of one stay (``StayNotFoundError`` for an unknown id)."""
    return results(run, bundle).stay(stay_id)


@st.cache_data(show_spinner=False, max_entries=256)
def _what_if(key: tuple, _run: Run, _bundle: CohortBundle, stay_id: int, edits: tuple) -> WhatIf:
    from lemof.explain.whatif import what_if  # lazy: the what-if tool is rarely used

    with compute_slot():
        return what_if(_run, _bundle, stay_id, list(edits))


def what_if(run: Run, bundle: CohortBundle, stay_id: int, edits: list) -> WhatIf:
    """The stay with ``edits`` (``lemof.explain.whatif.Edit``) applied: its prediction and explanations."""
    return _what_if((str(run.path), run.weights_sha256, id(run), bundle.fingerprint), run, bundle, int(stay_id), tuple(edits))


@st.cache_resource(show_spinner=False, max_entries=16)  # shared and read-only, like the runs it holds
def _comparison(run_paths: tuple[str, ...], stamps: tuple, cohort_path: str, cohort_stamp: float,
                split: str) -> tuple[Comparison, pd.DataFrame, pd.DataFrame]:
    runs = [run(Path(p)) for p in run_paths]
    compared = compare_runs(runs, bundle(Path(cohort_path)), split)
    return compared, compared.metrics(), compared.calibration()


def comparison(run_paths: list[Path], cohort_path: Path, split: str = "test") -> tuple[Comparison, pd.DataFrame, pd.DataFrame]:
    """The runs at ``run_paths`` aligned on ``split`` of the cohort at ``cohort_path``, with their
    metrics (bootstrap CIs) and interval calibration: computed once per set of runs."""
    paths = tuple(str(p) for p in run_paths)
    stamps = tuple(run_stamp(Path(p)) for p in run_paths)
    return _comparison(paths, stamps, str(cohort_path), bundle_stamp(cohort_path), split)


@st.cache_resource(show_spinner=False, max_entries=8)  # shared and read-only, like the runs it is built from
def _cohort_view(run_path: str, r_stamp: tuple, cohort_path: str, c_stamp: float, split: str, sig_label: str) -> CohortView:
    return build_view(run(Path(run_path)), bundle(Path(cohort_path)), split, sig_label)


def cohort_view_key(run_path: Path, cohort_path: Path, split: str, sig_label: str) -> tuple:
    """What a cohort view is keyed by: the run and cohort with their file times, the scope, the biosignal's label."""
    return (str(run_path), run_stamp(run_path), str(cohort_path), bundle_stamp(cohort_path), split, sig_label)


def cohort_view(run_path: Path, cohort_path: Path, split: str, sig_label: str) -> CohortView:
    """One run over a whole cohort (``lemof.evaluation.cohort_view``): built once per run, cohort, scope and label."""
    return _cohort_view(*cohort_view_key(run_path, cohort_path, split, sig_label))


@st.cache_resource(show_spinner=False, max_entries=48)  # built once from aggregates; only serialised on a rerun
def _figure(key: tuple, _draw: Callable[[], "go.Figure"]) -> "go.Figure":
    return _draw()


def figure(key: tuple, draw: Callable[[], "go.Figure"]) -> "go.Figure":
    """A figure shared by every session, drawn by ``draw`` the first time ``key`` is asked for;
    ``key`` names everything the figure is drawn from (e.g. ``cohort_view_key`` and the figure's name)."""
    return _figure(key, draw)


@st.cache_resource(show_spinner=False, max_entries=8)  # the run's predictions for a scope: the same for every reviewer
def _worklist_base(run_path: str, r_stamp: tuple, cohort_path: str, c_stamp: float, scope: str) -> pd.DataFrame:
    return stays_to_review(run(Path(run_path)), bundle(Path(cohort_path)), scope)


def worklist_base(run_path: Path, cohort_path: Path, scope: str) -> pd.DataFrame:
    """The stays of ``scope`` with the run's predictions (``lemof.reviews.worklist.stays_to_review``): once per run, cohort and scope."""
    return _worklist_base(str(run_path), run_stamp(run_path), str(cohort_path), bundle_stamp(cohort_path), scope)


@st.cache_resource(show_spinner=False)  # one engine (connection pool) per database per server; a failure is not cached
def _review_store(url: str) -> ReviewStore:
    return ReviewStore(url)


def review_store() -> ReviewStore:
    """The review database this server writes to (``LEMOF_DATABASE_URL``, else the embedded SQLite file)."""
    return _review_store(default_url())
