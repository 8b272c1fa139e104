"""Which hours, features and parts of the biosignal drove one stay's prediction.

Integrated Gradients (captum) of the final prediction (log1p-days) with respect to the model
inputs. Two references:

- a **reference population** (``Background``, what the page, report and CLI use): ``n`` real
  training stays of the cohort drawn with a fixed seed. IG is run from each of them to the stay
  and the attributions are averaged (expected gradients with a deterministic path integral), so
  they add up to prediction(x) − mean prediction of the reference stays, up to the integration
  error captum reports. The reference stays keep *this* stay's biosignal availability: for a stay
  with a biosignal they are drawn among training stays with one; for a stay without, among all
  training stays, with their biosignal switched off (the model sees "no biosignal" on the whole
  path, so the biosignal gets no attribution and is not a driver);
- an all-zero baseline (``background=None``): "every value at its training mean, nothing
  observed, no biosignal deflection" — a patient who does not exist; kept for the deletion
  (faithfulness) checks, which remove cells towards it.

An EHR feature's attribution at an hour is that of its value channel (``ehr_value``) plus that of
its mask and time-since-last-observation channels (``ehr_missing``); ``ehr`` is their sum.

A network with a tabular head (``TrainConfig.tabular_head``: LightGBM on the stay's summaries,
computed outside torch) keeps that head at the stay's own prediction along every path, so the
gradients explain the rest; the head's part, w · (its prediction − its trees' expected output),
is split over the summaries by its exact TreeSHAP values times its meta weight w (``tabular``),
and the reference is lowered by that part: the reference stays' mean prediction with the tabular
head at its trees' expected output. Gradients and TreeSHAP parts then add up to the prediction
minus that reference (+ captum's error δ, which the TreeSHAP parts do not change).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lemof.data.bundle import CohortBundle
from lemof.models.spec import TABULAR_HEAD, TABULAR_HEAD_LABEL
from lemof.runs.run import Run, check_run_fits_cohort

DEFAULT_STEPS = 128  # the ReLU/max-pool path needs many steps: 32 gave up to 15 % error, 128 about 2 %
BACKGROUND_SIZE = 32  # reference stays: the reference mean has a standard error of sd/sqrt(32); 32 x 16 steps = 512 passes, ~0.9 s on one core
BACKGROUND_STEPS = 16  # steps per reference stay: the averaged integration error was < 0.002 log1p-days on the shipped run
BACKGROUND_SEED = 0


@dataclass
class Background:
    """The reference population: preprocessed inputs of ``rows`` (training stays of the cohort),
    for stays whose biosignal availability is ``has_signal``."""

    rows: list[int]
    stay_ids: list[int]
    has_signal: bool
    ehr: np.ndarray  # (n, T, C) float32
    sig: np.ndarray  # (n, C', L') float32 (zeros when has_signal is False)
    description: str


def background_rows(bundle: CohortBundle, has_signal: bool, n: int = BACKGROUND_SIZE, seed: int = BACKGROUND_SEED) -> np.ndarray:
    """``n`` training rows drawn with ``seed`` (among those with a biosignal when ``has_signal``)."""
    rows = bundle.rows("train")
    if has_signal:
        rows = rows[bundle.stays["has_signal"].to_numpy(dtype=bool)[rows]]
    if len(rows) == 0:
        rows = bundle.rows("all")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rows, size=min(n, len(rows)), replace=False))


def reference_background(run: Run, bundle: CohortBundle, has_signal: bool, n: int = BACKGROUND_SIZE, seed: int = BACKGROUND_SEED) -> Background:
    """The reference population of ``run`` on ``bundle`` for stays with (or without) a biosignal."""
    check_run_fits_cohort(run, bundle)
    pre = run.preprocessor
    rows = background_rows(bundle, has_signal, n, seed)
    sig, _ = pre.signal(bundle, rows)
    if not has_signal:
        sig = np.zeros_like(sig)
    which = "with a biosignal" if has_signal else f"their {bundle.sig_label} switched off"
    return Background(
        rows=[int(r) for r in rows], stay_ids=[int(s) for s in bundle.stays["stay_id"].to_numpy()[rows]], has_signal=has_signal,
        ehr=pre.ehr(bundle, rows), sig=sig,
        description=f"a typical stay of this cohort: the mean prediction for {len(rows)} training stays drawn at random (seed {seed}, {which})",
    )


@dataclass
class InputAttribution:
    stay_id: int
    method: str
    ehr_features: list[str]
    ehr_hours: list[float]
    ehr: list[list[float]]  # (F, T): feature x hour, log1p-days (value + mask (+ time since last))
    static: dict[str, float]  # per static feature, summed over hours
    sig_channels: list[str] | None  # None when the stay has no biosignal
    sig_seconds: list[float] | None
    sig: list[list[float]] | None  # (C, L'): channel x time
    output: float  # prediction(x), log1p-days
    reference_output: float  # prediction of the reference: mean over the reference stays (log1p-days)
    delta: float  # captum's convergence delta: sum(attributions) - (output - reference_output)
    ehr_value: list[list[float]] = field(default_factory=list)  # (F, T): the value channels alone
    ehr_missing: list[list[float]] = field(default_factory=list)  # (F, T): mask (+ time since last) channels
    reference: str = "all-zero baseline in the standardised input space (every value at its training mean, nothing observed)"
    reference_stays: list[int] | None = None  # stay ids of the reference population (None: all-zero baseline)
    # the tabular head's part (None without one): {"names", "labels", "inputs" (None: never observed), "values" (w·phi, log1p-days),
    # "weight" (w), "base_value" (the trees' expected output), "prediction" (the head's, log1p-days)}
    tabular: dict[str, Any] | None = None

    @property
    def total(self) -> float:
        parts = float(np.sum(self.ehr)) + sum(self.static.values())
        parts += sum(self.tabular["values"]) if self.tabular is not None else 0.0
        return parts + (float(np.sum(self.sig)) if self.sig is not None else 0.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def input_attributions(
    run: Run, bundle: CohortBundle, stay_id: int | str, *, steps: int | None = None, background: Background | None = None
) -> InputAttribution:
    """Integrated Gradients of one stay's prediction over its EHR and biosignal inputs, from each
    stay of ``background`` (averaged; ``steps`` per reference stay, default 16) or, without one,
    from the all-zero baseline (``steps`` default 128)."""
    import torch  # lazy: torch only when attributions are asked for
    from captum.attr import IntegratedGradients  # lazy: captum imports torch

    from lemof.models.inference import tabular_features  # lazy: imports torch

    check_run_fits_cohort(run, bundle)
    row = bundle.row_of(stay_id)
    pre, model = run.preprocessor, run.model
    rows = np.array([row])
    ehr = torch.as_tensor(pre.ehr(bundle, rows))  # (1, T, 2F + S)
    sig_np, available = pre.signal(bundle, rows)
    sig = torch.as_tensor(sig_np)  # (1, C', L')
    has_signal = bool(available[0])
    if background is not None and background.has_signal != has_signal:
        from lemof.errors import ConfigError  # lazy: only on misuse

        raise ConfigError(f"the reference population is for stays {'with' if background.has_signal else 'without'} a biosignal; stay {stay_id} {'has' if has_signal else 'has none'}")

    x_tab = tabular_features(model, bundle, rows, available)  # (1, F) the tabular head's summaries; None without one
    tab = None if x_tab is None else torch.as_tensor(model.tabular_model.raw(x_tab))  # (1,) held at the stay's value on every path

    def predict(ehr_x, sig_x):  # (n, T, C), (n, C', L') -> (n,) log1p-days
        avail = torch.full((ehr_x.shape[0],), has_signal, dtype=torch.bool)
        extra = {} if tab is None else {"tabular": tab.expand(ehr_x.shape[0])}
        return model(ehr_x, sig_x, avail, **extra)["final"]

    model.eval()
    ig = IntegratedGradients(predict)
    if background is None:
        steps = steps or DEFAULT_STEPS
        baselines = (torch.zeros_like(ehr), torch.zeros_like(sig))
        inputs = (ehr, sig)
        method = f"Integrated Gradients (captum), {steps} steps, all-zero baseline in the standardised input space"
    else:
        steps = steps or BACKGROUND_STEPS
        n = len(background.rows)
        baselines = (torch.as_tensor(background.ehr), torch.as_tensor(background.sig))
        inputs = (ehr.expand(n, *ehr.shape[1:]).contiguous(), sig.expand(n, *sig.shape[1:]).contiguous())
        method = f"Integrated Gradients (captum) averaged over {n} reference stays, {steps} steps each"
    attr, delta = ig.attribute(inputs, baselines=baselines, n_steps=steps, internal_batch_size=max(steps, 64), return_convergence_delta=True)
    with torch.no_grad():
        out = float(predict(ehr, sig)[0])
        base = float(predict(*baselines).double().mean())
    tabular = None
    reference = background.description if background is not None else InputAttribution.reference
    if x_tab is not None:
        tabular = tabular_parts(model, x_tab, has_signal)
        base -= sum(tabular["values"])  # the reference with the tabular head at its trees' expected output
        reference += f"; the {TABULAR_HEAD_LABEL} head at its trees' average output"
    a_ehr = attr[0].detach().double().numpy().mean(axis=0)  # (T, 2F + S), averaged over the reference stays
    f = len(pre.ehr_features)
    g = pre.per_feature_groups
    value = a_ehr[:, :f].T  # (F, T)
    missing = sum(a_ehr[:, k * f : (k + 1) * f] for k in range(1, g)).T  # mask (+ time since last)
    static: dict[str, float] = {}
    for name, v in zip(pre.static_channel_names(), a_ehr[:, g * f :].sum(axis=0)):
        static[name] = static.get(name, 0.0) + float(v)
    sig_attr = sig_channels = sig_seconds = None
    if has_signal:
        a_sig = attr[1].detach().double().numpy().mean(axis=0)  # (C', L')
        c = len(pre.sig_channels)
        if pre.sig_masked:
            a_sig = sum(a_sig[k * c : (k + 1) * c] for k in range(pre.per_feature_groups))
        sig_attr = a_sig.tolist()
        sig_channels = list(pre.sig_channels)
        sig_seconds = ((np.arange(pre.sig_len) + 0.5) * pre.sig_pool / pre.sig_fs_hz).tolist()
    step_h = bundle.ehr_step_hours
    return InputAttribution(
        stay_id=int(bundle.stays["stay_id"].iloc[row]),
        method=method,
        ehr_features=list(pre.ehr_features),
        ehr_hours=[(t + 0.5) * step_h for t in range(pre.n_steps)],
        ehr=(value + missing).tolist(),
        static=static,
        sig_channels=sig_channels,
        sig_seconds=sig_seconds,
        sig=sig_attr,
        output=out,
        reference_output=base,
        delta=float(delta.double().mean()),
        ehr_value=value.tolist(),
        ehr_missing=missing.tolist(),
        reference=reference,
        reference_stays=background.stay_ids if background is not None else None,
        tabular=tabular,
    )


def tabular_parts(model, x_tab: np.ndarray, has_signal: bool) -> dict[str, Any]:
    """The tabular head's part of one stay's prediction over its summaries ``x_tab`` (1, F): its
    TreeSHAP values (``GbmModel.contributions``) times its meta weight for the stay's availability
    pattern; they add up to w · (the head's prediction − its trees' expected output)."""
    from lemof.models.meta import PATTERNS  # lazy: torch (the network is already built)

    gbm = model.tabular_model
    phi = gbm.contributions(x_tab)[0]  # (F + 1,): per summary, then the base value
    w = float(model.meta.weight[PATTERNS.index("ehr+sig" if has_signal else "ehr"), model.head_names.index(TABULAR_HEAD)])
    names = gbm.schema.names
    return {
        "names": names,
        "labels": [gbm.schema.label(n) for n in names],
        "inputs": [None if not np.isfinite(v) else float(v) for v in x_tab[0]],
        "values": (w * phi[:-1]).tolist(),
        "weight": w,
        "base_value": float(phi[-1]),
        "prediction": float(phi.sum()),
    }
