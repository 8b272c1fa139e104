"""What the app can offer: known cohorts and trained runs, read from their JSON only.

Runs live in ``assets/models/`` (shipped), ``<cache>/runs/`` (trained by the user) and any
directory listed in ``LEMOF_RUNS``; cohorts are the built-in ones (the synthetic cohort and
PhysioNet 2012 from the vendored conversion, both built into the cache on first use), bundles
under ``<cache>/cohorts/`` and any listed in ``LEMOF_COHORTS`` (``os.pathsep``-separated).
A model is offered only for the cohort family it was trained on.

Those folders are operator-chosen (the server's environment and cache, see ``lemof.paths``); a
link's ``?cohort=`` and ``?run=`` are only matched against the keys and run ids listed here,
never turned into a path.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from typing import Any

from lemof.data.synthetic import default_cohort_dir
from lemof.paths import cache_dir
from lemof.progress import Progress
from lemof.errors import CohortError
from lemof.runs.layout import CONFIG_FILE
from lemof.runs.metrics_file import METRICS_FILE

REPO_ROOT = Path(__file__).resolve().parents[2]  # lemof/<package>/<module>.py
SHIPPED_MODELS = REPO_ROOT / "assets" / "models"
DEFAULT_SYNTHETIC_KEY = "synthetic"
DEFAULT_SYNTHETIC_N = 4000
DEFAULT_SYNTHETIC_SEED = 0
PHYSIONET_KEY = "physionet2012"
PHYSIONET_SET_KEYS = {"a": "physionet2012-a", "b": "physionet2012-b"}  # one challenge set each, for external validation
EXTERNAL_SYNTHETIC_SEED = 1  # a second draw of the synthetic cohort: external to every run trained on seed 0
EXTERNAL_SYNTHETIC_KEY = f"synthetic-seed{EXTERNAL_SYNTHETIC_SEED}"


@dataclass(frozen=True)
class RunEntry:
    run_id: str
    path: Path
    source: str
    cohort_name: str
    encoders: str
    fusion: str
    shipped: bool
    test_mae_days: float | None
    train_median_mae_days: float | None  # test MAE of predicting the training median

    @property
    def label(self) -> str:
        mae = f", test MAE {self.test_mae_days:.2f} d" if self.test_mae_days is not None else ""
        what = self.encoders if self.fusion == "lemof" else f"{self.fusion}, {self.encoders}"
        return f"{self.run_id} ({what}{mae}){' · shipped' if self.shipped else ''}"


@dataclass(frozen=True)
class CohortEntry:
    key: str
    label: str
    source: str
    path: Path
    builtin: tuple[tuple[str, Any], ...] | None = None  # how a built-in cohort is built on first use

    @property
    def ready(self) -> bool:
        return (self.path / "provenance.json").exists()


def build_cohort(entry: CohortEntry, progress: Progress | None = None) -> None:
    """Build a built-in cohort into ``entry.path`` (no-op if another process finished first)."""
    from lemof.data.physionet2012 import build_physionet2012  # lazy: a cohort builder loads only when a cohort is built
    from lemof.data.synthetic import generate_synthetic  # lazy: a cohort builder loads only when a cohort is built

    spec = dict(entry.builtin or ())
    kind = spec.pop("kind", None)
    try:
        if kind == "synthetic":
            generate_synthetic(entry.path, spec["n"], spec["seed"], progress=progress)
        elif kind == "physionet2012":
            build_physionet2012(None, entry.path, progress=progress, sets=spec.get("sets"))
        else:
            raise CohortError(f"cohort {entry.label} is missing at {entry.path} and cannot be built here")
    except FileExistsError:
        pass


def _env_paths(name: str) -> list[Path]:
    return [Path(p).expanduser() for p in os.environ.get(name, "").split(os.pathsep) if p.strip()]


def run_directories() -> list[Path]:
    return [SHIPPED_MODELS, cache_dir() / "runs", *_env_paths("LEMOF_RUNS")]


def list_runs(source: str | None = None) -> tuple[list[RunEntry], list[str]]:
    """Runs found (optionally only those for cohort family ``source``) and one line per unreadable one."""
    entries, problems = [], []
    seen: set[Path] = set()
    for root in run_directories():
        if not root.is_dir():
            continue
        candidates = [root] if (root / CONFIG_FILE).exists() else sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        for path in candidates:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
                metrics_path = path / METRICS_FILE
                metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.exists() else {}
                entry = RunEntry(
                    run_id=path.name,
                    path=path,
                    source=str(config["cohort"]["source"]),
                    cohort_name=str(config["cohort"]["name"]),
                    encoders=str(config["train"]["encoders"]) if config.get("fusion") != "gbm" else "summary statistics",
                    fusion=str(config.get("fusion", "lemof")),
                    shipped=root == SHIPPED_MODELS,
                    test_mae_days=metrics.get("test", {}).get("model", {}).get("mae_days"),
                    train_median_mae_days=metrics.get("test", {}).get("baseline_train_median", {}).get("mae_days"),
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                problems.append(f"run directory {path} is unreadable ({type(exc).__name__}: {exc})")
                continue
            if source is None or entry.source == source:
                entries.append(entry)
    return entries, problems


def run_id_from_link(value: str, ids: list[str]) -> str:
    """A run id as a link gave it: a '+' typed into a URL arrives as a space
    (``synthetic-gru+resnet1d`` → ``synthetic-gru resnet1d``), so one that only matches with
    '+' restored is taken as meant. Returns ``value`` unchanged when neither matches."""
    if value in ids:
        return value
    restored = value.replace(" ", "+")
    return restored if restored in ids else value


def preferred_order(runs: list[RunEntry], cohort_name: str | None = None) -> list[RunEntry]:
    """Runs in the order a user meets them, the default first: LeMoF before its ablations and the
    baselines, the default encoders (gru+resnet1d) first, runs trained on this very cohort before
    others of its family, shipped runs before one's own, then by name."""
    def key(r: RunEntry) -> tuple:
        return (r.fusion != "lemof", r.encoders != "gru+resnet1d", cohort_name is not None and r.cohort_name != cohort_name, not r.shipped, r.run_id)

    return sorted(runs, key=key)


def _bundle_entry(path: Path, key: str | None = None) -> CohortEntry | None:
    try:
        prov = json.loads((path / "provenance.json").read_text(encoding="utf-8"))
        source, name = str(prov["source"]), str(prov.get("name", path.name))
    except (OSError, ValueError, KeyError):
        return None
    label = f"{name} ({source})" + ("" if path.name == name else f" · folder {path.name}")  # two copies never look alike
    return CohortEntry(key or f"dir:{path}", label, source, path)


def physionet_cohort_dir(chosen_set: str | None = None) -> Path:
    """Where the vendored PhysioNet 2012 bundle is cached: sets a+b, or one set (``"a"``, ``"b"``)."""
    from lemof.data.physionet2012 import BUILDER_VERSION  # lazy: listing cohorts does not load the PhysioNet builder (pandas)

    part = "" if chosen_set is None else f"-set{chosen_set}"
    return cache_dir() / "cohorts" / f"physionet2012{part}-vendored-v{BUILDER_VERSION}"


def _builtin_cohorts() -> list[CohortEntry]:
    """The synthetic cohort (the default), PhysioNet 2012 (sets a+b), and for external validation a
    second synthetic draw and each PhysioNet set alone; each built into the cache on first use."""
    n = DEFAULT_SYNTHETIC_N

    def synthetic(key: str, seed: int, note: str) -> CohortEntry:
        return CohortEntry(key, f"Synthetic ICU cohort ({n:,} stays, seed {seed}){note}", "synthetic", default_cohort_dir(n, seed),
                           (("kind", "synthetic"), ("n", n), ("seed", seed)))

    def physionet(key: str, chosen_set: str | None, note: str) -> CohortEntry:
        builtin = (("kind", "physionet2012"),) + ((("sets", (chosen_set,)),) if chosen_set else ())
        return CohortEntry(key, f"PhysioNet/CinC Challenge 2012 (real ICU data, {note})", "physionet2012",
                           physionet_cohort_dir(chosen_set), builtin)

    return [
        synthetic(DEFAULT_SYNTHETIC_KEY, DEFAULT_SYNTHETIC_SEED, ""),
        physionet(PHYSIONET_KEY, None, "sets a+b"),
        synthetic(EXTERNAL_SYNTHETIC_KEY, EXTERNAL_SYNTHETIC_SEED, " · another draw, for external validation"),
        *(physionet(key, s, f"set {s} only, for external validation") for s, key in PHYSIONET_SET_KEYS.items()),
    ]


def cohort_entry(key: str) -> CohortEntry:
    """The catalog entry of a built-in cohort (e.g. ``PHYSIONET_KEY``); ``CohortError`` if unknown."""
    for entry in _builtin_cohorts():
        if entry.key == key:
            return entry
    raise CohortError(f"no built-in cohort {key!r}; known: {', '.join(e.key for e in _builtin_cohorts())}")


def ensure_cohort(key: str, progress: Progress | None = None) -> Path:
    """The bundle directory of a built-in cohort, built into the cache first if it is not there."""
    entry = cohort_entry(key)
    if not entry.ready:
        build_cohort(entry, progress=progress)
    return entry.path


def list_cohorts() -> list[CohortEntry]:
    """The built-in cohorts first (the synthetic default at the top), then bundles found on disk."""
    entries = _builtin_cohorts()
    seen = {e.path.resolve() for e in entries}
    roots = [cache_dir() / "cohorts"]
    for root in roots:
        if root.is_dir():
            for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
                if path.resolve() not in seen and (entry := _bundle_entry(path)) is not None:
                    seen.add(path.resolve())
                    entries.append(entry)
    for path in _env_paths("LEMOF_COHORTS"):
        if path.resolve() not in seen and (entry := _bundle_entry(path)) is not None:
            seen.add(path.resolve())
            entries.append(entry)
    return entries
