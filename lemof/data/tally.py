"""What a cohort loader dropped, and why, and what it counted: one tally for every loader.

Stored in ``provenance.json`` as ``dropped`` (a list of ``{what, reason, count}``) and
``counts`` (``{"what: detail": n}``). A loader never drops anything silently: every row, file
or stay it leaves out is counted here with its reason.
"""

from __future__ import annotations

from collections import Counter


class Tally:
    def __init__(self) -> None:
        self._dropped: Counter = Counter()
        self._counts: Counter = Counter()

    def drop(self, what: str, reason: str, n: int = 1) -> None:
        """``n`` items of kind ``what`` (rows, files, stays…) were left out because of ``reason``."""
        if n:
            self._dropped[(what, reason)] += int(n)

    def count(self, what: str, n: int = 1) -> None:
        """An informational count (items kept, matched, repaired), not a drop."""
        self._counts[what] += int(n)

    def record(self, key: str, n: int) -> None:
        """A count named ``"drop: what: reason"`` or ``"count: what"`` (e.g. a SQL column alias)."""
        kind, _, rest = key.partition(": ")
        if kind == "drop":
            what, _, reason = rest.partition(": ")
            self.drop(what, reason, n)
        elif kind == "count":
            self.count(rest, n)
        else:
            raise ValueError(f"tally key must start with 'drop: ' or 'count: ', got {key!r}")

    def dropped(self) -> list[dict]:
        return [{"what": w, "reason": r, "count": c} for (w, r), c in sorted(self._dropped.items()) if c]

    def counts(self) -> dict[str, int]:
        return {k: int(v) for k, v in sorted(self._counts.items())}
