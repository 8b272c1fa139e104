"""A loaded run (``Run``): what it is, its model (built on first use) and its stored per-stay
results; and the checks a caller makes before using it on a cohort. ``load.py`` reads one from
its directory (``layout.py``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from lemof.data.preprocess import Preprocessor
from lemof.data.summaries import SummarySchema
from lemof.errors import CohortError, RunError
from lemof.models.fusions import fusion_kind
from lemof.models.spec import Head, ModelSpec, head_kinds
from lemof.runs.metrics_file import RunMetrics
from lemof.runs.records import CohortRef, LevelImportance, MetaWeights
from lemof.runs.ecg_effects_file import ECG_EFFECTS_FILE, read_ecg_effects
from lemof.runs.stay_reasons_file import STAY_REASONS_FILE, read_stay_reasons
from lemof.runs.stay_vectors_file import STAY_VECTORS_FILE, StayVectors, read_stay_vectors
from lemof.runs.train_config import TrainConfig
from lemof.runs.weights import build_network

if TYPE_CHECKING:
    from lemof.data.bundle import CohortBundle


def _vectors_with_index(path: Path, weights_sha256: str | None, fingerprint: str) -> tuple[tuple[StayVectors | None, dict[int, int]], str | None]:
    vectors, problem = read_stay_vectors(path, weights_sha256, fingerprint)
    return (vectors, vectors.index_of() if vectors is not None else {}), problem


@dataclass
class Run:
    """A run directory, read and checked by ``load_run`` (``load.py``)."""

    path: Path
    run_id: str
    fusion: str
    train_config: TrainConfig
    cohort: CohortRef
    spec: ModelSpec | None  # None for the tabular peer (no network)
    preprocessor: Preprocessor | None
    metrics: RunMetrics
    level_importance: LevelImportance | None  # LeMoF and its ablations only
    meta_weights: list[MetaWeights]
    training_seconds: float | None
    device: str | None
    stage_reports: dict[str, Any]  # per stage: best epoch, epochs run, loss history
    level_shap: pd.DataFrame | None
    predictions: pd.DataFrame | None
    warnings: list[str] = field(default_factory=list)
    weights_sha256: str | None = None
    gbm: dict[str, Any] | None = None  # the tabular peer's config.json section (summaries, interval); None for a neural run
    tabular_head: dict[str, Any] | None = None  # LeMoF's tabular head's config.json section (summaries, sha256); None without one
    level_concepts: dict[str, Any] | None = None  # level_concepts.json (LeMoF), when present
    _model: Any = field(default=None, repr=False)
    _stored: dict[str, Any] = field(default_factory=dict, repr=False)  # the stored per-stay files, each read once (``_read_once``)
    _model_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _shap_index: tuple[dict[int, int], np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _pred_index: dict[int, int] | None = field(default=None, repr=False)

    # --- what it is ---------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``lemof`` (LeMoF or an ablation), ``baseline`` (a neural baseline) or ``tabular``."""
        return fusion_kind(self.fusion)

    @property
    def is_lemof(self) -> bool:
        """Explained by level SHAP, head contributions and cross-modal attention."""
        return self.kind == "lemof"

    @property
    def encoders(self) -> str:
        return self.train_config.encoders if self.kind != "tabular" else "summary statistics"

    @property
    def heads(self) -> list[Head]:
        return self.spec.heads if self.spec is not None else []

    @property
    def head_kinds(self) -> dict[str, str]:
        """``{head name: kind}`` of this run's heads."""
        return head_kinds(self.heads)

    @property
    def interval_level(self) -> float:
        return 1 - self.train_config.interval_alpha

    @property
    def summaries(self) -> SummarySchema | None:
        """The per-stay summaries the tabular peer, or LeMoF's tabular head, reads (None without either)."""
        section = self.gbm if self.gbm is not None else self.tabular_head
        return SummarySchema.from_dict(section["summaries"]) if section is not None else None

    @property
    def model(self):
        """The trained model, built on first use: the network (``LeMoF`` or a baseline, imports
        torch) or the tabular peer's ``GbmModel`` (imports LightGBM)."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    if self.spec is None:
                        from lemof.models.gbm import load_gbm  # lazy: imports LightGBM (and scikit-learn, ~2 s)

                        self._model = load_gbm(self.path, self.gbm)
                    else:
                        network = build_network(self.path, self.spec)
                        if self.tabular_head is not None:
                            from lemof.models.gbm import TABULAR_HEAD_FILE, gbm_from_text  # lazy: imports LightGBM

                            what = f"{TABULAR_HEAD_FILE} of run {self.run_id}"
                            try:
                                text = (self.path / TABULAR_HEAD_FILE).read_text(encoding="utf-8")
                            except (OSError, UnicodeDecodeError) as exc:
                                raise RunError(f"{what} cannot be read ({exc})") from None
                            network.tabular_model = gbm_from_text(text, self.summaries, 0.0, what=what)
                        self._model = network
        return self._model

    # --- stored per-stay results --------------------------------------------------------
    def stored_level_shap(self, stay_id: int) -> tuple[np.ndarray, float] | None:
        """(phi per level, stacker output) stored at training for ``stay_id``, or None."""
        if self.level_shap is None:
            return None
        if self._shap_index is None:
            assert self.level_importance is not None
            table = self.level_shap
            rows = {int(s): i for i, s in enumerate(table["stay_id"].to_numpy())}
            cols = self.level_importance.all_levels
            self._shap_index = (rows, table[cols].to_numpy(dtype=float), table["stacker_output"].to_numpy(dtype=float))
        rows, phi, output = self._shap_index
        i = rows.get(int(stay_id))
        return None if i is None else (phi[i], float(output[i]))

    def _read_once(self, name: str, reader: Callable[[Path, str | None, str], tuple[Any, str | None]]) -> Any:
        """What ``reader`` makes of the run's file ``name`` (bound to its weights and cohort), read
        once; a file that does not belong to this run is reported in ``warnings`` and read as None."""
        if name not in self._stored:
            with self._model_lock:
                if name not in self._stored:
                    value, problem = reader(self.path / name, self.weights_sha256, self.cohort.fingerprint)
                    if problem:
                        self.warnings.append(problem)
                    self._stored[name] = value
        return self._stored[name]

    def stored_stay_vectors(self) -> tuple[StayVectors | None, dict[int, int]]:
        """The stay vectors stored for the cohort it was trained on (None if there are none) and
        their row index by stay id; read once."""
        return self._read_once(STAY_VECTORS_FILE, _vectors_with_index)

    def stored_reasons(self, stay_id: int) -> dict[str, Any] | None:
        """What ``stay_reasons.json.gz`` holds for ``stay_id`` (``{"drivers": ..., "ecg": ...}``) on
        the cohort the run was trained on, or None; read once."""
        return (self._read_once(STAY_REASONS_FILE, read_stay_reasons) or {}).get(int(stay_id))

    def ecg_effects(self) -> dict[str, Any] | None:
        """How the run's ECG contribution varies with the ECG's findings (``ecg_finding_effects.json``,
        fitted on the training stays of its own cohort), or None; read once."""
        return self._read_once(ECG_EFFECTS_FILE, read_ecg_effects)

    @property
    def stores_predictions(self) -> bool:
        """Whether the run holds the per-stay predictions of the cohort it was trained on."""
        return self.predictions is not None

    def _prediction_index(self) -> dict[int, int]:
        if self._pred_index is None:
            self._pred_index = {int(s): i for i, s in enumerate(self.predictions["stay_id"].to_numpy())}
        return self._pred_index

    def stored_prediction(self, stay_id: int) -> pd.Series | None:
        """The row of ``predictions.parquet`` for ``stay_id``, or None."""
        if self.predictions is None:
            return None
        i = self._prediction_index().get(int(stay_id))
        return None if i is None else self.predictions.iloc[i]

    def stored_rows(self, stay_ids: np.ndarray | None = None) -> pd.DataFrame:
        """The rows of ``predictions.parquet`` for ``stay_ids`` in that order (every row when None),
        indexed by stay id (``RunError`` naming a stay it has none for). With ``stored_prediction``
        the one way to the stored predictions: ``load.py`` reads the file, nothing else does."""
        if self.predictions is None:
            raise RunError(f"run {self.run_id} stores no predictions")
        if stay_ids is None:
            return self.predictions.set_index("stay_id")
        index = self._prediction_index()
        missing = [int(s) for s in stay_ids if int(s) not in index]
        if missing:
            raise RunError(f"run {self.run_id} stores no prediction for stay {missing[0]} ({len(missing)} stays missing)")
        return self.predictions.iloc[[index[int(s)] for s in stay_ids]].set_index("stay_id")


def check_run_fits_cohort(run: Run, bundle: "CohortBundle") -> None:
    """A model explains only cohorts of the family (source) it was trained on."""
    if run.cohort.source != bundle.source:
        raise CohortError(
            f"run {run.run_id!r} was trained on {run.cohort.source!r} data and cannot explain "
            f"the {bundle.source!r} cohort {bundle.name!r}"
        )
    if run.preprocessor is not None:
        run.preprocessor.check_compatible(bundle)
    if run.gbm is not None or run.tabular_head is not None:
        run.summaries.check_compatible(bundle)


def require_lemof(run: Run) -> None:
    """``RunError`` naming what does apply, for a run whose model is not LeMoF."""
    if not run.is_lemof:
        extra = "Integrated Gradients over its inputs do" if run.kind == "baseline" else "its own TreeSHAP values over its summary features do"
        raise RunError(
            f"run {run.run_id} is the {run.fusion!r} baseline: level SHAP, head contributions and cross-modal attention "
            f"explain LeMoF and do not apply to it ({extra}; its metrics: python -m lemof evaluate)"
        )
