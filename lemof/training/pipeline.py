"""The three LeMoF stages, end to end, from a cohort bundle to a run directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from lemof.data.bundle import CohortBundle, open_bundle
from lemof.errors import CohortError
from lemof.inference import predict_rows
from lemof.evaluation import evaluation_report
from lemof.models.model import LeMoF, ModelSpec
from lemof.paths import atomic_directory, safe_name
from lemof.preprocess import Preprocessor
from lemof.progress import ProgressFn
from lemof.runs import save_run
from lemof.training.config import TrainConfig
from lemof.training.loop import resolve_device, seed_everything
from lemof.training.stage1 import modality_outputs, train_modality
from lemof.training.stage2 import run_stage2
from lemof.training.stage3 import best_level_tokens, fit_meta_learner, fused_predictions, head_matrix, train_fusion

MIN_STAYS = {"train": 8, "val": 4, "test": 1}


def _split_rows(bundle: CohortBundle) -> dict[str, np.ndarray]:
    rows = {s: bundle.rows(s) for s in ("train", "val", "test")}
    for split, need in MIN_STAYS.items():
        if len(rows[split]) < need:
            raise CohortError(f"cohort {bundle.name!r} has {len(rows[split])} {split} stays; training needs at least {need}")
    with_sig = bundle.stays["has_signal"].to_numpy(dtype=bool)
    for split in ("train", "val"):
        if with_sig[rows[split]].sum() < 2:
            raise CohortError(f"cohort {bundle.name!r} has fewer than 2 {split} stays with a biosignal")
    return rows


def train(
    data: str | Path,
    out: str | Path,
    cfg: TrainConfig,
    *,
    device: str = "auto",
    progress: ProgressFn | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Train LeMoF on the bundle at ``data`` and write the run directory ``out`` atomically."""
    started = time.time()
    lines: list[str] = []

    def say(msg: str) -> None:
        line = f"[{time.time() - started:7.1f}s] {msg}"
        lines.append(line)
        if log is not None:
            log(line)

    out = Path(out)
    safe_name(out.name)  # refuse names that cannot be a directory
    if out.exists() and not overwrite:
        raise FileExistsError(f"run directory {out} already exists (use --overwrite to replace it)")
    seed_everything(cfg.seed)
    dev = resolve_device(device)
    bundle = open_bundle(data)
    rows = _split_rows(bundle)
    say(f"cohort {bundle.name} ({bundle.source}, {len(bundle)} stays, fingerprint {bundle.fingerprint}); device {dev}")
    say("splits: " + ", ".join(f"{k} {len(v)}" for k, v in rows.items()))

    pre = Preprocessor.fit(bundle, rows["train"], cfg.sig_channels, cfg.sig_rate_hz)
    all_rows = np.arange(len(bundle))
    ehr_np = pre.ehr(bundle, all_rows)
    sig_np, avail_np = pre.signal(bundle, all_rows)
    y_np = np.log1p(bundle.stays["los_days"].to_numpy(dtype=np.float64))
    say(f"inputs: EHR {ehr_np.shape}, biosignal {sig_np.shape} ({pre.sig_channels} at {pre.sig_fs_hz / pre.sig_pool:g} Hz)")

    ehr_name, sig_name = cfg.encoder_names
    spec = ModelSpec(
        ehr_encoder=ehr_name,
        sig_encoder=sig_name,
        ehr_in_channels=pre.ehr_channels,
        ehr_seq_len=pre.n_steps,
        sig_in_channels=pre.sig_in_channels,
        sig_seq_len=pre.sig_len,
        ehr_duration_h=pre.n_steps * bundle.ehr_step_hours,
        sig_duration_s=pre.sig_duration_s,
        ehr_params=dict(cfg.ehr_params),
        sig_params=dict(cfg.sig_params),
        d_model=cfg.d_model,
        dropout=cfg.dropout,
        attention_heads=cfg.attention_heads,
        stacker_hidden=cfg.stacker_hidden,
    )
    model = LeMoF(spec).to(dev)
    ehr_x = torch.as_tensor(ehr_np, device=dev)
    sig_x = torch.as_tensor(sig_np, device=dev)
    avail = torch.as_tensor(avail_np, device=dev)
    y = torch.as_tensor(y_np, dtype=torch.float32, device=dev)
    tr, va = rows["train"], rows["val"]

    # Stage 1: each modality on its own.
    rep_ehr = train_modality(model.ehr, ehr_x, y, tr, va, cfg, stage="stage 1: EHR encoder", seed=cfg.seed, progress=progress)
    say(f"stage 1 EHR ({ehr_name}): best epoch {rep_ehr.best_epoch}/{rep_ehr.epochs_run}, val loss {rep_ehr.best_val_loss:.4f}")
    rep_sig = train_modality(
        model.sig, sig_x, y, tr[avail_np[tr]], va[avail_np[va]], cfg, stage="stage 1: biosignal encoder", seed=cfg.seed + 1, progress=progress
    )
    say(f"stage 1 biosignal ({sig_name}): best epoch {rep_sig.best_epoch}/{rep_sig.epochs_run}, val loss {rep_sig.best_val_loss:.4f}")
    ehr_levels, ehr_global = modality_outputs(model.ehr, ehr_x)
    sig_levels, sig_global = modality_outputs(model.sig, sig_x)

    # Stage 2: level importance and best levels.
    if progress is not None:
        progress("stage 2: level SHAP", 0, 1, "exact Shapley values over levels")
    s2 = run_stage2(model, ehr_levels, sig_levels, avail_np, y_np, tr, va, top_k=cfg.top_k_levels, seed=cfg.seed)
    if progress is not None:
        progress("stage 2: level SHAP", 1, 1, f"selected EHR {s2.selected['ehr']}, biosignal {s2.selected['sig']}")
    model.set_selected_levels(s2.selected, s2.weights)
    model.to(dev)
    say(f"stage 2: importance {s2.importance}; selected {s2.selected} with weights {s2.weights}")

    # Stage 3: cross-modal attention over the best levels, then the meta-learner.
    ehr_tok, sig_tok = best_level_tokens(model, ehr_x, sig_x)
    rep_fus = train_fusion(model, ehr_tok, sig_tok, avail, y, tr, va, cfg, seed=cfg.seed + 2, progress=progress)
    say(f"stage 3 fusion: best epoch {rep_fus.best_epoch}/{rep_fus.epochs_run}, val loss {rep_fus.best_val_loss:.4f}")
    fused = fused_predictions(model, ehr_tok, sig_tok, avail)
    fused_absent = fused_predictions(model, ehr_tok, sig_tok, torch.zeros_like(avail))
    heads = head_matrix(model, ehr_global, sig_global, fused, ehr_levels, sig_levels)
    heads_absent = head_matrix(model, ehr_global, sig_global, fused_absent, ehr_levels, sig_levels)
    meta_reports = fit_meta_learner(model, heads, heads_absent, y_np, avail_np, va, cfg)
    for r in meta_reports:
        say(f"meta-learner [{r['pattern']}] n={r['n']}: weights {r['weights']}, bias {r['bias']:.3f}, interval ±{r['interval_halfwidth']:.3f} (log1p)")

    # Evaluate the assembled model exactly as it will be loaded.
    model.eval()
    pred = predict_rows(model, pre, bundle, all_rows, device=dev)
    train_median = float(np.median(bundle.stays["los_days"].to_numpy()[tr]))
    metrics = {
        "cohort": {"name": bundle.name, "fingerprint": bundle.fingerprint},
        "train_median_los_days": train_median,
        "test": evaluation_report(bundle, {k: v[rows["test"]] for k, v in pred.items()}, rows["test"], train_median, model.head_names),
        "val": evaluation_report(bundle, {k: v[va] for k, v in pred.items()}, va, train_median, model.head_names),
    }
    t = metrics["test"]
    say(
        f"test: MAE {t['lemof']['mae_days']:.3f} d (train-median baseline {t['baseline_train_median']['mae_days']:.3f} d, "
        f"{100 * t['mae_reduction_vs_baseline']:.1f} % lower), kappa {t['lemof']['kappa_linear_10bucket']:.3f}, "
        f"coverage {t['lemof']['interval_coverage']:.3f}"
    )
    names = model.level_names
    level_cols = names["ehr"] + names["sig"]
    shap_table = pd.DataFrame(s2.phi, columns=level_cols)
    shap_table.insert(0, "stay_id", bundle.stays["stay_id"].to_numpy())
    shap_table["stacker_output"] = s2.stacker_output
    importance = {
        "split": "val",
        "levels": names,
        "importance": s2.importance,
        "selected": {m: [names[m][l] for l in s2.selected[m]] for m in ("ehr", "sig")},
        "weights": s2.weights,
        "base_value": s2.base,
        "method": "exact Shapley values (shap.explainers.Exact) of the level stacker; importance = mean |phi| over validation stays",
    }
    say(f"total training time {time.time() - started:.1f} s")
    with atomic_directory(out, overwrite=overwrite) as tmp:
        save_run(
            tmp,
            run_id=out.name,
            model=model.cpu(),
            preprocessor=pre,
            train_config=cfg.to_dict(),
            cohort={
                "source": bundle.source,
                "name": bundle.name,
                "fingerprint": bundle.fingerprint,
                "version": bundle.provenance.get("version"),
                "n_stays": len(bundle),
            },
            metrics=metrics,
            level_importance=importance,
            level_shap=shap_table,
            extra={
                "stage_reports": {
                    "stage1_ehr": rep_ehr.__dict__,
                    "stage1_sig": rep_sig.__dict__,
                    "stage3_fusion": rep_fus.__dict__,
                    "meta_learner": meta_reports,
                },
                "train_median_los_days": train_median,
                "training_seconds": round(time.time() - started, 1),
                "device": str(dev),
            },
            log_text="\n".join(lines) + "\n",
        )
    return out
