"""LeMoF: level-guided multimodal fusion of EHR and biosignals for ICU length of stay.

The public API the app and scripts use::

    from lemof import open_bundle, load_run, explain_stay, evaluate_run
    from lemof import ensure_synthetic, generate_synthetic, train, TrainConfig

Names are imported on first use, so ``python -m lemof data ...`` does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lemof.version import __version__

_EXPORTS = {
    "CohortBundle": "lemof.data.bundle",
    "open_bundle": "lemof.data.bundle",
    "ensure_synthetic": "lemof.data.synthetic",
    "generate_synthetic": "lemof.data.synthetic",
    "CohortError": "lemof.errors",
    "ConfigError": "lemof.errors",
    "LemofError": "lemof.errors",
    "RunError": "lemof.errors",
    "StayNotFoundError": "lemof.errors",
    "UnsafePathError": "lemof.errors",
    "evaluate_run": "lemof.evaluation.evaluate",
    "Attribution": "lemof.explain.attribution",
    "explainers_for": "lemof.explain.explainers",
    "check_run_fits_cohort": "lemof.runs.run",
    "explain_stay": "lemof.explain.results",
    "stay_attention": "lemof.explain.results",
    "StayPrediction": "lemof.explain.prediction",
    "predict_stay": "lemof.explain.results",
    "CohortResults": "lemof.explain.results",
    "StayResults": "lemof.explain.results",
    "FUSIONS": "lemof.models.fusions",
    "InputAttribution": "lemof.explain.input_attribution",
    "input_attributions": "lemof.explain.input_attribution",
    "stay_context": "lemof.data.patient",
    "StayContext": "lemof.data.patient",
    "Head": "lemof.models.spec",
    "HEAD_KINDS": "lemof.models.spec",
    "RunMetrics": "lemof.runs.metrics_file",
    "LosMetrics": "lemof.runs.metrics_file",
    "CohortEntry": "lemof.runs.catalog",
    "RunEntry": "lemof.runs.catalog",
    "build_cohort": "lemof.runs.catalog",
    "list_cohorts": "lemof.runs.catalog",
    "list_runs": "lemof.runs.catalog",
    "Run": "lemof.runs.run",
    "load_run": "lemof.runs.load",
    "TrainConfig": "lemof.runs.train_config",
    "train": "lemof.training.pipeline",
}
__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lemof' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # for type checkers and IDEs
    from lemof.data.bundle import CohortBundle, open_bundle
    from lemof.data.synthetic import ensure_synthetic, generate_synthetic
    from lemof.errors import CohortError, ConfigError, LemofError, RunError, StayNotFoundError, UnsafePathError
    from lemof.evaluation.evaluate import evaluate_run
    from lemof.runs.catalog import CohortEntry, RunEntry, build_cohort, list_cohorts, list_runs
    from lemof.explain.attribution import Attribution
    from lemof.explain.explainers import explainers_for
    from lemof.explain.prediction import StayPrediction
    from lemof.explain.results import CohortResults, StayResults, explain_stay, predict_stay, stay_attention
    from lemof.models.fusions import FUSIONS
    from lemof.explain.input_attribution import InputAttribution, input_attributions
    from lemof.runs.metrics_file import LosMetrics, RunMetrics
    from lemof.models.spec import HEAD_KINDS, Head
    from lemof.data.patient import StayContext, stay_context
    from lemof.runs.load import load_run
    from lemof.runs.run import Run, check_run_fits_cohort
    from lemof.runs.train_config import TrainConfig
    from lemof.training.pipeline import train
