"""Model-level figures: global level importance and test performance."""

from __future__ import annotations

import plotly.graph_objects as go

from lemof.runs.metrics_file import RunMetrics
from lemof.plots.style import HEAD_KIND_COLOURS, LOG1P_DAYS, MODALITY_COLOURS, REFERENCE, TOTAL_COLOUR, base_layout, head_label, level_label, modality_label, with_alt
from lemof.plots.text import literal


def global_importance_figure(level_importance, sig_label: str = "ECG") -> go.Figure:
    """Mean |phi| of every level over validation stays, per modality; selected levels starred."""
    sig_label = literal(sig_label)
    fig = go.Figure()
    selected = set(level_importance.selected["ehr"]) | set(level_importance.selected["sig"])
    for m in ("ehr", "sig"):
        keys = level_importance.levels[m]
        fig.add_bar(
            x=[("★ " if k in selected else "") + level_label(k, sig_label) for k in keys],
            y=level_importance.importance[m],
            marker_color=MODALITY_COLOURS[m],
            name=modality_label(m, sig_label),
            hovertemplate="%{x}<br>mean |φ| %{y:.3f} " + LOG1P_DAYS + "<extra></extra>",
        )
    fig.update_yaxes(title=f"mean |φ| ({LOG1P_DAYS})")
    fig.update_xaxes(title="encoder level (shallow → deep, per modality)", tickangle=0)
    base_layout(fig, title="Global level importance over validation stays (★ = selected for stage 3)", height=360)
    ranked = sorted(((v, level_label(k, sig_label)) for m in ("ehr", "sig") for k, v in zip(level_importance.levels[m], level_importance.importance[m])), reverse=True)
    return with_alt(fig, "Global level importance (mean |φ|, log1p-days), largest first: " + ", ".join(f"{n} {v:.3f}" for v, n in ranked) + ".")


def metrics_figure(metrics: RunMetrics, head_kinds: dict[str, str], sig_label: str = "ECG", model_name: str = "LeMoF (meta-learner)") -> go.Figure:
    """Test MAE (days) of the model, each head alone, and predicting the training median."""
    test = metrics.test
    sig_label, model_name = literal(sig_label), literal(model_name)
    names = [model_name] + [head_label(k, sig_label) + " alone" for k in test.heads_alone] + ["training median"]
    mae = [test.model.mae_days] + [v.mae_days for v in test.heads_alone.values()] + [test.train_median.mae_days]
    colours = [TOTAL_COLOUR] + [HEAD_KIND_COLOURS[head_kinds[k]] for k in test.heads_alone] + [REFERENCE]
    fig = go.Figure(go.Bar(y=names, x=mae, orientation="h", marker_color=colours, text=[f"{v:.2f} d" for v in mae], textposition="outside", cliponaxis=False,
                           hovertemplate="%{y}: MAE %{x:.3f} days<extra></extra>", showlegend=False))
    for kind, colour in HEAD_KIND_COLOURS.items():
        if kind in head_kinds.values():
            fig.add_bar(x=[None], y=[None], marker_color=colour, name=f"{kind} head alone")
    fig.update_xaxes(title="test MAE (days; lower is better)", range=[0, max(mae) * 1.2])
    fig.update_yaxes(categoryorder="array", categoryarray=names[::-1], automargin=True)
    title = "Test MAE: the model, each head alone, the training median" if test.heads_alone else "Test MAE: the model and the training median"
    base_layout(fig, title=title, height=60 + 34 * len(names) + 120)
    heads = "; " + ", ".join(f"{head_label(k, sig_label)} alone {v.mae_days:.2f}" for k, v in test.heads_alone.items()) if test.heads_alone else ""
    return with_alt(fig, f"Test MAE in days: {model_name} {test.model.mae_days:.2f}, training median {test.train_median.mae_days:.2f}{heads}.")


def training_curves_figure(stage_reports: dict) -> go.Figure:
    """Training and validation loss per epoch of each trained stage (Huber loss on log1p-days)."""
    names = {"stage1_ehr": "stage 1: EHR encoder", "stage1_sig": "stage 1: biosignal encoder", "stage3_fusion": "stage 3: cross-modal attention", "end_to_end": "end to end"}
    colours = {"stage1_ehr": MODALITY_COLOURS["ehr"], "stage1_sig": MODALITY_COLOURS["sig"], "stage3_fusion": HEAD_KIND_COLOURS["cross-modal"], "end_to_end": TOTAL_COLOUR}
    stage_reports = {k: r for k, r in stage_reports.items() if isinstance(r, dict) and r.get("history")}
    fig = go.Figure()
    best = []
    for key, report in stage_reports.items():
        history = report["history"]
        epochs = [h["epoch"] for h in history]
        label = literal(names.get(key, key))  # stage keys of a run's metrics, or the labels a job's progress file uses
        colour = colours.get(key) or colours.get(next((k for k, v in names.items() if v == key), ""), TOTAL_COLOUR)
        fig.add_scatter(x=epochs, y=[h["train_loss"] for h in history], mode="lines", line=dict(color=colour, dash="dot"), name=f"{label}, training")
        fig.add_scatter(x=epochs, y=[h["val_loss"] for h in history], mode="lines+markers", line=dict(color=colour), name=f"{label}, validation")
        best.append(f"{label} best at epoch {report.get('best_epoch')} of {report.get('epochs_run')}")
    fig.update_xaxes(title="epoch", dtick=1 if max((len(r.get("history") or []) for r in stage_reports.values()), default=0) <= 12 else None)
    fig.update_yaxes(title="Huber loss (log1p-days)")
    base_layout(fig, title="Training curves (early stopping keeps the best validation epoch)", height=440)
    fig.update_layout(legend=dict(y=-0.22, yanchor="top"), margin=dict(b=20))
    return with_alt(fig, "Loss per epoch; " + "; ".join(best) + ".")
