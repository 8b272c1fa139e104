"""The run directory: a trained model, its configuration, metrics, level importance and the
predictions and explanations of every stay of the cohort it was trained on.

::

    config.json            everything needed to rebuild the model (JSON, no pickle), with the
                           SHA-256 of model.safetensors and of its own model/preprocessing part
    model.safetensors      all weights and fitted buffers (LeMoF and the neural baselines)
    model.lgb.txt          the tabular peer's LightGBM trees, as LightGBM's plain-text model
    metrics.json           validation and test metrics next to the training-median baseline
    level_importance.json  global level importance (stage 2) and the selected levels (LeMoF)
    level_shap.parquet     per-stay level Shapley values for the cohort it was trained on (LeMoF)
    predictions.parquet    per-stay prediction, interval, head predictions and contributions
    stay_vectors.safetensors  per stay of that cohort: the fused representation (similar stays)
                           and the attention each biosignal token receives (LeMoF; tensors only)
    level_concepts.json    what each level encodes: concept probes per level (LeMoF; optional,
                           ``lemof.explain.concepts``)
    train.log              what training printed

``load_run`` reads and checks everything but does not import torch: the network is built from
its weights the first time ``Run.model`` is used, so a page that shows stored predictions and
explanations paints without it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lemof import __version__ as LEMOF_VERSION
from lemof.errors import CohortError, ConfigError, RunError
from lemof.evaluation.metrics import RunMetrics
from lemof.explain.concepts import CONCEPTS_FILE, read_level_concepts
from lemof.models.fusions import check_fusion, create_model, fusion_kind
from lemof.models.gbm import MODEL_FILE as GBM_MODEL_FILE
from lemof.data.summaries import SummarySchema
from lemof.models.spec import Head, ModelSpec, head_kinds
from lemof.paths import file_sha256, write_bytes_atomic, write_json_atomic
from lemof.data.preprocess import Preprocessor
from lemof.training.config import TrainConfig
from lemof.models.registry import check_encoder_name

if TYPE_CHECKING:
    from lemof.data.bundle import CohortBundle

RUN_FORMAT_VERSION = 2
WEIGHTS_FILE = "model.safetensors"
STAY_VECTORS_FILE = "stay_vectors.safetensors"


def spec_sha256(config: dict[str, Any]) -> str:
    """Hash of what defines the model and its inputs (``model`` and ``preprocessing`` of config.json,
    and ``gbm`` for the tabular peer: its summaries and interval)."""
    defining = {"model": config["model"], "preprocessing": config["preprocessing"]}
    if config.get("gbm") is not None:
        defining["gbm"] = config["gbm"]
    text = json.dumps(defining, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CohortRef:
    """The cohort a run was trained on."""

    source: str  # cohort family, e.g. "synthetic"
    name: str
    fingerprint: str
    n_stays: int | None = None
    version: Any = None


@dataclass(frozen=True)
class LevelImportance:
    """Stage 2's result: global importance of every level and the levels selected for stage 3."""

    levels: dict[str, list[str]]  # {"ehr": ["ehr.L1", ...], "sig": [...]}
    importance: dict[str, list[float]]  # mean |phi| over validation stays, per level
    selected: dict[str, list[str]]
    weights: dict[str, list[float]]  # aggregation weight of each selected level
    base_value: float  # stacker output with every level at its background
    method: str = ""

    @property
    def all_levels(self) -> list[str]:
        return self.levels["ehr"] + self.levels["sig"]


@dataclass(frozen=True)
class MetaWeights:
    """The meta-learner fitted for one availability pattern (``ehr+sig`` or ``ehr``)."""

    pattern: str
    n: int
    weights: dict[str, float]
    bias: float
    interval_halfwidth: float  # log1p-days


@dataclass(frozen=True)
class StayVectors:
    """What the case review needs at first paint beyond the stored predictions, per stay of the
    cohort the run was trained on (``stay_vectors.safetensors``, written at training or by
    ``python -m lemof precompute``)."""

    stay_ids: np.ndarray  # (N,) int64
    representation: np.ndarray  # (N, 4d) unit length, stored as float16 (cosine error ~1e-4), read as float32
    attention_to_signal: np.ndarray  # (N, Ts) float32: mean attention each biosignal token receives; NaN rows without one
    sig_seconds: np.ndarray  # (Ts,) centre of each biosignal token (s)

    def index_of(self) -> dict[int, int]:
        return {int(s): i for i, s in enumerate(self.stay_ids)}


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def read_stay_vectors(path: Path, weights_sha256: str | None, fingerprint: str) -> tuple[StayVectors | None, str | None]:
    """The stored stay vectors at ``path`` if they belong to these weights and this cohort:
    (vectors, None), or (None, why not) — a missing file says nothing (None, None)."""
    if not path.exists():
        return None, None
    from safetensors import SafetensorError, safe_open

    run = path.parent.name
    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        return None, f"{STAY_VECTORS_FILE} of run {run} is unreadable ({exc}); similar stays and attention are computed instead"
    if meta.get("weights_sha256") != weights_sha256 or meta.get("cohort_fingerprint") != fingerprint:
        return None, f"{STAY_VECTORS_FILE} of run {run} was computed for other weights or another cohort; it is ignored (python -m lemof precompute rewrites it)"
    try:
        vectors = StayVectors(
            stay_ids=tensors["stay_id"].astype(np.int64),
            representation=_unit(tensors["representation"].astype(np.float32)),  # rescaled after float16 rounding
            attention_to_signal=tensors["attention_to_signal"].astype(np.float32),
            sig_seconds=tensors["sig_seconds"].astype(np.float64),
        )
    except KeyError as exc:
        return None, f"{STAY_VECTORS_FILE} of run {run} lacks tensor {exc}; it is ignored"
    n = len(vectors.stay_ids)
    if len(vectors.representation) != n or len(vectors.attention_to_signal) != n or not np.isfinite(vectors.representation).all():
        return None, f"{STAY_VECTORS_FILE} of run {run} is inconsistent (row counts or non-finite values); it is ignored"
    return vectors, None


@dataclass
class Run:
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
    gbm: dict[str, Any] | None = None  # the tabular peer's config.json section (summaries, interval); None for older gbm runs
    level_concepts: dict[str, Any] | None = None  # level_concepts.json (LeMoF), when present
    _model: Any = field(default=None, repr=False)
    _vectors: tuple[StayVectors | None, dict[int, int]] | None = field(default=None, repr=False)
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
        """The per-stay summaries the tabular peer reads (None for a neural run)."""
        return SummarySchema.from_dict(self.gbm["summaries"]) if self.gbm is not None else None

    @property
    def has_model(self) -> bool:
        """Whether the run can predict a stay now (a network, or the tabular peer's trees); only
        gbm runs written before the trees were kept cannot (their predictions are stored)."""
        return self.spec is not None or self.gbm is not None

    @property
    def model(self):
        """The trained model, built on first use: the network (``LeMoF`` or a baseline, imports
        torch) or the tabular peer's ``GbmModel`` (imports LightGBM)."""
        if not self.has_model:
            raise RunError(
                f"run {self.run_id} ({self.fusion}) stores predictions only for the cohort it was trained on ({self.cohort.name}): it was written "
                f"before the tabular peer kept its model ({GBM_MODEL_FILE}); retrain it (python -m lemof train --fusion gbm) to use it on other cohorts"
            )
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    if self.spec is None:
                        from lemof.models.gbm import load_gbm  # lazy: imports LightGBM (and scikit-learn, ~2 s)

                        self._model = load_gbm(self.path, self.gbm)
                    else:
                        self._model = _build_model(self.path, self.spec)
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

    def stored_stay_vectors(self) -> tuple[StayVectors | None, dict[int, int]]:
        """The stay vectors stored for the cohort it was trained on (None if there are none) and
        their row index by stay id; read once. A file that does not belong to this run is
        reported in ``warnings`` and ignored."""
        if self._vectors is None:
            with self._model_lock:
                if self._vectors is None:
                    vectors, problem = read_stay_vectors(self.path / STAY_VECTORS_FILE, self.weights_sha256, self.cohort.fingerprint)
                    if problem:
                        self.warnings.append(problem)
                    self._vectors = (vectors, vectors.index_of() if vectors is not None else {})
        return self._vectors

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

    def stored_rows(self, stay_ids: np.ndarray) -> pd.DataFrame:
        """The rows of ``predictions.parquet`` for ``stay_ids`` in that order, indexed by stay id
        (``RunError`` naming a stay it has none for)."""
        if self.predictions is None:
            raise RunError(f"run {self.run_id} stores no predictions")
        index = self._prediction_index()
        missing = [int(s) for s in stay_ids if int(s) not in index]
        if missing:
            raise RunError(f"run {self.run_id} stores no prediction for stay {missing[0]} ({len(missing)} stays missing)")
        return self.predictions.iloc[[index[int(s)] for s in stay_ids]].set_index("stay_id")


def save_run(
    directory: Path,
    *,
    run_id: str,
    fusion: str,
    network,
    spec: ModelSpec | None,
    preprocessor: Preprocessor | None,
    train_config: dict[str, Any],
    cohort: dict[str, Any],
    metrics: RunMetrics,
    predictions: pd.DataFrame,
    extra: dict[str, Any],
    log_text: str,
    level_importance: dict[str, Any] | None = None,
    level_shap: pd.DataFrame | None = None,
    stay_vectors: dict[str, np.ndarray] | None = None,
    level_concepts: dict[str, Any] | None = None,
    gbm: tuple[str, dict[str, Any]] | None = None,
) -> None:
    """Write every file of a run into ``directory`` (which the caller makes atomic).

    The weights are written first and their SHA-256 goes into ``config.json``, so a later edit
    of the weights is detected when the run is loaded. The tabular peer has no network: ``gbm``
    is its LightGBM text model and its ``config.json`` section (summaries, interval), and the
    text model's SHA-256 is its ``weights_sha256``.
    """
    directory = Path(directory)
    weights_sha256 = None
    if gbm is not None:
        write_bytes_atomic(directory / GBM_MODEL_FILE, gbm[0].encode("utf-8"))
        weights_sha256 = file_sha256(directory / GBM_MODEL_FILE)
    if network is not None:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_FILE), metadata={"run_id": run_id, "format": f"lemof-run-v{RUN_FORMAT_VERSION}"})
        weights_sha256 = file_sha256(directory / WEIGHTS_FILE)
    config = {
        "format_version": RUN_FORMAT_VERSION,
        "lemof_version": LEMOF_VERSION,
        "run_id": run_id,
        "fusion": fusion,
        "task": "regression on log1p(LOS days)",
        "model": spec.to_dict() if spec is not None else None,
        "preprocessing": preprocessor.to_dict() if preprocessor is not None else None,
        "train": train_config,
        "cohort": cohort,
        "weights_sha256": weights_sha256,
        **({"gbm": gbm[1]} if gbm is not None else {}),
        **extra,
    }
    config["spec_sha256"] = spec_sha256(config)
    write_json_atomic(directory / "config.json", config)
    write_json_atomic(directory / "metrics.json", metrics.to_dict())
    if level_importance is not None:
        write_json_atomic(directory / "level_importance.json", level_importance)
    if level_shap is not None:
        level_shap.to_parquet(directory / "level_shap.parquet", index=False)
    predictions.to_parquet(directory / "predictions.parquet", index=False)
    if stay_vectors is not None:
        write_stay_vectors(directory / STAY_VECTORS_FILE, stay_vectors, weights_sha256=weights_sha256, fingerprint=cohort["fingerprint"])
    if level_concepts is not None:
        write_json_atomic(directory / CONCEPTS_FILE, level_concepts)
    write_bytes_atomic(directory / "train.log", log_text.encode("utf-8"))


def write_stay_vectors(path: Path, tensors: dict[str, np.ndarray], *, weights_sha256: str | None, fingerprint: str) -> None:
    """Write ``stay_vectors.safetensors`` atomically, bound to the weights and cohort it was computed for."""
    from safetensors.numpy import save

    data = save(
        {
            "stay_id": np.ascontiguousarray(tensors["stay_id"], dtype=np.int64),
            "representation": np.ascontiguousarray(tensors["representation"], dtype=np.float16),
            "attention_to_signal": np.ascontiguousarray(tensors["attention_to_signal"], dtype=np.float16),
            "sig_seconds": np.ascontiguousarray(tensors["sig_seconds"], dtype=np.float64),
        },
        metadata={"weights_sha256": str(weights_sha256), "cohort_fingerprint": fingerprint},
    )
    write_bytes_atomic(path, data)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.exists():
        raise RunError(f"run directory {path.parent} has no {path.name} ({what})")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise RunError(f"{path} must hold a JSON object")
    return obj


def _read_parquet(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise RunError(f"{path} is not a readable Parquet table ({exc})") from None


def check_weights(path: Path, recorded_sha256: str | None) -> list[str]:
    """Refuse weights that were changed after training or hold NaN/inf; return warnings.

    Reads the tensors with ``safetensors.numpy`` (no torch).
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    run = path.parent.name
    if not path.exists():
        raise RunError(f"run {run} has no {WEIGHTS_FILE} (the trained weights)")
    warnings = []
    if recorded_sha256 is None:
        warnings.append(f"run {run} records no hash of its weights (written by an older version): they cannot be verified")
    elif file_sha256(path) != recorded_sha256:
        raise RunError(
            f"{WEIGHTS_FILE} of run {run} does not match the SHA-256 recorded when the run was written "
            "(the weights were changed or damaged after training); retrain or restore the file"
        )
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise RunError(f"{WEIGHTS_FILE} of run {run} is corrupt or not a safetensors file ({exc})") from None
    for name, values in tensors.items():
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise RunError(f"{WEIGHTS_FILE} of run {run} has {bad} non-finite value(s) (NaN/inf) in tensor {name}")
    return warnings


def check_gbm_model(path: Path, recorded_sha256: str | None) -> list[str]:
    """Refuse a tabular model file that is missing or was changed after training (its SHA-256)."""
    run = path.parent.name
    if not path.exists():
        raise RunError(f"run {run} has no {GBM_MODEL_FILE} (the tabular peer's trees)")
    if recorded_sha256 is None or file_sha256(path) != recorded_sha256:
        raise RunError(
            f"{GBM_MODEL_FILE} of run {run} does not match the SHA-256 recorded when the run was written "
            "(the model was changed or damaged after training); retrain or restore the file"
        )
    return []


def _build_model(path: Path, spec: ModelSpec):
    """The network of a run directory, weights loaded and checked against the spec (imports torch)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    run = path.name
    try:
        model = create_model(spec)  # imports torch and the fusion's network module
    except ConfigError as exc:
        raise RunError(f"run {run} does not match this code: {exc}") from None
    try:
        state = load_file(str(path / WEIGHTS_FILE))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise RunError(f"{WEIGHTS_FILE} of run {run} is corrupt or not a safetensors file ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if wrong:
            parts.append(f"{len(wrong)} with another shape (e.g. {wrong[0]})")
        raise RunError(f"{WEIGHTS_FILE} of run {run} does not match its config.json: tensors {'; '.join(parts)}")
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_run(path: str | Path) -> Run:
    """Load and check a run directory; every problem is a one-line ``RunError``. No torch import."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"run directory {path} does not exist")
    config = _read_json(path / "config.json", "the model configuration")
    version = config.get("format_version")
    if version != RUN_FORMAT_VERSION:
        raise RunError(f"run {path.name} has format version {version!r}; this code reads version {RUN_FORMAT_VERSION} (retrain it)")
    try:
        fusion = check_fusion(str(config.get("fusion", "lemof")))
        kind = fusion_kind(fusion)
        spec = ModelSpec.from_dict(dict(config["model"])) if config.get("model") is not None else None
        if spec is not None:
            check_encoder_name("ehr", spec.ehr_encoder)
            check_encoder_name("sig", spec.sig_encoder)
        elif kind != "tabular":
            raise KeyError("model")
        preprocessor = Preprocessor.from_dict(dict(config["preprocessing"])) if config.get("preprocessing") is not None else None
        train_config = TrainConfig.from_dict(dict(config["train"]))
        cohort = CohortRef(**{k: v for k, v in config["cohort"].items() if k in CohortRef.__dataclass_fields__})
        importance = None
        if kind == "lemof":
            imp = _read_json(path / "level_importance.json", "stage 2's level importance")
            importance = LevelImportance(**{k: imp[k] for k in LevelImportance.__dataclass_fields__ if k in imp})
        metrics = RunMetrics.from_dict(_read_json(path / "metrics.json", "the recorded metrics"))
        meta = [MetaWeights(**r) for r in config.get("stage_reports", {}).get("meta_learner", [])]
    except ConfigError as exc:
        raise RunError(f"run {path.name} does not match this code: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"run {path.name} has an incomplete or malformed configuration ({type(exc).__name__}: {exc})") from None
    if config.get("spec_sha256") not in (None, spec_sha256(config)):
        raise RunError(
            f"config.json of run {path.name} describes another network than its weights were trained as "
            "(its model or preprocessing section was changed after training)"
        )
    if kind == "lemof" and (not spec.selected_levels["ehr"] or not spec.selected_levels["sig"]):
        raise RunError(f"run {path.name} was not trained to the end (no selected levels in config.json)")
    gbm = config.get("gbm") if kind == "tabular" else None
    if kind != "tabular":
        warnings = check_weights(path / WEIGHTS_FILE, config.get("weights_sha256"))
    elif gbm is not None:
        warnings = check_gbm_model(path / GBM_MODEL_FILE, config.get("weights_sha256"))
        try:
            SummarySchema.from_dict(gbm["summaries"]), float(gbm["interval_halfwidth"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RunError(f"run {path.name} has a malformed gbm section in config.json ({type(exc).__name__}: {exc})") from None
    else:
        warnings = [f"run {path.name} ({fusion}) was trained before the tabular peer kept its model: it predicts only {config['cohort'].get('name')} (retrain it to use it on other cohorts)"]
    predictions = _read_parquet(path / "predictions.parquet")
    if kind == "tabular" and gbm is None and predictions is None:
        raise RunError(f"run {path.name} ({fusion}) has no predictions.parquet, and no model to predict with")
    return Run(
        path=path,
        run_id=str(config.get("run_id", path.name)),
        fusion=fusion,
        train_config=train_config,
        cohort=cohort,
        spec=spec,
        preprocessor=preprocessor,
        metrics=metrics,
        level_importance=importance,
        meta_weights=meta,
        training_seconds=config.get("training_seconds"),
        device=config.get("device"),
        stage_reports={k: v for k, v in config.get("stage_reports", {}).items() if k != "meta_learner"},
        level_shap=_read_parquet(path / "level_shap.parquet"),
        predictions=predictions,
        warnings=warnings,
        weights_sha256=config.get("weights_sha256"),
        gbm=gbm,
        level_concepts=read_level_concepts(path / CONCEPTS_FILE) if kind == "lemof" else None,
    )


def check_run_fits_cohort(run: Run, bundle: "CohortBundle") -> None:
    """A model explains only cohorts of the family (source) it was trained on."""
    if run.cohort.source != bundle.source:
        raise CohortError(
            f"run {run.run_id!r} was trained on {run.cohort.source!r} data and cannot explain "
            f"the {bundle.source!r} cohort {bundle.name!r}"
        )
    if run.preprocessor is not None:
        run.preprocessor.check_compatible(bundle)
    if run.gbm is not None:
        run.summaries.check_compatible(bundle)


def require_lemof(run: Run) -> None:
    """``RunError`` naming what does apply, for a run whose model is not LeMoF."""
    if not run.is_lemof:
        extra = "Integrated Gradients over its inputs do" if run.kind == "baseline" else "its own TreeSHAP values over its summary features do"
        raise RunError(
            f"run {run.run_id} is the {run.fusion!r} baseline: level SHAP, head contributions and cross-modal attention "
            f"explain LeMoF and do not apply to it ({extra}; its metrics: python -m lemof evaluate)"
        )
