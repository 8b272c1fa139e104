"""Train the default configuration on the default cohort on CPU; time per stage and metrics.

    python benchmarks/bench_train.py [--device cpu|cuda] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

from _common import peak_rss_mb, save

from lemof.data.synthetic import ensure_synthetic
from lemof.training.config import TrainConfig
from lemof.training.pipeline import train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--encoders", default="gru+resnet1d")
    args = ap.parse_args()
    data = args.data or ensure_synthetic()
    stamps: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = train(data, Path(tmp) / "run", TrainConfig(encoders=args.encoders), device=args.device, log=lambda m: (stamps.append((time.perf_counter() - t0, m)), print(m, flush=True)))
        total = time.perf_counter() - t0
        metrics = json.loads((out / "metrics.json").read_text())
    marks = {}
    prefixes = {"stage 1 EHR": "stage1_ehr", "stage 1 biosignal": "stage1_sig", "stage 2:": "stage2", "stage 3 fusion": "stage3_fusion", "meta-learner [ehr]": "meta_learner", "test:": "evaluation"}
    for _t, message in stamps:
        m = re.match(r"\[\s*([\d.]+)s\] (.*)", message)
        for prefix, key in prefixes.items():
            if m and m.group(2).startswith(prefix):
                marks.setdefault(f"{key}_done", float(m.group(1)))
    test = metrics["test"]
    save(
        f"train_{args.encoders.replace('+', '_')}_{args.device}",
        {
            "cohort": str(data),
            "device": args.device,
            "total_seconds": round(total, 1),
            "cumulative_seconds_at": marks,
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "test_model": test["model"],
            "test_baseline_train_median": test["baseline_train_median"],
            "mae_reduction_vs_baseline": test["mae_reduction_vs_baseline"],
            "test_heads_alone_mae_days": {k: v["mae_days"] for k, v in test["heads_alone"].items()},
        },
    )


if __name__ == "__main__":
    main()
