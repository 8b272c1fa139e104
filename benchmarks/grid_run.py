"""The benchmark grid: which cells there are, and running them in-process, resumably.

A cell is one training run, ``(cohort, fusion, encoders, seed)``, stored as the run directory
``OUT/<cohort>/<fusion>__<encoders>__seed<k>/``. A cell whose run directory holds
``metrics.json`` is finished and skipped; a cell whose training fails writes
``OUT/<cohort>/<cell>.failed.json`` (the error) and is tried again on the next invocation.
Cells run in a fixed order: seed by seed (every method of seed 0 first, so a partial grid is
already comparable), then cohort, encoder configuration and method.
"""

from __future__ import annotations

import json
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


from lemof.models.fusions import ABLATIONS, BASELINES, fusion_kind
from lemof.progress import TqdmProgress
from lemof.training.recipes import PRESETS

LEMOF = "lemof"
GBM = "gbm"
TABULAR = "tabular"  # the encoders label of gbm cells: it uses per-stay summary statistics, no encoders
LEMOF_FT = "lemof_ft"  # LeMoF with its encoders fine-tuned in stage 3 (TrainConfig.finetune_encoders)
LEMOF_TAB = "lemof_tab"  # LeMoF with the tabular (LightGBM) head among its meta-learner's heads (TrainConfig.tabular_head)
VARIANTS = (LEMOF_FT, LEMOF_TAB)  # LeMoF with an option switched on: a grid method, not a fusion of the library
METHOD_OPTIONS = {LEMOF_FT: {"fusion": LEMOF, "finetune_encoders": True},
                  LEMOF_TAB: {"fusion": LEMOF, "tabular_head": True}}  # the TrainConfig options of each variant
FUSIONS = (LEMOF, *VARIANTS, GBM, *BASELINES, *ABLATIONS)  # the order cells run and tables list methods in
SYNTHETIC, PHYSIONET = "synthetic", "physionet2012"
PHYSIONET_A, PHYSIONET_B = "physionet2012-a", "physionet2012-b"  # one challenge set each: trained on one, validated on the other
COHORTS = (SYNTHETIC, PHYSIONET, PHYSIONET_A, PHYSIONET_B)  # grid cohort = the catalog key of a built-in cohort
FAMILY = {SYNTHETIC: SYNTHETIC, PHYSIONET: PHYSIONET, PHYSIONET_A: PHYSIONET, PHYSIONET_B: PHYSIONET}  # whose recipe a cohort trains with
# The external protocol: the cohort every finished cell of a grid cohort is also scored on (all its stays).
# None of the target's stays was seen in training or model selection: another set's records, another generator seed.
EXTERNAL = {SYNTHETIC: "synthetic-seed1", PHYSIONET_A: PHYSIONET_B, PHYSIONET_B: PHYSIONET_A}
DEFAULT_COHORTS = (SYNTHETIC, PHYSIONET)
DEFAULT_ENCODERS = {SYNTHETIC: ["gru+resnet1d", "transformer+transformer", "tcn+tcn"], PHYSIONET: ["gru+resnet1d"],
                    PHYSIONET_A: ["gru+resnet1d"], PHYSIONET_B: ["gru+resnet1d"]}
DEFAULT_SEEDS = [0, 1, 2]
QUICK_OPTIONS = {k: PRESETS["quick"][k] for k in ("epochs_stage1", "epochs_stage3")}  # the quick preset's epochs; batch size and learning rate as in every cell
CELL_RE = re.compile(r"^(?P<fusion>[a-z0-9_]+)__(?P<encoders>[A-Za-z0-9_+-]+)__seed(?P<seed>\d+)$")


def method_kind(method: str) -> str:
    """``lemof``, ``variant`` (LeMoF with an option on), ``ablation`` (a LeMoF variant with one part
    removed) or ``baseline`` (the neural baselines and gbm): the library's ``fusion_kind`` with
    LeMoF told apart from its ablations, and the grid's variants added."""
    if method in VARIANTS:
        return "variant"
    if method == LEMOF:
        return "lemof"
    return "ablation" if fusion_kind(method) == "lemof" else "baseline"


def config_mismatch(method: str, config: dict) -> str | None:
    """Why a finished run's ``config.json`` is not a run of grid method ``method``, or None."""
    want = METHOD_OPTIONS.get(method, {"fusion": method})
    if config.get("fusion", want["fusion"]) != want["fusion"]:
        return f"config.json says fusion {config.get('fusion')!r}, not {want['fusion']!r}"
    train = config.get("train") or {}
    for key, value in want.items():
        if key != "fusion" and train.get(key) != value:
            return f"config.json says {key} {train.get(key)!r}, not {value!r} (method {method})"
    for key in {k for options in METHOD_OPTIONS.values() for k in options} - set(want):  # a variant's option, on in another method's run
        if train.get(key):
            return f"config.json says {key} {train[key]!r}: not a run of method {method}"
    return None


@dataclass(frozen=True)
class Cell:
    cohort: str
    fusion: str
    encoders: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.fusion}__{self.encoders}__seed{self.seed}"

    def run_dir(self, out: Path) -> Path:
        return Path(out) / self.cohort / self.name

    def failed_path(self, out: Path) -> Path:
        return Path(out) / self.cohort / f"{self.name}.failed.json"

    def finished(self, out: Path) -> bool:
        return (self.run_dir(out) / "metrics.json").exists()

    @classmethod
    def parse(cls, cohort: str, name: str) -> "Cell | None":
        m = CELL_RE.match(name)
        return cls(cohort, m["fusion"], m["encoders"], int(m["seed"])) if m else None


@dataclass
class GridSpec:
    cohorts: list[str]
    fusions: list[str]
    encoders: dict[str, list[str]]  # per cohort
    seeds: list[int]
    options: dict  # extra TrainConfig options (quick: small epochs)
    quick: bool = False

    def cells(self) -> list[Cell]:
        fusions = sorted(set(self.fusions), key=FUSIONS.index)
        out = []
        for seed in self.seeds:
            for cohort in self.cohorts:
                for i, enc in enumerate(self.encoders[cohort]):
                    for fusion in fusions:
                        if fusion != GBM:
                            out.append(Cell(cohort, fusion, enc, seed))
                        elif i == 0:  # gbm ignores the encoders: once per seed
                            out.append(Cell(cohort, GBM, TABULAR, seed))
        return out

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> "GridSpec":
        encoders = {k: list(v) for k, v in d["encoders"].items()}
        return cls(d["cohorts"], d["fusions"], encoders, [int(s) for s in d["seeds"]], d.get("options", {}), d.get("quick", False))


def scan(out: Path, cohort: str) -> tuple[list[tuple[Cell, Path]], dict[str, dict]]:
    """Finished cells found under ``OUT/<cohort>/`` and the failures recorded there (by cell name)."""
    root = Path(out) / cohort
    finished, failed = [], {}
    if root.is_dir():
        for p in sorted(root.iterdir()):
            if p.name.startswith("."):
                continue
            if p.is_dir() and (p / "metrics.json").exists() and (cell := Cell.parse(cohort, p.name)):
                finished.append((cell, p))
            elif p.name.endswith(".failed.json"):
                try:
                    failed[p.name[: -len(".failed.json")]] = json.loads(p.read_text())
                except (OSError, ValueError):
                    failed[p.name[: -len(".failed.json")]] = {"error_type": "unreadable", "error": str(p)}
    return finished, failed


def cohort_dir(cohort: str, progress=None) -> Path:
    """The bundle directory of a grid (or external) cohort, built into the cache on first use."""
    from lemof.runs.catalog import ensure_cohort

    return Path(ensure_cohort(cohort, progress=progress))


def train_config(cell: Cell, options: dict):
    """The TrainConfig of a cell: the cohort family's recipe (``assets/recipes/<cohort>.json``, the
    same for every method), the grid's options, the cell's seed, encoders and fusion (a variant's
    options, ``METHOD_OPTIONS``, in its place). ``fusion`` is passed only when it is not "lemof" or
    the library knows the field."""
    from lemof import ConfigError, TrainConfig

    from lemof.training.recipes import load_recipe

    kw = dict(load_recipe(FAMILY[cell.cohort]), **options, seed=cell.seed)  # the cohort's recipe, for every method
    if cell.fusion != GBM:
        kw["encoders"] = cell.encoders
    if "fusion" in TrainConfig.__dataclass_fields__:
        kw.update(METHOD_OPTIONS.get(cell.fusion, {"fusion": cell.fusion}))
    elif cell.fusion != LEMOF:
        raise ConfigError(f"this version of lemof has no TrainConfig.fusion; cannot train {cell.fusion!r}")
    return TrainConfig(**kw)


class CellProgress(TqdmProgress):
    """TqdmProgress whose stage bars sit under the grid bar and vanish when their stage is done."""

    def __call__(self, stage: str, done: int, total: int, message: str = "", **info) -> None:
        bars = getattr(self, "_bars", None)
        if isinstance(bars, dict) and stage not in bars:
            from tqdm import tqdm

            bars[stage] = tqdm(total=total, desc=f"  {stage}", unit=self.unit, file=sys.stderr, disable=self.disable, leave=False,
                               position=1)
        super().__call__(stage, done, total, message, **info)


def run_cell(cell: Cell, data: Path, out: Path, options: dict, device: str, progress=None) -> dict:
    """Train one cell; never raises except KeyboardInterrupt. Returns status, seconds, test MAE or error."""
    from lemof import LemofError, train
    from lemof.paths import write_json_atomic

    run_dir, failed = cell.run_dir(out), cell.failed_path(out)
    log: list[str] = []
    t0 = time.perf_counter()
    if cell.finished(out):  # finished meanwhile by another grid process on the same OUT (seeds or methods split between two)
        failed.unlink(missing_ok=True)
        return {"status": "done", "seconds": 0.0, "mae": json.loads((run_dir / "metrics.json").read_text())["test"]["model"]["mae_days"]}
    try:
        if run_dir.exists():  # a directory without metrics.json is not ours to delete
            raise FileExistsError(f"{run_dir} exists but has no metrics.json; remove it to run this cell again")
        train(data, run_dir, train_config(cell, options), device=device, progress=progress, log=log.append)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - one failed cell must not stop the grid
        expected = isinstance(exc, (LemofError, FileExistsError))
        error = {
            "cell": cell.name, "cohort": cell.cohort, "fusion": cell.fusion, "encoders": cell.encoders, "seed": cell.seed,
            "error_type": type(exc).__name__, "error": str(exc), "expected": expected,
            "traceback": None if expected else traceback.format_exc(), "log_tail": log[-20:],
            "seconds": round(time.perf_counter() - t0, 1), "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        write_json_atomic(failed, error)
        return {"status": "failed", "seconds": error["seconds"], "error": f"{type(exc).__name__}: {exc}"}
    failed.unlink(missing_ok=True)
    mae = json.loads((run_dir / "metrics.json").read_text())["test"]["model"]["mae_days"]
    return {"status": "done", "seconds": round(time.perf_counter() - t0, 1), "mae": mae}


def run_grid(spec: GridSpec, out: Path, device: str = "cpu", fail_fast: bool = False, say: Callable[[str], None] = print) -> dict:
    """Run every unfinished cell of ``spec`` in order. Returns {"completed": False if interrupted or stopped by fail_fast,
    "interrupted": True after Ctrl-C, "failed": the cells that failed this time}."""
    from tqdm import tqdm

    cells = spec.cells()
    todo = [c for c in cells if not c.finished(out)]
    say(f"grid: {len(cells)} cells, {len(cells) - len(todo)} already finished, {len(todo)} to run -> {out}")
    failed: list[str] = []
    if not todo:
        return {"completed": True, "interrupted": False, "failed": failed}
    data = {cohort: cohort_dir(cohort, progress=TqdmProgress()) for cohort in sorted({c.cohort for c in todo}, key=COHORTS.index)}
    bar = tqdm(total=len(todo), desc="grid", unit="cell", file=sys.stderr, position=0, dynamic_ncols=True)
    current = None
    try:
        for k, cell in enumerate(todo, 1):
            current = cell
            bar.set_postfix_str(f"{cell.cohort}/{cell.name}")
            progress = CellProgress()
            try:
                result = run_cell(cell, data[cell.cohort], out, spec.options, device, progress)
            finally:
                progress.close()
            head = f"[{k}/{len(todo)}] {cell.cohort}/{cell.name}"
            if result["status"] == "done":
                tqdm.write(f"{head}: test MAE {result['mae']:.3f} d, {result['seconds']:.0f} s", file=sys.stderr)
            else:
                failed.append(f"{cell.cohort}/{cell.name}")
                tqdm.write(f"{head}: FAILED after {result['seconds']:.0f} s: {result['error']}", file=sys.stderr)
            bar.update(1)
            if fail_fast and result["status"] == "failed":
                say(f"stopped after the failed cell {cell.cohort}/{cell.name} (--fail-fast)")
                return {"completed": False, "interrupted": False, "failed": failed}
    except KeyboardInterrupt:
        bar.close()
        say(
            f"\ninterrupted during {current.cohort}/{current.name} ({bar.n} of {len(todo)} cells finished this time); "
            f"its partial run directory was removed. Run the same command again to resume from there."
        )
        return {"completed": False, "interrupted": True, "failed": failed}
    bar.close()
    if failed:
        say(f"{len(failed)} cell(s) failed (see OUT/<cohort>/<cell>.failed.json); they are tried again on the next invocation")
    return {"completed": True, "interrupted": False, "failed": failed}
