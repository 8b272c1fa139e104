"""``ecg_finding_effects.json``: how a run's ECG contribution varies with the ECG's findings across
its training stays (``lemof.explain.ecg_effects``), bound to the weights and cohort it was fitted
on. Read by the drivers to split the ECG's part into named findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ECG_EFFECTS_FILE = "ecg_finding_effects.json"


def read_ecg_effects(path: Path, weights_sha256: str | None, fingerprint: str) -> tuple[dict[str, Any] | None, str | None]:
    """The stored finding effects if they belong to these weights and this cohort: (effects, None),
    or (None, why not); a missing file says nothing (None, None)."""
    if not path.exists():
        return None, None
    run = path.parent.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        beta, rate = data["beta"], data["base_rate"]
        ok = isinstance(beta, dict) and isinstance(rate, dict) and set(beta) == set(rate)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"{ECG_EFFECTS_FILE} of run {run} is unreadable ({exc}); the ECG stays one driver"
    if not ok:
        return None, f"{ECG_EFFECTS_FILE} of run {run} is malformed; the ECG stays one driver"
    if data.get("weights_sha256") != weights_sha256 or data.get("cohort_fingerprint") != fingerprint:
        return None, f"{ECG_EFFECTS_FILE} of run {run} was fitted for other weights or another cohort; it is ignored (python -m lemof precompute rewrites it)"
    return data, None
