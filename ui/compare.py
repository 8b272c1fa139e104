"""Sections of the compare page: which runs, metrics, profiles, calibration, A vs B, one stay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from lemof import LemofError, RunEntry, list_runs
from lemof.runs.catalog import preferred_order, run_id_from_link
from lemof.evaluation.compare import Comparison
from lemof.explain.explainers import explainers_for
from lemof.evaluation.external import relation
from lemof.plots import (
    alt_text,
    attention_figure,
    calibration_figure,
    contributions_figure,
    level_concepts_compare_figure,
    level_profile_figure,
    level_shap_figure,
    metrics_ci_figure,
    scatter_figure,
    shared_range,
    shared_span,
    span_of,
    stay_predictions_figure,
    waterfall_range,
)
from ui import access, links, loaders
from ui.context import ActiveContext, case_link
from ui.widgets import PLOTLY_CONFIG, chart, guarded, md

MAX_RUNS = 6
LINK_SCOPE = "compare"  # of its links (ui.links)


def lemof_configurations(ctx: ActiveContext, entries: list[RunEntry]) -> list[str]:
    """The cohort's LeMoF encoder configurations: one ``fusion == "lemof"`` run per encoder pair,
    in the sidebar's order (the default encoders first); the active run stands for its own pair."""
    active = ctx.run_entry
    out: dict[str, str] = {}  # encoders -> run id
    for e in preferred_order(entries, ctx.bundle.name):
        if e.fusion == "lemof" and e.encoders not in out:
            out[e.encoders] = active.run_id if (active.fusion, active.encoders) == ("lemof", e.encoders) else e.run_id
    return list(out.values())[:MAX_RUNS]


def baselines(ctx: ActiveContext, entries: list[RunEntry]) -> list[str]:
    """One run per other fusion method (the baselines, gbm, any ablation), in the sidebar's order."""
    out: dict[str, str] = {}  # fusion -> run id
    for e in preferred_order(entries, ctx.bundle.name):
        if e.fusion != "lemof":
            out.setdefault(e.fusion, e.run_id)
    return list(out.values())


def _choose(key: str, run_ids: list[str]) -> None:
    st.session_state[key] = run_ids[:MAX_RUNS]  # a button callback: before the multiselect is drawn


def choose_runs(ctx: ActiveContext) -> list[RunEntry]:
    """The runs to compare (of the active cohort's family): at first the LeMoF encoder
    configurations, the baselines one click away; the choice lives in ``?runs=a,b,c``."""
    entries, _ = list_runs(source=ctx.bundle.source)
    ids = [e.run_id for e in entries]
    key = f"compare_runs:{ctx.cohort.key}"
    configurations = lemof_configurations(ctx, entries)
    link = links.take(LINK_SCOPE, "runs")
    if link is not None:
        wanted = [run_id_from_link(r, ids) for r in link.split(",") if r]
        unknown = [r for r in wanted if r not in ids]
        if unknown:
            st.warning(f"The link asks for run(s) {', '.join(repr(u) for u in unknown)}, which are not available for {md(ctx.cohort.label)}; they are left out.")
        st.session_state[key] = [r for r in wanted if r in ids][:MAX_RUNS]
    if key not in st.session_state:
        if len(configurations) >= 2:
            st.session_state[key] = configurations
        else:  # fewer than two LeMoF configurations in this family: the active run and the next ones
            others = [e.run_id for e in preferred_order(entries, ctx.bundle.name) if e.run_id != ctx.run_entry.run_id]
            st.session_state[key] = [ctx.run_entry.run_id] + others[:2]
    st.session_state[key] = [r for r in st.session_state[key] if r in ids]
    labels = {e.run_id: e.label for e in entries}
    chosen = st.multiselect(
        f"Runs to compare ({len(ids)} trained on {ctx.bundle.source} cohorts; up to {MAX_RUNS})", ids, key=key, format_func=labels.__getitem__,
        max_selections=MAX_RUNS, help="Shipped runs and your own (trained from the Retrain page or the command line).",
    )
    links.mirror(LINK_SCOPE, "runs", ",".join(chosen))
    missing = [r for r in baselines(ctx, entries) if r not in chosen]
    by_id = {e.run_id: e for e in entries}
    c1, c2 = st.columns(2)
    c1.button(f"Add the baselines ({', '.join(by_id[r].fusion for r in missing) or 'all shown'})", key="compare_add_baselines", disabled=not missing,
              on_click=_choose, args=(key, chosen + missing), icon=":material/add:",
              help=f"At most {MAX_RUNS} runs: those beyond are left out." if len(chosen) + len(missing) > MAX_RUNS else None)
    c2.button("Only the LeMoF encoder configurations", key="compare_configurations", disabled=chosen == configurations or len(configurations) < 2,
              on_click=_choose, args=(key, configurations), icon=":material/restart_alt:")
    return [by_id[r] for r in chosen]  # in the order picked: the same order (and colours) in every figure


SCOPES = {"test": "The held-out test stays", "all": "Every stay (external validation)"}


def choose_scope(ctx: ActiveContext, entries: list[RunEntry]) -> str:
    """``test``, or ``all`` where some runs are external to this cohort (offered then, and the default
    when every run is): every stay scored, each run's relation to the cohort said in words."""
    rels = {e.run_id: relation(loaders.run(e.path), ctx.bundle) for e in entries}
    external = [r for r, rel in rels.items() if rel.external]
    if not external:
        return "test"
    scope = st.radio("Score on", list(SCOPES), format_func=SCOPES.__getitem__, horizontal=True, key="compare_scope",
                     index=1 if len(external) == len(rels) else 0,
                     help="Every stay of this cohort is an external validation for a run that saw none of them in training; "
                          "for a run trained on this cohort only the test stays are honest.")
    if scope == "all":
        st.info(f"External validation for {', '.join(external)}: none of the {len(ctx.bundle):,} stays of {md(ctx.bundle.name)} "
                "was used to fit, calibrate or choose them.", icon=":material/verified:")
        for run_id, rel in rels.items():
            if not rel.external:
                st.warning(rel.sentence(run_id, md(ctx.bundle.name)) + " Its scores over every stay are not external.")
    return scope


def comparison(ctx: ActiveContext, entries: list[RunEntry], split: str = "test") -> tuple[Comparison, pd.DataFrame, pd.DataFrame]:
    """Aligned predictions on ``split``, metrics with CIs and calibration (cached per set of runs by ``ui.loaders``)."""
    return loaders.comparison([e.path for e in entries], ctx.cohort.path, split)


def report_problems(ctx: ActiveContext, comp: Comparison) -> None:
    for run_id, why in comp.unavailable.items():
        st.warning(f"**{run_id}** cannot be compared on {md(ctx.bundle.name)}: {md(why)}.")


def metrics_section(comp: Comparison, metrics: pd.DataFrame) -> None:
    references = {"mae_days": comp.train_median_metrics().mae_days, "kappa_linear_10bucket": 0.0, "auroc_los_gt7": 0.5}
    scope = "Test metrics" if comp.split == "test" else "Metrics on every stay"
    chart(metrics_ci_figure(metrics, comp.ids, references, scope), key="compare_metrics")


def profiles_section(ctx: ActiveContext, comp: Comparison) -> None:
    profiles, missing = {}, []
    for r in comp.runs:
        imp = r.run.level_importance
        if imp is None:
            missing.append(r.run.run_id)
            continue
        profiles[r.run.run_id] = {"ehr": imp.importance["ehr"], "sig": imp.importance["sig"], "selected": imp.selected}
    if profiles:
        chart(level_profile_figure(profiles, ctx.sig_label, comp.ids), key="compare_profiles")
    if missing:
        st.info(f"No level importance for {', '.join(missing)}: level SHAP is part of LeMoF, not of these baselines.")


def concepts_section(ctx: ActiveContext, comp: Comparison) -> None:
    """Level x concept probe heatmaps of the LeMoF runs side by side: where over depth each configuration keeps each concept."""
    runs, missing = {}, []
    for r in comp.runs:
        if r.run.level_concepts is None or r.run.level_importance is None:
            missing.append(r.run.run_id)
            continue
        imp = r.run.level_importance
        runs[r.run.run_id] = (r.run.level_concepts, set(imp.selected["ehr"]) | set(imp.selected["sig"]))
    if runs:
        chart(level_concepts_compare_figure(runs, ctx.sig_label), key="compare_concepts")
        st.caption("Held-out linear probe scores (AUROC for binary concepts, R² for continuous ones) of each level's pooled representation; ★ = selected by stage 2.")
    if missing:
        st.info(f"No concept probes for {', '.join(missing)} (baselines have no levels; a LeMoF run trained before they were stored gets them with `python -m lemof concepts`).")


def calibration_section(comp: Comparison, calibration: pd.DataFrame) -> None:
    if calibration.empty:
        st.info("No run here stores the validation predictions its intervals were calibrated on.")
        return
    chart(calibration_figure(calibration, comp.ids), key="compare_calibration")
    missing = [r for r in comp.ids if r not in set(calibration["run"])]
    if missing:
        st.caption(f"Not shown (predictions computed for this cohort, not stored with their validation stays): {', '.join(missing)}.")


def _linked(ctx: ActiveContext, table: pd.DataFrame, run_id: str) -> pd.DataFrame:
    out = table.reset_index().rename(columns={"stay_id": "stay"})
    out.insert(1, "open in case review", [case_link(ctx, run_id, s) for s in out["stay"]])
    return out.round(2)


def _link_config() -> dict:
    return {"open in case review": st.column_config.LinkColumn("open in case review", display_text="open ↗")}


def pair_section(ctx: ActiveContext, comp: Comparison) -> tuple[str, str]:
    c1, c2 = st.columns(2)
    a = c1.selectbox("Run A (x axis)", comp.ids, index=0, key="compare_a")
    rest = [r for r in comp.ids if r != a]
    b = c2.selectbox("Run B (y axis)", rest, index=0, key="compare_b")
    fig = scatter_figure(comp.stays, comp.predicted(a), comp.predicted(b), a, b)
    event = st.plotly_chart(fig, key="compare_scatter", on_select="rerun", selection_mode=("points", "box", "lasso"), config=PLOTLY_CONFIG, alt=alt_text(fig))
    st.caption(md(alt_text(fig)))
    points = event.selection.points if event and event.selection else []
    ids = [int(p["customdata"]) for p in points if p.get("customdata") is not None]
    if ids:
        table = pd.DataFrame({f"{a} (days)": comp.predicted(a), f"{b} (days)": comp.predicted(b), "observed (days)": comp.stays["los_days"]}).loc[ids]
        st.markdown(f"**{len(ids)} selected stay{'s' if len(ids) != 1 else ''}**")
        st.dataframe(_linked(ctx, table, a), hide_index=True, column_config=_link_config())
    else:
        st.caption("Select points (click, box or lasso) to list those stays with links to their case review.")
    st.markdown(f"**Where {a} and {b} disagree most**")
    st.dataframe(_linked(ctx, comp.disagreements(a, b, 10), a), hide_index=True, column_config=_link_config())
    return a, b


def one_stay_section(ctx: ActiveContext, comp: Comparison, default_stay: int) -> None:
    ids = comp.stays.index.astype(int).tolist()
    key = "compare_stay"
    link = links.take(LINK_SCOPE, "stay")
    if link is not None:
        if link.isdigit() and int(link) in ids:
            st.session_state[key] = int(link)
        else:
            st.warning(f"The link asks for stay {link!r}, which is not among the compared stays of {md(ctx.bundle.name)}; showing another one.")
    if st.session_state.get(key) not in ids:
        st.session_state[key] = default_stay
    stay = st.selectbox(f"{'Test stay' if comp.split == 'test' else 'Stay'} (default: where the two runs disagree most)", ids, key=key)
    links.mirror(LINK_SCOPE, "stay", str(stay))
    access.viewed("compare", ctx.cohort.key, ctx.run_entry.run_id, stay, runs=",".join(r.run.run_id for r in comp.runs))
    st.page_link("pages/case_review.py", label=f"Open stay {stay} in case review", icon=":material/person_search:", query_params={"stay": str(stay)})
    rows = []
    for r in comp.runs:
        p = r.pred.loc[stay]
        rows.append({"run": r.run.run_id, "los_days": p["los_days"], "low": p["interval_low_days"], "high": p["interval_high_days"]})
    chart(stay_predictions_figure(rows, float(comp.stays.loc[stay, "los_days"])), key="compare_stay_predictions")

    # the runs that have LeMoF's level SHAP and heads (lemof.explain.explainers), their results shared with case review
    results = {r.run.run_id: loaders.stay(r.run, ctx.bundle, stay) for r in comp.runs if {"level_shap", "heads"} <= {e.name for e in explainers_for(r.run)}}
    explanations = {}
    for run_id, res in results.items():
        with guarded(f"Explanation by {run_id}"):
            explanations[run_id] = (res.attribute("level_shap"), res.attribute("heads"), res.prediction.los_days)
    if not explanations:
        st.info("None of these runs is LeMoF: level SHAP, head contributions and attention do not apply to baselines.")
        return
    span = shared_span(span_of(e[0]) for e in explanations.values())
    value_range = shared_range(waterfall_range(e[1]) for e in explanations.values())
    attention = {rid: results[rid].attention for rid in explanations}
    zmax = max((float(np.max(a.mean("ehr_to_sig"))) for a in attention.values() if a is not None), default=None)
    baselines = [r.run for r in comp.runs if r.run.run_id not in explanations]
    if baselines:
        st.info(" ".join(f"{b.run_id} ({b.fusion}) is a baseline: no level SHAP, head contributions or attention." for b in baselines))
    lemof_runs = [r for r in comp.runs if r.run.run_id in explanations]
    for start in range(0, len(lemof_runs), 2):  # two per row: the figures need half the page to stay legible
        for col, r in zip(st.columns(2), lemof_runs[start:start + 2]):
            with col:
                st.markdown(f"**{r.run.run_id}**  \n{r.run.fusion} · {r.run.encoders}")
                shap, heads, los = explanations[r.run.run_id]
                chart(level_shap_figure(shap, ctx.sig_label, span=span, concepts=results[r.run.run_id].concepts, prediction_days=los), key=f"cmp_shap_{r.run.run_id}")
                chart(contributions_figure(heads, los, ctx.sig_label, value_range=value_range), key=f"cmp_waterfall_{r.run.run_id}")
                fig = attention_figure(attention[r.run.run_id], sig_label=ctx.sig_label, zmax=zmax)
                if fig is None:
                    st.info(f"No {ctx.sig_label} for this stay: no cross-modal attention.")
                else:
                    chart(fig, key=f"cmp_attention_{r.run.run_id}")


def available(ctx: ActiveContext, entries: list[RunEntry], split: str = "test") -> tuple[Comparison, pd.DataFrame, pd.DataFrame] | None:
    try:
        with st.spinner("Aligning the runs' predictions and bootstrapping their metrics…"):
            return comparison(ctx, entries, split)
    except LemofError as exc:
        st.error(f"The runs cannot be compared: {exc}")
        return None


def _pair_and_stay(ctx: ActiveContext, comp: Comparison) -> None:
    a, b = pair_section(ctx, comp)
    st.subheader("One stay across runs")
    with guarded("One stay across runs"):
        one_stay_section(ctx, comp, int(comp.disagreements(a, b, 1).index[0]))


def views(ctx: ActiveContext, comp: Comparison, calibration: pd.DataFrame):
    """The control that opens one of the comparison's views below the metrics (none at first, so a
    new visitor's page draws one chart); returns the function that draws the chosen one."""
    options = {
        "Level importance profiles": lambda: profiles_section(ctx, comp),
        "What each level encodes": lambda: concepts_section(ctx, comp),
        "Interval calibration": lambda: calibration_section(comp, calibration),
        "Run against run, and one stay across runs": lambda: _pair_and_stay(ctx, comp),  # the ``pair`` below
    }
    pair = "Run against run, and one stay across runs"
    if "compare_view" not in st.session_state and "stay" in st.query_params:  # a link to one stay opens the view that shows it
        st.session_state["compare_view"] = pair
    choice = st.segmented_control("More", list(options), default=None, key="compare_view", label_visibility="collapsed")
    if choice is None:
        st.caption("Open: " + ", ".join(options) + ".")

    def draw() -> None:
        if choice in options:
            st.subheader(choice)
            with guarded(choice):
                options[choice]()

    return draw
