"""Training the default configuration: time per stage, stays/s and metrics, per device.

    python -m benchmarks.bench_train [--devices cpu cuda] [--data DIR] [--encoders EHR+SIG] [--config FILE.json]

On a GPU machine run it with ``--devices cuda cpu``: the same cohort, seed and options on both,
so the throughput ratio and the metrics' difference (CUDA trains in bf16 autocast) can be read
off one result file (benchmarks/results/train_<encoders>_<devices>.json).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks._common import peak_rss_mb, save

from lemof import TrainConfig, load_run, train
from lemof.data.synthetic import ensure_synthetic


def one(data: Path, cfg: TrainConfig, device: str) -> dict:
    stages: dict[str, dict] = {}
    t0 = time.perf_counter()

    def progress(stage, done, total, message="", **info):
        s = stages.setdefault(stage, {"started_s": round(time.perf_counter() - t0, 2), "epochs": 0, "stays_per_s": []})
        s["ended_s"] = round(time.perf_counter() - t0, 2)
        if "epoch" in info:
            s["epochs"] = info["epoch"]
            s["stays_per_s"].append(round(info["stays_per_s"], 1))

    with tempfile.TemporaryDirectory() as tmp:
        out = train(data, Path(tmp) / "run", cfg, device=device, progress=progress, log=lambda m: print(m, flush=True))
        total = time.perf_counter() - t0
        run = load_run(out)
        config = json.loads((out / "config.json").read_text())
    for s in stages.values():
        s["seconds"] = round(s["ended_s"] - s["started_s"], 2)
        s["median_stays_per_s"] = sorted(s["stays_per_s"])[len(s["stays_per_s"]) // 2] if s["stays_per_s"] else None
    test = run.metrics.test
    return {
        "device": config["device"],
        "total_seconds": round(total, 1),
        "stages": stages,
        "test_model": test.model.to_dict(),
        "test_baseline_train_median": test.train_median.to_dict(),
        "mae_reduction_vs_baseline": test.mae_reduction_vs_train_median,
        "test_heads_alone_mae_days": {k: v.mae_days for k, v in test.heads_alone.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", nargs="+", default=["cpu"])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--encoders", default="gru+resnet1d")
    ap.add_argument("--config", type=Path, default=None, help="JSON options (e.g. assets/recipes/physionet2012.json)")
    args = ap.parse_args()
    data = args.data or ensure_synthetic()
    options = json.loads(args.config.read_text()) if args.config else {}
    cfg = TrainConfig(**{**options, "encoders": args.encoders})
    results = {d: one(data, cfg, d) for d in args.devices}
    out = {"cohort": str(data), "encoders": args.encoders, "options": options, "peak_rss_mb": round(peak_rss_mb(), 1), "by_device": results}
    if "cpu" in results and "cuda" in results:
        sp = {s: (results["cuda"]["stages"][s]["median_stays_per_s"] or 0) / max(results["cpu"]["stages"][s]["median_stays_per_s"] or 1e-9, 1e-9)
              for s in results["cpu"]["stages"] if s in results["cuda"]["stages"] and results["cpu"]["stages"][s]["median_stays_per_s"]}
        out["cuda_over_cpu_throughput"] = {k: round(v, 1) for k, v in sp.items()}
        out["test_mae_difference_days"] = round(results["cuda"]["test_model"]["mae_days"] - results["cpu"]["test_model"]["mae_days"], 4)
    save(f"train_{args.encoders.replace('+', '_')}_{'_'.join(args.devices)}", out)


if __name__ == "__main__":
    main()
