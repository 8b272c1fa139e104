"""Where the repository and its shipped runs are."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "app.py"
SHIPPED_RUN = REPO / "assets" / "models" / "synthetic-gru+resnet1d"
SHIPPED_PHYSIONET_RUN = REPO / "assets" / "models" / "physionet2012-gru+resnet1d"


def shipped_runs(source: str, kind: str | None = None) -> list:
    """The catalogue entries of the runs shipped for cohort family ``source``, in the catalogue's
    order; ``kind`` "lemof" keeps the LeMoF runs, any other kind the others (baselines, gbm)."""
    from lemof import list_runs  # lazy: the paths above need no library

    entries = [e for e in list_runs(source=source)[0] if e.shipped]
    if kind is not None:
        entries = [e for e in entries if (e.fusion == "lemof") == (kind == "lemof")]
    return entries
