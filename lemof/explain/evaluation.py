"""Evaluating explanations: deletion curves (faithfulness) and agreement with a known truth.

Used by ``benchmarks/bench_faithfulness.py`` and ``benchmarks/bench_explanation_truth.py`` and
tested by ``tests/unit/test_faithfulness.py``. Nothing here changes how a model is explained: level Shapley
values come from ``lemof.explain.level_shap`` and Integrated Gradients from
``lemof.explain.input_attribution``; this module only removes what they point at and compares
what they say with the synthetic cohort's latent causes.

Deletion (levels): a removed level takes the stacker's ``background`` value, exactly as a level
outside a coalition of the Shapley game, so removing every level gives the base value.
Deletion (inputs): a removed input cell is set to Integrated Gradients' baseline, zero in the
standardised input space, so removing every cell gives the prediction of the baseline input.
Cells are the units ``input_attributions`` reports: an EHR feature at one hour (its value,
mask and time-since-last channels together), a static feature (all its channels, all hours),
and a biosignal channel over a segment of about 1 % of the signal's length (for a masked
bedside series: the value, mask (and time-since-last) channels of that channel together).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from lemof.data.synthetic import ECG_CAUSES  # the truth's ECG-borne causes, defined once by the generator
from lemof.evaluation.metrics import auroc
from lemof.evaluation.stats import B_DEFAULT, SEED_DEFAULT, bootstrap_indices, percentile_ci
from lemof.explain.level_shap import level_shapley
from lemof.models.inference import predict_rows

# Removal fractions of the input cells (by count): 0 %, 5 %, 10 %, 20 %, ..., 100 %.
INPUT_FRACTIONS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
SEGMENT_FRACTION = 0.01  # a biosignal cell: ~1 % of the signal length

EHR_CAUSES = ("severity", "trajectory", "renal", "infection")
# Each EHR-borne cause and the synthetic features it moves most directly (lemof/data/synthetic.py::_ehr).
CAUSE_FEATURES = {
    "severity": ("lactate", "mbp", "gcs", "bicarbonate"),
    "renal": ("creatinine", "bun", "potassium"),
    "infection": ("temp", "wbc"),
}


# --- stays -------------------------------------------------------------------------------------
def signal_rows(bundle, split: str = "test", n: int | None = None, seed: int = 0) -> np.ndarray:
    """Rows of ``split`` stays with a biosignal: all of them (sorted), or ``n`` drawn reproducibly.

    The first ``m`` of a draw of ``n`` are the draw of ``m`` (the same permutation), so a smaller
    sample (Integrated Gradients) is a subset of a larger one (level SHAP)."""
    stays = bundle.stays
    rows = np.flatnonzero((stays["split"].to_numpy() == split) & stays["has_signal"].to_numpy(dtype=bool))
    if n is None or n >= len(rows):
        return rows
    return np.random.default_rng(seed).permutation(rows)[:n]


# --- LeMoF: level predictions, level SHAP, head contributions -------------------------------------
def lemof_outputs(run, bundle, rows: np.ndarray) -> dict:
    """One batched forward pass over ``rows``: stacker inputs and output, the exact level Shapley
    values (NaN for absent levels), the base value, head contributions and the final prediction."""
    pred = predict_rows(run.model, run.preprocessor, bundle, np.asarray(rows))
    n_ehr = len(run.level_importance.levels["ehr"])
    present = run.model.level_present(torch.as_tensor(pred["sig_available"], dtype=torch.bool)).numpy()  # (n, P)
    phi, base = level_shapley(run.model.stacker, pred["stacker_inputs"], present)
    return {
        "stay_id": pred["stay_id"],
        "sig_available": pred["sig_available"],
        "stacker_inputs": pred["stacker_inputs"].astype(np.float64),
        "stacker_output": pred["stacker_output"].astype(np.float64),
        "phi": phi,
        "base": base,
        "n_ehr_levels": n_ehr,
        "contributions": pred["contributions"].astype(np.float64),
        "final": pred["final"].astype(np.float64),
    }


# --- deletion curves: levels ---------------------------------------------------------------------
def top_first_order(scores: np.ndarray) -> np.ndarray:
    """Indices by decreasing |score| (ties: the earlier first), per row of a 2-D array or for a 1-D one."""
    return np.argsort(-np.abs(np.asarray(scores, dtype=float)), axis=-1, kind="stable")


def random_orders(n_items: int, n_orders: int, seed: int) -> np.ndarray:
    """(n_orders, n_items) random permutations, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n_items) for _ in range(n_orders)]) if n_orders else np.zeros((0, n_items), dtype=int)


def levels_removed(x: np.ndarray, background: np.ndarray, order: np.ndarray) -> np.ndarray:
    """(P + 1, P): ``x`` (P,) with the first k levels of ``order`` at their background, k = 0..P."""
    p = len(x)
    rank = np.empty(p, dtype=int)
    rank[np.asarray(order)] = np.arange(p)  # position of each level in the removal order
    removed = rank[None, :] < np.arange(p + 1)[:, None]  # (P + 1, P)
    return np.where(removed, np.asarray(background, dtype=np.float64)[None, :], np.asarray(x, dtype=np.float64)[None, :])


def level_deletion_curves(stacker, x: np.ndarray, phi: np.ndarray, n_random: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deletion curves of the level stacker for stays ``x`` (n, P) explained by ``phi`` (n, P).

    Returns (top, rand): (n, P + 1) |stacker(x with k levels removed) - stacker(x)|, k = 0..P,
    removing levels by decreasing |phi| (``top``) and in random orders, averaged over
    ``n_random`` seeded orders (``rand``; the same orders for every stay). Every level of
    ``x`` must be present (stays with a biosignal)."""
    x = np.asarray(x, dtype=np.float64)
    n, p = x.shape
    background = stacker.background.numpy()
    orders = np.concatenate([top_first_order(phi)[:, None, :], np.broadcast_to(random_orders(p, n_random, seed), (n, n_random, p))], axis=1)
    z = np.stack([np.stack([levels_removed(x[i], background, o) for o in orders[i]]) for i in range(n)])  # (n, 1 + R, P + 1, P)
    v = stacker.predict_numpy(z.reshape(-1, p)).reshape(n, 1 + n_random, p + 1)
    curves = np.abs(v - v[:, :, :1])
    return curves[:, 0], curves[:, 1:].mean(axis=1)


def area_between(top: np.ndarray, rand: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Per stay, the area between the top-first and the random curve over the removed fraction
    ``xs`` in [0, 1] (trapezoid rule; > 0: removing the top-attributed parts first moves the
    output more). For levels, xs = k / P and this is sum_k (top_k - rand_k) / P."""
    d = np.asarray(top, dtype=float) - np.asarray(rand, dtype=float)
    xs = np.asarray(xs, dtype=float)
    return ((d[..., 1:] + d[..., :-1]) / 2 * np.diff(xs)).sum(axis=-1)


# --- deletion curves: input cells ---------------------------------------------------------------
@dataclass
class InputCells:
    """Partition of one stay's model inputs into the cells that are ranked and removed."""

    labels: list[str]  # one per cell
    kinds: np.ndarray  # (n,) "ehr" / "static" / "sig"
    ehr_id: np.ndarray  # (T, C_ehr) cell of every EHR input element
    sig_id: np.ndarray  # (C_sig_in, L') cell of every biosignal input element
    feature_cell: np.ndarray  # (F, T) cell of each EHR feature at each hour (as InputAttribution.ehr)
    static_cell: dict[str, int]  # static feature -> cell
    sig_cell: np.ndarray  # (C, L') cell of each biosignal channel sample (as InputAttribution.sig)
    segment: int  # biosignal samples per cell

    @property
    def n(self) -> int:
        return len(self.labels)


def input_cells(pre, segment_fraction: float = SEGMENT_FRACTION) -> InputCells:
    """The cells of a run's inputs, from its ``Preprocessor``."""
    f, t, g = len(pre.ehr_features), pre.n_steps, pre.per_feature_groups
    labels: list[str] = []
    feature_cell = np.arange(f * t).reshape(f, t)
    labels += [f"{name}@{h}" for name in pre.ehr_features for h in range(t)]
    ehr_id = np.full((t, pre.ehr_channels), -1, dtype=np.int64)
    for k in range(g):
        ehr_id[:, k * f : (k + 1) * f] = feature_cell.T
    static_cell: dict[str, int] = {}
    for j, name in enumerate(pre.static_channel_names()):
        if name not in static_cell:
            static_cell[name] = len(labels)
            labels.append(f"static:{name}")
        ehr_id[:, g * f + j] = static_cell[name]
    c, length = len(pre.sig_channels), pre.sig_len
    segment = max(1, int(round(length * segment_fraction)))
    n_seg = math.ceil(length / segment)
    sig_cell = len(labels) + np.arange(c)[:, None] * n_seg + (np.arange(length) // segment)[None, :]
    labels += [f"{ch}[{s * segment}:{min((s + 1) * segment, length)}]" for ch in pre.sig_channels for s in range(n_seg)]
    sig_id = np.tile(sig_cell, (pre.sig_in_channels // c, 1))  # masked series: value, mask (, time since last) per channel
    kinds = np.array(["ehr"] * (f * t) + ["static"] * len(static_cell) + ["sig"] * (c * n_seg))
    assert (ehr_id >= 0).all() and len(kinds) == len(labels)
    return InputCells(labels, kinds, ehr_id, sig_id, feature_cell, static_cell, sig_cell, segment)


def cell_attributions(cells: InputCells, attr) -> np.ndarray:
    """Signed attribution (n_cells,) of each cell, from an ``InputAttribution``: the sum of the
    Integrated Gradients over the cell's input elements (0 for the biosignal of a stay without one)."""
    out = np.zeros(cells.n)
    out[cells.feature_cell.ravel()] = np.asarray(attr.ehr, dtype=float).ravel()
    for name, value in attr.static.items():
        out[cells.static_cell[name]] += value
    if attr.sig is not None:
        np.add.at(out, cells.sig_cell.ravel(), np.asarray(attr.sig, dtype=float).ravel())
    return out


def cells_removed(cells: InputCells, ehr_x: np.ndarray, sig_x: np.ndarray, removed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One stay's inputs ``ehr_x`` (T, C), ``sig_x`` (C', L') with the cells ``removed`` (bool,
    (n_cells,) or (m, n_cells)) at the baseline (zero): (m, T, C), (m, C', L')."""
    removed = np.atleast_2d(np.asarray(removed, dtype=bool))
    return ehr_x[None] * ~removed[:, cells.ehr_id], sig_x[None] * ~removed[:, cells.sig_id]


def removal_masks(order: np.ndarray, fractions, n_cells: int) -> np.ndarray:
    """(len(fractions), n_cells) bool: the first round(fraction * n_cells) cells of ``order`` removed."""
    rank = np.empty(n_cells, dtype=int)
    rank[np.asarray(order)] = np.arange(n_cells)
    counts = np.array([int(round(fr * n_cells)) for fr in fractions])
    return rank[None, :] < counts[:, None]


def model_final(model, ehr_b: np.ndarray, sig_b: np.ndarray, has_signal: bool, batch_size: int = 128, tabular: float | None = None) -> np.ndarray:
    """The network's final prediction (log1p-days) for a batch of one stay's (modified) inputs,
    with its biosignal availability, as Integrated Gradients sees it.

    ``tabular``: for a network with a tabular head, the head's prediction for the stay
    (``lemof.models.inference.tabular_values``), held fixed over the batch. Integrated Gradients
    explains the network's inputs with that part held (the head's own part is explained exactly by
    its TreeSHAP values), so the deletion curves remove input cells with it held too."""
    if tabular is None and getattr(getattr(model, "spec", None), "tabular_head", False):
        raise ValueError("this network has a tabular head: give the stay's tabular prediction (tabular=...) to hold it fixed")
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(ehr_b), batch_size):
            e = torch.as_tensor(np.ascontiguousarray(ehr_b[s : s + batch_size]), dtype=torch.float32)
            g = torch.as_tensor(np.ascontiguousarray(sig_b[s : s + batch_size]), dtype=torch.float32)
            avail = torch.full((len(e),), bool(has_signal), dtype=torch.bool)
            extra = {} if tabular is None else {"tabular": torch.full((len(e),), float(tabular), dtype=torch.float32)}
            out.append(model(e, g, avail, **extra)["final"].double().numpy())
    return np.concatenate(out)


def input_deletion_curves(
    model, cells: InputCells, ehr_x: np.ndarray, sig_x: np.ndarray, has_signal: bool, cell_attr: np.ndarray,
    fractions=INPUT_FRACTIONS, n_random: int = 5, seed: int = 0, tabular: float | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """One stay's deletion curves over its input cells.

    Returns (top (len(fractions),), rand (n_random, len(fractions)), original prediction):
    |prediction with a fraction of the cells removed - original prediction| (log1p-days),
    removing cells by decreasing |attribution| and in ``n_random`` seeded random orders.
    ``tabular``: the stay's tabular-head prediction, held fixed (``model_final``)."""
    orders = [top_first_order(cell_attr)] + list(random_orders(cells.n, n_random, seed))
    masks = np.concatenate([removal_masks(o, fractions, cells.n) for o in orders])
    ehr_b, sig_b = cells_removed(cells, ehr_x, sig_x, masks)
    v = model_final(model, ehr_b, sig_b, has_signal, tabular=tabular).reshape(len(orders), len(fractions))
    # the reference of each curve is its own unmodified row of the same batch (fractions[0] == 0),
    # so a curve starts at exactly 0 whatever the float32 kernels do with the batch size
    assert fractions[0] == 0
    curves = np.abs(v - v[:, :1])
    return curves[0], curves[1:], float(v[0, 0])


# --- shares of an explanation per modality --------------------------------------------------------
def _share(part: np.ndarray, total: np.ndarray) -> np.ndarray:
    part, total = np.asarray(part, dtype=float), np.asarray(total, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, part / np.where(total > 0, total, 1.0), np.nan)


def level_shap_shares(phi: np.ndarray, n_ehr: int) -> dict[str, np.ndarray]:
    """Per stay, the share of sum |phi| over levels on each modality's levels (absent levels count 0)."""
    a = np.abs(np.nan_to_num(np.atleast_2d(np.asarray(phi, dtype=float)), nan=0.0))
    total = a.sum(axis=1)
    return {"ehr": _share(a[:, :n_ehr].sum(axis=1), total), "sig": _share(a[:, n_ehr:].sum(axis=1), total)}


def head_shares(contributions: np.ndarray, heads) -> dict[str, np.ndarray]:
    """Per stay, the share of |w_i y_i| of each modality's heads (modality-level + level-specific)
    among all modality-specific heads (the cross-modal head, which uses both, is left out)."""
    c = np.abs(np.nan_to_num(np.atleast_2d(np.asarray(contributions, dtype=float)), nan=0.0))
    mods = np.array([h.modality for h in heads], dtype=object)
    part = {m: c[:, mods == m].sum(axis=1) for m in ("ehr", "sig")}
    total = part["ehr"] + part["sig"]
    return {m: _share(part[m], total) for m in ("ehr", "sig")}


def ig_masses(attr) -> dict[str, float]:
    """Sum of |Integrated Gradients| per input group, at the granularity ``input_attributions``
    reports (EHR feature x hour, static feature, biosignal channel x sample)."""
    return {
        "ehr": float(np.abs(np.asarray(attr.ehr, dtype=float)).sum()),
        "static": float(sum(abs(v) for v in attr.static.values())),
        "sig": float(np.abs(np.asarray(attr.sig, dtype=float)).sum()) if attr.sig is not None else 0.0,
    }


def ig_shares(attrs) -> dict[str, np.ndarray]:
    """Per stay, the share of sum |IG| on the EHR time series, the static features and the biosignal."""
    m = pd.DataFrame([ig_masses(a) for a in attrs])
    total = m.sum(axis=1).to_numpy()
    return {k: _share(m[k].to_numpy(), total) for k in ("ehr", "static", "sig")}


def ig_feature_mass(attr, features) -> float:
    """Sum over hours of |IG| on the named EHR features."""
    names = list(attr.ehr_features)
    a = np.abs(np.asarray(attr.ehr, dtype=float))
    return float(sum(a[names.index(f)].sum() for f in features))


# --- biosignal depth -------------------------------------------------------------------------------
def depth_halves(n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """(shallow, deep) level indices: the first and the last floor(n / 2) levels (a middle level of
    an odd count belongs to neither)."""
    h = n_levels // 2
    return np.arange(h), np.arange(n_levels - h, n_levels)


def deep_share(phi_sig: np.ndarray) -> np.ndarray:
    """Per stay, sum |phi| of the deeper half of the biosignal levels over that of both halves."""
    a = np.abs(np.atleast_2d(np.asarray(phi_sig, dtype=float)))
    shallow, deep = depth_halves(a.shape[1])
    d, s = a[:, deep].sum(axis=1), a[:, shallow].sum(axis=1)
    return _share(d, d + s)


# --- the synthetic cohort's truth -------------------------------------------------------------------
def truth_table(causes: pd.DataFrame, centre_rows: np.ndarray | None = None) -> pd.DataFrame:
    """Per stay of ``bundle.latent_causes()``: the ECG-borne part of log-LOS (|af| + |ischaemia| +
    |wide_qrs| parts), the EHR-borne part (|severity| + |trajectory| + |renal| + |infection|),
    whether the stay is ECG-driven (ECG part > EHR part), and its largest ECG-borne cause ("none"
    when every ECG part is 0).

    With ``centre_rows`` each part is first centred on its mean over those stays (e.g. the
    training split): the truth an explanation against an average stay (level SHAP's background,
    the mean level prediction) can be expected to recover; a normal ECG then contributes the
    (small) distance of its parts from the average ones instead of nothing. The largest ECG-borne cause is always from the raw parts."""
    raw_ecg = causes[[f"log_los_part_{c}" for c in ECG_CAUSES]].to_numpy(dtype=float)
    raw_ehr = causes[[f"log_los_part_{c}" for c in EHR_CAUSES]].to_numpy(dtype=float)
    if centre_rows is not None:
        ecg, ehr = np.abs(raw_ecg - raw_ecg[centre_rows].mean(axis=0)), np.abs(raw_ehr - raw_ehr[centre_rows].mean(axis=0))
    else:
        ecg, ehr = np.abs(raw_ecg), np.abs(raw_ehr)
    raw_ecg = np.abs(raw_ecg)
    top = np.array(ECG_CAUSES, dtype=object)[raw_ecg.argmax(axis=1)]
    return pd.DataFrame(
        {
            "stay_id": causes["stay_id"].to_numpy(),
            "ecg_part": ecg.sum(axis=1),
            "ehr_part": ehr.sum(axis=1),
            "ecg_driven": ecg.sum(axis=1) > ehr.sum(axis=1),
            "ecg_cause": np.where(raw_ecg.max(axis=1) > 0, top, "none"),
        }
    )


# --- statistics --------------------------------------------------------------------------------------
def _r(v, nd: int = 4):
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


def auroc_ci(labels, scores, B: int = B_DEFAULT, seed: int = SEED_DEFAULT) -> dict:
    """AUROC of ``scores`` for ``labels`` with a 95 % percentile bootstrap interval over stays
    (stays with a non-finite score are left out)."""
    y, s = np.asarray(labels, dtype=bool), np.asarray(scores, dtype=float)
    keep = np.isfinite(s)
    y, s = y[keep], s[keep]
    est = auroc(y, s)
    reps = [auroc(y[i], s[i]) for i in bootstrap_indices(len(y), B, seed)] if len(y) else []
    lo, hi = percentile_ci([np.nan if r is None else r for r in reps])
    return {"estimate": _r(est), "lo": _r(lo), "hi": _r(hi), "n_pos": int(y.sum()), "n_neg": int((~y).sum())}


def _ranks(a: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(a, axis=-1)


def spearman(x, y) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN if either is constant."""
    rx, ry = _ranks(np.asarray(x, dtype=float)), _ranks(np.asarray(y, dtype=float))
    rx, ry = rx - rx.mean(axis=-1, keepdims=True), ry - ry.mean(axis=-1, keepdims=True)
    den = np.sqrt((rx**2).sum(axis=-1) * (ry**2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=-1) / den


def spearman_ci(x, y, B: int = B_DEFAULT, seed: int = SEED_DEFAULT) -> dict:
    """Spearman's rho with a 95 % percentile bootstrap interval over stays."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    idx = bootstrap_indices(len(x), B, seed)
    lo, hi = percentile_ci(spearman(x[idx], y[idx]))
    return {"rho": _r(float(spearman(x, y))), "lo": _r(lo), "hi": _r(hi), "n": len(x)}
