"""Progress reporting for long jobs: a stage-aware callback and its tqdm implementation."""

from __future__ import annotations

import sys
from typing import Callable

# progress(stage, done, total, message)
ProgressFn = Callable[[str, int, int, str], None]


class TqdmProgress:
    """One tqdm bar per stage, on stderr."""

    def __init__(self, disable: bool = False):
        self.disable = disable
        self._bars: dict = {}

    def __call__(self, stage: str, done: int, total: int, message: str = "") -> None:
        from tqdm import tqdm

        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = tqdm(total=total, desc=stage, file=sys.stderr, disable=self.disable, leave=True)
        bar.total = total
        if message:
            bar.set_postfix_str(message, refresh=False)
        bar.update(min(done, total) - bar.n)
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
