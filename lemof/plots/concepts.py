"""What each level encodes: level x concept heatmaps of a run's concept probes
(``level_concepts.json``, ``lemof.runs.concepts_file``)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lemof.plots.style import SEQUENTIAL, base_layout, level_label, with_alt
from lemof.plots.text import literal

SKILL = "probe skill (0 = chance, 1 = perfect)"


def skill(kind: str, score: float) -> float:
    """One 0..1 scale for both kinds: 2·(AUROC − 0.5) for a binary concept, R² (floored at 0) for a continuous one."""
    return max(0.0, 2.0 * (score - 0.5)) if kind == "binary" else max(0.0, score)


def _score_text(kind: str, s: dict) -> str:
    return f"{'AUROC' if kind == 'binary' else 'R²'} {s['score']:.2f} [{s['lo']:.2f}, {s['hi']:.2f}], n = {s['n']}"


def _grid(level_concepts: dict, selected: set[str], sig_label: str):
    concepts = level_concepts["concepts"]
    names = list(concepts)
    levels = list(level_concepts["levels"])
    z, text, hover = [], [], []
    for level in levels:
        scores = level_concepts["levels"][level]
        z.append([skill(concepts[c]["kind"], scores[c]["score"]) if c in scores else None for c in names])
        text.append([f"{scores[c]['score']:.2f}" if c in scores else "–" for c in names])
        hover.append([_score_text(concepts[c]["kind"], scores[c]) if c in scores else "not probed (too few stays of a class)" for c in names])
    y = [("★ " if l in selected else "") + level_label(l, literal(sig_label)) for l in levels]
    x = [f"{literal(c)} ({'AUROC' if concepts[c]['kind'] == 'binary' else 'R²'})" for c in names]
    return x, y, z, text, hover


def _heatmap(x, y, z, text, hover, *, show_scale: bool) -> go.Heatmap:
    return go.Heatmap(
        x=x, y=y, z=z, text=text, customdata=hover, texttemplate="%{text}", zmin=0.0, zmax=1.0, colorscale=SEQUENTIAL,
        showscale=show_scale, colorbar=dict(title=dict(text="skill", side="right")) if show_scale else None,
        hovertemplate="%{y} · %{x}<br>%{customdata}<extra></extra>",
    )


def _alt_summary(level_concepts: dict, sig_label: str) -> str:
    concepts = level_concepts["concepts"]
    parts = []
    for c, spec in concepts.items():
        best = max(((s[c]["score"], l) for l, s in level_concepts["levels"].items() if c in s), default=None)
        if best is not None:
            parts.append(f"{literal(c)} best at {level_label(best[1], literal(sig_label))} ({'AUROC' if spec['kind'] == 'binary' else 'R²'} {best[0]:.2f})")
    return "; ".join(parts)


def level_concepts_figure(level_concepts: dict, selected: set[str] | None = None, sig_label: str = "ECG") -> go.Figure:
    """Levels (rows, shallow to deep per modality) x concepts (columns): each cell the held-out
    probe score, coloured by skill (AUROC and R² on one 0..1 scale); levels chosen by stage 2 starred."""
    x, y, z, text, hover = _grid(level_concepts, selected or set(), sig_label)
    fig = go.Figure(_heatmap(x, y, z, text, hover, show_scale=True))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(tickangle=-30, automargin=True)
    base_layout(fig, title="What each level encodes across the cohort", subtitle="Linear concept probes on held-out stays; ★ = level selected by stage 2",
                height=150 + 34 * len(y), legend_above=True)
    return with_alt(fig, "Level × concept probe scores. " + _alt_summary(level_concepts, sig_label) + ".")


def level_concepts_compare_figure(runs: dict[str, tuple[dict, set[str]]], sig_label: str = "ECG") -> go.Figure:
    """One level x concept heatmap per run, side by side (the same colour scale): how encoder
    configurations distribute the concepts over depth. ``runs``: run id -> (concepts, selected levels)."""
    ids = list(runs)
    fig = make_subplots(rows=1, cols=len(ids), subplot_titles=[literal(r) for r in ids], horizontal_spacing=0.12 / max(1, len(ids) - 1) + 0.04)
    n_rows = 1
    for i, run_id in enumerate(ids):
        concepts, selected = runs[run_id]
        x, y, z, text, hover = _grid(concepts, selected, sig_label)
        n_rows = max(n_rows, len(y))
        fig.add_trace(_heatmap(x, y, z, text, hover, show_scale=i == len(ids) - 1), row=1, col=i + 1)
        fig.update_yaxes(autorange="reversed", automargin=True, row=1, col=i + 1)
        fig.update_xaxes(tickangle=-45, automargin=True, row=1, col=i + 1)
    base_layout(fig, title="What each level encodes, per configuration", subtitle="Probe scores on held-out stays; ★ = level selected by stage 2",
                height=230 + 34 * n_rows, legend_above=True)
    return with_alt(fig, "Level × concept probe scores per run. " + " | ".join(f"{literal(r)}: {_alt_summary(runs[r][0], sig_label)}" for r in ids) + ".")
