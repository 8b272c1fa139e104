"""Cached loading shared by every session of the server.

Runs and cohorts are loaded once per server (``st.cache_resource``, keyed by path and file
times, so a retrained run is never served stale) and never mutated per user. Per-stay results
live in one ``CohortResults`` per (run, cohort), shared by every session: a stay's prediction,
explanation, attention, similar stays and attributions are computed once, whoever asks first.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import streamlit as st

from lemof import CohortBundle, CohortResults, Run, StayExplanation, StayResults, TabularExplanation, load_run, open_bundle
from lemof.models.gbm import MODEL_FILE as GBM_MODEL_FILE
from lemof.explain.results import compute_slot


log = logging.getLogger("lemof.app")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def run_stamp(path: Path) -> tuple[float, float, float]:
    return (_mtime(path / "config.json"), _mtime(path / "model.safetensors"), _mtime(path / GBM_MODEL_FILE))


def bundle_stamp(path: Path) -> float:
    return _mtime(path / "provenance.json")


def _build_network(run: Run) -> None:
    if not run.has_model:
        return
    try:
        run.model  # imports torch and builds the network once (gbm: LightGBM and its trees); the page uses it for attention or TreeSHAP
    except Exception:  # noqa: BLE001 - the page reports it when it needs the network
        log.warning("building the network of run %s in the background failed", run.run_id, exc_info=True)


@st.cache_resource(show_spinner=False, max_entries=16)
def _run(path: str, stamp: tuple[float, float, float]) -> Run:
    run = load_run(path)
    # Stored explanations paint without the network; build it meanwhile, off the script thread.
    threading.Thread(target=_build_network, args=(run,), name=f"build-{run.run_id}", daemon=True).start()
    return run


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
def _what_if(key: tuple, _run: Run, _bundle: CohortBundle, stay_id: int, edits: tuple) -> StayExplanation | TabularExplanation:
    from lemof.explain.whatif import what_if  # lazy: the what-if tool is rarely used

    with compute_slot():
        return what_if(_run, _bundle, stay_id, list(edits))


def what_if(run: Run, bundle: CohortBundle, stay_id: int, edits: list) -> StayExplanation | TabularExplanation:
    """The stay's explanation with ``edits`` (``lemof.explain.whatif.Edit``) applied (TreeSHAP for the tabular peer)."""
    return _what_if((str(run.path), run.weights_sha256, id(run), bundle.fingerprint), run, bundle, int(stay_id), tuple(edits))
