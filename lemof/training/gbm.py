"""Training the tabular peer (``fusion = "gbm"``): LightGBM on per-stay summaries, chosen on validation.

The features are ``lemof.data.summaries`` (trends, variability, time since last observation,
counts, first/last/min/max/mean of every EHR variable and biosignal channel, the static facts);
the target is log1p(days). Hyperparameters are chosen on the validation split alone, in a fixed
sequence of small grids (each step keeps the best so far, by validation MAE in days):

1. the loss on log1p(days): ``l2``, ``huber`` (delta 0.5) or ``l1``;
2. tree size: ``num_leaves`` x ``min_data_in_leaf``;
3. ``feature_fraction`` (columns per tree);
4. ``learning_rate``.

Every fit stops early on the validation split (no improvement of its MAE on log1p-days in
``EARLY_STOPPING`` rounds). The chosen booster is written as text, parsed back, and *that* model
predicts every stay (so the stored predictions are exactly what the loaded run computes); the
split-conformal half-width comes from its validation residuals, as for the other methods. The
test split is never looked at. Deterministic (``lemof.models.gbm.DETERMINISTIC``, the run's seed).
"""

from __future__ import annotations

import json
import time

import numpy as np

from lemof.data.bundle import CohortBundle
from lemof.data.summaries import SummarySchema
from lemof.models.conformal import conformal_quantile
from lemof.models.gbm import DETERMINISTIC, booster_feature_names, gbm_from_text
from lemof.progress import Progress
from lemof.runs.train_config import TrainConfig

START = {"objective": "l2", "num_leaves": 15, "min_data_in_leaf": 20, "feature_fraction": 0.8, "learning_rate": 0.05, "lambda_l2": 1.0}
SEARCH = (
    ("loss", [{"objective": "l2"}, {"objective": "huber", "alpha": 0.5}, {"objective": "l1"}]),
    ("tree size", [{"num_leaves": leaves, "min_data_in_leaf": m} for leaves in (7, 15, 31) for m in (10, 40)]),
    ("feature fraction", [{"feature_fraction": f} for f in (0.5, 0.8, 1.0)]),
    ("learning rate", [{"learning_rate": lr} for lr in (0.02, 0.05, 0.1)]),
)
MAX_ROUNDS = 3000
EARLY_STOPPING = 50


def fit_booster(params: dict, x: np.ndarray, y: np.ndarray, tr: np.ndarray, va: np.ndarray, names: list[str], seed: int):
    """One LightGBM fit of ``params`` on rows ``tr`` of ``x`` (n, F) / ``y`` (n,) log1p-days,
    stopped early on rows ``va``; ``best_iteration`` is the tree it stopped at."""
    import lightgbm as lgb  # lazy: imports scikit-learn (~2 s); only training needs it here

    full = {**DETERMINISTIC, **params, "seed": seed, "metric": "l1", "feature_pre_filter": False}
    if full["objective"] != "huber":
        full.pop("alpha", None)
    train_set = lgb.Dataset(x[tr], y[tr], feature_name=names, params={"verbosity": -1})
    val_set = lgb.Dataset(x[va], y[va], reference=train_set)
    booster = lgb.train(full, train_set, num_boost_round=MAX_ROUNDS, valid_sets=[val_set], callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)])
    return booster


def lightgbm_version() -> str:
    import lightgbm as lgb  # lazy: imports scikit-learn (~2 s)

    return str(lgb.__version__)


def validation_mae_days(pred_log1p: np.ndarray, y_log1p: np.ndarray) -> float:
    """MAE in days of predictions on log1p(days) (what the search minimises)."""
    return float(np.mean(np.abs(np.expm1(pred_log1p).clip(min=0) - np.expm1(y_log1p))))


def train_gbm(bundle: CohortBundle, rows: dict[str, np.ndarray], cfg: TrainConfig, progress: Progress | None, say) -> dict:
    """Choose and fit on train + validation; returns the model (as it will be loaded), its text,
    its predictions of every stay and what was chosen."""
    schema = SummarySchema.of(bundle)
    names = schema.names
    started = time.time()
    x = schema.features(bundle)
    y = np.log1p(bundle.stays["los_days"].to_numpy(dtype=np.float64))
    tr, va = rows["train"], rows["val"]
    say(f"gbm: {x.shape[1]} summary features for {len(x)} stays ({time.time() - started:.1f} s)")
    tried: dict[str, tuple[float, int, object]] = {}  # params (JSON) -> (validation MAE, trees, booster)
    best = dict(START)
    total = sum(len(options) for _, options in SEARCH)
    done = 0
    for step, options in SEARCH:
        for option in options:
            params = {**best, **option}
            key = json.dumps(params, sort_keys=True)
            if key not in tried:
                t0 = time.time()
                booster = fit_booster(params, x, y, tr, va, booster_feature_names(names), cfg.seed)
                mae = validation_mae_days(booster.predict(x[va], num_iteration=booster.best_iteration), y[va])
                tried[key] = (mae, booster.best_iteration, booster)
                say(f"gbm {step} {option}: {booster.best_iteration} trees, validation MAE {mae:.3f} d ({time.time() - t0:.1f} s)")
            done += 1
            if progress is not None:
                progress("gbm: choosing on validation", done, total, f"{step}: best validation MAE {min(v[0] for v in tried.values()):.3f} d")
        best = json.loads(min(tried, key=lambda k: tried[k][0]))  # the best so far over everything tried (first on ties)
    key = json.dumps(best, sort_keys=True)
    val_mae, n_trees, booster = tried[key]
    text = booster.model_to_string(num_iteration=n_trees)
    model = gbm_from_text(text, schema, 0.0, what="the trained gbm model")  # exactly what the run will load
    final = model.raw(x)
    model.halfwidth = conformal_quantile(np.abs(y[va] - final[va]), cfg.interval_alpha)
    say(f"gbm chosen {best} (validation MAE {val_mae:.3f} d, {n_trees} trees, {len(tried)} fits); interval ±{model.halfwidth:.3f} (log1p)")
    return {
        "model": model,
        "text": text,
        "final": final,
        "params": best,
        "n_trees": int(n_trees),
        "val_mae_days": val_mae,
        "fits": len(tried),
        "features": names,
    }



# --- LeMoF's tabular head (``TrainConfig.tabular_head``) ---------------------------------------------
CV_FOLDS = 5  # training-split folds: the number of trees, the out-of-fold predictions, the search's criterion
FOLD_SEED = 0


def grouped_folds(subject: np.ndarray, k: int, seed: int) -> np.ndarray:
    """(n,) fold number 0..k-1 of each row, all rows of a patient in one fold (seeded shuffle of
    the patients, dealt round-robin)."""
    patients = np.unique(subject)
    order = np.random.default_rng(seed).permutation(len(patients))
    fold_of_patient = np.empty(len(patients), dtype=int)
    fold_of_patient[order] = np.arange(len(patients)) % k
    return fold_of_patient[np.searchsorted(patients, subject)]


def training_cv(params: dict, x: np.ndarray, y: np.ndarray, tr: np.ndarray, subject: np.ndarray, names: list[str], seed: int) -> tuple[int, np.ndarray]:
    """``CV_FOLDS``-fold patient-grouped ``lgb.cv`` of ``params`` within the training rows ``tr``
    (early stopping on the folds' mean log1p-MAE): the number of trees and the out-of-fold
    prediction (log1p-days) of each training row, (len(tr),). No other row is read."""
    import lightgbm as lgb  # lazy: imports scikit-learn (~2 s); only training needs it here

    fold = grouped_folds(subject[tr], CV_FOLDS, FOLD_SEED)
    folds = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(CV_FOLDS)]
    full = {**DETERMINISTIC, **params, "seed": seed, "metric": "l1", "feature_pre_filter": False}
    if full["objective"] != "huber":
        full.pop("alpha", None)
    train_set = lgb.Dataset(x[tr], y[tr], feature_name=names, params={"verbosity": -1}, free_raw_data=False)
    cv = lgb.cv(full, train_set, num_boost_round=MAX_ROUNDS, folds=folds, stratified=False, return_cvbooster=True,
                callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)])
    n_trees = int(cv["cvbooster"].best_iteration)
    oof = np.full(len(tr), np.nan)
    for booster, (_, held) in zip(cv["cvbooster"].boosters, folds):
        oof[held] = booster.predict(x[tr[held]], num_iteration=n_trees, num_threads=DETERMINISTIC["num_threads"])
    return n_trees, oof


def tune_on_training(x: np.ndarray, y: np.ndarray, tr: np.ndarray, subject: np.ndarray, names: list[str], seed: int, progress: Progress | None, say) -> tuple[dict, dict]:
    """The peer's search (``SEARCH`` from ``START``, each step keeping the best so far) with its
    criterion, MAE in days, on the training split's out-of-fold predictions instead of the
    validation split: hyperparameters no validation stay chose. Returns (params, {params JSON:
    (out-of-fold MAE, trees)})."""
    tried: dict[str, tuple[float, int]] = {}
    best = dict(START)
    total, done = sum(len(options) for _, options in SEARCH), 0
    for step, options in SEARCH:
        for option in options:
            params = {**best, **option}
            key = json.dumps(params, sort_keys=True)
            if key not in tried:
                n_trees, oof = training_cv(params, x, y, tr, subject, names, seed)
                tried[key] = (validation_mae_days(oof, y[tr]), n_trees)
                say(f"tabular head {step} {option}: {n_trees} trees, training-CV MAE {tried[key][0]:.3f} d")
            done += 1
            if progress is not None:
                progress("tabular head: choosing on training-CV", done, total, f"{step}: best out-of-fold MAE {min(v[0] for v in tried.values()):.3f} d")
        best = json.loads(min(tried, key=lambda k: tried[k][0]))  # the best so far (first on ties)
    return best, tried


def fit_tabular_head(bundle: CohortBundle, rows: dict[str, np.ndarray], cfg: TrainConfig, progress: Progress | None, say) -> dict:
    """LeMoF's tabular head: LightGBM on the stay's summaries, fitted on the TRAINING split alone
    (the meta-learner that weighs it is fitted on validation stays, which it never saw).

    Hyperparameters: ``cfg.tabular_head_params`` over ``START`` when given, else the search on
    training-CV (``tune_on_training``); the number of trees by ``CV_FOLDS``-fold patient-grouped
    CV within the training split; then one model refitted on all training stays with that many
    trees, written as text and parsed back (what the run will load). Returns the model
    (``GbmModel``), its text and what was chosen."""
    import lightgbm as lgb  # lazy: imports scikit-learn (~2 s)

    schema = SummarySchema.of(bundle)
    names = booster_feature_names(schema.names)
    started = time.time()
    x = schema.features(bundle)
    y = np.log1p(bundle.stays["los_days"].to_numpy(dtype=np.float64))
    subject = bundle.stays["subject_id"].to_numpy()
    tr = rows["train"]
    say(f"tabular head: {x.shape[1]} summary features for {len(x)} stays ({time.time() - started:.1f} s); fitted on the {len(tr)} training stays only")
    if cfg.tabular_head_params is not None:
        params, chosen_by, fits = {**START, **cfg.tabular_head_params}, "given (tabular_head_params over START)", 1
    else:
        params, tried = tune_on_training(x, y, tr, subject, names, cfg.seed, progress, say)
        chosen_by, fits = f"the peer's search on {CV_FOLDS}-fold patient-grouped training-CV (out-of-fold MAE in days)", len(tried)
    n_trees, oof = training_cv(params, x, y, tr, subject, names, cfg.seed)
    full = {**DETERMINISTIC, **params, "seed": cfg.seed, "metric": "l1", "feature_pre_filter": False}
    if full["objective"] != "huber":
        full.pop("alpha", None)
    booster = lgb.train(full, lgb.Dataset(x[tr], y[tr], feature_name=names, params={"verbosity": -1}), num_boost_round=n_trees)
    text = booster.model_to_string(num_iteration=n_trees)
    model = gbm_from_text(text, schema, 0.0, what="the trained tabular head")  # exactly what the run will load
    oof_mae = validation_mae_days(oof, y[tr])
    say(f"tabular head {params} ({chosen_by}): {n_trees} trees, training out-of-fold MAE {oof_mae:.3f} d")
    return {"model": model, "text": text, "params": params, "params_chosen_by": chosen_by, "n_trees": n_trees, "fits": fits,
            "train_oof_mae_days": oof_mae, "cv_folds": CV_FOLDS}
