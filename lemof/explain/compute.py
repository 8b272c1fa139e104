"""Bounded concurrency for work that runs the network, across every session of a server.

At most ``LEMOF_COMPUTE_WORKERS`` (default: half the CPU cores, at least 1) such computations run
at once; the others queue, so eight visitors do not run eight passes on two cores at once.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

_WORKERS = max(1, int(os.environ.get("LEMOF_COMPUTE_WORKERS", "0")) or (os.cpu_count() or 2) // 2)
_SLOTS = threading.BoundedSemaphore(_WORKERS)
_depth = threading.local()


@contextmanager
def compute_slot() -> Iterator[None]:
    """Hold one of the server's compute slots while the network runs (re-entrant per thread:
    a computation that needs another part does not wait for a second slot)."""
    depth = getattr(_depth, "n", 0)
    if depth == 0:
        _SLOTS.acquire()
    _depth.n = depth + 1
    try:
        yield
    finally:
        _depth.n = depth
        if depth == 0:
            _SLOTS.release()


def compute_workers() -> int:
    return _WORKERS


