"""The benchmarks' results as the app reads them: the grids' reports and the level-pair result,
from ``benchmarks/results/`` (``$LEMOF_BENCHMARK_RESULTS`` to read another copy). Only JSON is read;
a file that cannot be read is reported, not fatal."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

ENV = "LEMOF_BENCHMARK_RESULTS"
LEVEL_PAIRS_FILE = "level_pairs.json"


def results_dir() -> Path:
    """``$LEMOF_BENCHMARK_RESULTS``, else the repository's ``benchmarks/results``."""
    env = os.environ.get(ENV)
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "benchmarks" / "results"


@dataclass(frozen=True)
class ForestPanel:
    """One forest plot of a grid report: a cohort's test split, or an external target."""
    report: str      # the grid's folder, e.g. "grid-external"
    key: str         # the cohort, or "external_<cohort>" (what lemof.plots.evidence.forest_figure is told)
    title: str       # what a reader picks it by
    data: dict       # the report's section for it


@dataclass
class Evidence:
    panels: list[ForestPanel] = field(default_factory=list)
    level_pairs: dict | None = None
    problems: list[str] = field(default_factory=list)


def _read(path: Path, problems: list[str]) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{path.parent.name}/{path.name} cannot be read ({type(exc).__name__}: {exc})")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.parent.name}/{path.name} is not a JSON object")
        return None
    return data


def _seeds(report: dict) -> str:
    seeds = (report.get("grid") or {}).get("seeds") or []
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))}"


def read_evidence(root: Path | None = None) -> Evidence:
    """Every grid report (``grid*/report.json``) as forest panels, and ``level_pairs.json``."""
    root = Path(root) if root is not None else results_dir()
    out = Evidence()
    if not root.is_dir():
        out.problems.append(f"no benchmark results at {root}")
        return out
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("grid") and (p / "report.json").exists()):
        report = _read(folder / "report.json", out.problems)
        if report is None:
            continue
        for cohort, c in (report.get("cohorts") or {}).items():
            if isinstance(c, dict) and c.get("comparisons"):
                out.panels.append(ForestPanel(folder.name, cohort, f"{folder.name}: {cohort}, test stays ({_seeds(report)})", c))
        for cohort, c in (report.get("external") or {}).items():
            if isinstance(c, dict) and c.get("comparisons"):
                target = (c.get("bundle") or {}).get("name", "another cohort")
                out.panels.append(ForestPanel(folder.name, f"external_{cohort}", f"{folder.name}: trained on {cohort}, scored on every stay of {target} ({_seeds(report)})", c))
    if (root / LEVEL_PAIRS_FILE).exists():
        out.level_pairs = _read(root / LEVEL_PAIRS_FILE, out.problems)
    return out


def level_pairs_sentence(r: dict) -> str:
    """One cohort of ``level_pairs.json`` in a sentence: rank, spread, and the two paired differences."""
    rank, avg, val = r["shapley_rank"], r["shapley_minus_average_pair_days"], r["shapley_minus_validation_choice_days"]

    def ci(d: dict) -> str:
        return f"{d['estimate']:+.3f} d [{d['lo']:+.3f}, {d['hi']:+.3f}]"

    return (f"On {r['cohort']} ({len(r['seeds'])} seeds, {r['n_test_stays']:,} test stays) the {r['n_pairs']} level pairs span "
            f"{r['spread_days']:.3f} d of test MAE; stage 2's Shapley choice ranks {rank['rank']} of {rank['of']} (95 % interval "
            f"{rank['lo']}–{rank['hi']}); Shapley choice − the average pair (a random pair) {ci(avg)}, − the pair chosen on validation {ci(val)}.")
