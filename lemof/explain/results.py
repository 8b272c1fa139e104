"""Everything shown about one stay under one run, computed once, in one place.

``StayResults`` is the object every consumer reads — each section of the case-review page, the
Compare page, the case report and ``python -m lemof explain``/``report``. Each part is computed
the first time it is asked for and then kept (thread-safe: two sessions asking at once wait for
one computation):

- ``prediction``: what every run gives (read from the run for the cohort it was trained on,
  ``predictions.parquet``, else computed);
- ``attribute(name)``: the additive explanations (``lemof.explain.explainers``: ``drivers``,
  ``tree_shap``, ``level_shap``, ``heads``), each an ``Attribution``; ``explainers`` lists those
  that apply to the run;
- the views (``lemof.explain.views``): ``attention`` and ``attention_received``, ``similar(k)``,
  ``concepts``;
- raw parts the explainers and figures read: ``forward`` (*one* pass of the network over the stay:
  prediction, attention maps and fused representation together), ``level_parts`` (heads, their
  contributions and the level Shapley values: stored, else from ``forward``), ``tabular`` (the gbm
  peer's summaries, prediction and TreeSHAP values in one call), ``input_gradients`` (Integrated
  Gradients against the reference population, on request), ``representation``, ``context``.

Work that runs the network holds one of the server's compute slots (``lemof.explain.compute``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import wraps
from typing import Any, Callable

import numpy as np
import pandas as pd

from lemof.data.bundle import CohortBundle
from lemof.data.patient import StayContext, stay_context
from lemof.ecg.findings import Finding, ecg_findings
from lemof.ecg.measure import EcgMeasurements, measure
from lemof.ecg.record import EcgRecord, normalise_lead
from lemof.errors import LemofError, RunError
from lemof.evaluation.predictions import reads_stored
from lemof.explain.attribution import Attribution
from lemof.explain.compute import compute_slot
from lemof.explain.concepts import level_labels
from lemof.explain.explainers import Explainer, explainer, explainers_for
from lemof.explain.prediction import StayPrediction
from lemof.explain.input_attribution import Background, InputAttribution, input_attributions, reference_background
from lemof.explain.level_shap import level_shapley
from lemof.explain.similar import SimilarityIndex, key_values, neighbours, shared_summary, training_reference
from lemof.explain.stay_vectors import attention_to_signal
from lemof.explain.views import Attention, LevelConcepts, SignalAttention, SimilarStays, View, views_for
from lemof.models.representation import unit_rows
from lemof.runs.run import Run, check_run_fits_cohort, require_lemof


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
        self.reads_stored_reasons = True  # False while the stored reasons themselves are computed (lemof.explain.stay_reasons)
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

    def forget(self, stay_id: int) -> None:
        """Drop the kept results of one stay (a batch over thousands of stays keeps none)."""
        with self._lock:
            self._stays.pop(int(stay_id), None)

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
    def stored_reasons(self) -> dict[str, Any]:
        """What ``stay_reasons.json.gz`` stores for this stay (``{}`` when nothing: another cohort, a stay not precomputed)."""
        if not self.cohort.trained_here or not self.cohort.reads_stored_reasons:
            return {}
        return self.run.stored_reasons(self.stay_id) or {}

    def reasons_stored(self) -> bool:
        """Whether the first screen's reasons (drivers) are read, not computed."""
        return bool(self.stored_reasons.get("drivers"))

    @_once
    def prediction(self) -> StayPrediction:
        """The prediction and interval of any run (LeMoF, baseline or the tabular peer)."""
        row = self._stored_row()
        if row is not None:
            los, interval, has_signal, origin = float(row["los_days"]), [float(row["interval_low_days"]), float(row["interval_high_days"])], bool(row["sig_available"]), "stored"
        else:
            f = self.tabular if self.run.spec is None else self.forward
            los, interval, has_signal, origin = float(f["los_days"]), [float(v) for v in f["interval_days"]], bool(f["sig_available"]), "computed"
        return StayPrediction(
            stay_id=self.stay_id, run_id=self.run.run_id, fusion=self.run.fusion, cohort=self.bundle.name, split=self.split,
            observed_los_days=self.observed_los_days, los_days=los, interval_days=interval, interval_level=self.run.interval_level,
            has_signal=has_signal, origin=origin,
        )

    @property
    def has_signal(self) -> bool:
        return self.prediction.has_signal

    # --- the explanations, by name ----------------------------------------------------------
    @property
    def explainers(self) -> list[Explainer]:
        """The additive explainers that apply to this run, reasons first."""
        return explainers_for(self.run)

    @property
    def views(self) -> list[View]:
        """The non-additive views that apply to this run."""
        return views_for(self.run)

    def attribute(self, name: str) -> Attribution:
        """The additive explanation ``name`` of this stay (``RunError`` if it does not apply to the run)."""
        e = explainer(name)
        if not e.applies(self.run):
            raise RunError(f"{e.title} does not explain run {self.run.run_id} ({self.run.fusion}); it has: {', '.join(x.name for x in self.explainers)}")
        return self._keep(f"attribute:{name}", lambda: e.attribute(self))

    # --- raw parts the explainers read -----------------------------------------------------
    @_once
    def level_parts(self) -> dict[str, Any]:
        """Heads, contributions, meta-learner bias and output, and the level Shapley values with
        their base and the stacker output (LeMoF): stored for the run's own cohort, else computed."""
        require_lemof(self.run)
        run = self.run
        row = self._stored_row()
        shap = run.stored_level_shap(self.stay_id) if row is not None else None
        if row is not None and shap is not None:
            heads = run.spec.heads
            return {
                "has_signal": bool(row["sig_available"]),
                "heads": np.array([row[f"head:{h.name}"] for h in heads], dtype=float),
                "contributions": np.array([row[f"contribution:{h.name}"] for h in heads], dtype=float),
                "bias": float(row["bias"]),
                "final": float(row["final"]),
                "phi": shap[0],
                "stacker_output": shap[1],
                "base": float(run.level_importance.base_value),
                "origin": "stored",
            }
        f = self.forward
        has_signal = bool(f["sig_available"])
        n_ehr = len(run.level_importance.levels["ehr"])
        present = np.ones(len(run.level_importance.all_levels), dtype=bool)
        present[n_ehr:] = has_signal
        phi, base = level_shapley(run.model.stacker, f["stacker_inputs"][None, :], present[None, :])
        return {
            "has_signal": has_signal,
            "heads": f["heads"].astype(float),
            "contributions": f["contributions"],
            "bias": float(f["bias"]),
            "final": float(f["final"]),
            "phi": phi[0],
            "stacker_output": float(f["stacker_output"]),
            "base": base,
            "origin": "computed",
        }

    @_once
    def tabular(self) -> dict[str, Any]:
        """The tabular peer on this stay, one call: its summary features, prediction (``predict_rows``
        layout, one row) and TreeSHAP values (the last one the base value)."""
        if self.run.kind != "tabular":
            raise RunError(f"run {self.run.run_id} is not the tabular peer (gbm): TreeSHAP over summary features explains only that one")
        model = self.run.model
        rows = np.array([self.row])
        with compute_slot():
            x = model.features(self.bundle, rows)
            phi = model.contributions(x)[0]
            pred = model.predict(self.bundle, rows)
        return {**{k: v[0] for k, v in pred.items()}, "x": x[0], "phi": phi}

    @_once
    def input_gradients(self) -> InputAttribution:
        """Integrated Gradients over the stay's inputs against the cohort's reference population
        (runs the network; what the ``drivers`` explainer and the attribution heatmaps read)."""
        if self.run.spec is None:
            raise RunError(f"run {self.run.run_id} ({self.run.fusion}) has no network: Integrated Gradients do not apply (its TreeSHAP values do)")
        has_signal = bool(self.bundle.stays["has_signal"].iloc[self.row])
        with compute_slot():
            return input_attributions(self.run, self.bundle, self.stay_id, background=self.cohort.background(has_signal))

    # --- the views ----------------------------------------------------------------------------
    @_once
    def attention(self) -> Attention | None:
        """Cross-modal attention in both directions (None without a biosignal; runs the network)."""
        require_lemof(self.run)
        if not self.has_signal:
            return None
        f = self.forward
        times = self.run.model.token_times()
        return Attention(ehr_hours=[round(t, 4) for t in times["ehr"]], sig_seconds=[round(t, 4) for t in times["sig"]],
                         ehr_to_sig=f["attn_ehr_to_sig"], sig_to_ehr=f["attn_sig_to_ehr"])

    @_once
    def attention_received(self) -> SignalAttention | None:
        """The mean attention each biosignal token receives: what the strip under the biosignal
        shows. Stored for the run's own cohort, so it needs no network. None for a run without
        cross-modal attention or a stay without a biosignal."""
        if not self.run.is_lemof or not self.has_signal:
            return None
        vectors, index = self.cohort.stored_vectors
        i = index.get(self.stay_id)
        if vectors is not None and i is not None and np.isfinite(vectors.attention_to_signal[i]).all():
            return SignalAttention(vectors.sig_seconds.round(4).tolist(), vectors.attention_to_signal[i].astype(float).tolist())
        att = self.attention
        received = attention_to_signal(att.ehr_to_sig[None], np.array([True]))[0]
        return SignalAttention(list(att.sig_seconds), received.tolist())

    @_once
    def representation(self) -> np.ndarray:
        """(4d,) unit fused representation of this stay (stored for the run's own cohort)."""
        require_lemof(self.run)
        vectors, index = self.cohort.stored_vectors
        i = index.get(self.stay_id)
        if vectors is not None and i is not None:
            return vectors.representation[i]
        return unit_rows(self.forward["representation"][None, :])[0]

    def similar(self, k: int = 10) -> SimilarStays:
        """The ``k`` training stays nearest in the fused representation (this stay excluded), what
        they share with it, and its three most abnormal EHR values against theirs."""

        def compute() -> SimilarStays:
            found = neighbours(self.bundle, self.cohort.similarity_index, self.representation, self.stay_id, k)
            ids = [n.stay_id for n in found]
            return SimilarStays(stay_id=self.stay_id, neighbours=found, shared=shared_summary(self.bundle, self.stay_id, found, self.sig_label),
                                key_values=key_values(self.bundle, self.stay_id, ids, self.cohort.ehr_reference))

        return self._keep(f"similar:{k}", compute)

    @_once
    def concepts(self) -> LevelConcepts:
        """What each encoder level encodes across the cohort (empty labels without concept probes)."""
        require_lemof(self.run)
        return LevelConcepts(level_labels(self.run.level_concepts, self.run.level_importance.all_levels))

    @_once
    def ecg(self) -> EcgMeasurements | None:
        """The stay's ECG measured (``lemof.ecg.measure``; about 0.15 s for 10 s of 12 leads): None
        when the stay has no ECG (a bedside series is not one) or it cannot be measured."""
        stored = self.stored_reasons.get("ecg")
        if stored is not None:
            return EcgMeasurements.from_store(stored)
        pc = self.context
        if pc.signal is None or pc.signal_kind != "ecg":
            return None
        record = EcgRecord(signals=np.asarray(pc.signal, dtype=np.float64), leads=tuple(normalise_lead(c) for c in pc.signal_channels),
                           fs_hz=pc.signal_fs_hz, name=f"stay {self.stay_id}")
        try:
            return measure(record)
        except LemofError:
            return None

    @property
    def ecg_machine(self) -> dict[str, float | None] | None:
        """The ECG cart's own measurements of this stay's ECG (MIMIC-IV-ECG), or None."""
        return self.bundle.ecg_machine(self.stay_id)

    def ecg_findings(self) -> list[Finding]:
        """The ECG's findings (AF pattern, wide QRS, ST deviation), [] without a measured ECG."""
        return [] if self.ecg is None else ecg_findings(self.ecg)

    # --- patient context ----------------------------------------------------------------------
    @_once
    def context(self) -> StayContext:
        """Static facts, EHR timeline and biosignal of the stay."""
        return stay_context(self.bundle, self.stay_id)


# --- the functions of the public API, each one read of the results object --------------------
def predict_stay(run: Run, bundle: CohortBundle, stay_id: int | str) -> StayPrediction:
    """The prediction of any run for one stay: stored for the cohort it was trained on, else computed."""
    return CohortResults(run, bundle).stay(stay_id).prediction


def explain_stay(run: Run, bundle: CohortBundle, stay_id: int | str, *, on_request: bool = False) -> dict[str, Attribution]:
    """Every additive explanation of one stay that applies to ``run`` (``{name: Attribution}``,
    reasons first); those that run the network per stay (``drivers``) only with ``on_request``.
    Unknown ids raise ``StayNotFoundError``."""
    results = CohortResults(run, bundle).stay(stay_id)
    return {e.name: results.attribute(e.name) for e in results.explainers if on_request or not e.on_request}


def stay_attention(run: Run, bundle: CohortBundle, stay_id: int | str) -> Attention | None:
    """Cross-modal attention of one stay in both directions (None without a biosignal)."""
    return CohortResults(run, bundle).stay(stay_id).attention
