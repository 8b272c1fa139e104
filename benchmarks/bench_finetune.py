"""Fine-tuning the encoders in LeMoF's stage 3, chosen or rejected on validation.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_finetune --cohorts synthetic physionet2012 --seeds 0 1 --threads 1

Trains the grid cells ``lemof`` and ``lemof_ft`` (LeMoF with ``finetune_encoders``) of each cohort
and seed with ``gru+resnet1d`` (``benchmarks/grid_run.py``: the cohort's recipe, resumable, cells
under OUT/<cohort>/), then reads each run's validation and test MAE, its training time and its
stage-3 epochs. The decision uses validation stays only: per cohort, the paired difference of
absolute errors (fine-tuned − frozen, each stay's error averaged over the seeds both have) with a
bootstrap interval over the validation stays (``lemof.evaluation.stats.paired_bootstrap``, as the
grid's test comparisons); the option becomes the default only if that interval lies below zero on
every cohort. Test MAE is reported, never used. Writes benchmarks/results/finetune_validation.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._common import save
from benchmarks.grid_run import COHORTS, LEMOF, LEMOF_FT, GridSpec, cohort_dir, run_grid

ENCODERS = "gru+resnet1d"


def cell_summary(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    stage3 = config.get("stage_reports", {}).get("stage3_fusion", {})
    return {
        "val_mae_days": metrics["val"]["model"]["mae_days"],
        "test_mae_days": metrics["test"]["model"]["mae_days"],
        "training_seconds": config.get("training_seconds"),
        "stage3_epochs": stage3.get("epochs_run"),
        "stage3_best_epoch": stage3.get("best_epoch"),
    }


def val_abs_errors(run_dir: Path, observed: pd.Series) -> np.ndarray:
    """Absolute error (days) of each validation stay, in ``observed``'s order."""
    pred = pd.read_parquet(run_dir / "predictions.parquet").set_index("stay_id")
    return np.abs(pred.loc[observed.index, "los_days"].to_numpy(dtype=float) - observed.to_numpy(dtype=float))


def summarise(spec: GridSpec, out: Path) -> dict:
    from lemof import open_bundle
    from lemof.evaluation.stats import paired_bootstrap

    cohorts = {}
    for cohort in spec.cohorts:
        mine = {m: {c.seed: c.run_dir(out) for c in spec.cells() if c.cohort == cohort and c.fusion == m and c.finished(out)} for m in (LEMOF, LEMOF_FT)}
        cells = {m: {s: cell_summary(d) for s, d in runs.items()} for m, runs in mine.items()}
        seeds = sorted(set(cells[LEMOF]) & set(cells[LEMOF_FT]))
        mean = {m: {k: float(np.mean([cells[m][s][k] for s in seeds])) if seeds else None for k in ("val_mae_days", "test_mae_days", "training_seconds")}
                for m in cells}
        diff = None
        if seeds:
            stays = open_bundle(cohort_dir(cohort)).stays
            observed = stays[stays["split"].astype(str) == "val"].set_index("stay_id")["los_days"].sort_index()
            err = {m: np.mean([val_abs_errors(mine[m][s], observed) for s in seeds], axis=0) for m in mine}
            diff = paired_bootstrap(err[LEMOF_FT], err[LEMOF])
        cohorts[cohort] = {"seeds": seeds, "cells": {m: {str(s): v for s, v in c.items()} for m, c in cells.items()}, "mean_over_seeds": mean,
                           "val_diff_finetuned_minus_frozen_days": diff, "finetune_helps_on_val": diff is not None and diff["hi"] < 0}
    adopt = all(c["finetune_helps_on_val"] for c in cohorts.values())
    return {"encoders": ENCODERS, "options": spec.options, "cohorts": cohorts, "adopt_finetune_as_default": adopt,
            "rule": "adopt only if, on every cohort, the paired 95 % bootstrap interval of the validation MAE difference "
                    "(fine-tuned - frozen, per-stay errors averaged over seeds) lies below zero; test MAE is not used"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cohorts", nargs="+", choices=COHORTS, default=list(COHORTS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--epochs-stage1", dest="epochs_stage1", type=int, help="a reduced budget (default: the recipe's)")
    ap.add_argument("--epochs-stage3", dest="epochs_stage3", type=int)
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "grid-finetune")
    args = ap.parse_args(argv)
    options = {k: getattr(args, k) for k in ("epochs_stage1", "epochs_stage3") if getattr(args, k) is not None}
    spec = GridSpec(args.cohorts, [LEMOF, LEMOF_FT], {c: [ENCODERS] for c in args.cohorts}, args.seeds, options)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    result = run_grid(spec, args.out, device=args.device)
    save("finetune_validation", {"command": "python -m benchmarks.bench_finetune " + " ".join(argv if argv is not None else sys.argv[1:]),
                                 "threads": args.threads, "device": args.device, **summarise(spec, args.out)})
    return 0 if result["completed"] and not result["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
