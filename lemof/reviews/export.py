"""The reviews table (``ReviewStore.reviews``) as CSV or Parquet, for the information-governance
office or a reader study. CSV cells that a spreadsheet would read as a formula are neutralised
exactly as the audit export does (``lemof.audit.export.spreadsheet_cell``); times are ISO 8601 UTC."""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from pathlib import Path
from typing import TextIO

import pandas as pd

from lemof.audit.export import spreadsheet_cell
from lemof.paths import write_bytes_atomic


def _value(value):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    if hasattr(value, "item"):  # a numpy scalar
        return value.item()
    return value


def write_csv(df: pd.DataFrame, stream: TextIO) -> int:
    """Write ``df`` (header, then one row per review) to ``stream``; returns the number of rows."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([spreadsheet_cell(str(c)) for c in df.columns])
    for row in df.itertuples(index=False, name=None):
        writer.writerow([spreadsheet_cell(_value(v)) for v in row])
    return len(df)


def write_parquet(df: pd.DataFrame, path: str | Path) -> int:
    """Write ``df`` to ``path`` as Parquet, atomically; returns the number of rows."""
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    write_bytes_atomic(Path(path), buffer.getvalue())
    return len(df)
