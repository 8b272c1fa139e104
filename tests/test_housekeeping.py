"""The test suite cleans up after itself."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO


def test_the_private_test_cache_is_removed_at_the_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("LEMOF_TEST_CACHE", "LEMOF_CACHE_DIR")}
    env["TMPDIR"] = str(tmp_path)  # where the inner session makes its private cache
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_models.py::test_unknown_encoder_lists_the_known_ones"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("lemof-test-cache-")]
    kept = tmp_path / "kept"
    env["LEMOF_TEST_CACHE"] = str(kept)
    kept.mkdir()
    (kept / "marker").write_text("keep me")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_models.py::test_unknown_encoder_lists_the_known_ones"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0 and (kept / "marker").exists(), "LEMOF_TEST_CACHE is kept"
