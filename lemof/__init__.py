"""LeMoF: level-guided multimodal fusion of EHR and biosignals for ICU length of stay.

The public API the app and scripts use::

    from lemof import open_bundle, load_run, explain_stay, evaluate_run
    from lemof import ensure_synthetic, generate_synthetic, train, TrainConfig
"""

from lemof.data.bundle import CohortBundle, open_bundle
from lemof.data.synthetic import ensure_synthetic, generate_synthetic
from lemof.errors import CohortError, ConfigError, LemofError, RunError, StayNotFoundError
from lemof.evaluation import evaluate_run
from lemof.explain.explanation import StayExplanation, check_run_fits_cohort, explain_stay
from lemof.runs import LEMOF_VERSION as __version__
from lemof.runs import Run, load_run
from lemof.training.config import TrainConfig
from lemof.training.pipeline import train

__all__ = [
    "CohortBundle",
    "CohortError",
    "ConfigError",
    "LemofError",
    "Run",
    "RunError",
    "StayExplanation",
    "StayNotFoundError",
    "TrainConfig",
    "__version__",
    "check_run_fits_cohort",
    "ensure_synthetic",
    "evaluate_run",
    "explain_stay",
    "generate_synthetic",
    "load_run",
    "open_bundle",
    "train",
]
