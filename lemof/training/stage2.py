"""Stage 2: level importance by exact Shapley values over a level stacker, and level choice."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lemof.explain.level_shap import global_importance, level_shapley
from lemof.models.model import LeMoF
from lemof.training.distributed import world


@dataclass
class Stage2Result:
    phi: np.ndarray  # (N, Le + Ls), NaN where the modality is absent
    base: float
    stacker_output: np.ndarray  # (N,)
    importance: dict[str, list[float]]  # mean |phi| over validation stays, per modality
    selected: dict[str, list[int]]
    weights: dict[str, list[float]]
    selection_importance: dict[str, list[float]] | None = None  # set when the levels were chosen on another importance (before fine-tuning)


def run_stage2(
    model: LeMoF,
    ehr_levels: np.ndarray,
    sig_levels: np.ndarray,
    sig_available: np.ndarray,
    y: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    *,
    top_k: int,
    seed: int,
    selection: str = "shap",
) -> Stage2Result:
    """Fit the level stacker on validation stays, explain every stay, pick the top-k levels."""
    import torch


    model.stacker.cpu()  # stage 2 runs on the CPU in float64 (exact Shapley values); the caller moves the model back
    available = torch.as_tensor(sig_available, dtype=torch.bool)
    background = np.concatenate(
        [ehr_levels[train_idx].mean(axis=0), sig_levels[train_idx[sig_available[train_idx]]].mean(axis=0)]
    )
    model.stacker.set_background(background)
    with torch.no_grad():
        x = model.stacker_inputs(torch.as_tensor(ehr_levels), torch.as_tensor(sig_levels), available).numpy()
        present = model.level_present(available).numpy()
    model.stacker.fit(x[val_idx], y[val_idx], seed=seed)  # identical on every rank (same data, same seed)
    shard = world().shard(np.arange(len(x)))  # under torchrun each rank explains its share of the stays
    phi_part, base = level_shapley(model.stacker, x[shard], present[shard])
    phi = world().gather_rows(phi_part, len(x))
    n_ehr = ehr_levels.shape[1]
    imp = global_importance(phi[val_idx])
    importance = {"ehr": imp[:n_ehr].tolist(), "sig": imp[n_ehr:].tolist()}
    selected, weights = select_levels(importance, top_k, selection, seed)
    return Stage2Result(phi, base, model.stacker.predict_numpy(x), importance, selected, weights)


def select_levels(importance: dict[str, list[float]], top_k: int, selection: str, seed: int) -> tuple[dict[str, list[int]], dict[str, list[float]]]:
    """The levels of each modality that go to stage 3, and their aggregation weights.

    ``shap``: the top-k by importance, weighted by importance (LeMoF); ``all``: every level,
    weighted by importance; ``last``: the last level; ``random``: one level drawn at random (seeded).
    """
    rng = np.random.default_rng(seed + 7919)
    selected, weights = {}, {}
    for m, vals in importance.items():
        n = len(vals)
        if selection == "shap":
            chosen = sorted(int(i) for i in np.argsort(-np.asarray(vals), kind="stable")[: min(top_k, n)])
        elif selection == "all":
            chosen = list(range(n))
        elif selection == "last":
            chosen = [n - 1]
        elif selection == "random":
            chosen = [int(rng.integers(n))]
        else:
            raise ValueError(f"unknown level selection {selection!r}")
        total = sum(vals[i] for i in chosen)
        selected[m] = chosen
        weights[m] = [vals[i] / total if total > 0 else 1.0 / len(chosen) for i in chosen]
    return selected, weights
