"""``stay_reasons.json.gz``: what the case review's first screen says about a stay beyond its
prediction — the input drivers in days (an ``Attribution`` as a dict) and the ECG's measurements —
stored for stays of the cohort a run was trained on, so the first screen waits for neither
Integrated Gradients (~0.9 s a stay on one core) nor ECG delineation (~0.2 s).

Written by ``python -m lemof precompute --reasons SPLIT`` (``lemof.explain.stay_reasons``), bound
to the weights and the cohort it was computed for: a file of other weights or another cohort is
ignored with a warning, never read as this run's. Plain JSON (gzip), never a pickle."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from lemof.paths import write_bytes_atomic

STAY_REASONS_FILE = "stay_reasons.json.gz"
FORMAT = 1


def read_stay_reasons(path: Path, weights_sha256: str | None, fingerprint: str) -> tuple[dict[int, dict[str, Any]] | None, str | None]:
    """``{stay_id: {"drivers": dict, "ecg": dict | None}}`` stored at ``path`` if it belongs to these
    weights and this cohort: (reasons, None), or (None, why not); a missing file says nothing."""
    if not path.exists():
        return None, None
    run = path.parent.name
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
        return None, f"{STAY_REASONS_FILE} of run {run} is unreadable ({exc}); the reasons are computed instead"
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("stays"), dict):
        return None, f"{STAY_REASONS_FILE} of run {run} is not in format {FORMAT}; it is ignored (python -m lemof precompute rewrites it)"
    if data.get("weights_sha256") != weights_sha256 or data.get("cohort_fingerprint") != fingerprint:
        return None, f"{STAY_REASONS_FILE} of run {run} was computed for other weights or another cohort; it is ignored (python -m lemof precompute rewrites it)"
    try:
        return {int(k): v for k, v in data["stays"].items() if isinstance(v, dict)}, None
    except ValueError as exc:
        return None, f"{STAY_REASONS_FILE} of run {run} has a stay id that is not a number ({exc}); it is ignored"


def write_stay_reasons(path: Path, stays: dict[int, dict[str, Any]], *, weights_sha256: str | None, fingerprint: str) -> None:
    """Write ``stay_reasons.json.gz`` atomically, bound to the weights and cohort it was computed for."""
    data = {"format": FORMAT, "weights_sha256": weights_sha256, "cohort_fingerprint": fingerprint,
            "stays": {str(int(k)): v for k, v in sorted(stays.items())}}
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    write_bytes_atomic(Path(path), gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
