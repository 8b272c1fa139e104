"""The benchmark grid: LeMoF vs baselines vs ablations, encoder configurations × seeds × cohorts.

    python -m benchmarks.bench_grid --quick                 # about 5 minutes on 2 idle CPU cores
    python -m benchmarks.bench_grid                         # the full grid (hours on CPU; resumable)
    python -m benchmarks.bench_grid --report-only [--out DIR]

Each cell (cohort, method, encoders, seed) is a run directory OUT/<cohort>/<method>__<encoders>__seed<k>/;
finished cells are skipped, failed ones (OUT/<cohort>/<cell>.failed.json) are tried again, so
running the same command again resumes. Afterwards (and with --report-only) OUT/report.json,
OUT/report.md and OUT/forest_<cohort>.html/.png are written and report.md is printed.
Exit status: 0; 1 if a cell failed this time (it is recorded and the grid goes on); 130 if interrupted.
See benchmarks/grid_report.py for the statistics.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks._common import RESULTS
from benchmarks.grid_report import B_DEFAULT, build_report, write_forest
from benchmarks.grid_run import COHORTS, DEFAULT_COHORTS, DEFAULT_ENCODERS, DEFAULT_SEEDS, EXTERNAL, FUSIONS, QUICK_OPTIONS, SYNTHETIC, GridSpec, cohort_dir, run_grid

QUICK_HELP = (
    "quick grid: only the synthetic cohort, encoders gru+resnet1d, seed 0, every method "
    f"({len(FUSIONS)} cells: LeMoF, LeMoF with fine-tuned encoders, gbm, 5 baselines, 5 ablations), each trained with "
    + ", ".join(f"{k}={v}" for k, v in QUICK_OPTIONS.items())
    + " (other TrainConfig options at their defaults); about 5 minutes on 2 idle CPU cores, report included (far longer when "
    "the cores are busy: see --threads); --cohorts/--fusions/--encoders/--seeds still narrow or change it; "
    "default --out benchmarks/results/grid-quick"
)


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cohorts", nargs="+", choices=COHORTS, help=f"default: {' '.join(DEFAULT_COHORTS)} (quick: {SYNTHETIC}); "
                    "physionet2012-a / -b: one challenge set each, for the external protocol (see --external)")
    ap.add_argument("--fusions", nargs="+", choices=FUSIONS, metavar="FUSION", help=f"methods (default all): {' '.join(FUSIONS)}")
    ap.add_argument("--encoders", nargs="+", metavar="EHR+SIG", help="encoder configurations for every cohort (default: synthetic "
                    f"{' '.join(DEFAULT_ENCODERS[SYNTHETIC])}; physionet2012 gru+resnet1d; quick: gru+resnet1d)")
    ap.add_argument("--seeds", nargs="+", type=int, help=f"default: {' '.join(map(str, DEFAULT_SEEDS))} (quick: 0)")
    ap.add_argument("--quick", action="store_true", help=QUICK_HELP)
    ap.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu", help="training device (default cpu)")
    ap.add_argument("--out", type=Path, help="grid directory (default benchmarks/results/grid; with --quick benchmarks/results/grid-quick)")
    ap.add_argument("--report-only", action="store_true", help="train nothing: analyse the finished cells of OUT "
                    "(its grid.json defines the expected grid unless --cohorts/--fusions/--encoders/--seeds/--quick are given)")
    ap.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice); 1 avoids long stalls "
                    "when the cores are shared with other busy processes")
    ap.add_argument("--fail-fast", action="store_true", help="stop at the first failed cell (default: record it and go on)")
    ap.add_argument("--bootstrap", type=int, default=B_DEFAULT, metavar="B", help=f"bootstrap resamples (default {B_DEFAULT})")
    ap.add_argument("--external", action="store_true", help="also score every finished cell on its cohort's external counterpart, "
                    "every stay of it (" + ", ".join(f"{a} -> {b}" for a, b in EXTERNAL.items()) + "); the external cohorts are built on first use")
    ap.add_argument("--no-png", action="store_true", help="write the forest plots as HTML only (no Chromium)")
    return ap.parse_args(argv)


def grid_spec(args: argparse.Namespace) -> GridSpec:
    cohorts = args.cohorts or ([SYNTHETIC] if args.quick else list(DEFAULT_COHORTS))
    encoders = {c: args.encoders or (["gru+resnet1d"] if args.quick else DEFAULT_ENCODERS[c]) for c in cohorts}
    seeds = args.seeds if args.seeds is not None else ([0] if args.quick else DEFAULT_SEEDS)
    return GridSpec(cohorts, list(args.fusions or FUSIONS), encoders, seeds, dict(QUICK_OPTIONS) if args.quick else {}, args.quick)


def check_encoders(configs: list[str] | None) -> str | None:
    from lemof import ConfigError
    from lemof.models.registry import parse_encoder_pair

    for enc in configs or []:
        try:
            parse_encoder_pair(enc)
        except ConfigError as exc:
            return f"--encoders {enc}: {exc}"
    return None


def main(argv=None) -> int:
    args = parse_args(argv)
    if error := check_encoders(args.encoders):
        print(error, file=sys.stderr)
        return 2
    out = args.out or RESULTS / ("grid-quick" if args.quick else "grid")
    stored = out / "grid.json"
    explicit = any(v is not None for v in (args.cohorts, args.fusions, args.encoders, args.seeds)) or args.quick
    if args.report_only:
        if not out.is_dir():
            print(f"{out} does not exist: nothing to report", file=sys.stderr)
            return 2
        spec = grid_spec(args) if explicit or not stored.exists() else GridSpec.from_dict(json.loads(stored.read_text()))
    else:
        spec = grid_spec(args)
        if stored.exists():
            before = GridSpec.from_dict(json.loads(stored.read_text()))
            if before.options != spec.options:
                print(f"{out} holds cells trained with options {before.options}, not {spec.options}; use another --out", file=sys.stderr)
                return 2
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        out.mkdir(parents=True, exist_ok=True)
        stored.write_text(json.dumps(spec.to_dict(), indent=2) + "\n")
        result = run_grid(spec, out, device=args.device, fail_fast=args.fail_fast)
        if not result["completed"]:
            print(f"the report of the finished cells: python -m benchmarks.bench_grid --report-only --out {out}")
            return 130 if result["interrupted"] else 1
    print(f"analysing {out} (bootstrap B = {args.bootstrap}) ...", flush=True)
    bundles = {c: cohort_dir(c) for c in spec.cohorts if (out / c).is_dir()}  # a cohort never started needs no bundle
    external = {c: cohort_dir(EXTERNAL[c]) for c in bundles if args.external and c in EXTERNAL}
    report = build_report(out, spec, bundles, B=args.bootstrap, external_dirs=external)
    written = [out / "report.json", out / "report.md"]
    for name, part in (("", report["cohorts"]), ("external_", report["external"])):
        for cohort, c in part.items():
            if c["cells"]:
                written += write_forest(out, f"{name}{cohort}", c, png=not args.no_png)
    print((out / "report.md").read_text())
    print("written: " + ", ".join(str(p) for p in written))
    return 1 if not args.report_only and result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
