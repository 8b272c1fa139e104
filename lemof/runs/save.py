"""Writing a run directory (``layout.py`` lists its files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lemof.data.preprocess import Preprocessor
from lemof.models.gbm import MODEL_FILE as GBM_MODEL_FILE, TABULAR_HEAD_FILE
from lemof.models.spec import ModelSpec
from lemof.paths import file_sha256, write_bytes_atomic, write_json_atomic
from lemof.runs.concepts_file import CONCEPTS_FILE
from lemof.runs.layout import CONFIG_FILE, LEVEL_IMPORTANCE_FILE, LEVEL_SHAP_FILE, LOG_FILE, PREDICTIONS_FILE, RUN_FORMAT_VERSION, spec_sha256
from lemof.runs.metrics_file import METRICS_FILE, RunMetrics
from lemof.runs.stay_vectors_file import STAY_VECTORS_FILE, write_stay_vectors
from lemof.runs.weights import WEIGHTS_FILE, write_weights
from lemof.version import __version__ as LEMOF_VERSION


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
    tabular_head: tuple[str, dict[str, Any]] | None = None,
) -> None:
    """Write every file of a run into ``directory`` (which the caller makes atomic).

    The weights are written first and their SHA-256 goes into ``config.json``, so a later edit
    of the weights is detected when the run is loaded. The tabular peer has no network: ``gbm``
    is its LightGBM text model and its ``config.json`` section (summaries, interval), and the
    text model's SHA-256 is its ``weights_sha256``. ``tabular_head`` is LeMoF's tabular head: its
    LightGBM text model (``tabular_head.lgb.txt``, beside the weights) and its ``config.json``
    section (summaries, LightGBM version), to which the text model's SHA-256 is added.
    """
    directory = Path(directory)
    weights_sha256 = None
    if gbm is not None:
        write_bytes_atomic(directory / GBM_MODEL_FILE, gbm[0].encode("utf-8"))
        weights_sha256 = file_sha256(directory / GBM_MODEL_FILE)
    if network is not None:
        weights_sha256 = write_weights(directory / WEIGHTS_FILE, network, run_id)
    tabular_section = None
    if tabular_head is not None:
        write_bytes_atomic(directory / TABULAR_HEAD_FILE, tabular_head[0].encode("utf-8"))
        tabular_section = {**tabular_head[1], "sha256": file_sha256(directory / TABULAR_HEAD_FILE)}
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
        **({"tabular_head": tabular_section} if tabular_section is not None else {}),
        **extra,
    }
    config["spec_sha256"] = spec_sha256(config)
    write_json_atomic(directory / CONFIG_FILE, config)
    write_json_atomic(directory / METRICS_FILE, metrics.to_dict())
    if level_importance is not None:
        write_json_atomic(directory / LEVEL_IMPORTANCE_FILE, level_importance)
    if level_shap is not None:
        level_shap.to_parquet(directory / LEVEL_SHAP_FILE, index=False)
    predictions.to_parquet(directory / PREDICTIONS_FILE, index=False)
    if stay_vectors is not None:
        write_stay_vectors(directory / STAY_VECTORS_FILE, stay_vectors, weights_sha256=weights_sha256, fingerprint=cohort["fingerprint"])
    if level_concepts is not None:
        write_json_atomic(directory / CONCEPTS_FILE, level_concepts)
    write_bytes_atomic(directory / LOG_FILE, log_text.encode("utf-8"))
