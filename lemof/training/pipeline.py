"""Training, end to end, from a cohort bundle to a run directory.

``train`` reads as its steps: prepare the inputs; for LeMoF (and its ablations) stage 1 (each
modality on its own), stage 2 (level importance and the choice of levels), stage 3 (cross-modal
attention, meta-learner); for a baseline its own recipe (``lemof/training/baselines.py``,
``gbm.py``); then assess the network exactly as it will be loaded, and write the run atomically.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from lemof.data.bundle import open_bundle
from lemof.evaluation.evaluate import evaluation_report, train_median_days
from lemof.models.inference import predict_rows, prediction_table, tabular_values
from lemof.models.fusions import LEMOF_VARIANTS, fusion_kind
from lemof.models.networks import create_model
from lemof.models.model import LeMoF
from lemof.models.spec import ModelSpec
from lemof.paths import atomic_directory, safe_name
from lemof.progress import Progress
from lemof.explain.stay_vectors import compute_stay_vectors
from lemof.explain.concepts import cohort_has_concepts, compute_level_concepts
from lemof.runs.metrics_file import RunMetrics
from lemof.runs.save import save_run
from lemof.runs.train_config import TrainConfig
from lemof.training.inputs import TrainingInputs, prepare_inputs, split_rows
from lemof.training.distributed import init_from_env
from lemof.training.loop import FitReport, device_name, resolve_device, seed_everything
from lemof.training.stage1 import Stage1Result, modality_outputs, train_modalities
from lemof.training.stage2 import Stage2Result, run_stage2
from lemof.training.stage3 import best_level_tokens, finetune_fusion, fit_meta_learner, fused_predictions, head_matrix, train_fusion
from lemof.training.baselines import train_baseline
from lemof.errors import ConfigError
from lemof.training.gbm import fit_tabular_head, lightgbm_version, train_gbm
from lemof.models.gbm import MODEL_FILE as GBM_MODEL_FILE, TABULAR_HEAD_FILE


class TrainingLog:
    """Timestamped lines of what training did: kept for ``train.log``, echoed to ``sink``."""

    def __init__(self, sink: Callable[[str], None] | None = None):
        self.started = time.time()
        self.lines: list[str] = []
        self.sink = sink

    def __call__(self, message: str) -> None:
        line = f"[{self.elapsed:7.1f}s] {message}"
        self.lines.append(line)
        if self.sink is not None:
            self.sink(line)

    @property
    def elapsed(self) -> float:
        return time.time() - self.started

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def build_spec(inputs: TrainingInputs, cfg: TrainConfig) -> ModelSpec:
    """The network's spec from the fitted inputs and the training options (LeMoF and baselines)."""
    pre = inputs.pre
    ehr_name, sig_name = cfg.encoder_names
    spec = ModelSpec(
        ehr_encoder=ehr_name,
        sig_encoder=sig_name,
        ehr_in_channels=pre.ehr_channels,
        ehr_seq_len=pre.n_steps,
        sig_in_channels=pre.sig_in_channels,
        sig_seq_len=pre.sig_len,
        ehr_duration_h=pre.n_steps * inputs.bundle.ehr_step_hours,
        sig_duration_s=pre.sig_duration_s,
        **cfg.network_options(),
        fusion=cfg.fusion,
        global_heads=LEMOF_VARIANTS[cfg.fusion].global_heads if cfg.fusion in LEMOF_VARIANTS else True,
        tabular_head=cfg.tabular_head,
    )
    return spec


def stage1(model: LeMoF, inputs: TrainingInputs, cfg: TrainConfig, progress: Progress | None, say: TrainingLog) -> Stage1Result:
    """Each modality on its own: global head + deep-supervised level heads."""
    names = {"ehr": f"EHR ({model.spec.ehr_encoder})", "sig": f"biosignal ({model.spec.sig_encoder})"}

    def fitted(modality: str, rep) -> None:
        say(f"stage 1 {names[modality]}: best epoch {rep.best_epoch}/{rep.epochs_run}, val loss {rep.best_val_loss:.4f}")

    return train_modalities(model.ehr, model.sig, inputs, cfg, progress, stages=("stage 1: EHR encoder", "stage 1: biosignal encoder"), on_fitted=fitted)


def stage2(model: LeMoF, inputs: TrainingInputs, s1: Stage1Result, cfg: TrainConfig, progress: Progress | None, say: TrainingLog) -> Stage2Result:
    """Exact level Shapley values of every stay; the top-k levels of each modality go to stage 3."""
    if progress is not None:
        progress("stage 2: level SHAP", 0, 1, "exact Shapley values over levels")
    s2 = run_stage2(
        model, s1.ehr_levels, s1.sig_levels, inputs.available_np, inputs.y_np, inputs.train, inputs.val, top_k=cfg.top_k_levels, seed=cfg.seed,
        selection=LEMOF_VARIANTS[cfg.fusion].selection,
    )
    model.set_selected_levels(s2.selected, s2.weights)
    model.to(inputs.device)
    if progress is not None:
        progress("stage 2: level SHAP", 1, 1, f"selected EHR {s2.selected['ehr']}, biosignal {s2.selected['sig']}")
    say(f"stage 2: importance {s2.importance}; selected {s2.selected} with weights {s2.weights}")
    return s2


def stage3(
    model: LeMoF, inputs: TrainingInputs, s1: Stage1Result, s2: Stage2Result, cfg: TrainConfig, progress: Progress | None, say: TrainingLog
) -> tuple[FitReport, list[dict], Stage1Result, Stage2Result]:
    """Cross-modal attention over the best levels, then the meta-learner. The encoders are frozen,
    or with ``cfg.finetune_encoders`` trained with the fusion; then every head and level Shapley
    value is recomputed from the fine-tuned network, and the stage-1 and stage-2 results returned
    are those (the levels stay the ones stage 2 chose)."""
    if cfg.finetune_encoders:
        rep = finetune_fusion(model, inputs.ehr, inputs.sig, inputs.available, inputs.y, inputs.train, inputs.val, cfg, seed=cfg.seed + 2, progress=progress)
        say(f"stage 3 fusion, encoders fine-tuned (lr x {cfg.finetune_lr_scale:g}): best epoch {rep.best_epoch}/{rep.epochs_run}, val loss {rep.best_val_loss:.4f}")
        ehr_levels, ehr_global = modality_outputs(model.ehr, inputs.ehr)
        sig_levels, sig_global = modality_outputs(model.sig, inputs.sig)
        s1 = replace(s1, ehr_levels=ehr_levels, ehr_global=ehr_global, sig_levels=sig_levels, sig_global=sig_global)
        s2 = restack(model, inputs, s1, s2, cfg, say)
        ehr_tok, sig_tok = best_level_tokens(model, inputs.ehr, inputs.sig)
    else:
        ehr_tok, sig_tok = best_level_tokens(model, inputs.ehr, inputs.sig)
        rep = train_fusion(model, ehr_tok, sig_tok, inputs.available, inputs.y, inputs.train, inputs.val, cfg, seed=cfg.seed + 2, progress=progress)
        say(f"stage 3 fusion: best epoch {rep.best_epoch}/{rep.epochs_run}, val loss {rep.best_val_loss:.4f}")
    fused = fused_predictions(model, ehr_tok, sig_tok, inputs.available)
    fused_absent = fused_predictions(model, ehr_tok, sig_tok, torch.zeros_like(inputs.available))
    rows = np.arange(len(inputs.bundle))
    tab = tabular_values(model, inputs.bundle, rows, inputs.available_np)  # None without a tabular head
    tab_absent = tabular_values(model, inputs.bundle, rows, np.zeros_like(inputs.available_np))
    heads = head_matrix(model, s1.ehr_global, s1.sig_global, fused, s1.ehr_levels, s1.sig_levels, tab)
    heads_absent = head_matrix(model, s1.ehr_global, s1.sig_global, fused_absent, s1.ehr_levels, s1.sig_levels, tab_absent)
    reports = fit_meta_learner(model, heads, heads_absent, inputs.y_np, inputs.available_np, inputs.val, cfg)
    for r in reports:
        say(f"meta-learner [{r['pattern']}] n={r['n']}: weights {r['weights']}, bias {r['bias']:.3f}, interval ±{r['interval_halfwidth']:.3f} (log1p)")
    return rep, reports, s1, s2


def restack(model: LeMoF, inputs: TrainingInputs, s1: Stage1Result, chosen: Stage2Result, cfg: TrainConfig, say: TrainingLog) -> Stage2Result:
    """After fine-tuning: stage 2's level stacker fitted again, as stage 2 fits it, on the
    fine-tuned level predictions, and every stay's level Shapley values computed again (what the
    loaded network explains); the selected levels and their weights stay ``chosen``'s."""
    again = run_stage2(
        model, s1.ehr_levels, s1.sig_levels, inputs.available_np, inputs.y_np, inputs.train, inputs.val, top_k=cfg.top_k_levels, seed=cfg.seed,
        selection=LEMOF_VARIANTS[cfg.fusion].selection,
    )
    model.to(inputs.device)
    say(f"stage 3: level stacker refitted on the fine-tuned levels, importance {again.importance}; levels kept as stage 2 chose them")
    return replace(again, selected=chosen.selected, weights=chosen.weights, selection_importance=chosen.importance)


def assess_predictions(bundle, pred: dict[str, np.ndarray], rows: dict[str, np.ndarray], heads, say: TrainingLog) -> RunMetrics:
    """Score predictions of every stay on the validation and test splits."""
    median = train_median_days(bundle)
    reports = {split: evaluation_report(bundle, {k: v[rows[split]] for k, v in pred.items()}, rows[split], median, heads) for split in ("test", "val")}
    metrics = RunMetrics(train_median_los_days=median, test=reports["test"], val=reports["val"])
    t = metrics.test
    say(
        f"test: MAE {t.model.mae_days:.3f} d (training median {t.train_median.mae_days:.3f} d, "
        f"{100 * t.mae_reduction_vs_train_median:.1f} % lower), kappa {t.model.kappa_linear_10bucket:.3f}, "
        f"AUROC(LOS > 7 d) {t.model.auroc_los_gt7 or float('nan'):.3f}, coverage {t.model.interval_coverage:.3f}"
    )
    return metrics


def assess(model, inputs: TrainingInputs, say: TrainingLog) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], RunMetrics]:
    """Predict every stay with the assembled network (as it will be loaded), and with the biosignal
    hidden (stored, so interval calibration can be recomputed); score val and test."""
    model.eval()
    bundle, rows = inputs.bundle, np.arange(len(inputs.bundle))
    pred = predict_rows(model, inputs.pre, bundle, rows, device=inputs.device)
    hidden = predict_rows(model, inputs.pre, bundle, rows, device=inputs.device, hide_signal=True)
    return pred, hidden, assess_predictions(bundle, pred, inputs.rows, model.spec.heads, say)


def level_shap_table(model: LeMoF, inputs: TrainingInputs, s2: Stage2Result) -> tuple[pd.DataFrame, dict]:
    """Per-stay level Shapley values (``level_shap.parquet``) and the global importance (JSON)."""
    names = model.level_names
    table = pd.DataFrame(s2.phi, columns=names["ehr"] + names["sig"])
    table.insert(0, "stay_id", inputs.bundle.stays["stay_id"].to_numpy())
    table["stacker_output"] = s2.stacker_output
    importance = {
        "split": "val",
        "levels": names,
        "importance": s2.importance,
        "selected": {m: [names[m][l] for l in s2.selected[m]] for m in ("ehr", "sig")},
        "weights": s2.weights,
        "base_value": s2.base,
        "method": "exact Shapley values of the level stacker (all coalitions enumerated); importance = mean |phi| over validation stays",
    }
    if s2.selection_importance is not None:  # stage 3 fine-tuned the encoders: the stored values are the fine-tuned network's
        importance["selection_importance"] = s2.selection_importance
        importance["method"] += (
            "; the encoders were fine-tuned in stage 3 after the levels were selected on selection_importance (stage 2, frozen encoders), "
            "so the stacker was refitted and phi and importance are the fine-tuned network's"
        )
    return table, importance


def build_network(inputs: TrainingInputs, cfg: TrainConfig):
    """LeMoF or the baseline network of ``cfg.fusion``; a ``ConfigError`` if an encoder cannot take the inputs."""
    return create_model(build_spec(inputs, cfg)).to(inputs.device)


def _lemof_steps(model: LeMoF, inputs: TrainingInputs, cfg: TrainConfig, progress: Progress | None, say: TrainingLog) -> tuple[LeMoF, dict]:
    """The three stages; returns the assembled model and what the run directory stores beside it."""
    s1 = stage1(model, inputs, cfg, progress, say)
    s2 = stage2(model, inputs, s1, cfg, progress, say)
    tabular = None
    if cfg.tabular_head:  # fitted on training stays only, before the meta-learner weighs it on validation stays
        tabular = fit_tabular_head(inputs.bundle, inputs.rows, cfg, progress, say)
        model.tabular_model = tabular["model"]
    rep_fusion, meta_reports, s1, s2 = stage3(model, inputs, s1, s2, cfg, progress, say)
    shap_table, importance = level_shap_table(model, inputs, s2)
    reports = {"stage1_ehr": s1.ehr.__dict__, "stage1_sig": s1.sig.__dict__, "stage3_fusion": rep_fusion.__dict__, "meta_learner": meta_reports}
    stored = {"level_shap": shap_table, "level_importance": importance, "stage_reports": reports}
    if tabular is not None:
        reports["tabular_head"] = {k: tabular[k] for k in ("params", "params_chosen_by", "n_trees", "fits", "train_oof_mae_days", "cv_folds")}
        stored["tabular_head"] = (tabular["text"], {"model_file": TABULAR_HEAD_FILE, "summaries": tabular["model"].schema.to_dict(), "lightgbm": lightgbm_version()})
    return model, stored


def _baseline_steps(net, inputs: TrainingInputs, cfg: TrainConfig, progress: Progress | None, say: TrainingLog):
    fits, reports = train_baseline(net, inputs, cfg, progress, say)
    stage_reports = {k: v.__dict__ for k, v in fits.items()}
    stage_reports["meta_learner" if cfg.fusion == "late" else "intervals"] = reports
    return net, {"stage_reports": stage_reports}


def _cohort_ref(bundle) -> dict:
    return {"source": bundle.source, "name": bundle.name, "fingerprint": bundle.fingerprint, "version": bundle.provenance.get("version"), "n_stays": len(bundle)}


def train(
    data: str | Path,
    out: str | Path,
    cfg: TrainConfig,
    *,
    device: str = "auto",
    progress: Progress | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Train ``cfg.fusion`` (LeMoF, an ablation, a baseline or the tabular peer) on the bundle at
    ``data`` and write the run directory ``out`` atomically."""
    out = Path(out)
    safe_name(out.name)  # refuse names that cannot be a directory
    if out.exists() and not overwrite:
        raise FileExistsError(f"run directory {out} already exists (use --overwrite to replace it)")
    seed_everything(cfg.seed)
    dev = resolve_device(device)
    w = init_from_env(dev)  # under torchrun: this rank's place in the process group
    dev = w.device(dev)
    say = TrainingLog(log if w.is_main else None)
    progress = progress if w.is_main else None
    bundle = open_bundle(data)
    kind = fusion_kind(cfg.fusion)
    network, spec, pre, stored, hidden = None, None, None, {}, None
    if kind != "tabular":  # everything that can be wrong with the inputs fails here, before any output
        inputs = prepare_inputs(bundle, cfg, dev)
        network = build_network(inputs, cfg)
    say(f"{cfg.fusion} ({kind}) on cohort {bundle.name} ({bundle.source}, {len(bundle)} stays, fingerprint {bundle.fingerprint}); device {device_name(dev)}, {w.size} process(es)")
    if kind == "tabular":
        if w.active:
            raise ConfigError("gbm trains on the CPU in one process; run it without torchrun")

        rows = split_rows(bundle, need_signal=False)
        say("splits: " + ", ".join(f"{k} {len(v)}" for k, v in rows.items()) + f"; {int(bundle.stays['has_signal'].sum())} stays with a biosignal")
        result = train_gbm(bundle, rows, cfg, progress, say)
        model = result["model"]
        pred = model.predict(bundle, np.arange(len(bundle)))  # the model as it will be loaded
        metrics = assess_predictions(bundle, pred, rows, [], say)
        stored["stage_reports"] = {"gbm": {k: result[k] for k in ("params", "n_trees", "val_mae_days", "fits", "features")}}
        stored["gbm"] = (result["text"], {"model_file": GBM_MODEL_FILE, "summaries": model.schema.to_dict(), "interval_halfwidth": model.halfwidth, "lightgbm": lightgbm_version()})
    else:
        say("splits: " + ", ".join(f"{k} {len(v)}" for k, v in inputs.rows.items()))
        say(inputs.describe())
        network, stored = (_lemof_steps if kind == "lemof" else _baseline_steps)(network, inputs, cfg, progress, say)
        pred, hidden, metrics = assess(network, inputs, say)
        spec, pre, rows = network.spec, inputs.pre, inputs.rows
        if kind == "lemof" and w.is_main:  # what the case review reads at first paint, so it needs no network
            stored["stay_vectors"] = compute_stay_vectors(network, pre, bundle, device=dev)  # a few seconds: no stage of its own
            if cohort_has_concepts(bundle):  # what each level encodes (linear probes on held-out stays)
                stored["level_concepts"] = compute_level_concepts(network, pre, bundle, device=dev, seed=cfg.seed, progress=progress)
                say(f"concept probes: {len(stored['level_concepts']['levels'])} levels x {len(stored['level_concepts']['concepts'])} concepts")
    say(f"total training time {say.elapsed:.1f} s")
    if not w.is_main:  # rank 0 alone writes the run
        w.barrier()
        return out
    with atomic_directory(out, overwrite=overwrite) as tmp:
        save_run(
            tmp,
            run_id=out.name,
            fusion=cfg.fusion,
            network=network.cpu() if network is not None else None,
            spec=spec,
            preprocessor=pre,
            train_config=cfg.to_dict(),
            cohort=_cohort_ref(bundle),
            metrics=metrics,
            predictions=prediction_table(pred, [h.name for h in spec.heads] if spec is not None else [], bundle.stays["split"].to_numpy(), hidden),
            level_importance=stored.get("level_importance"),
            level_shap=stored.get("level_shap"),
            stay_vectors=stored.get("stay_vectors"),
            level_concepts=stored.get("level_concepts"),
            gbm=stored.get("gbm"),
            tabular_head=stored.get("tabular_head"),
            extra={
                "stage_reports": stored.get("stage_reports", {}),
                "train_median_los_days": metrics.train_median_los_days,
                "training_seconds": round(say.elapsed, 1),
                "device": device_name(dev),
                "world_size": w.size,
            },
            log_text=say.text(),
        )
    w.barrier()
    return out
