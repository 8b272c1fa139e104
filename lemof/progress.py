"""Progress of long jobs: one interface for every job (cohort builds, training, benchmarks).

A job calls ``progress(stage, done, total, message)``: ``stage`` names the step ("generating
stays", "stage 1: EHR encoder"), ``done`` of ``total`` units of it are finished. The command
line draws tqdm bars (``TqdmProgress``), the app a progress bar, a training job started from
the app writes a progress file (``FileProgress``) that the app polls.
"""

from __future__ import annotations

import sys
from typing import Protocol
from lemof.paths import write_json_atomic


class Progress(Protocol):
    """``info`` may carry ``epoch``, ``train_loss``, ``val_loss`` and ``stays_per_s`` (training loops)."""

    def __call__(self, stage: str, done: int, total: int, message: str = "", **info) -> None: ...


class TqdmProgress:
    """One tqdm bar per stage, on stderr."""

    def __init__(self, disable: bool = False, unit: str = "it"):
        self.disable = disable
        self.unit = unit
        self._bars: dict = {}

    def __call__(self, stage: str, done: int, total: int, message: str = "", **info) -> None:
        from tqdm import tqdm

        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = tqdm(total=total, desc=stage, unit=self.unit, file=sys.stderr, disable=self.disable, leave=True)
        bar.total = total
        if message:
            bar.set_postfix_str(message, refresh=False)
        bar.update(min(done, total) - bar.n)
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


class FileProgress:
    """Writes the progress of a training job to a JSON file, atomically (temp file + rename), so
    the app can poll it from another process. Also keeps each stage's loss curve and throughput.

    The file holds: ``status`` (running | done | failed | cancelled), ``stage``, ``done``,
    ``total``, ``message``, ``stages`` (every stage seen, in order, with its last done/total and
    loss history), ``started``/``updated`` (epoch seconds), ``eta_s`` (of the current stage),
    ``stays_per_s``, ``device``, ``world_size`` and, at the end, ``run`` or ``error``.
    """

    def __init__(self, path, *, device: str = "", world_size: int = 1, plan: list[str] | None = None, min_interval_s: float = 0.5):
        import time
        from pathlib import Path

        self.path = Path(path)
        self.state = {
            "status": "running", "stage": None, "done": 0, "total": 0, "message": "", "stages": {},
            "plan": list(plan or []), "started": time.time(), "updated": time.time(), "eta_s": None,
            "stays_per_s": None, "device": device, "world_size": world_size,
        }
        self._stage_started: dict[str, float] = {}
        self._last_write = 0.0
        self.min_interval_s = min_interval_s
        self._write(force=True)

    def __call__(self, stage: str, done: int, total: int, message: str = "", **info) -> None:
        import time

        now = time.time()
        started = self._stage_started.setdefault(stage, now)
        entry = self.state["stages"].setdefault(stage, {"done": 0, "total": total, "history": []})
        entry.update(done=int(done), total=int(total))
        if "epoch" in info:
            entry["history"].append({k: info[k] for k in ("epoch", "train_loss", "val_loss") if k in info})
        if info.get("stays_per_s"):
            self.state["stays_per_s"] = float(info["stays_per_s"])
        elapsed = now - started
        eta = elapsed / done * (total - done) if 0 < done < total else (0.0 if done >= total else None)
        self.state.update(stage=stage, done=int(done), total=int(total), message=message, updated=now, eta_s=eta)
        self._write(force="epoch" in info or done >= total)

    def finish(self, status: str, **fields) -> None:
        import time

        self.state.update(status=status, updated=time.time(), eta_s=0.0, **fields)
        self._write(force=True)

    def _write(self, force: bool = False) -> None:
        import time


        if force or time.time() - self._last_write >= self.min_interval_s:
            write_json_atomic(self.path, self.state)
            self._last_write = time.time()
