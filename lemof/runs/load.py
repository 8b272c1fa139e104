"""Reading a run directory into a ``Run``, checking everything; every problem is a one-line
``RunError``. No torch: the network is built when ``Run.model`` is first used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from lemof.data.preprocess import Preprocessor
from lemof.data.summaries import SummarySchema
from lemof.errors import ConfigError, RunError
from lemof.models.fusions import check_fusion, fusion_kind
from lemof.models.gbm import MODEL_FILE as GBM_MODEL_FILE, TABULAR_HEAD_FILE
from lemof.models.registry import check_encoder_name
from lemof.models.spec import ModelSpec
from lemof.runs.concepts_file import CONCEPTS_FILE, read_level_concepts
from lemof.runs.layout import CONFIG_FILE, LEVEL_IMPORTANCE_FILE, LEVEL_SHAP_FILE, PREDICTIONS_FILE, RUN_FORMAT_VERSION, spec_sha256
from lemof.runs.metrics_file import METRICS_FILE, RunMetrics
from lemof.runs.records import CohortRef, LevelImportance, MetaWeights
from lemof.runs.run import Run
from lemof.runs.train_config import TrainConfig
from lemof.runs.weights import WEIGHTS_FILE, check_gbm_model, check_weights


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


def load_run(path: str | Path) -> Run:
    """Load and check a run directory; every problem is a one-line ``RunError``. No torch import."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"run directory {path} does not exist")
    config = _read_json(path / CONFIG_FILE, "the model configuration")
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
            imp = _read_json(path / LEVEL_IMPORTANCE_FILE, "stage 2's level importance")
            importance = LevelImportance(**{k: imp[k] for k in LevelImportance.__dataclass_fields__ if k in imp})
        metrics = RunMetrics.from_dict(_read_json(path / METRICS_FILE, "the recorded metrics"))
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
    tabular_head = config.get("tabular_head") if spec is not None and spec.tabular_head else None
    if kind != "tabular":
        warnings = check_weights(path / WEIGHTS_FILE, config.get("weights_sha256"))
        if spec is not None and spec.tabular_head:
            if not isinstance(tabular_head, dict):
                raise RunError(f"run {path.name} has a tabular head but no tabular_head section in config.json")
            warnings += check_gbm_model(path / TABULAR_HEAD_FILE, tabular_head.get("sha256"), "LeMoF's tabular head")
            try:
                SummarySchema.from_dict(tabular_head["summaries"])
            except (KeyError, TypeError, ValueError) as exc:
                raise RunError(f"run {path.name} has a malformed tabular_head section in config.json ({type(exc).__name__}: {exc})") from None
    else:
        if gbm is None:  # written before the tabular peer kept its trees: it cannot predict, so it is not read
            raise RunError(f"run {path.name} ({fusion}) has format version {version} without its trees (no gbm section in config.json, written "
                           f"before the tabular peer kept {GBM_MODEL_FILE}); this code reads gbm runs with their trees (retrain it)")
        warnings = check_gbm_model(path / GBM_MODEL_FILE, config.get("weights_sha256"))
        try:
            SummarySchema.from_dict(gbm["summaries"]), float(gbm["interval_halfwidth"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RunError(f"run {path.name} has a malformed gbm section in config.json ({type(exc).__name__}: {exc})") from None
    predictions = _read_parquet(path / PREDICTIONS_FILE)
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
        level_shap=_read_parquet(path / LEVEL_SHAP_FILE),
        predictions=predictions,
        warnings=warnings,
        weights_sha256=config.get("weights_sha256"),
        gbm=gbm,
        tabular_head=tabular_head,
        level_concepts=read_level_concepts(path / CONCEPTS_FILE) if kind == "lemof" else None,
    )
