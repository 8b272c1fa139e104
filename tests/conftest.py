"""Shared fixtures and the suite's markers.

Fixtures: a tiny cohort and models trained on it, the default cohort the app uses, the PhysioNet
cohort, a hostile cohort, a MIMIC look-alike (the generators are in ``testkit.cohorts`` and
``tests/fixtures/``; helpers shared with the benchmarks are in ``testkit``, not here).

Markers (registered in ``pyproject.toml``), set here at collection by folder and fixture:

- ``browser``: every test under ``tests/browser/`` (a real server in Chromium);
- ``slow``: every test that uses, directly or through another fixture, one of ``SLOW_FIXTURES``
  (a fixture that trains a model or builds a large cohort), and every test under ``tests/app/``
  (each runs the whole app script, most on the default cohort). A test that trains by itself, or
  through a fixture of its own module, carries ``@pytest.mark.slow`` by hand (``test_jobs``,
  ``test_finetune``, ``test_gbm``: seven tests); a new shared fixture that trains goes into
  ``SLOW_FIXTURES``.

``pytest -m "not slow and not browser"`` is the quick tier (README, "Tests").

The whole suite uses a private cache directory (``LEMOF_CACHE_DIR``) so it never touches a
user's cache. It is removed when the session ends (about 0.5 GB: the default cohorts); set
``LEMOF_TEST_CACHE`` to a directory to keep and reuse it between runs instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from testkit.cohorts import default_cohort as _default_cohort, physionet_cohort as _physionet_cohort, tiny_config, write_tiny_cohort

_KEEP_CACHE = bool(os.environ.get("LEMOF_TEST_CACHE"))
_CACHE = os.environ.get("LEMOF_TEST_CACHE") or tempfile.mkdtemp(prefix="lemof-test-cache-")
os.environ["LEMOF_CACHE_DIR"] = _CACHE  # before anything from lemof reads it

_TESTS = Path(__file__).resolve().parent

# Fixtures that train a model or build a large cohort (seconds to minutes each, once per session):
# a test that uses one, directly or through another fixture, is marked ``slow``.
SLOW_FIXTURES = frozenset({
    "tiny_run", "gbm_run", "fusion_runs",      # train on the tiny cohort
    "hostile_runs", "mimic_run",               # train on the hostile cohort, on the MIMIC look-alike
    "default_cohort", "physionet_cohort",      # the app's 4,000-stay cohort, the PhysioNet cohort
})


def pytest_collection_modifyitems(config, items):
    """Mark ``browser`` and ``slow`` tests by their folder and fixtures (see the module docstring)."""
    for item in items:
        folder = Path(str(item.path)).resolve().relative_to(_TESTS).parts[0]
        if folder == "browser":
            item.add_marker(pytest.mark.browser)
        if folder == "app" or SLOW_FIXTURES.intersection(item.fixturenames):
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session, exitstatus):
    """Remove the private cache (unless ``LEMOF_TEST_CACHE`` asked to keep it)."""
    if not _KEEP_CACHE:
        shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory) -> Path:
    return write_tiny_cohort(tmp_path_factory.mktemp("cohorts") / "tiny")


@pytest.fixture(scope="session")
def tiny_run(tiny_cohort, tmp_path_factory) -> Path:
    from lemof.training.pipeline import train  # lazy: imports torch

    out = tmp_path_factory.mktemp("runs") / "tiny-run"
    train(tiny_cohort, out, tiny_config(), device="cpu")
    return out


@pytest.fixture(scope="session")
def gbm_run(tiny_cohort, tmp_path_factory) -> Path:
    """The tabular peer (LightGBM on summaries) trained on the tiny cohort (a few seconds)."""
    from lemof.training.pipeline import train  # lazy: imports torch

    out = tmp_path_factory.mktemp("runs") / "tiny-gbm"
    train(tiny_cohort, out, tiny_config(fusion="gbm"), device="cpu")
    return out


class _RunsOnDemand(dict):
    """fusion -> run directory, trained (tiny recipe, seed 0) the first time a test asks for it, so
    a test that needs two fusions does not wait for twelve. LeMoF itself is the session's tiny_run
    (the same tiny recipe and seed), not trained a second time."""

    def __init__(self, cohort, root, lemof_run, gbm_run):
        super().__init__(lemof=lemof_run, gbm=gbm_run)
        self.cohort, self.root = cohort, root

    def __missing__(self, fusion):
        from lemof.training.pipeline import train  # lazy: imports torch

        self[fusion] = train(self.cohort, self.root / fusion, tiny_config(fusion=fusion), device="cpu")
        return self[fusion]


@pytest.fixture(scope="session")
def fusion_runs(tiny_cohort, tiny_run, gbm_run, tmp_path_factory) -> dict:
    """Every fusion method trained on the tiny cohort, on demand. LeMoF and gbm are the session's
    tiny_run and gbm_run (the same tiny recipe and seed)."""
    assert tiny_config().fusion == "lemof"
    return _RunsOnDemand(tiny_cohort, tmp_path_factory.mktemp("fusion-runs"), tiny_run, gbm_run)


@pytest.fixture(scope="session")
def other_draw(tmp_path_factory) -> Path:
    """Another cohort of the synthetic family (other seed, other size): external data for a run."""
    from lemof.data.synthetic import generate_synthetic  # lazy: see tiny_cohort

    path = tmp_path_factory.mktemp("cohorts") / "other-draw"
    generate_synthetic(path, n=120, seed=5)
    return path


@pytest.fixture(scope="session")
def hostile_cohort(tiny_cohort, tmp_path_factory) -> Path:
    """The tiny cohort with script-injection payloads in every text field (``tests/fixtures/hostile_bundle.py``)."""
    from tests.fixtures.hostile_bundle import write_hostile_bundle

    return write_hostile_bundle(tiny_cohort, tmp_path_factory.mktemp("hostile") / "hostile-cohort")


@pytest.fixture(scope="session")
def hostile_runs(hostile_cohort, tmp_path_factory) -> Path:
    """A runs folder with a tiny LeMoF run and the LightGBM peer trained on the hostile cohort,
    their folders named with payloads too (``LEMOF_RUN_ID``, ``GBM_RUN_ID``)."""
    from lemof.training.pipeline import train  # lazy: imports torch
    from tests.fixtures.hostile_bundle import GBM_RUN_ID, LEMOF_RUN_ID

    root = tmp_path_factory.mktemp("hostile-runs")
    train(hostile_cohort, root / LEMOF_RUN_ID, tiny_config(), device="cpu")
    train(hostile_cohort, root / GBM_RUN_ID, tiny_config(fusion="gbm"), device="cpu")
    return root


@pytest.fixture(scope="session")
def mimic_fixture(tmp_path_factory):
    """A MIMIC-IV look-alike in MIMIC's exact formats (100 patients, with ECGs): (root, truth)."""
    from tests.fixtures.mimic_fixture import write_mimic_fixture

    root = tmp_path_factory.mktemp("mimic")
    truth = write_mimic_fixture(root, n_patients=100, seed=0)
    return root, truth


@pytest.fixture(scope="session")
def mimic_bundle(mimic_fixture, tmp_path_factory) -> Path:
    """The bundle the MIMIC loader builds from ``mimic_fixture``."""
    from lemof.data.mimic import build_mimic  # lazy: imports DuckDB

    root, _ = mimic_fixture
    out = tmp_path_factory.mktemp("mimic-bundle") / "bundle"
    build_mimic(root / "mimic", out, ecg_dir=root / "ecg")
    return out


@pytest.fixture(scope="session")
def mimic_run(mimic_bundle, tmp_path_factory) -> Path:
    """A tiny LeMoF run trained on ``mimic_bundle``."""
    from lemof.training.pipeline import train  # lazy: imports torch

    return train(mimic_bundle, tmp_path_factory.mktemp("mimic-runs") / "mimic-tiny", tiny_config(), device="cpu")


@pytest.fixture(scope="session")
def default_cohort() -> Path:
    """The app's default synthetic cohort (4,000 stays, seed 0), generated once per session."""
    return _default_cohort()


@pytest.fixture(scope="session")
def physionet_cohort() -> Path:
    """The app's built-in PhysioNet 2012 cohort, built once per session from the vendored copy."""
    return _physionet_cohort()


@pytest.fixture(scope="session")
def stay_ids(tiny_cohort) -> dict[str, int]:
    """A few stay ids of the tiny cohort: with and without a biosignal."""
    from lemof.data.bundle import open_bundle

    stays = open_bundle(tiny_cohort).stays
    with_sig = stays.loc[stays["has_signal"], "stay_id"].to_numpy()
    without = stays.loc[~stays["has_signal"], "stay_id"].to_numpy()
    return {"with_signal": int(with_sig[0]), "without_signal": int(without[0]), "another": int(with_sig[1])}


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright, one per test module (skipped without it, a failure
    under ``LEMOF_REQUIRE_BROWSER=1``, as in CI)."""
    from testkit.browser import CHROMIUM, chromium, chromium_found

    if not chromium_found():
        if os.environ.get("LEMOF_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM} (install Debian's chromium)")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    with chromium() as b:
        yield b


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server for the session (``testkit.postgres``): the URL of its ``lemof``
    database. Skipped without Debian's postgresql, a failure under ``LEMOF_REQUIRE_POSTGRES=1`` (as in CI)."""
    from testkit.postgres import REQUIRE_ENV, binaries, postgres_server

    if binaries() is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail("PostgreSQL not found (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin): install Debian's postgresql")
        pytest.skip("PostgreSQL not found (install Debian's postgresql)")
    with postgres_server() as url:
        yield url
