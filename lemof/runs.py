"""The run directory: a trained model, its configuration, metrics and level importance.

::

    config.json            everything needed to rebuild the model (JSON, no pickle)
    model.safetensors      all weights and fitted buffers
    metrics.json           test metrics next to the training-median baseline
    level_importance.json  global level importance (stage 2) and the selected levels
    level_shap.parquet     per-stay level Shapley values for the cohort it was trained on
    train.log              what training printed
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from lemof.errors import ConfigError, RunError
from lemof.models.model import LeMoF, ModelSpec
from lemof.paths import write_bytes_atomic, write_json_atomic
from lemof.preprocess import Preprocessor

RUN_FORMAT_VERSION = 1
from lemof import __version__ as LEMOF_VERSION


@dataclass
class Run:
    path: Path
    config: dict[str, Any]
    model: LeMoF
    preprocessor: Preprocessor
    metrics: dict[str, Any]
    level_importance: dict[str, Any]
    level_shap: pd.DataFrame | None
    _shap_index: tuple[int, dict[int, int], np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def stored_level_shap(self, stay_id: int) -> tuple[np.ndarray, float] | None:
        """(phi per level, stacker output) stored at training for ``stay_id``, or None."""
        table = self.level_shap
        if table is None:
            return None
        if self._shap_index is None or self._shap_index[0] != id(table):
            cols = self.model.level_names["ehr"] + self.model.level_names["sig"]
            rows = {int(s): i for i, s in enumerate(table["stay_id"].to_numpy())}
            self._shap_index = (id(table), rows, table[cols].to_numpy(dtype=float), table["stacker_output"].to_numpy(dtype=float))
        _, rows, phi, output = self._shap_index
        i = rows.get(int(stay_id))
        return None if i is None else (phi[i], float(output[i]))

    @property
    def run_id(self) -> str:
        return str(self.config["run_id"])

    @property
    def cohort(self) -> dict[str, Any]:
        return dict(self.config["cohort"])

    @property
    def encoders(self) -> str:
        return str(self.config["train"]["encoders"])


def save_run(
    directory: Path,
    *,
    run_id: str,
    model: LeMoF,
    preprocessor: Preprocessor,
    train_config: dict[str, Any],
    cohort: dict[str, Any],
    metrics: dict[str, Any],
    level_importance: dict[str, Any],
    level_shap: pd.DataFrame,
    extra: dict[str, Any],
    log_text: str,
) -> None:
    """Write every file of a run into ``directory`` (which the caller makes atomic)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    config = {
        "format_version": RUN_FORMAT_VERSION,
        "lemof_version": LEMOF_VERSION,
        "run_id": run_id,
        "task": "regression on log1p(LOS days)",
        "model": model.spec.to_dict(),
        "preprocessing": preprocessor.to_dict(),
        "train": train_config,
        "cohort": cohort,
        **extra,
    }
    write_json_atomic(directory / "config.json", config)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"), metadata={"run_id": run_id, "format": "lemof-run-v1"})
    write_json_atomic(directory / "metrics.json", metrics)
    write_json_atomic(directory / "level_importance.json", level_importance)
    level_shap.to_parquet(directory / "level_shap.parquet", index=False)
    write_bytes_atomic(directory / "train.log", log_text.encode("utf-8"))


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


def load_run(path: str | Path, device: str | torch.device = "cpu") -> Run:
    """Load and check a run directory; every problem is a one-line ``RunError``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_dir():
        raise RunError(f"run directory {path} does not exist")
    config = _read_json(path / "config.json", "the model configuration")
    version = config.get("format_version")
    if version != RUN_FORMAT_VERSION:
        raise RunError(f"run {path.name} has format version {version!r}; this code reads version {RUN_FORMAT_VERSION}")
    try:
        spec = ModelSpec.from_dict(dict(config["model"]))
        preprocessor = Preprocessor.from_dict(dict(config["preprocessing"]))
        model = LeMoF(spec)
    except ConfigError as exc:
        raise RunError(f"run {path.name} does not match this code: {exc}") from None
    except (KeyError, TypeError) as exc:
        raise RunError(f"run {path.name} has an incomplete config.json ({exc})") from None
    if model.fusion is None:
        raise RunError(f"run {path.name} was not trained to the end (no selected levels in config.json)")
    weights_path = path / "model.safetensors"
    if not weights_path.exists():
        raise RunError(f"run {path.name} has no model.safetensors (the trained weights)")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise RunError(f"model.safetensors of run {path.name} is corrupt or not a safetensors file ({exc})") from None
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
        raise RunError(f"model.safetensors of run {path.name} does not match its config.json: tensors {'; '.join(parts)}")
    model.load_state_dict(state, strict=True)
    model.to(device).eval()
    metrics = _read_json(path / "metrics.json", "the recorded metrics") if (path / "metrics.json").exists() else {}
    importance = _read_json(path / "level_importance.json", "stage 2's level importance")
    shap_path = path / "level_shap.parquet"
    level_shap = pd.read_parquet(shap_path) if shap_path.exists() else None
    return Run(path, config, model, preprocessor, metrics, importance, level_shap)
