"""One ECG record read from WFDB files into a small typed object, whatever its rate, leads or length.

Reading uses wfdb-python (``wfdb.rdrecord``, PhysioNet's reference reader; Xie et al., wfdb-python,
PhysioNet), which handles every WFDB storage format and multi-segment records. Lead names are
normalised to the standard spelling (``I, II, III, aVR, aVL, aVF, V1..V6``) whatever their case
(PTB writes ``i``, ``avr``, ``v1``); a name that is not a standard lead (a monitor's ``V``, a Frank
lead ``vx``) is kept as it is. Signals are returned in millivolts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lemof.errors import EcgRecordError

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_BY_LOWER = {name.lower(): name for name in STANDARD_LEADS}
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3}


def normalise_lead(name: str) -> str:
    """The standard spelling of a lead name (``avr`` → ``aVR``, ``v1`` → ``V1``); others unchanged."""
    key = str(name).strip()
    return _BY_LOWER.get(key.lower(), key)


@dataclass(frozen=True)
class EcgRecord:
    """An ECG: ``signals`` (n_leads, n_samples) float in mV (NaN where the record has no valid
    sample), ``leads`` (normalised names, one per row), ``fs_hz``, the header ``comments``."""

    signals: np.ndarray
    leads: tuple[str, ...]
    fs_hz: float
    comments: tuple[str, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        if self.signals.ndim != 2 or self.signals.shape[0] != len(self.leads):
            raise EcgRecordError(f"ECG {self.name}: signals of shape {self.signals.shape} do not match {len(self.leads)} leads")
        if not self.fs_hz > 0:
            raise EcgRecordError(f"ECG {self.name}: sampling rate {self.fs_hz} is not positive")

    @property
    def n_samples(self) -> int:
        return int(self.signals.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs_hz

    def lead(self, name: str) -> np.ndarray | None:
        """The signal of one lead (any spelling), or None when the record does not have it."""
        key = normalise_lead(name)
        return self.signals[self.leads.index(key)] if key in self.leads else None


def _record_base(path: str | Path) -> Path:
    p = Path(path)
    return p.with_suffix("") if p.suffix.lower() in (".hea", ".dat", ".xyz", ".mat") else p


def read_record(path: str | Path) -> EcgRecord:
    """Read the WFDB record at ``path`` (with or without ``.hea``); ``EcgRecordError`` (one line)
    when it is missing, unreadable or holds no signal."""
    base = _record_base(path)
    if not base.with_name(base.name + ".hea").is_file():
        raise EcgRecordError(f"no WFDB record at {path} (expected the header file {base.name}.hea)")
    try:
        import wfdb  # lazy: wfdb (and its pandas/matplotlib imports) only when a record is read

        rec = wfdb.rdrecord(str(base), physical=True)
    except Exception as exc:  # wfdb raises many types (ValueError, IndexError, FileNotFoundError, ...)
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise EcgRecordError(f"cannot read the WFDB record {path}: {detail[:200]}") from None
    signal = rec.p_signal
    if signal is None or signal.ndim != 2 or signal.size == 0:
        raise EcgRecordError(f"the WFDB record {path} holds no signal")
    if not rec.fs or rec.fs <= 0:
        raise EcgRecordError(f"the WFDB record {path} has no sampling rate")
    units = list(rec.units or ["mV"] * signal.shape[1])
    scale = np.array([_TO_MV.get(str(u).strip().lower(), 1.0) for u in units])
    signals = (np.asarray(signal, dtype=np.float64) * scale[None, :]).T
    leads = tuple(normalise_lead(n) for n in (rec.sig_name or [f"ch{i}" for i in range(signals.shape[0])]))
    return EcgRecord(signals=signals, leads=leads, fs_hz=float(rec.fs), comments=tuple(rec.comments or ()), name=base.name)
