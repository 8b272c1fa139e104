"""A bedside biosignal's share of the prediction, one part per channel, in clinical words.

Integrated Gradients' attribution over the bedside series (channels × time) is summed per
channel: each channel's part is exact (the parts add up to the whole series' part), so the
drivers still add up to the prediction. Each part is named by what the channel showed in the
window, as a clinician would chart it: hours beyond its clinical threshold where it has one
(``lemof.data.display.Variable.alarm``: heart rate > 100 bpm "tachycardia", mean BP < 65 mmHg
"hypotension", SaO2 < 90 % "desaturation", temperature > 38.3 °C "fever", …), else its median and
range. The effect is the channel's as a whole: a sentence says what was in it, not that this
one feature of it caused the effect (IG does not separate the hours above a threshold from the
others).
"""

from __future__ import annotations

import numpy as np

from lemof.data.display import display_of, fmt_number

_OPS = {">": (np.greater, "above"), "<": (np.less, "below")}


def channel_text(label: str, unit: str, decimals: int, alarm: tuple[str, float, str] | None, values: np.ndarray, bin_hours: float, window_h: float) -> str:
    """What one channel showed in the window: "Heart rate above 100 bpm for 14 of 48 h (tachycardia)"
    or "Urine output median 60 mL (40–120)"; "not recorded" when never observed."""
    seen = values[np.isfinite(values)]
    if seen.size == 0:
        return f"{label} not recorded in the first {window_h:g} h"
    u = f" {unit}" if unit else ""
    if alarm is not None:
        op, threshold, name = alarm
        test, word = _OPS[op]
        hours = float(test(seen, threshold).sum()) * bin_hours
        recorded = seen.size * bin_hours
        if hours > 0:
            return f"{label} {word} {fmt_number(threshold, decimals)}{u} for {hours:g} of {recorded:g} h recorded ({name})"
        extreme = seen.max() if op == ">" else seen.min()
        return f"{label} never {word} {fmt_number(threshold, decimals)}{u} ({'highest' if op == '>' else 'lowest'} {fmt_number(float(extreme), decimals)}{u})"
    med, lo, hi = (float(np.median(seen)), float(seen.min()), float(seen.max()))
    return f"{label} median {fmt_number(med, decimals)}{u} ({fmt_number(lo, decimals)}–{fmt_number(hi, decimals)})"


def channel_parts(sig_attr: np.ndarray, channels: list[str], physical: np.ndarray, source: str, bundle_channels: list[str],
                  seconds: np.ndarray, sig_label: str) -> list[tuple[str, float, str]]:
    """(name, attribution, description) per channel of a bedside series: the attribution summed
    over time (``sig_attr`` (C, L')), described from ``physical`` ((C_bundle, L) values, NaN where
    unobserved)."""
    variables = display_of(source).variables
    seconds = np.asarray(seconds, dtype=float)
    bin_hours = float(np.median(np.diff(seconds))) / 3600 if seconds.size > 1 else 1.0
    window_h = seconds.size * bin_hours
    out = []
    for i, ch in enumerate(channels):
        var = variables.get(ch)
        label = var.label if var is not None else ch
        values = physical[bundle_channels.index(ch)] if ch in bundle_channels else np.full(sig_attr.shape[1], np.nan)
        text = channel_text(label, var.unit if var else "", var.decimals if var else 1, var.alarm if var else None, np.asarray(values, dtype=float), bin_hours, window_h)
        out.append((f"{label} ({sig_label.lower()})", float(np.asarray(sig_attr[i]).sum()), f"{sig_label} {text[0].lower() + text[1:]}"))
    return out
