"""The ECG as a cardiologist reads it: the standard 12-lead printout as one Plotly figure.

Layout (the standard "3 x 4 + rhythm" sheet): four columns of 2.5 s — I/II/III, aVR/aVL/aVF,
V1/V2/V3, V4/V5/V6 — each column showing the *next* 2.5 s of the recording, as a paper ECG does
(column k shows seconds 2.5k..2.5(k+1)), and a 10 s lead II rhythm strip at the bottom. A record
without the 12 standard leads (a monitor's II and V) is drawn with what it has: one 10 s row per
lead at the same paper speed and gain.

Paper: 25 mm/s and 10 mm/mV for every lead (AHA/ACC/HRS recommendations for the standardisation of
the ECG, Kligfield et al., Circulation 2007). All rows share one coordinate system — x in seconds,
y in mV, each row offset by a whole number of 5-mm boxes — and the y axis is tied to the x axis
with Plotly's ``scaleanchor``/``scaleratio`` = 10/25, so 1 s is 25 mm and 1 mV is 10 mm at any
zoom. The grid (1 mm minor, 5 mm major lines in the classic pink/red) is the axes' own major and
minor grid, so it costs no shapes and stays aligned when zooming. Each row starts with a 1 mV,
200 ms calibration pulse; each segment carries its lead label at its top-left.

Weight: the figure must stay light. Traces are min/max-decimated to at most 250 points per second
(every bucket keeps its minimum and its maximum in time order, so QRS peaks keep their height):
a 10 s 12-lead at any rate is at most ~10k points.

Attribution (optional, one row per lead, any length): resampled to the signal's length and shaded
behind the traces as a heatmap on the same layout — the one diverging scale of
``lemof.plots.style`` (teal shortens ↔ red lengthens), its colour bar saying so.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from lemof.data.patient import StayContext
from lemof.ecg.record import STANDARD_LEADS, normalise_lead
from lemof.explain.input_attribution import InputAttribution
from lemof.explain.signal_where import attribution_peak
from lemof.plots.style import DIVERGING, OKABE_ITO, with_alt
from lemof.plots.text import literal

# The sheet's columns, top to bottom; rows of the sheet are the i-th lead of every column.
COLUMNS = (("I", "II", "III"), ("aVR", "aVL", "aVF"), ("V1", "V2", "V3"), ("V4", "V5", "V6"))
COLUMN_S = 2.5
STRIP_S = 10.0
MM_PER_S = 25.0
MM_PER_MV = 10.0
ROW_PITCH_MV = 3.5  # distance between row baselines: 7 large boxes (35 mm)
CAL_MV = 1.0
CAL_S = 0.2
CAL_START_S = -0.35  # the calibration pulse sits left of t = 0: baseline, 0.2 s pulse, baseline
MAX_DRAW_HZ = 250.0
ATTR_BIN_S = 0.04  # attribution shading in 1-mm columns
PAPER_BG = "#FFFDFD"
MINOR_GRID = "#F7CFCF"  # 1 mm lines
MAJOR_GRID = "#E07A7A"  # 5 mm lines
TRACE = OKABE_ITO["black"]


def decimate_minmax(y: np.ndarray, fs_hz: float, max_hz: float = MAX_DRAW_HZ) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices and values of ``y`` drawn with at most ``max_hz`` points per second.

    Buckets of ``ceil(2 fs / max_hz)`` samples keep their minimum and maximum in time order, so
    every peak (a QRS, an artefact) keeps its height; all-NaN buckets stay NaN (a gap)."""
    y = np.asarray(y, dtype=np.float64)
    k = math.ceil(2.0 * fs_hz / max_hz)
    n = len(y)
    if k <= 2 or n <= 2:
        return np.arange(n), y
    nb = n // k
    idx_parts, val_parts = [], []
    if nb:
        block = y[: nb * k].reshape(nb, k)
        empty = np.isnan(block).all(axis=1)
        lo = np.argmin(np.where(np.isnan(block), np.inf, block), axis=1)
        hi = np.argmax(np.where(np.isnan(block), -np.inf, block), axis=1)
        first, second = np.minimum(lo, hi), np.maximum(lo, hi)
        base = np.arange(nb) * k
        idx = np.stack([base + first, base + second], axis=1).ravel()
        val = y[idx].copy()
        val[np.repeat(empty, 2)] = np.nan
        idx_parts.append(idx)
        val_parts.append(val)
    if nb * k < n:  # the tail, at most k - 1 samples: its own bucket
        tail = np.arange(nb * k, n)
        seg = y[tail]
        if np.isnan(seg).all():
            idx_parts.append(tail[:1])
            val_parts.append(seg[:1])
        else:
            pick = np.unique([tail[np.nanargmin(seg)], tail[np.nanargmax(seg)]])
            idx_parts.append(pick)
            val_parts.append(y[pick])
    return np.concatenate(idx_parts), np.concatenate(val_parts)


def _resample_rows(values: np.ndarray, n: int) -> np.ndarray:
    """Each row of ``values`` linearly resampled to ``n`` samples, the two spans aligned end to end
    (sample centres: row sample j covers the same fraction of the record as signal samples near it)."""
    values = np.asarray(values, dtype=np.float64)
    m = values.shape[1]
    if m == n:
        return values
    pos = (np.arange(n) + 0.5) * m / n - 0.5
    src = np.arange(m)
    return np.stack([np.interp(pos, src, row) for row in values])


def _layout(leads: list[str]) -> tuple[list[list[tuple[str, float, float]]], bool]:
    """Rows of ``(lead, from_s, to_s)`` segments, top to bottom, and whether it is the standard sheet."""
    have = set(leads)
    if all(lead in have for lead in STANDARD_LEADS):
        rows = [[(col[i], k * COLUMN_S, (k + 1) * COLUMN_S) for k, col in enumerate(COLUMNS)] for i in range(3)]
        return rows + [[("II", 0.0, STRIP_S)]], True
    order = [lead for lead in STANDARD_LEADS if lead in have] + [lead for lead in leads if lead not in STANDARD_LEADS]
    return [[(lead, 0.0, STRIP_S)] for lead in dict.fromkeys(order)], False


def ecg_figure(
    signals: np.ndarray,
    leads: list[str] | tuple[str, ...],
    fs_hz: float,
    *,
    attribution: np.ndarray | None = None,
    title: str | None = "12-lead ECG",
    start_s: float = 0.0,
) -> go.Figure:
    """The ECG on ECG paper: the standard 12-lead sheet, or one 10 s row per lead for other records.

    signals: (n_leads, n_samples) in mV at ``fs_hz``; leads: their names (matched to the 12
    standard leads case-insensitively; other names are drawn as they are); 10 s from ``start_s``
    are drawn. attribution: optional (n_leads, n_samples') signed attribution to each lead,
    any length (resampled to the signal's), shaded behind the traces. ``title``: plain text.
    """
    signals = np.asarray(signals, dtype=np.float64)
    if signals.ndim != 2 or signals.shape[0] != len(leads):
        raise ValueError(f"signals has shape {signals.shape}, expected ({len(leads)}, n_samples)")
    if fs_hz <= 0:
        raise ValueError(f"fs_hz must be positive, got {fs_hz}")
    names = [normalise_lead(lead) for lead in leads]
    index = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)
    n_samples = signals.shape[1]
    first = int(round(start_s * fs_hz))
    if not 0 <= first < n_samples:
        raise ValueError(f"start_s={start_s} is outside the record ({n_samples / fs_hz:.1f} s)")
    shown_s = min(STRIP_S, (n_samples - first) / fs_hz)
    attr = None
    if attribution is not None:
        attribution = np.asarray(attribution, dtype=np.float64)
        if attribution.ndim != 2 or attribution.shape[0] != len(leads):
            raise ValueError(f"attribution has shape {attribution.shape}, expected ({len(leads)}, n)")
        attr = _resample_rows(np.nan_to_num(attribution), n_samples)

    rows, standard = _layout(names)
    n_rows = len(rows)
    baselines = [-r * ROW_PITCH_MV for r in range(n_rows)]
    fig = go.Figure()

    # Each lead centred on its median over the window drawn (the DC removal of an ECG machine), so an
    # electrode offset cannot push a trace into the next row; waves and ST levels relative to the
    # lead's own baseline are unchanged.
    drawn_part = signals[:, first : first + int(round(STRIP_S * fs_hz))]
    observed = np.isfinite(drawn_part).any(axis=1)
    centre = np.zeros(len(leads))
    centre[observed] = np.nanmedian(drawn_part[observed], axis=1)
    strongest = ""
    if attr is not None:
        heat, _ = _attribution_heatmap(attr, rows, baselines, index, fs_hz, first)
        fig.add_trace(heat)
        if np.abs(attr).sum() > 0:  # the page's one answer to "where" (lemof.explain.signal_where), edges left out
            peak = attribution_peak(attr, (np.arange(n_samples) + 0.5) / fs_hz, [str(n) for n in names])
            strongest = f"; attribution largest at {peak.span()} (leads {literal(' and '.join(peak.leads))})"

    y_max, y_min = -np.inf, np.inf
    for r, segments in enumerate(rows):
        b = baselines[r]
        for lead, lo_s, hi_s in segments:
            a = first + int(round(lo_s * fs_hz))
            z = min(first + int(round(hi_s * fs_hz)), n_samples)
            if a >= z:
                continue
            idx, val = decimate_minmax(signals[index[lead], a:z] - centre[index[lead]], fs_hz)
            if r == 0 and np.isfinite(val).any():
                y_max = max(y_max, float(np.nanmax(val)) + b)
            if r == n_rows - 1 and np.isfinite(val).any():
                y_min = min(y_min, float(np.nanmin(val)) + b)
            fig.add_trace(
                go.Scatter(
                    x=((a - first + idx) / fs_hz).astype(np.float32),
                    y=(val + b).astype(np.float32),
                    mode="lines",
                    line=dict(color=TRACE, width=1.1),
                    name=literal(lead),
                    showlegend=False,
                    hovertemplate=f"{literal(lead)} · %{{x:.2f}} s<extra></extra>",
                )
            )

    # Calibration pulses (1 mV, 200 ms) at the start of each row and the column boundary marks.
    cal_x, cal_y, mark_x, mark_y = [], [], [], []
    for r, segments in enumerate(rows):
        b = baselines[r]
        x0 = CAL_START_S
        cal_x += [x0, x0 + 0.05, x0 + 0.05, x0 + 0.05 + CAL_S, x0 + 0.05 + CAL_S, 0.0, None]
        cal_y += [b, b, b + CAL_MV, b + CAL_MV, b, b, None]
        for _, lo_s, _ in segments[1:]:
            mark_x += [lo_s, lo_s, None]
            mark_y += [b - 0.3, b + 0.3, None]
    fig.add_trace(go.Scatter(x=cal_x, y=cal_y, mode="lines", line=dict(color=TRACE, width=1.4), name="calibration 1 mV, 200 ms",
                             showlegend=False, hoverinfo="skip"))
    if mark_x:
        fig.add_trace(go.Scatter(x=mark_x, y=mark_y, mode="lines", line=dict(color=TRACE, width=1.4), name="column boundary",
                                 showlegend=False, hoverinfo="skip"))

    # The sheet: half a row pitch above the first and below the last baseline, widened (in 5-mm
    # steps) to show a deflection that reaches further.
    top = math.ceil(max(ROW_PITCH_MV * 0.5, y_max + 0.1) / 0.5) * 0.5
    bottom = math.floor(min(baselines[-1] - ROW_PITCH_MV * 0.5, y_min - 0.3) / 0.5) * 0.5
    for r, segments in enumerate(rows):
        for lead, lo_s, _ in segments:
            fig.add_annotation(x=lo_s + 0.04, y=baselines[r] + 0.42 * ROW_PITCH_MV, text=f"<b>{literal(lead)}</b>", showarrow=False,
                               xanchor="left", yanchor="top", font=dict(size=12, color=TRACE))
    rate = f"{fs_hz:g} Hz" + (f", drawn at ≤ {MAX_DRAW_HZ:g} Hz" if fs_hz > MAX_DRAW_HZ else "")
    span = f"{start_s:.1f}–{start_s + shown_s:.1f} s of {n_samples / fs_hz:.1f} s"
    fig.add_annotation(x=CAL_START_S, y=bottom, text=f"25 mm/s · 10 mm/mV · {rate} · {span}", showarrow=False, xanchor="left",
                       yanchor="bottom", font=dict(size=11, color="#7A2E2E"), bgcolor=PAPER_BG)

    x_range = [-0.4, STRIP_S + 0.04]
    grid_axis = dict(showticklabels=False, ticks="", zeroline=False, showline=False, gridcolor=MAJOR_GRID, gridwidth=1, constrain="domain")
    fig.update_xaxes(range=x_range, tick0=0, dtick=5 / MM_PER_S, minor=dict(dtick=1 / MM_PER_S, showgrid=True, gridcolor=MINOR_GRID, gridwidth=0.6),
                     **grid_axis)
    fig.update_yaxes(range=[bottom, top], tick0=0, dtick=5 / MM_PER_MV, minor=dict(dtick=1 / MM_PER_MV, showgrid=True, gridcolor=MINOR_GRID, gridwidth=0.6),
                     scaleanchor="x", scaleratio=MM_PER_MV / MM_PER_S, **grid_axis)
    # Height for a ~1000 px wide plot: the sheet's aspect (mm) plus title and margins.
    sheet_mm_w = (x_range[1] - x_range[0]) * MM_PER_S
    sheet_mm_h = (top - bottom) * MM_PER_MV
    fig.update_layout(
        title=dict(text=literal(title), x=0, xanchor="left") if title else None,
        height=int(round(980 * sheet_mm_h / sheet_mm_w)) + (60 if title else 20),
        margin=dict(l=10, r=10 if attr is None else 90, t=50 if title else 10, b=10),
        plot_bgcolor=PAPER_BG,
        paper_bgcolor="white",
        font=dict(size=13),
        title_font=dict(size=15),
        showlegend=False,
        hovermode="closest",
        dragmode="zoom",
    )
    drawn = ", ".join(dict.fromkeys(lead for seg in rows for lead, _, _ in seg))
    if standard:
        what = "Standard 12-lead ECG in four columns of 2.5 s (I–III, aVR–aVF, V1–V3, V4–V6) with a 10 s lead II rhythm strip"
    else:
        what = f"ECG, one 10 s row per lead ({literal(drawn)})"
    text = f"{what}, {span}, at 25 mm/s and 10 mm/mV with a 1 mV calibration pulse"
    if attr is not None:
        text += "; attribution shaded behind the traces (red lengthens, teal shortens the predicted stay)" + strongest
    return with_alt(fig, text + ".")


def _attribution_heatmap(attr: np.ndarray, rows, baselines, index, fs_hz: float, first: int) -> tuple[go.Heatmap, str]:
    """The attribution of the lead drawn at each place of the sheet, in 1-mm (0.04 s) columns per
    row (the mean over each column's samples), and ``; strongest in lead V4 at 3.2 s`` for the alt text."""
    n_bins = int(math.ceil(STRIP_S / ATTR_BIN_S - 1e-9))
    z = np.full((len(rows), n_bins), np.nan)
    where = np.full((len(rows), n_bins), "", dtype=object)
    n_samples = attr.shape[1]
    for r, segments in enumerate(rows):
        for lead, lo_s, hi_s in segments:
            a = first + int(round(lo_s * fs_hz))
            e = min(first + int(round(hi_s * fs_hz)), n_samples)
            if a >= e:
                continue
            bins = ((np.arange(a, e) - first) / fs_hz / ATTR_BIN_S).astype(int)
            bins = np.clip(bins, 0, n_bins - 1)
            sums = np.bincount(bins, weights=attr[index[lead], a:e], minlength=n_bins)
            counts = np.bincount(bins, minlength=n_bins)
            have = counts > 0
            z[r, have] = sums[have] / counts[have]
            where[r, have] = lead
    strongest = ""
    if np.isfinite(z).any() and np.nanmax(np.abs(z)) > 0:
        r, j = np.unravel_index(int(np.nanargmax(np.abs(z))), z.shape)
        strongest = f"; strongest in lead {literal(where[r, j])} at {first / fs_hz + (j + 0.5) * ATTR_BIN_S:.1f} s"
    m = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 0.0
    m = m if m > 0 else 1.0
    # Plotly draws heatmap rows bottom-up: reverse so row 0 (top of the sheet) is last.
    heat = go.Heatmap(
        z=z[::-1].astype(np.float32),
        x0=ATTR_BIN_S / 2,
        dx=ATTR_BIN_S,
        y0=baselines[-1],
        dy=ROW_PITCH_MV,
        colorscale=DIVERGING,
        zmin=-m,
        zmax=m,
        zmid=0,
        opacity=0.45,
        name="attribution",
        hovertemplate="%{x:.2f} s · attribution %{z:.3g}<extra></extra>",
        colorbar=dict(title=dict(text="attribution<br>red: lengthens<br>teal: shortens", side="top", font=dict(size=11)),
                      thickness=12, len=0.7, x=1.0, xanchor="left", tickfont=dict(size=10)),
    )
    return heat, strongest



def stay_ecg_figure(pc: StayContext, attr: InputAttribution | None = None) -> go.Figure | None:
    """One stay's ECG on the 12-lead sheet (None without one), with the Integrated Gradients of
    ``attr`` shaded on the leads the model reads (the others carry none: zero)."""
    if pc.signal is None:
        return None
    shading = None
    if attr is not None and attr.sig is not None:
        sig = np.asarray(attr.sig, dtype=float)
        shading = np.zeros((len(pc.signal_channels), sig.shape[1]))
        for channel, row in zip(attr.sig_channels, sig):
            if channel in pc.signal_channels:
                shading[pc.signal_channels.index(channel)] = row
    when = f" recorded at hour {pc.signal_time_h:g}" if pc.signal_time_h is not None else ""
    title = f"{pc.signal_label}{when}" + (" · shaded by what moved the prediction" if shading is not None else "")
    return ecg_figure(pc.signal, list(pc.signal_channels), pc.signal_fs_hz, attribution=shading, title=title)
