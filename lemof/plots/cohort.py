"""Cohort-level figures: global level importance and model performance."""

from __future__ import annotations

import plotly.graph_objects as go

from lemof.plots.style import MODALITY_COLOURS, OKABE_ITO, base_layout, head_label, level_label


def global_importance_figure(level_importance: dict, sig_label: str = "ECG") -> go.Figure:
    """Mean |phi| of every level over validation stays; selected levels starred."""
    fig = go.Figure()
    selected = set(level_importance["selected"]["ehr"]) | set(level_importance["selected"]["sig"])
    for m in ("ehr", "sig"):
        keys = level_importance["levels"][m]
        fig.add_bar(
            x=[("★ " if k in selected else "") + level_label(k, sig_label) for k in keys],
            y=level_importance["importance"][m],
            marker_color=MODALITY_COLOURS[m],
            name="EHR" if m == "ehr" else sig_label,
        )
    fig.update_yaxes(title="mean |φ| (log1p-days)")
    return base_layout(fig, title="Global level importance (validation stays)", height=340)


def metrics_figure(metrics: dict, sig_label: str = "ECG") -> go.Figure:
    """Test MAE (days) of LeMoF, each head alone, and the training-median baseline."""
    test = metrics["test"]
    names = ["LeMoF"] + [head_label(k, sig_label) for k in test["heads_alone"]] + ["training median"]
    mae = [test["lemof"]["mae_days"]] + [v["mae_days"] for v in test["heads_alone"].values()] + [test["baseline_train_median"]["mae_days"]]
    colours = [OKABE_ITO["vermillion"]] + [OKABE_ITO["sky"]] * len(test["heads_alone"]) + [OKABE_ITO["grey"]]
    fig = go.Figure(go.Bar(x=names, y=mae, marker_color=colours, text=[f"{v:.2f}" for v in mae], textposition="outside"))
    fig.update_yaxes(title="test MAE (days)", range=[0, max(mae) * 1.2])
    return base_layout(fig, title="Test MAE: LeMoF vs its heads alone vs the training median", height=360)
