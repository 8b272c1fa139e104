"""The run directory: a trained model, its configuration, metrics, level importance and the
predictions and explanations of every stay of the cohort it was trained on. Each file, and the
module that reads and writes it::

    config.json            everything needed to rebuild the model (JSON, no pickle), with the
                           SHA-256 of model.safetensors and of its own model/preprocessing part
                           (``spec_sha256`` here; its records: ``records.py``, ``train_config.py``)
    model.safetensors      all weights and fitted buffers (LeMoF and the neural baselines; ``weights.py``)
    model.lgb.txt          the tabular peer's LightGBM trees, as LightGBM's plain-text model
                           (``lemof/models/gbm.py``)
    tabular_head.lgb.txt   LeMoF's tabular head (``TrainConfig.tabular_head``): its LightGBM trees as text,
                           their SHA-256 and summaries in config.json's ``tabular_head``
    metrics.json           validation and test metrics next to the training-median baseline (``metrics_file.py``)
    level_importance.json  global level importance (stage 2) and the selected levels (LeMoF; ``records.py``)
    level_shap.parquet     per-stay level Shapley values for the cohort it was trained on (LeMoF)
    predictions.parquet    per-stay prediction, interval, head predictions and contributions
    stay_vectors.safetensors  per stay of that cohort: the fused representation (similar stays)
                           and the attention each biosignal token receives (LeMoF; tensors only;
                           ``stay_vectors_file.py``)
    level_concepts.json    what each level encodes: concept probes per level (LeMoF; optional;
                           ``concepts_file.py``)
    train.log              what training printed

``save.py`` writes a run, ``load.py`` reads and checks one into a ``Run`` (``run.py``) without
importing torch: the network is built from its weights the first time ``Run.model`` is used, so a
page that shows stored predictions and explanations paints without it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

RUN_FORMAT_VERSION = 2  # the version load_run reads; a gbm run of it written before the trees were kept (no gbm section) is refused too
CONFIG_FILE = "config.json"
LEVEL_IMPORTANCE_FILE = "level_importance.json"
LEVEL_SHAP_FILE = "level_shap.parquet"
PREDICTIONS_FILE = "predictions.parquet"
LOG_FILE = "train.log"


def spec_sha256(config: dict[str, Any]) -> str:
    """Hash of what defines the model and its inputs (``model`` and ``preprocessing`` of config.json,
    and ``gbm`` for the tabular peer: its summaries and interval; ``tabular_head`` for LeMoF's tabular head)."""
    defining = {"model": config["model"], "preprocessing": config["preprocessing"]}
    if config.get("gbm") is not None:
        defining["gbm"] = config["gbm"]
    if config.get("tabular_head") is not None:  # LeMoF's tabular head: its summaries and its trees' SHA-256
        defining["tabular_head"] = config["tabular_head"]
    text = json.dumps(defining, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
