"""Shared fixtures: a tiny cohort and model (fast), and the default cohort the app uses.

The whole suite uses a private cache directory (``LEMOF_CACHE_DIR``) so it never touches a
user's cache. It is removed when the session ends (about 0.5 GB: the default cohorts); set
``LEMOF_TEST_CACHE`` to a directory to keep and reuse it between runs instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

_KEEP_CACHE = bool(os.environ.get("LEMOF_TEST_CACHE"))
_CACHE = os.environ.get("LEMOF_TEST_CACHE") or tempfile.mkdtemp(prefix="lemof-test-cache-")
os.environ["LEMOF_CACHE_DIR"] = _CACHE  # before anything from lemof reads it


def pytest_sessionfinish(session, exitstatus):
    """Remove the private cache (unless ``LEMOF_TEST_CACHE`` asked to keep it)."""
    if not _KEEP_CACHE:
        shutil.rmtree(_CACHE, ignore_errors=True)

REPO = Path(__file__).resolve().parent.parent
SHIPPED_RUN = REPO / "assets" / "models" / "synthetic-gru+resnet1d"
SHIPPED_PHYSIONET_RUN = REPO / "assets" / "models" / "physionet2012-gru+resnet1d"


def tiny_config(**overrides):
    from lemof.training.config import TrainConfig

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


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory) -> Path:
    from lemof.data.synthetic import generate_synthetic

    path = tmp_path_factory.mktemp("cohorts") / "tiny"
    generate_synthetic(path, n=300, seed=1)
    return path


@pytest.fixture(scope="session")
def tiny_run(tiny_cohort, tmp_path_factory) -> Path:
    from lemof.training.pipeline import train

    out = tmp_path_factory.mktemp("runs") / "tiny-run"
    train(tiny_cohort, out, tiny_config(), device="cpu")
    return out


@pytest.fixture(scope="session")
def gbm_run(tiny_cohort, tmp_path_factory) -> Path:
    """The tabular peer (LightGBM on summaries) trained on the tiny cohort (a few seconds)."""
    from lemof.training.pipeline import train

    out = tmp_path_factory.mktemp("runs") / "tiny-gbm"
    train(tiny_cohort, out, tiny_config(fusion="gbm"), device="cpu")
    return out


@pytest.fixture(scope="session")
def hostile_cohort(tiny_cohort, tmp_path_factory) -> Path:
    """The tiny cohort with script-injection payloads in every text field (``tests/fixtures/hostile_bundle.py``)."""
    from tests.fixtures.hostile_bundle import write_hostile_bundle

    return write_hostile_bundle(tiny_cohort, tmp_path_factory.mktemp("hostile") / "hostile-cohort")


@pytest.fixture(scope="session")
def hostile_runs(hostile_cohort, tmp_path_factory) -> Path:
    """A runs folder with a tiny LeMoF run and the LightGBM peer trained on the hostile cohort,
    their folders named with payloads too (``LEMOF_RUN_ID``, ``GBM_RUN_ID``)."""
    from lemof.training.pipeline import train
    from tests.fixtures.hostile_bundle import GBM_RUN_ID, LEMOF_RUN_ID

    root = tmp_path_factory.mktemp("hostile-runs")
    train(hostile_cohort, root / LEMOF_RUN_ID, tiny_config(), device="cpu")
    train(hostile_cohort, root / GBM_RUN_ID, tiny_config(fusion="gbm"), device="cpu")
    return root


@pytest.fixture(scope="session")
def default_cohort() -> Path:
    """The app's default synthetic cohort (4,000 stays, seed 0), generated once per session."""
    from lemof.data.synthetic import ensure_synthetic

    return ensure_synthetic()


@pytest.fixture(scope="session")
def physionet_cohort() -> Path:
    """The app's built-in PhysioNet 2012 cohort, built once per session from the vendored copy."""
    from lemof.runs.catalog import PHYSIONET_KEY, ensure_cohort

    return ensure_cohort(PHYSIONET_KEY)


@pytest.fixture(scope="session")
def stay_ids(tiny_cohort) -> dict[str, int]:
    """A few stay ids of the tiny cohort: with and without a biosignal."""
    from lemof.data.bundle import open_bundle

    stays = open_bundle(tiny_cohort).stays
    with_sig = stays.loc[stays["has_signal"], "stay_id"].to_numpy()
    without = stays.loc[~stays["has_signal"], "stay_id"].to_numpy()
    return {"with_signal": int(with_sig[0]), "without_signal": int(without[0]), "another": int(with_sig[1])}


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


def random_bytes(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright, one per test module (skipped without it, a failure
    under ``LEMOF_REQUIRE_BROWSER=1``, as in CI)."""
    import shutil

    from browser import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        if os.environ.get("LEMOF_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM} (install Debian's chromium)")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def lemof_cli(*args: str, env: dict | None = None, timeout: float = 300):
    """``python -m lemof ARGS`` in the repository, output captured; ``env`` adds to the environment."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "lemof", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
