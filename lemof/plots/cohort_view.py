"""Figures of the Cohort page: one run over many stays, drawn from aggregates only (quantiles,
bins, subgroup means), so a figure costs the same for 600 or 100,000 stays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lemof.plots.style import HEAD_KIND_COLOURS, LOG1P_DAYS, MODALITY_COLOURS, REFERENCE, TOTAL_COLOUR, base_layout, level_label, modality_label, with_alt
from lemof.plots.text import literal

WHISKERS = "whiskers: 5th–95th percentile"


def _translucent(colour: str, alpha: float = 0.3) -> str:
    """``#RRGGBB`` as ``rgba(…, alpha)``: a light box fill that keeps the median line visible."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _box(fig: go.Figure, x: list, stats: pd.DataFrame, colour: str, name: str, unit: str, **where) -> None:
    """A box per row of ``stats`` (q05, q25, median, q75, q95, mean, n) at ``x``; mean dashed."""
    fig.add_trace(
        go.Box(
            x=x, q1=stats["q25"].tolist(), median=stats["median"].tolist(), q3=stats["q75"].tolist(),
            lowerfence=stats["q05"].tolist(), upperfence=stats["q95"].tolist(), mean=stats["mean"].tolist(), boxmean=True,
            boxpoints=False, marker_color=colour, line=dict(color=colour, width=2), fillcolor=_translucent(colour), name=name, legendgroup=name,
            customdata=stats["n"].tolist(), hoverinfo="x+y", showlegend=where.pop("showlegend", True),
        ),
        **where,
    )
    fig.add_scatter(
        x=x, y=stats["mean"].tolist(), mode="markers", marker=dict(symbol="diamond", size=9, color=colour, line=dict(color="white", width=1.5)),
        name=f"{name}: mean", legendgroup=name, showlegend=False, customdata=stats["n"].tolist(),
        hovertemplate="%{x}<br>mean %{y:.3f} " + unit + " over %{customdata:,} stays<extra></extra>", **where,
    )


def level_spread_figure(spread: pd.DataFrame, sig_label: str = "ECG", scope: str = "test stays") -> go.Figure:
    """Per level, the distribution of |φ| over stays (box from quantiles, mean as a diamond and a
    dashed line), per modality in its colour; ★ marks the levels selected for stage 3."""
    sig_label, scope = literal(sig_label), literal(scope)
    fig = go.Figure()
    for m in ("ehr", "sig"):
        part = spread[spread["modality"] == m]
        part = part[part["n"] > 0]
        if part.empty:
            continue
        x = [("★ " if s else "") + level_label(k, sig_label) for k, s in zip(part["level"], part["selected"])]
        _box(fig, x, part, MODALITY_COLOURS[m], modality_label(m, sig_label), LOG1P_DAYS)
    fig.update_yaxes(title=f"|φ| per stay ({LOG1P_DAYS})", rangemode="tozero")
    fig.update_xaxes(title="encoder level (shallow → deep, per modality)", tickangle=0)
    base_layout(fig, title=f"Level importance across {scope}: |φ| per stay (★ = selected; ◆ = mean; {WHISKERS})", height=400)
    ranked = spread[spread["n"] > 0].sort_values("mean", ascending=False)
    parts = [f"{level_label(r.level, sig_label)}{' (selected)' if r.selected else ''} mean {r.mean:.3f}, median {r.median:.3f}, 5–95 % {r.q05:.3f}–{r.q95:.3f}" for r in ranked.itertuples()]
    return with_alt(fig, f"Mean |φ| per level over {scope} (log1p-days), largest first: " + "; ".join(parts) + ".")


def head_spread_figure(spread: pd.DataFrame, sig_label: str = "ECG", scope: str = "test stays") -> go.Figure:
    """Per head kind, the distribution of its total contribution per stay, with and without the
    biosignal side by side; each kind in its colour."""
    sig_label, scope = literal(sig_label), literal(scope)
    groups = [(True, f"with {sig_label}"), (False, f"without {sig_label}")]
    counts = {g: int(spread.loc[spread["with_signal"] == g, "n"].max()) if (spread["with_signal"] == g).any() else 0 for g, _ in groups}
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06, subplot_titles=[f"{label} ({counts[g]:,} stays)" for g, label in groups])
    absent = []
    for c, (g, label) in enumerate(groups):
        part = spread[(spread["with_signal"] == g)]
        for kind in dict.fromkeys(spread["kind"]):
            row = part[part["kind"] == kind]
            if row.empty or int(row["n"].iloc[0]) == 0:
                if counts[g]:
                    absent.append(f"{kind} heads {label}")
                continue
            _box(fig, [kind], row, HEAD_KIND_COLOURS.get(kind, TOTAL_COLOUR), f"{kind} heads", LOG1P_DAYS, showlegend=c == 0, row=1, col=c + 1)
    fig.add_hline(y=0, line=dict(color=REFERENCE, width=1))
    fig.update_yaxes(title=f"total contribution per stay ({LOG1P_DAYS})", col=1)
    title = f"Head contributions across {scope}: Σ wᵢ·yᵢ per head kind (◆ = mean; {WHISKERS})"
    if absent:
        title += "<br><sup>absent (not zero): " + ", ".join(absent) + "</sup>"
    base_layout(fig, title=title, height=420)
    fig.update_layout(margin=dict(t=95 if absent else 80))
    text = []
    for g, label in groups:
        part = spread[(spread["with_signal"] == g) & (spread["n"] > 0)]
        if not part.empty:
            text.append(f"{label}: " + ", ".join(f"{r.kind} median {r.median:+.2f} (5–95 % {r.q05:+.2f} to {r.q95:+.2f})" for r in part.itertuples()))
    return with_alt(fig, f"Total contribution per head kind over {scope}, log1p-days. " + "; ".join(text) + ".")


def reliability_figure(table: pd.DataFrame, brier: float, brier_reference: float, scope: str = "test stays") -> go.Figure:
    """Reliability diagram of P(LOS > 7 d): mean predicted against observed share per bin (marker
    area ~ count, count written), the diagonal, and the stays per bin underneath."""
    scope = literal(scope)
    shown = table[table["n"] > 0]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.05)
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dash", color=REFERENCE), name="perfect calibration", hoverinfo="skip", row=1, col=1)
    size = 7 + 11 * np.sqrt(shown["n"] / max(int(shown["n"].max()), 1)) if len(shown) else []
    fig.add_scatter(
        x=shown["mean_predicted"], y=shown["observed"], mode="lines+markers+text", line=dict(color=TOTAL_COLOUR), marker=dict(size=size, color=TOTAL_COLOUR, opacity=0.8),
        text=[f"{n:,}" for n in shown["n"]], textposition="top left", textfont=dict(size=11), name="this run", customdata=np.stack([shown["n"], shown["lo"], shown["hi"]], axis=1) if len(shown) else None,
        hovertemplate="predicted %{customdata[1]:.1f}–%{customdata[2]:.1f}: mean %{x:.2f}<br>observed share %{y:.2f} of %{customdata[0]:,} stays<extra></extra>", row=1, col=1,
    )
    fig.add_bar(x=(table["lo"] + table["hi"]) / 2, y=table["n"], width=0.09, marker_color=REFERENCE, name="stays per bin", showlegend=False,
                hovertemplate="%{y:,} stays<extra></extra>", row=2, col=1)
    fig.update_xaxes(range=[-0.02, 1.02], row=1, col=1)
    fig.update_xaxes(title="predicted P(LOS > 7 days), 10 bins", range=[-0.02, 1.02], row=2, col=1)
    fig.update_yaxes(title="observed share > 7 days", range=[-0.02, 1.05], row=1, col=1)
    fig.update_yaxes(title="stays", row=2, col=1)
    base_layout(fig, title=f"LOS > 7 days: reliability over {scope}<br><sup>Brier score {brier:.3f}; {brier_reference:.3f} predicting the validation share for everyone</sup>", height=480)
    fig.update_layout(showlegend=False)
    worst = shown.assign(gap=(shown["observed"] - shown["mean_predicted"]).abs()).sort_values("gap").tail(1)
    gap = "" if worst.empty else f" The largest gap is {worst['gap'].iloc[0]:.2f} in the {worst['lo'].iloc[0]:.1f}–{worst['hi'].iloc[0]:.1f} bin ({int(worst['n'].iloc[0]):,} stays)."
    return with_alt(fig, f"Reliability of the predicted probability of a stay over 7 days on {int(table['n'].sum()):,} {scope}: Brier score {brier:.3f} "
                    f"against {brier_reference:.3f} for predicting the validation share for everyone.{gap}")


def subgroup_label(category: str, subgroup: str) -> str:
    return f"{category}: {subgroup}"


def subgroup_figure(subgroups: pd.DataFrame, overall: dict, scope: str = "test stays", min_n: int = 10) -> go.Figure:
    """MAE (days) per subgroup with its 95 % bootstrap interval, the overall MAE as a dashed line;
    subgroups below ``min_n`` stays as open grey markers without an interval. Points carry
    ``[category, subgroup]`` (``customdata``) for selection."""
    scope = literal(scope)
    labels = [f"{literal(subgroup_label(r.category, r.subgroup))} (n={r.n:,})" for r in subgroups.itertuples()]
    fig = go.Figure()
    if overall.get("lo") is not None:
        fig.add_vrect(x0=overall["lo"], x1=overall["hi"], fillcolor=REFERENCE, opacity=0.15, line_width=0)
    fig.add_vline(x=overall["mae_days"], line=dict(dash="dash", color=REFERENCE), annotation_text=f"overall {overall['mae_days']:.2f} d", annotation_position="top")
    ok = ~subgroups["too_small"].to_numpy(dtype=bool)
    for keep, name, marker in (
        (ok, "MAE with 95 % bootstrap interval", dict(size=10, color=TOTAL_COLOUR, symbol="circle")),
        (~ok, f"fewer than {min_n} stays: no interval", dict(size=11, color=REFERENCE, symbol="circle-open", line=dict(color=REFERENCE, width=2))),
    ):
        if not keep.any():
            continue
        part = subgroups[keep]
        err = dict(type="data", symmetric=False, array=(part["hi"].astype(float) - part["mae_days"]).tolist(), arrayminus=(part["mae_days"] - part["lo"].astype(float)).tolist(),
                   color=TOTAL_COLOUR, thickness=2) if name.startswith("MAE") else None
        fig.add_scatter(
            x=part["mae_days"], y=[l for l, k in zip(labels, keep) if k], mode="markers", marker=marker, error_x=err, name=name,
            customdata=part[["category", "subgroup"]].to_numpy(),
            text=[("95 % CI " + f"{lo:.2f}–{hi:.2f} d") if lo is not None and not pd.isna(lo) else f"only {n} stays: too few for an interval" for lo, hi, n in zip(part["lo"], part["hi"], part["n"])],
            hovertemplate="%{y}<br>MAE %{x:.2f} d, %{text}<extra></extra>",
        )
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1], automargin=True)
    fig.update_xaxes(title="MAE (days; lower is better)", rangemode="tozero")
    base_layout(fig, title=f"Error by subgroup over {scope} (click a point to list its stays)", height=140 + 30 * len(labels))
    fig.update_layout(clickmode="event+select")
    parts = [f"{literal(subgroup_label(r.category, r.subgroup))} {r.mae_days:.2f} d (n={r.n:,}" + (", too few for an interval)" if r.too_small else f", {r.lo:.2f}–{r.hi:.2f})") for r in subgroups.itertuples()]
    return with_alt(fig, f"MAE in days per subgroup with 95 % bootstrap intervals; overall {overall['mae_days']:.2f} d over {overall['n']:,} stays. " + "; ".join(parts) + ".")
