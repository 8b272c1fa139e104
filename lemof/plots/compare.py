"""Figures of the compare page: several runs of one cohort on shared scales."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lemof.plots.style import MODALITY_COLOURS, OKABE_ITO, REFERENCE, SEQUENTIAL, base_layout, modality_label, with_alt
from lemof.plots.text import literal

# Runs are told apart by colour and marker together (colour-blind safe; the legend names them).
RUN_COLOURS = [OKABE_ITO[c] for c in ("black", "sky", "green", "purple", "vermillion", "blue", "orange", "grey")]
RUN_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "star", "cross", "hexagon"]
METRIC_NAMES = {
    "mae_days": ("MAE (days)", "lower is better"),
    "kappa_linear_10bucket": ("kappa, 10 LOS buckets", "higher is better"),
    "auroc_los_gt7": ("AUROC, LOS > 7 days", "higher is better"),
}


def run_style(i: int) -> dict:
    return {"color": RUN_COLOURS[i % len(RUN_COLOURS)], "symbol": RUN_SYMBOLS[i % len(RUN_SYMBOLS)]}


def metrics_ci_figure(metrics: pd.DataFrame, runs: list[str], references: dict[str, float], scope: str = "Test metrics") -> go.Figure:
    """Each metric with its 95 % bootstrap CI, one row per run; ``references`` draws the training
    median's value (MAE, kappa) or chance (AUROC) as a dashed line."""
    names = list(METRIC_NAMES)
    fig = make_subplots(rows=1, cols=len(names), shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=[f"{METRIC_NAMES[m][0]}<br><sup>{METRIC_NAMES[m][1]}</sup>" for m in names])
    for c, metric in enumerate(names):
        part = metrics[metrics["metric"] == metric].set_index("run").reindex(runs)
        for i, run in enumerate(runs):
            row = part.loc[run]
            if pd.isna(row["estimate"]):
                continue
            style = run_style(i)
            shown = literal(run)
            fig.add_scatter(
                x=[row["estimate"]], y=[shown], mode="markers", marker=dict(size=11, color=style["color"], symbol=style["symbol"]),
                error_x=dict(type="data", symmetric=False, array=[row["hi"] - row["estimate"]], arrayminus=[row["estimate"] - row["lo"]], color=style["color"], thickness=2),
                name=shown, legendgroup=shown, showlegend=c == 0, row=1, col=c + 1,
                hovertemplate=f"{shown}<br>{METRIC_NAMES[metric][0]}: %{{x:.3f}} (95 % CI {row['lo']:.3f}–{row['hi']:.3f})<extra></extra>",
            )
        if metric in references:
            fig.add_vline(x=references[metric], line=dict(dash="dash", color=REFERENCE), row=1, col=c + 1)
    fig.update_yaxes(autorange="reversed", automargin=True, showticklabels=True, row=1, col=1)
    fig.update_yaxes(showticklabels=False, col=2)
    fig.update_yaxes(showticklabels=False, col=3)
    base_layout(fig, title=f"{literal(scope)} with 95 % bootstrap intervals (dashed: training median; AUROC: chance)", height=120 + 42 * len(runs) + 90)
    fig.update_layout(showlegend=False, margin=dict(t=95))
    mae = metrics[metrics["metric"] == "mae_days"].set_index("run")
    text = "; ".join(f"{literal(r)}: MAE {mae.loc[r, 'estimate']:.2f} d ({mae.loc[r, 'lo']:.2f}–{mae.loc[r, 'hi']:.2f})" for r in runs if r in mae.index)
    return with_alt(fig, f"{literal(scope)} per run with 95 % bootstrap intervals. {text}.")


def level_profile_figure(profiles: dict[str, dict], sig_label: str = "ECG", order: list[str] | None = None) -> go.Figure:
    """Global level importance of each LeMoF run against encoder depth (0 shallow → 1 deep), per
    modality, on one shared scale. ``profiles[run] = {"ehr": [...], "sig": [...], "selected": {...}}``;
    ``order`` is every compared run, so a run keeps its colour when others have no profile."""
    order = order or list(profiles)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.08,
                        subplot_titles=[f"{modality_label(m, literal(sig_label))} levels" for m in ("ehr", "sig")])
    for run, prof in profiles.items():
        style = run_style(order.index(run))
        for c, m in enumerate(("ehr", "sig")):
            values = prof[m]
            n = len(values)
            depth = [l / (n - 1) if n > 1 else 0.0 for l in range(n)]
            selected = set(prof.get("selected", {}).get(m, []))
            fig.add_scatter(
                x=depth, y=values, mode="lines+markers", line=dict(color=style["color"]), marker=dict(symbol=style["symbol"], size=9, color=style["color"]),
                name=literal(run), legendgroup=literal(run), showlegend=c == 0, row=1, col=c + 1,
                text=[f"level {l + 1} of {n}{' ★ selected' if f'{m}.L{l + 1}' in selected else ''}" for l in range(n)],
                hovertemplate=f"{literal(run)}<br>%{{text}}<br>mean |φ| %{{y:.3f}} log1p-days<extra></extra>",
            )
    fig.update_xaxes(title="encoder depth (0 = first level, 1 = last)", range=[-0.05, 1.05], tickvals=[0, 0.5, 1], ticktext=["shallow", "middle", "deep"])
    fig.update_yaxes(title="mean |φ| (log1p-days)", col=1)
    base_layout(fig, title="Level importance profiles: which depth each run relies on", height=400)
    return with_alt(fig, "Global level importance against relative encoder depth per modality for " + ", ".join(map(literal, profiles)) + ".")


def calibration_figure(calibration: pd.DataFrame, runs: list[str]) -> go.Figure:
    """Observed against nominal coverage of each run's prediction interval; the diagonal is perfect."""
    fig = go.Figure()
    fig.add_scatter(x=[0.45, 1.0], y=[0.45, 1.0], mode="lines", line=dict(dash="dash", color=REFERENCE), name="perfect calibration")
    for i, run in enumerate(runs):
        part = calibration[calibration["run"] == run]
        if part.empty:
            continue
        style = run_style(i)
        fig.add_scatter(x=part["nominal"], y=part["observed"], mode="lines+markers", line=dict(color=style["color"]),
                        marker=dict(symbol=style["symbol"], size=9, color=style["color"]), name=literal(run),
                        hovertemplate=f"{literal(run)}<br>nominal %{{x:.0%}} → observed %{{y:.1%}}<extra></extra>")
    fig.update_xaxes(title="nominal coverage of the interval", tickformat=".0%", range=[0.45, 1.0])
    fig.update_yaxes(title="observed coverage, test stays", tickformat=".0%", range=[0.4, 1.0])
    base_layout(fig, title="Interval calibration: nominal vs observed coverage", height=420)
    worst = calibration.assign(gap=(calibration["observed"] - calibration["nominal"]).abs()).sort_values("gap").tail(1)
    text = "" if worst.empty else f" The largest gap is {worst['gap'].iloc[0]:.1%} ({literal(worst['run'].iloc[0])} at {worst['nominal'].iloc[0]:.0%})."
    return with_alt(fig, "Observed against nominal coverage of each run's interval on test stays." + text)


def scatter_figure(stays: pd.DataFrame, a: pd.Series, b: pd.Series, run_a: str, run_b: str) -> go.Figure:
    """Per-stay predictions of run A against run B (log axes), coloured by the observed LOS; points
    carry their stay id (``customdata``) for selection."""
    run_a, run_b = literal(run_a), literal(run_b)
    observed = stays["los_days"].reindex(a.index)
    lo = max(0.2, float(np.nanmin([a.min(), b.min()])) * 0.8)
    hi = float(np.nanmax([a.max(), b.max()])) * 1.25
    fig = go.Figure()
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", line=dict(dash="dash", color=REFERENCE), name="same prediction", hoverinfo="skip")
    fig.add_scatter(
        x=a.to_numpy(), y=b.to_numpy(), mode="markers", customdata=np.asarray(a.index), name="test stay",
        marker=dict(size=6, color=observed.to_numpy(), colorscale=SEQUENTIAL, cmin=0, cmax=float(np.nanpercentile(observed, 95)),
                    colorbar=dict(title="observed<br>LOS (days)"), line=dict(width=0.3, color="white")),
        hovertemplate="stay %{customdata}<br>" + run_a + ": %{x:.1f} d<br>" + run_b + ": %{y:.1f} d<br>observed %{marker.color:.1f} d<extra></extra>",
    )
    ticks = [t for t in (0.25, 0.5, 1, 2, 3, 5, 7, 10, 14, 20, 30, 50, 100, 200) if lo <= t <= hi]  # days, labelled as such (no bare "2" for 0.2 and 20)
    axis = dict(type="log", range=[np.log10(lo), np.log10(hi)], tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    fig.update_xaxes(title=f"{run_a}: predicted LOS (days)", **axis)
    fig.update_yaxes(title=f"{run_b}: predicted LOS (days)", **axis)
    base_layout(fig, title=f"Per-stay predictions: {run_a} vs {run_b} (select points to list them)", height=520)
    fig.update_layout(dragmode="select", showlegend=False)
    corr = float(np.corrcoef(np.log1p(a), np.log1p(b))[0, 1])
    return with_alt(fig, f"Scatter of {len(a)} test stays: {run_a} against {run_b}, correlation of log1p predictions {corr:.2f}; colour is the observed LOS.")


def stay_predictions_figure(rows: list[dict], observed: float) -> go.Figure:
    """One stay: each run's prediction with its interval (days), and the observed LOS."""
    fig = go.Figure()
    for i, r in enumerate(rows):
        style = run_style(i)
        fig.add_scatter(
            x=[r["los_days"]], y=[literal(r["run"])], mode="markers", marker=dict(size=12, color=style["color"], symbol=style["symbol"]),
            error_x=dict(type="data", symmetric=False, array=[r["high"] - r["los_days"]], arrayminus=[r["los_days"] - r["low"]], color=style["color"], thickness=2),
            name=literal(r["run"]), hovertemplate=f"{literal(r['run'])}: %{{x:.1f}} d (interval {r['low']:.1f}–{r['high']:.1f} d)<extra></extra>",
        )
    fig.add_vline(x=observed, line=dict(color=MODALITY_COLOURS["sig"], width=2), annotation_text=f"observed {observed:.1f} d", annotation_position="top")
    fig.update_xaxes(title="LOS (days), prediction with its interval", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", automargin=True)
    base_layout(fig, title="This stay: each run's prediction and interval", height=110 + 45 * len(rows))
    fig.update_layout(showlegend=False, margin=dict(t=70))
    return with_alt(fig, f"Observed {observed:.1f} days; " + "; ".join(f"{literal(r['run'])} {r['los_days']:.1f} d ({r['low']:.1f}–{r['high']:.1f})" for r in rows) + ".")
