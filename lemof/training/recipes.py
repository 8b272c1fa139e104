"""Per-cohort-family training recipes: ``assets/recipes/<family>.json`` (options of ``TrainConfig``)."""

from __future__ import annotations

import json
from pathlib import Path

from lemof.errors import ConfigError, UnsafePathError
from lemof.paths import confined, safe_name

RECIPES = Path(__file__).resolve().parent.parent.parent / "assets" / "recipes"


def recipe_path(source: str) -> Path | None:
    """The recipe file of cohort family ``source``, or None. The family is what a bundle declares
    (``provenance.json``), not a path: one that is not a plain file name (``../x``, ``a/b``, markup)
    names no recipe, and nothing outside ``assets/recipes`` is read."""
    try:
        if safe_name(source) != source:
            return None
        path = confined(RECIPES, f"{source}.json", what="cohort family")
    except UnsafePathError:
        return None
    return path if path.exists() else None


def load_recipe(source: str) -> dict:
    """The recipe of cohort family ``source`` ({} if it has none)."""
    path = recipe_path(source)
    if path is None:
        return {}
    try:
        options = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"training recipe {path} is unreadable: {exc}") from None
    if not isinstance(options, dict):
        raise ConfigError(f"training recipe {path} must hold a JSON object")
    return options
