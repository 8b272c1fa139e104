"""Training options beyond ``TrainConfig``'s defaults, in one place: presets and recipes.

- A **preset** is a training budget (epochs, batch size, learning rate, patience): ``quick``,
  ``default`` (``TrainConfig``'s defaults, the settings of the shipped runs) and ``thorough``. The
  Retrain page offers them; the benchmark grid's ``--quick`` takes the quick preset's epochs.
- A **recipe** is what a cohort family trains best with (inputs, loss), chosen on the validation
  split: ``assets/recipes/<family>.json``, applied by the grid to every method and offered by
  the Retrain page.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from lemof.errors import ConfigError, UnsafePathError
from lemof.paths import confined, safe_name
from lemof.runs.train_config import TrainConfig

RECIPES = Path(__file__).resolve().parent.parent.parent / "assets" / "recipes"
_DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}
PRESETS = {
    "quick": {"epochs_stage1": 2, "epochs_stage3": 2, "batch_size": 128, "lr": 2e-3},
    "default": {k: _DEFAULTS[k] for k in ("epochs_stage1", "epochs_stage3", "batch_size", "lr")},
    "thorough": {"epochs_stage1": 40, "epochs_stage3": 40, "batch_size": 64, "lr": 1e-3, "patience": 10},
}
PRESET_HELP = {
    "quick": "2 epochs per stage: about a minute on 2 CPU cores for 4,000 stays",
    "default": "the settings of the shipped runs",
    "thorough": "twice the epochs, half the learning rate, more patience",
}


def recipe_path(family: str) -> Path | None:
    """The recipe file of cohort family ``family``, or None. The family is what a bundle declares
    (``provenance.json``), not a path: one that is not a plain file name (``../x``, ``a/b``, markup)
    names no recipe, and nothing outside ``assets/recipes`` is read."""
    try:
        if safe_name(family) != family:
            return None
        path = confined(RECIPES, f"{family}.json", what="cohort family")
    except UnsafePathError:
        return None
    return path if path.exists() else None


def load_recipe(family: str) -> dict:
    """The recipe of cohort family ``family`` ({} if it has none)."""
    path = recipe_path(family)
    if path is None:
        return {}
    try:
        options = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"training recipe {path} is unreadable: {exc}") from None
    if not isinstance(options, dict):
        raise ConfigError(f"training recipe {path} must hold a JSON object")
    return options
