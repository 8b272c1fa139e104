"""Everything shown about one stay under one run, computed once, in one place.

``StayResults`` is the object every consumer reads — each section of the case-review page, the
Compare page, the case report and ``python -m lemof explain``/``report``. Each part is computed
the first time it is asked for and then kept (thread-safe: two sessions asking at once wait for
one computation):

- ``prediction`` / ``explanation``: read from the run for the cohort it was trained on
  (``predictions.parquet``, ``level_shap.parquet``), else from one forward pass;
- ``forward``: *one* pass of the network over the stay, which serves the prediction, the
  attention maps and the fused representation together;
- ``attention_received`` and ``representation``: read from ``stay_vectors.safetensors`` for the
  run's own cohort (no network at first paint), else taken from ``forward``;
- ``similar(k)``: nearest training stays in the fused representation (``CohortResults`` holds
  the index, built once per run and cohort);
- ``attribution`` / ``drivers``: Integrated Gradients against the reference population of
  training stays (``CohortResults.background``, drawn once per run and cohort), on request only;
- ``tabular`` / ``tree_shap``: for the tabular peer (gbm), the stay's summary features, its
  prediction and exact TreeSHAP values from its trees (one call, for any cohort of the family).

Work that runs the network is bounded across all sessions of a server by ``compute_slot()``: at
most ``LEMOF_COMPUTE_WORKERS`` (default: half the CPU cores, at least 1) such computations run
at once, the others queue, so eight visitors do not run eight passes on two cores at once.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import replace
from functools import wraps
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.errors import RunError
from lemof.evaluation.predictions import reads_stored
from lemof.explain.drivers import Drivers, input_drivers
from lemof.explain.explanation import StayExplanation, StayPrediction, TabularExplanation, none_if_nan
from lemof.explain.input_attribution import Background, InputAttribution, input_attributions, reference_background
from lemof.explain.level_shap import level_shapley
from lemof.explain.concepts import level_labels
from lemof.explain.similar import SimilarityIndex, key_values, neighbour_table, shared_summary, training_reference
from lemof.explain.stay_vectors import attention_to_signal, unit_rows
from lemof.data.patient import StayContext, stay_context
from lemof.runs.run import Run, check_run_fits_cohort, require_lemof

# --- bounded concurrency for work that runs the network -----------------------------------------
_WORKERS = max(1, int(os.environ.get("LEMOF_COMPUTE_WORKERS", "0")) or (os.cpu_count() or 2) // 2)
_SLOTS = threading.BoundedSemaphore(_WORKERS)
_depth = threading.local()


@contextmanager
def compute_slot() -> Iterator[None]:
    """Hold one of the server's compute slots while the network runs (re-entrant per thread:
    a computation that needs another part does not wait for a second slot)."""
    depth = getattr(_depth, "n", 0)
    if depth == 0:
        _SLOTS.acquire()
    _depth.n = depth + 1
    try:
        yield
    finally:
        _depth.n = depth
        if depth == 0:
            _SLOTS.release()


def compute_workers() -> int:
    return _WORKERS


class _Parts:
    """Parts computed on first access and kept; concurrent first accesses compute a part once."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._locks: dict[str, threading.Lock] = {}

    def _keep(self, key: str, compute: Callable[[], Any]) -> Any:
        values = self._values
        if key not in values:
            with self._locks.setdefault(key, threading.Lock()):
                if key not in values:
                    values[key] = compute()
        return values[key]


def _once(method: Callable[[Any], Any]) -> property:
    """A property of a ``_Parts`` object, computed on first access and kept."""

    @wraps(method)
    def get(self):
        return self._keep(method.__name__, lambda: method(self))

    return property(get)


# --- a run on a cohort -----------------------------------------------------------------------------
class CohortResults(_Parts):
    """``run`` applied to ``bundle``: the results of its stays (the ``max_stays`` most recent
    kept: a stay with its biosignal and attention maps holds ~0.7 MB) and the similar-stays index
    of the cohort's training stays."""

    def __init__(self, run: Run, bundle: CohortBundle, *, max_stays: int = 128):
        check_run_fits_cohort(run, bundle)
        self.run = run
        self.bundle = bundle
        self.trained_here = reads_stored(run, bundle)  # its stored predictions and explanations are read
        self.max_stays = max_stays
        self._stays: OrderedDict[int, StayResults] = OrderedDict()
        self._lock = threading.Lock()
        super().__init__()

    def stay(self, stay_id: int | str) -> StayResults:
        """The results object of one stay (``StayNotFoundError`` for an unknown id)."""
        row = self.bundle.row_of(stay_id)
        sid = int(self.bundle.stays["stay_id"].iloc[row])
        with self._lock:
            found = self._stays.get(sid)
            if found is None:
                found = self._stays[sid] = StayResults(self, row)
                while len(self._stays) > self.max_stays:
                    self._stays.popitem(last=False)
            else:
                self._stays.move_to_end(sid)
            return found

    @property
    def stored_vectors(self):
        """The run's stored stay vectors when this is the cohort it was trained on, else None."""
        if not self.trained_here or not self.run.is_lemof:
            return None, {}
        return self.run.stored_stay_vectors()

    @_once
    def similarity_index(self) -> SimilarityIndex:
        """The training stays' unit fused representations (stored for the run's own cohort,
        else computed once: every training stay through the network), with the comparison space
        and percentile scale fitted on them alone (``SimilarityIndex.fit``)."""
        require_lemof(self.run)
        rows = self.bundle.rows("train")
        ids = self.bundle.stays["stay_id"].to_numpy()[rows]
        vectors, index = self.stored_vectors
        if vectors is not None and all(int(s) in index for s in ids):
            return SimilarityIndex.fit(ids, vectors.representation[[index[int(s)] for s in ids]])
        from lemof.models.inference import predict_rows  # lazy: imports torch

        with compute_slot():
            out = predict_rows(self.run.model, self.run.preprocessor, self.bundle, rows)
        return SimilarityIndex.fit(ids, unit_rows(out["representation"]))

    @_once
    def ehr_reference(self) -> tuple[np.ndarray, np.ndarray]:
        """Training median and robust SD of each EHR series' window mean (the key values)."""
        return training_reference(self.bundle)

    def background(self, has_signal: bool) -> Background:
        """The reference population for Integrated Gradients of stays with (or without) a
        biosignal: training stays drawn with a fixed seed, preprocessed once."""
        return self._keep(f"background:{bool(has_signal)}", lambda: reference_background(self.run, self.bundle, bool(has_signal)))


# --- one stay --------------------------------------------------------------------------------------
class StayResults(_Parts):
    """One stay of ``cohort.bundle`` under ``cohort.run``; see the module docstring."""

    def __init__(self, cohort: CohortResults, row: int):
        self.cohort = cohort
        self.run = cohort.run
        self.bundle = cohort.bundle
        self.row = int(row)
        stays = self.bundle.stays
        self.stay_id = int(stays["stay_id"].iloc[self.row])
        self.split = str(stays["split"].iloc[self.row])
        self.observed_los_days = float(stays["los_days"].iloc[self.row])
        super().__init__()

    @property
    def sig_label(self) -> str:
        return self.bundle.sig_label

    def computed(self, name: str) -> bool:
        """Whether part ``name`` (e.g. ``"attribution"``) has been computed already."""
        return name in self._values

    # --- the network, once ---------------------------------------------------------------
    @_once
    def forward(self) -> dict[str, np.ndarray]:
        """One pass of the network over this stay: every output for its single row (attention
        maps and the fused representation included, for LeMoF)."""
        from lemof.models.inference import predict_rows  # lazy: imports torch

        with compute_slot():
            out = predict_rows(self.run.model, self.run.preprocessor, self.bundle, np.array([self.row]), keep_attention=True)
        return {k: v[0] for k, v in out.items()}

    # --- prediction and explanation --------------------------------------------------------
    def _stored_row(self) -> pd.Series | None:
        if not self.cohort.trained_here:
            return None
        return self.run.stored_prediction(self.stay_id)

    @_once
    def prediction(self) -> StayPrediction:
        """The prediction and interval of any run (LeMoF, baseline or the tabular peer)."""
        row = self._stored_row()
        if row is not None:
            los, interval, has_signal, source = float(row["los_days"]), [float(row["interval_low_days"]), float(row["interval_high_days"])], bool(row["sig_available"]), "stored"
        elif self.run.kind == "tabular":
            t = self.tabular
            los, interval, has_signal, source = float(t["los_days"]), [float(v) for v in t["interval_days"]], bool(t["sig_available"]), "computed"
        else:
            f = self.forward
            los, interval, has_signal, source = float(f["los_days"]), [float(v) for v in f["interval_days"]], bool(f["sig_available"]), "computed"
        return StayPrediction(
            stay_id=self.stay_id, run_id=self.run.run_id, fusion=self.run.fusion, cohort=self.bundle.name, split=self.split,
            observed_los_days=self.observed_los_days, los_days=los, interval_days=interval, interval_level=self.run.interval_level,
            has_signal=has_signal, source=source,
        )

    def _parts(self) -> dict[str, Any]:
        """Prediction, heads, contributions and level Shapley values: stored, else computed."""
        run = self.run
        row = self._stored_row()
        shap = run.stored_level_shap(self.stay_id) if row is not None else None
        if row is not None and shap is not None:
            heads = run.spec.heads
            return {
                "has_signal": bool(row["sig_available"]),
                "los_days": float(row["los_days"]),
                "interval": [float(row["interval_low_days"]), float(row["interval_high_days"])],
                "heads": np.array([row[f"head:{h.name}"] for h in heads], dtype=float),
                "contributions": np.array([row[f"contribution:{h.name}"] for h in heads], dtype=float),
                "bias": float(row["bias"]),
                "final": float(row["final"]),
                "phi": shap[0],
                "stacker_output": shap[1],
                "base": float(run.level_importance.base_value),
                "source": "stored",
            }
        f = self.forward
        has_signal = bool(f["sig_available"])
        n_ehr = len(run.level_importance.levels["ehr"])
        present = np.ones(len(run.level_importance.all_levels), dtype=bool)
        present[n_ehr:] = has_signal
        phi, base = level_shapley(run.model.stacker, f["stacker_inputs"][None, :], present[None, :])
        return {
            "has_signal": has_signal,
            "los_days": float(f["los_days"]),
            "interval": [float(v) for v in f["interval_days"]],
            "heads": f["heads"].astype(float),
            "contributions": f["contributions"],
            "bias": float(f["bias"]),
            "final": float(f["final"]),
            "phi": phi[0],
            "stacker_output": float(f["stacker_output"]),
            "base": base,
            "source": "computed",
        }

    @_once
    def explanation(self) -> StayExplanation:
        """Level SHAP and head contributions (LeMoF runs; ``RunError`` for a baseline). The
        attention maps are not part of it (see ``attention``)."""
        require_lemof(self.run)
        r = self._parts()
        imp = self.run.level_importance
        n_ehr = len(imp.levels["ehr"])
        phi = np.asarray(r["phi"], dtype=float).copy()
        if not r["has_signal"]:
            phi[n_ehr:] = np.nan  # absent modality: never zero evidence
        heads = self.run.spec.heads
        names = [h.name for h in heads]
        contrib = np.asarray(r["contributions"], dtype=float)
        head_preds = np.where(np.isfinite(contrib), r["heads"], np.nan)
        return StayExplanation(
            stay_id=self.stay_id, run_id=self.run.run_id, cohort=self.bundle.name, split=self.split,
            observed_los_days=self.observed_los_days, los_days=r["los_days"], interval_days=r["interval"],
            interval_level=self.run.interval_level, has_signal=r["has_signal"], scale="log1p(days)",
            level_names={m: list(imp.levels[m]) for m in ("ehr", "sig")},
            level_shap={"ehr": none_if_nan(phi[:n_ehr]), "sig": none_if_nan(phi[n_ehr:])},
            level_importance={m: [float(v) for v in imp.importance[m]] for m in ("ehr", "sig")},
            selected_levels={m: list(imp.selected[m]) for m in ("ehr", "sig")},
            shap_base=r["base"], stacker_output=r["stacker_output"], source=r["source"],
            head_names=names, head_kinds=self.run.head_kinds,
            head_predictions=dict(zip(names, none_if_nan(head_preds))), contributions=dict(zip(names, none_if_nan(contrib))),
            meta_bias=r["bias"], meta_output=r["final"],
            level_labels=level_labels(self.run.level_concepts, imp.all_levels),
        )

    # --- the tabular peer ------------------------------------------------------------------------
    @_once
    def tabular(self) -> dict[str, Any]:
        """The tabular peer on this stay, one call: its summary features, prediction (``predict_rows``
        layout, one row) and TreeSHAP values (the last one the base value)."""
        if self.run.kind != "tabular":
            raise RunError(f"run {self.run.run_id} is not the tabular peer (gbm): TreeSHAP over summary features explains only that one")
        model = self.run.model  # RunError for an old gbm run without its trees
        rows = np.array([self.row])
        with compute_slot():
            x = model.features(self.bundle, rows)
            phi = model.contributions(x)[0]
            pred = model.predict(self.bundle, rows)
        return {**{k: v[0] for k, v in pred.items()}, "x": x[0], "phi": phi}

    @_once
    def tree_shap(self) -> TabularExplanation:
        """The tabular peer's prediction of this stay, explained by exact TreeSHAP values of its
        trees: base value + contributions = prediction, on log1p(days)."""
        t = self.tabular
        schema = self.run.summaries
        names = schema.names
        phi = t["phi"]
        return TabularExplanation(
            stay_id=self.stay_id, run_id=self.run.run_id, cohort=self.bundle.name, split=self.split,
            observed_los_days=self.observed_los_days, los_days=float(t["los_days"]), interval_days=[float(v) for v in t["interval_days"]],
            interval_level=self.run.interval_level, has_signal=bool(t["sig_available"]), scale="log1p(days)",
            base_value=float(phi[-1]), output=float(t["final"]), features=names, labels=[schema.label(n) for n in names],
            modalities=[schema.modality(n) for n in names], values=none_if_nan(t["x"]), contributions=[float(v) for v in phi[:-1]],
        )

    # --- attention --------------------------------------------------------------------------
    @property
    def has_signal(self) -> bool:
        return self.prediction.has_signal

    @_once
    def attention(self) -> dict[str, Any] | None:
        """Cross-modal attention in both directions (None without a biosignal): ``ehr_to_sig``
        is (heads, EHR tokens, biosignal tokens), ``sig_to_ehr`` the reverse; token centres in
        hours (EHR) and seconds. Arrays are numpy; ``attention_dict`` gives the JSON form."""
        require_lemof(self.run)
        if not self.has_signal:
            return None
        f = self.forward
        times = self.run.model.token_times()
        e2s, s2e = f["attn_ehr_to_sig"], f["attn_sig_to_ehr"]  # (H, Te, Ts), (H, Ts, Te)
        return {
            "ehr_hours": [round(t, 4) for t in times["ehr"]],
            "sig_seconds": [round(t, 4) for t in times["sig"]],
            "ehr_to_sig": {"shape": list(e2s.shape), "mean": e2s.mean(axis=0), "per_head": e2s},
            "sig_to_ehr": {"shape": list(s2e.shape), "mean": s2e.mean(axis=0), "per_head": s2e},
        }

    def attention_dict(self, *, per_head: bool = True) -> dict[str, Any] | None:
        """``attention`` with lists instead of arrays (per-head maps left out unless asked for)."""
        att = self.attention
        if att is None:
            return None
        out = {"ehr_hours": att["ehr_hours"], "sig_seconds": att["sig_seconds"]}
        for key in ("ehr_to_sig", "sig_to_ehr"):
            block = att[key]
            out[key] = {"shape": block["shape"], "mean": block["mean"].tolist(), "per_head": block["per_head"].tolist() if per_head else None}
        return out

    @_once
    def attention_received(self) -> tuple[list[float], list[float]] | None:
        """(biosignal token times in s, mean attention each receives): what the strip under the
        biosignal shows. Stored for the run's own cohort, so it needs no network."""
        if not self.run.is_lemof or not self.has_signal:
            return None
        vectors, index = self.cohort.stored_vectors
        i = index.get(self.stay_id)
        if vectors is not None and i is not None and np.isfinite(vectors.attention_to_signal[i]).all():
            return vectors.sig_seconds.round(4).tolist(), vectors.attention_to_signal[i].astype(float).tolist()
        att = self.attention
        received = attention_to_signal(att["ehr_to_sig"]["per_head"][None], np.array([True]))[0]
        return att["sig_seconds"], received.tolist()

    # --- similar stays ----------------------------------------------------------------------
    @_once
    def representation(self) -> np.ndarray:
        """(4d,) unit fused representation of this stay (stored for the run's own cohort)."""
        require_lemof(self.run)
        vectors, index = self.cohort.stored_vectors
        i = index.get(self.stay_id)
        if vectors is not None and i is not None:
            return vectors.representation[i]
        return unit_rows(self.forward["representation"][None, :])[0]

    def similar(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` training stays nearest in the fused representation (this stay excluded):
        similarity, its percentile among random training pairs, observed LOS, care unit, age,
        sex, biosignal."""
        return self._keep(f"similar:{k}", lambda: neighbour_table(self.bundle, self.cohort.similarity_index, self.representation, self.stay_id, k, self.sig_label))

    def similar_shared(self, k: int = 10) -> tuple[str, pd.DataFrame]:
        """What the ``k`` neighbours share with the stay: one line (care unit, age, biosignal) and
        the stay's three most abnormal EHR series against the neighbours' median."""
        table = self.similar(k)
        values = key_values(self.bundle, self.stay_id, table["stay"].to_numpy(), self.cohort.ehr_reference)
        return shared_summary(self.bundle, self.stay_id, table, self.sig_label), values

    # --- input attribution, on request --------------------------------------------------------
    @_once
    def attribution(self) -> InputAttribution:
        """Integrated Gradients over the stay's inputs against the cohort's reference population
        (runs the network)."""
        if self.run.spec is None:
            raise RunError(f"run {self.run.run_id} ({self.run.fusion}) has no network: Integrated Gradients do not apply (its TreeSHAP values do)")
        has_signal = bool(self.bundle.stays["has_signal"].iloc[self.row])
        with compute_slot():
            return input_attributions(self.run, self.bundle, self.stay_id, background=self.cohort.background(has_signal))

    @_once
    def drivers(self) -> Drivers:
        """The reference in days, the five input drivers in words and days, and everything else:
        they add up to the prediction shown."""
        return input_drivers(self.attribution, self.bundle, k=5, sig_label=self.sig_label, los_days=self.prediction.los_days)

    # --- patient context ----------------------------------------------------------------------
    @_once
    def context(self) -> StayContext:
        """Static facts, EHR timeline and biosignal of the stay."""
        return stay_context(self.bundle, self.stay_id)


# --- the functions of the public API, each one read of the results object --------------------
def predict_stay(run: Run, bundle: CohortBundle, stay_id: int | str) -> StayPrediction:
    """The prediction of any run for one stay: stored for the cohort it was trained on, else computed."""
    return CohortResults(run, bundle).stay(stay_id).prediction


def explain_stay(run: Run, bundle: CohortBundle, stay_id: int | str, *, attention: bool = True, per_head_attention: bool = True) -> StayExplanation:
    """Explain one stay of ``bundle`` with ``run``'s model. Unknown ids raise ``StayNotFoundError``,
    a baseline run ``RunError`` (``predict_stay`` is what every run gives). With ``attention`` the
    attention maps are included (as lists; this runs the network once)."""
    results = CohortResults(run, bundle).stay(stay_id)
    return with_attention(results, per_head=per_head_attention) if attention else results.explanation


def with_attention(results: StayResults, *, per_head: bool = True) -> StayExplanation:
    """The stay's explanation with its attention maps (JSON-ready lists) attached."""
    return replace(results.explanation, attention=results.attention_dict(per_head=per_head) if results.explanation.has_signal else None)


def stay_attention(run: Run, bundle: CohortBundle, stay_id: int | str, *, per_head: bool = True) -> dict[str, Any] | None:
    """Cross-modal attention of one stay in both directions (None without a biosignal)."""
    return CohortResults(run, bundle).stay(stay_id).attention_dict(per_head=per_head)
