"""Cached loading shared by every session of the server.

Runs and cohorts are loaded once per server (``st.cache_resource``, keyed by path and file
times, so a retrained run is never served stale) and never mutated per user. Per-stay results
are cached per (run, cohort, stay) with ``st.cache_data``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import streamlit as st

from lemof import CohortBundle, Run, StayExplanation, StayPrediction, explain_stay, input_attributions, load_run, open_bundle, predict_stay, stay_attention
from lemof.explain.similar import training_index


log = logging.getLogger("lemof.app")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def run_stamp(path: Path) -> tuple[float, float]:
    return (_mtime(path / "config.json"), _mtime(path / "model.safetensors"))


def bundle_stamp(path: Path) -> float:
    return _mtime(path / "provenance.json")


def _build_network(run: Run) -> None:
    if run.spec is None:
        return
    try:
        run.model  # imports torch and builds the network once; the page uses it for attention
    except Exception:  # noqa: BLE001 - the page reports it when it needs the network
        log.warning("building the network of run %s in the background failed", run.run_id, exc_info=True)


@st.cache_resource(show_spinner=False, max_entries=16)
def _run(path: str, stamp: tuple[float, float]) -> Run:
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


@st.cache_data(show_spinner=False, max_entries=1024)
def _explain(run_path: str, r_stamp: tuple[float, float], cohort_path: str, c_stamp: float, stay_id: int) -> StayExplanation:
    return explain_stay(_run(run_path, r_stamp), _bundle(cohort_path, c_stamp), stay_id, attention=False)


@st.cache_data(show_spinner=False, max_entries=1024)
def _predict(run_path: str, r_stamp: tuple[float, float], cohort_path: str, c_stamp: float, stay_id: int) -> StayPrediction:
    return predict_stay(_run(run_path, r_stamp), _bundle(cohort_path, c_stamp), stay_id)


@st.cache_data(show_spinner=False, max_entries=256)
def _attention(run_path: str, r_stamp: tuple[float, float], cohort_path: str, c_stamp: float, stay_id: int) -> dict | None:
    return stay_attention(_run(run_path, r_stamp), _bundle(cohort_path, c_stamp), stay_id)


@st.cache_data(show_spinner=False, max_entries=128)
def _attribution(run_path: str, r_stamp: tuple[float, float], cohort_path: str, c_stamp: float, stay_id: int):
    return input_attributions(_run(run_path, r_stamp), _bundle(cohort_path, c_stamp), stay_id)


def _key(run_path: Path, cohort_path: Path, stay_id: int) -> tuple:
    return (str(run_path), run_stamp(run_path), str(cohort_path), bundle_stamp(cohort_path), int(stay_id))


def explanation(run_path: Path, cohort_path: Path, stay_id: int) -> StayExplanation:
    """Prediction, level SHAP and head contributions of one stay (stored ones when available)."""
    return _explain(*_key(run_path, cohort_path, stay_id))


def prediction(run_path: Path, cohort_path: Path, stay_id: int) -> StayPrediction:
    """The prediction and interval of any run (LeMoF or baseline) for one stay."""
    return _predict(*_key(run_path, cohort_path, stay_id))


def attention(run_path: Path, cohort_path: Path, stay_id: int) -> dict | None:
    """Cross-modal attention maps of one stay (runs the network)."""
    return _attention(*_key(run_path, cohort_path, stay_id))


def attribution(run_path: Path, cohort_path: Path, stay_id: int):
    """Integrated Gradients over one stay's inputs (runs the network, ~0.3 s)."""
    return _attribution(*_key(run_path, cohort_path, stay_id))


@st.cache_resource(show_spinner=False, max_entries=8)
def _similarity_index(run_path: str, r_stamp: tuple[float, float], cohort_path: str, c_stamp: float):
    return training_index(_run(run_path, r_stamp), _bundle(cohort_path, c_stamp))


def similarity_index(run_path: Path, cohort_path: Path):
    """The training stays' fused representations (computed once per run and cohort)."""
    return _similarity_index(str(run_path), run_stamp(run_path), str(cohort_path), bundle_stamp(cohort_path))


@st.cache_data(show_spinner=False, max_entries=256)
def _what_if(run_path: str, r_stamp: tuple[float, float], cohort_path: str, c_stamp: float, stay_id: int, edits: tuple) -> StayExplanation:
    from lemof.explain.whatif import what_if  # here, not at the top: this module's own what_if (below) would shadow it

    return what_if(_run(run_path, r_stamp), _bundle(cohort_path, c_stamp), stay_id, list(edits))


def what_if(run_path: Path, cohort_path: Path, stay_id: int, edits: list) -> StayExplanation:
    """The stay's explanation with ``edits`` (``lemof.explain.whatif.Edit``) applied."""
    return _what_if(*_key(run_path, cohort_path, stay_id), tuple(edits))
