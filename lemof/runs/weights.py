"""``model.safetensors``: the weights of a neural run — checked when the run is loaded (their
SHA-256 against ``config.json``, no NaN/inf; no torch), built into the network on first use
(torch), and the tabular peer's text model checked the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lemof.errors import ConfigError, RunError
from lemof.models.gbm import MODEL_FILE as GBM_MODEL_FILE
from lemof.models.networks import create_model
from lemof.models.spec import ModelSpec
from lemof.paths import file_sha256
from lemof.runs.layout import RUN_FORMAT_VERSION

WEIGHTS_FILE = "model.safetensors"


def write_weights(path: Path, network, run_id: str) -> str:
    """Write ``network``'s weights and fitted buffers to ``path``; return their SHA-256 (for ``config.json``)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    save_file(state, str(path), metadata={"run_id": run_id, "format": f"lemof-run-v{RUN_FORMAT_VERSION}"})
    return file_sha256(path)


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


def check_gbm_model(path: Path, recorded_sha256: str | None, what: str = "the tabular peer's trees") -> list[str]:
    """Refuse a tabular model file (the peer's ``model.lgb.txt``, LeMoF's ``tabular_head.lgb.txt``)
    that is missing or was changed after training (its SHA-256)."""
    run = path.parent.name
    if not path.exists():
        raise RunError(f"run {run} has no {path.name} ({what})")
    if recorded_sha256 is None or file_sha256(path) != recorded_sha256:
        raise RunError(
            f"{path.name} of run {run} does not match the SHA-256 recorded when the run was written "
            "(the model was changed or damaged after training); retrain or restore the file"
        )
    return []


def build_network(path: Path, spec: ModelSpec):
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
