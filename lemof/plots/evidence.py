"""The benchmarks' evidence as figures: the grid's forest plots (every method against LeMoF, or against
LeMoF with the tabular head, paired, with hierarchical intervals) and stage 3 on every level pair. Pure functions of the result files
(``benchmarks/results/``: a grid's ``report.json``, ``level_pairs.json``), drawn the same way by the
benchmark scripts (their PNGs) and by the app's Evidence page (interactive)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lemof.plots.style import OKABE_ITO, REFERENCE, base_layout, with_alt


REFERENCES = {"lemof": ("comparisons", "LeMoF"), "lemof_tab": ("lemof_tab_vs", "LeMoF + tabular head")}  # reference -> (report list, label)


def forest_references(c: dict) -> list[str]:
    """The references a grid report's section can be drawn against: LeMoF, and LeMoF with the
    tabular head where the grid has it (``lemof_tab_vs``)."""
    return [r for r, (field, _) in REFERENCES.items() if any(x.get(f"diff_method_minus_{r}") for x in c.get(field) or [])]


def forest_figure(cohort: str, c: dict, reference: str = "lemof"):
    """MAE difference (method − reference, paired, 95 % CI) per method, one panel per configuration;
    the reference is LeMoF or LeMoF with the tabular head (``REFERENCES``)."""
    field, ref = REFERENCES[reference]
    key = f"diff_method_minus_{reference}"
    comps = [x for x in c.get(field) or [] if x[key]]
    configs = [e for e in c["configurations"] if any(x["encoders"] == e for x in comps)] or ["(none)"]
    counts = [max(1, sum(x["encoders"] == e for x in comps)) for e in configs]
    fig = make_subplots(rows=len(configs), cols=1, shared_xaxes=True, subplot_titles=configs, row_heights=counts,
                        vertical_spacing=0.18 / len(configs))
    style = {"lemof": (OKABE_ITO["green"], "square", "LeMoF"), "variant": (OKABE_ITO["green"], "square", "LeMoF variants"),
             "baseline": (OKABE_ITO["vermillion"], "diamond", "Baselines"), "ablation": (OKABE_ITO["sky"], "circle", "Ablations")}
    shown = set()
    for r, enc in enumerate(configs, 1):
        for kind, (colour, symbol, name) in style.items():
            xs = [x for x in comps if x["encoders"] == enc and x["kind"] == kind]
            if not xs:
                continue
            d = [x[key] for x in xs]
            fig.add_trace(go.Scatter(
                x=[v["estimate"] for v in d], y=[x["label"] for x in xs], mode="markers", name=name, legendgroup=kind,
                showlegend=kind not in shown, marker=dict(color=colour, symbol=symbol, size=10),
                error_x=dict(type="data", array=[v["hi"] - v["estimate"] for v in d], arrayminus=[v["estimate"] - v["lo"] for v in d],
                             color=colour, thickness=2),
                customdata=[[v["lo"], v["hi"], ",".join(map(str, x["seeds"]))] for v, x in zip(d, xs)],
                hovertemplate="%{y}: %{x:.3f} d [%{customdata[0]:.3f}, %{customdata[1]:.3f}], seeds %{customdata[2]}<extra></extra>",
            ), row=r, col=1)
            shown.add(kind)
        fig.update_yaxes(autorange="reversed", row=r, col=1)
    fig.add_vline(x=0, line_dash="dash", line_color=REFERENCE, row="all", col=1)
    if not comps:
        fig.add_annotation(text=f"No paired comparison yet: it needs {ref} and another method in one configuration",
                           showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    scored = "MAE difference on every stay" if cohort.startswith("external_") else "Test MAE difference"
    fig.update_xaxes(title_text=f"{scored}, method − {ref} (days); > 0: {ref} better", row=len(configs), col=1)
    height = 160 + 34 * sum(counts) + 40 * len(configs)
    if cohort.startswith("external_"):
        what = f"trained on {cohort[len('external_'):]}, scored on every stay of {c['bundle']['name']} (external)"
    else:
        what = f"{cohort}: paired test MAE difference"
    base_layout(fig, title=f"{what}: vs {ref}, 95 % hierarchical bootstrap CI", height=height)
    fig.update_layout(legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02), margin=dict(r=130), title_x=0.015)
    better = sum(1 for x in comps if x[key]["lo"] is not None and x[key]["lo"] > 0)
    return with_alt(fig, f"Forest plot for {cohort}: {len(comps)} method-configuration pairs compared with {ref} on the same stays; "
                         f"{ref}'s MAE is lower, with a 95 % interval excluding 0, in {better} of them.")


def level_pairs_figure(result: dict) -> go.Figure:
    """One cohort of ``level_pairs.json``: each (EHR level × biosignal level) pair's test MAE minus
    the Shapley choice's (paired over seeds and stays, 95 % hierarchical interval; > 0: the pair
    stage 2 chose was better), the pairs stage 2 chose in some seed marked; the average pair (what
    a random pair gives) and the pair chosen on validation as reference lines."""
    pairs = sorted(result["pairs"], key=lambda p: p["minus_shapley_days"]["estimate"])
    labels = [f"{p['ehr_level']} × {p['sig_level']}" for p in pairs]
    d = [p["minus_shapley_days"] for p in pairs]
    chosen = [any(v["shapley_choice"] for v in p["seeds"].values()) for p in pairs]
    fig = go.Figure()
    for flag, name, colour, symbol in ((False, "a fixed pair", OKABE_ITO["sky"], "circle"), (True, "a pair stage 2 chose (in some seed)", OKABE_ITO["purple"], "diamond")):
        idx = [i for i, c in enumerate(chosen) if c == flag]
        if not idx:
            continue
        fig.add_trace(go.Scatter(
            x=[d[i]["estimate"] for i in idx], y=[labels[i] for i in idx], mode="markers", name=name,
            marker=dict(color=colour, symbol=symbol, size=10),
            error_x=dict(type="data", array=[d[i]["hi"] - d[i]["estimate"] for i in idx], arrayminus=[d[i]["estimate"] - d[i]["lo"] for i in idx],
                         color=colour, thickness=2),
            customdata=[[d[i]["lo"], d[i]["hi"], pairs[i]["test_mae_days"]["estimate"]] for i in idx],
            hovertemplate="%{y}: %{x:+.3f} d [%{customdata[0]:+.3f}, %{customdata[1]:+.3f}]; test MAE %{customdata[2]:.3f} d<extra></extra>",
        ))
    avg = -result["shapley_minus_average_pair_days"]["estimate"]
    val = -result["shapley_minus_validation_choice_days"]["estimate"]
    fig.add_vline(x=0, line_dash="solid", line_color=REFERENCE)
    fig.add_trace(go.Scatter(x=[avg, avg], y=[labels[0], labels[-1]], mode="lines", line=dict(dash="dot", color=OKABE_ITO["vermillion"]),
                             name=f"the average pair (a random pair): {avg:+.3f} d"))
    fig.add_trace(go.Scatter(x=[val, val], y=[labels[0], labels[-1]], mode="lines", line=dict(dash="dash", color=OKABE_ITO["green"]),
                             name=f"the pair chosen on validation: {val:+.3f} d"))
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels)
    fig.update_xaxes(title_text="test MAE of the pair − the Shapley choice's (days); > 0: stage 2's choice was better")
    rank = result["shapley_rank"]
    base_layout(fig, title=f"{result['cohort']}: stage 3 on each of {result['n_pairs']} level pairs, {len(result['seeds'])} seeds, "
                           f"{result['n_test_stays']:,} test stays; Shapley choice ranks {rank['rank']} of {rank['of']} [{rank['lo']}–{rank['hi']}]",
                height=160 + 30 * len(pairs))
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0), margin=dict(t=110), title_x=0.015)
    return with_alt(fig, f"Level pairs on {result['cohort']}: every pair's test MAE against stage 2's Shapley choice; the pairs span "
                         f"{result['spread_days']:.3f} d; the average pair is {avg:+.3f} d from the Shapley choice, the validation choice {val:+.3f} d.")
