"""A fresh Python process: a snippet whose last JSON line is its result, or the ``lemof`` CLI.

Both run in the repository root, so the child imports ``lemof``, ``testkit`` and ``benchmarks``
as the parent does (``python -c`` puts the working directory first on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from testkit.paths import REPO


def run_json(code: str, timeout: float | None = None, env: dict | None = None) -> dict:
    """Run ``code`` in a fresh ``python -c``; return the last line of its output that is a JSON
    object (a failure raises ``CalledProcessError`` with the child's stderr)."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, proc.args, proc.stdout, proc.stderr)
    return json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])


def lemof_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m lemof ARGS`` in the repository, output captured; ``env`` adds to the environment."""
    return subprocess.run([sys.executable, "-m", "lemof", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
