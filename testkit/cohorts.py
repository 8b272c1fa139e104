"""Cohorts and configurations for tests and benchmarks: the tiny ones (seconds) and the app's default.

The session fixtures in ``tests/conftest.py`` call these; the benchmarks use the same functions, so
"the tiny cohort" or "the default cohort" means one thing everywhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TINY_STAYS = 300
TINY_SEED = 1


def tiny_config(**overrides):
    """A training configuration small enough to train on the tiny cohort in seconds (``overrides`` win)."""
    from lemof.runs.train_config import TrainConfig  # lazy: imports torch

    options = dict(
        ehr_params={"hidden": 16, "layers": 2},
        sig_params={"channels": [8, 8, 16]},
        d_model=16,
        attention_heads=2,
        stacker_hidden=8,
        epochs_stage1=2,
        epochs_stage3=2,
        batch_size=64,
        seed=0,
    )
    options.update(overrides)
    return TrainConfig(**options)


def write_tiny_cohort(path: Path, seed: int = TINY_SEED) -> Path:
    """A synthetic cohort of ``TINY_STAYS`` stays at ``path`` (about a second)."""
    from lemof.data.synthetic import generate_synthetic  # lazy: tests that need no cohort import nothing

    generate_synthetic(path, n=TINY_STAYS, seed=seed)
    return path


def default_cohort() -> Path:
    """The app's default synthetic cohort (4,000 stays, seed 0), generated into the cache on first use."""
    from lemof.data.synthetic import ensure_synthetic  # lazy: see write_tiny_cohort

    return ensure_synthetic()


def physionet_cohort() -> Path:
    """The app's built-in PhysioNet 2012 cohort, built into the cache from the vendored copy on first use."""
    from lemof.runs.catalog import PHYSIONET_KEY, ensure_cohort  # lazy: see write_tiny_cohort

    return ensure_cohort(PHYSIONET_KEY)


def copy_bundle(src: Path, dst: Path, link: tuple[str, ...] = ()) -> Path:
    """A writable copy of a bundle; files named in ``link`` are symlinked instead (large, unchanged)."""
    import shutil

    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.name in link:
            (dst / f.name).symlink_to(f.resolve())
        else:
            shutil.copy2(f, dst / f.name)
            (dst / f.name).chmod(0o644)
    return dst


def inject_nan(bundle_dir: Path, which: int = 0) -> tuple[int, int, int]:
    """Put a NaN into the ``which``-th observed EHR value of a bundle copy; return (row, step, feature)."""
    values = np.load(bundle_dir / "ehr_values.npy")
    mask = np.load(bundle_dir / "ehr_mask.npy")
    i, t, j = (int(v) for v in np.argwhere(mask == 1)[which])
    values[i, t, j] = np.nan
    np.save(bundle_dir / "ehr_values.npy", values)
    return i, t, j
