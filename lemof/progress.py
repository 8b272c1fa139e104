"""Progress of long jobs: one interface for every job (cohort builds, training, benchmarks).

A job calls ``progress(stage, done, total, message)``: ``stage`` names the step ("generating
stays", "stage 1: EHR encoder"), ``done`` of ``total`` units of it are finished. The command
line draws tqdm bars (``TqdmProgress``), the app a progress bar, a training job started from
the app writes a progress file.
"""

from __future__ import annotations

import sys
from typing import Protocol


class Progress(Protocol):
    def __call__(self, stage: str, done: int, total: int, message: str = "") -> None: ...


class TqdmProgress:
    """One tqdm bar per stage, on stderr."""

    def __init__(self, disable: bool = False, unit: str = "it"):
        self.disable = disable
        self.unit = unit
        self._bars: dict = {}

    def __call__(self, stage: str, done: int, total: int, message: str = "") -> None:
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
