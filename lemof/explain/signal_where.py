"""Where in the biosignal: one answer for the drivers' sentence, the shading of the ECG sheet and
the page's story, and how it relates to where the model's attention went.

Two different questions, and the page says which is which:

- **attribution** (Integrated Gradients against typical stays): how much each moment of this
  recording changed the prediction. It is summed in windows (1 s of an ECG; a tenth of a long
  series) and the window with the largest |sum| is named, with its leads.
- **attention** (cross-modal attention the EHR tokens pay to the biosignal tokens): where the
  model read. Attention weights are not a measure of importance (Jain & Wallace, "Attention is not
  Explanation", NAACL 2019; Wiegreffe & Pinter, EMNLP 2019): the two may differ and then say
  different things.

The first and last part of a recording (``EDGE_FRACTION`` of it, 0.5 s of a 10 s ECG) are left
out of both: the convolutional encoder zero-pads there, and the attribution of a padded edge says
more about the padding than about the patient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EDGE_FRACTION = 0.05  # of the recording's span, at each end
N_WINDOWS = 10


@dataclass(frozen=True)
class Where:
    lo: float  # seconds
    hi: float
    leads: list[str]
    in_hours: bool

    def span(self) -> str:
        if self.in_hours:
            return f"hours {self.lo / 3600:.0f}–{self.hi / 3600:.0f}"
        return f"{self.lo:.1f}–{self.hi:.1f} s"


def _inner(seconds: np.ndarray) -> np.ndarray:
    """Mask of the times away from the recording's edges."""
    lo, hi = float(seconds.min()), float(seconds.max())
    edge = EDGE_FRACTION * (hi - lo)
    return (seconds >= lo + edge) & (seconds <= hi - edge)


def attribution_peak(sig: np.ndarray, seconds: np.ndarray, channels: list[str], n_leads: int = 2) -> Where:
    """The window (a tenth of the recording, edges left out) where the attribution's |sum| is largest, and its leads."""
    sig = np.asarray(sig, dtype=float)  # (C, L)
    seconds = np.asarray(seconds, dtype=float)
    inner = _inner(seconds)
    t0, t1 = float(seconds[inner].min()), float(seconds[inner].max())
    edges = np.linspace(t0, t1, N_WINDOWS + 1)
    sums = []
    for a, b in zip(edges[:-1], edges[1:]):
        m = inner & (seconds >= a) & (seconds <= b)
        sums.append(abs(float(sig[:, m].sum())) if m.any() else 0.0)
    k = int(np.argmax(sums))
    m = inner & (seconds >= edges[k]) & (seconds <= edges[k + 1])
    per_lead = np.abs(sig[:, m]).sum(axis=1)
    leads = [channels[i] for i in np.argsort(-per_lead, kind="stable")[:n_leads] if per_lead[i] > 0]
    return Where(float(edges[k]), float(edges[k + 1]), leads, in_hours=bool(seconds.max() > 3600))


def attention_peak(weights: list[float], seconds: list[float]) -> float | None:
    """The time (s) the attention received peaks, edges left out (None without attention)."""
    w, t = np.asarray(weights, dtype=float), np.asarray(seconds, dtype=float)
    if w.size == 0 or not np.isfinite(w).any():
        return None
    inner = _inner(t) & np.isfinite(w)
    return float(t[inner][int(np.argmax(w[inner]))]) if inner.any() else None


def story(sig_label: str, where: Where | None, attention_s: float | None) -> str:
    """The page's one paragraph on where in the biosignal, attribution and attention together."""
    if where is None:
        return ""
    series = where.in_hours
    what = f"the {sig_label.lower()} series" if series else f"the {sig_label}"
    text = (f"Where in {what}: the attribution (how much each moment changed the prediction, against typical stays' recordings) "
            f"is largest at {where.span()} ({'series' if series else 'leads'} {', '.join(where.leads)}).")
    if attention_s is not None:
        when = f"hour {attention_s / 3600:.0f}" if series else f"{attention_s:.1f} s"
        if where.lo <= attention_s <= where.hi:
            text += f" The model's attention (where its EHR part read in {what}) peaks in the same window, at {when}."
        else:
            text += (f" The model's attention (where its EHR part read in {what}) peaks elsewhere, at {when}: attention says where the "
                     "model read, not what changed its answer, so the two need not agree (Jain & Wallace, NAACL 2019).")
    if not series:
        text += " A finding present in every beat (a rhythm, a wide QRS) is spread over the whole recording, so no one moment is its cause."
    edge = f"{EDGE_FRACTION * 100:g} % at each end" if series else "first and last half second"
    text += f" The {edge} {'of the series ' if series else ''}{'is' if series else 'are'} left out of both: the encoder pads there."
    return text


def stay_story(results) -> str:
    """``story`` for one stay's results (computes its Integrated Gradients if they are not yet)."""
    if not results.has_signal or results.run.spec is None:
        return ""
    attr = results.input_gradients
    if attr.sig is None:
        return ""
    where = attribution_peak(np.asarray(attr.sig), np.asarray(attr.sig_seconds), list(attr.sig_channels))
    att = results.attention_received
    return story(results.sig_label, where, attention_peak(att.weights, att.seconds) if att is not None else None)
