"""Progress reporting shared by the CLI (tqdm bars) and the app (a JSON file it polls)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

from lemof.paths import write_json_atomic

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


class FileProgress:
    """Writes the latest progress to a JSON file atomically (for a UI polling it)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.started = time.time()

    def __call__(self, stage: str, done: int, total: int, message: str = "") -> None:
        write_json_atomic(
            self.path,
            {"stage": stage, "done": done, "total": total, "message": message, "elapsed_s": round(time.time() - self.started, 1)},
        )


def fan_out(*targets: ProgressFn | None) -> ProgressFn:
    """One progress function that calls every non-None target."""
    live = [t for t in targets if t is not None]

    def call(stage: str, done: int, total: int, message: str = "") -> None:
        for t in live:
            t(stage, done, total, message)

    return call
