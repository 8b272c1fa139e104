"""The tabular peer's model: LightGBM trees on per-stay summaries (``fusion = "gbm"``).

LightGBM was picked over XGBoost and scikit-learn for what a run directory needs: the model is a
plain-text file (``Booster.model_to_string`` / ``lgb.Booster(model_str=...)``; no pickle, nothing
executed when read), the wheel is small (~3.6 MB) and fast on a CPU, NaN (never observed) is
routed natively, and TreeSHAP is built in (``predict(..., pred_contrib=True)``: exact Shapley
values of the trees, which add up to the prediction). The file is ``model.lgb.txt`` in the run
directory; its SHA-256 is the run's ``weights_sha256`` (checked when the run is loaded).

Everything runs with ``NUM_THREADS`` threads and LightGBM's ``deterministic`` switch, so a
training command gives the same trees on every machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lemof.data.bundle import CohortBundle
from lemof.data.summaries import SummarySchema
from lemof.errors import RunError
from lemof.models.conformal import prediction_arrays

if TYPE_CHECKING:
    import lightgbm as lgb

MODEL_FILE = "model.lgb.txt"
TABULAR_HEAD_FILE = "tabular_head.lgb.txt"  # LeMoF's tabular head (``TrainConfig.tabular_head``), beside model.safetensors
TABULAR_PARAMS = {"objective": ("l2", "huber", "l1"), "num_leaves": int, "min_data_in_leaf": int, "feature_fraction": float,
                  "learning_rate": float, "lambda_l2": float, "alpha": float}  # what ``tabular_head_params`` may set
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.=-]")
NUM_THREADS = 1  # fixed: LightGBM's sums (and so its trees) depend on the thread count
DETERMINISTIC = {"deterministic": True, "force_row_wise": True, "num_threads": NUM_THREADS, "verbosity": -1}


def check_tabular_params(params: dict) -> None:
    """``ConfigError`` naming a LightGBM hyperparameter ``tabular_head_params`` may not set, or a bad value."""
    from lemof.errors import ConfigError  # lazy: only the check needs it

    if not isinstance(params, dict):
        raise ConfigError(f"tabular_head_params must be an object of LightGBM hyperparameters, got {type(params).__name__}")
    unknown = sorted(set(params) - set(TABULAR_PARAMS))
    if unknown:
        raise ConfigError(f"unknown tabular_head_params {unknown}; allowed: {sorted(TABULAR_PARAMS)}")
    for name, value in params.items():
        allowed = TABULAR_PARAMS[name]
        if isinstance(allowed, tuple):
            if value not in allowed:
                raise ConfigError(f"tabular_head_params {name} must be one of {list(allowed)}, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or (allowed is int and int(value) != value) or not value > 0:
            raise ConfigError(f"tabular_head_params {name} must be a positive {allowed.__name__}, got {value!r}")


def booster_feature_names(names: list[str]) -> list[str]:
    """The column names as the text model holds them: LightGBM refuses JSON characters (``:``)
    and rewrites spaces, so each is numbered and its other characters made ``_``
    (``0007_ehr_hr_slope``); ``SummarySchema.names`` keeps the readable ones."""
    return [f"{i:04d}_{_NAME_CHARS.sub('_', n)}" for i, n in enumerate(names)]


@dataclass
class GbmModel:
    """A trained booster, the summaries it reads and its split-conformal half-width (log1p-days)."""

    booster: "lgb.Booster"
    schema: SummarySchema
    halfwidth: float

    def features(self, bundle: CohortBundle, rows: np.ndarray) -> np.ndarray:
        return self.schema.features(bundle, rows)

    def raw(self, x: np.ndarray) -> np.ndarray:
        """(n,) prediction on log1p(days) of summary rows ``x``."""
        return np.asarray(self.booster.predict(x, num_threads=NUM_THREADS), dtype=np.float64)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """(n, F + 1) TreeSHAP values of ``x`` on log1p(days); the last column is the base value
        (the trees' expected output), and each row sums to ``raw(x)``."""
        return np.asarray(self.booster.predict(x, pred_contrib=True, num_threads=NUM_THREADS), dtype=np.float64)

    def predict(self, bundle: CohortBundle, rows: np.ndarray) -> dict[str, np.ndarray]:
        """``predict_rows`` layout for ``rows`` of any bundle of the family."""
        rows = np.asarray(rows)
        final = self.raw(self.features(bundle, rows))
        stays = bundle.stays.iloc[rows]
        return prediction_arrays(stays["stay_id"].to_numpy(), stays["has_signal"].to_numpy(dtype=bool), final, np.full(len(rows), self.halfwidth))

    def to_text(self, num_iteration: int | None = None) -> str:
        return self.booster.model_to_string(num_iteration=num_iteration)


def gbm_from_text(text: str, schema: SummarySchema, halfwidth: float, *, what: str = MODEL_FILE) -> GbmModel:
    """Parse a LightGBM text model and check it reads exactly ``schema``'s columns (``RunError``)."""
    import lightgbm as lgb  # lazy: imports scikit-learn (~2 s); a page showing stored predictions does not need it

    try:
        booster = lgb.Booster(model_str=text, params={"num_threads": NUM_THREADS, "verbosity": -1})
    except (lgb.basic.LightGBMError, ValueError, UnicodeDecodeError) as exc:
        raise RunError(f"{what} is not a LightGBM model this version ({lgb.__version__}) reads ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if booster.feature_name() != booster_feature_names(schema.names):
        raise RunError(f"{what} reads {booster.num_feature()} columns that are not the {len(schema.names)} summaries its config.json describes")
    return GbmModel(booster, schema, float(halfwidth))


def load_gbm(path: Path, config: dict[str, Any]) -> GbmModel:
    """The model of a gbm run directory (its hash was checked by ``load_run``)."""
    what = f"{MODEL_FILE} of run {path.name}"
    try:
        text = (path / MODEL_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"{what} cannot be read ({exc})") from None
    return gbm_from_text(text, SummarySchema.from_dict(config["summaries"]), config["interval_halfwidth"], what=what)
