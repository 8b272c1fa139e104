"""Sections of the Cohort page: one run over the whole cohort (computed once per run, cohort and
scope by ``lemof.evaluation.cohort_view``, cached by ``ui.loaders``; the figures get aggregates only)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from lemof.evaluation.cohort_view import CohortView, stay_list
from lemof.evaluation.subgroups import MIN_CI_STAYS
from lemof.plots import alt_text
from lemof.plots.compare import calibration_figure
from lemof.plots.cohort_view import head_spread_figure, level_spread_figure, reliability_figure, subgroup_figure, subgroup_label
from ui import loaders
from ui.context import ActiveContext, case_link
from ui.widgets import PLOTLY_CONFIG, chart, guarded, md

MAX_LISTED = 200
LINK = "open in case review"
_GROUP_KEY = "cohort_group"
_PICKED = "_cohort_group_picked"


def scope(view: CohortView) -> str:
    return "test stays" if view.split == "test" else "stays (all splits)" if view.stored else "stays (all)"


def choose_split(ctx: ActiveContext) -> str:
    """``all`` on a cohort external to the run (every stay is unseen: external validation, said so);
    otherwise the test stays, or every stay on request, with a warning where the run saw some."""
    rel = ctx.relation
    if rel.external:
        st.info(rel.sentence(ctx.run.run_id, md(ctx.bundle.name)), icon=":material/verified:")
        return "all"
    if rel.kind != "own":
        st.warning(rel.sentence(ctx.run.run_id, md(ctx.bundle.name)))
    everything = st.toggle("All stays (training and validation too)", key="cohort_all_stays",
                           help="Off: the held-out test stays only, the honest view. On: every stay of the cohort, including those the run was fitted and calibrated on.")
    return "all" if everything else "test"


def _draw(name: str, v: CohortView, sig_label: str) -> go.Figure:
    if name == "levels":
        return level_spread_figure(v.level_spread, sig_label, scope(v))
    if name == "heads":
        return head_spread_figure(v.head_spread, sig_label, scope(v))
    if name == "interval":
        return calibration_figure(v.interval_calibration, [v.run_id])
    if name == "reliability":
        return reliability_figure(v.reliability, v.brier, v.brier_reference, scope(v))
    if name == "subgroups":
        return subgroup_figure(v.subgroups, v.overall, scope(v), MIN_CI_STAYS)
    raise KeyError(name)


def _figure(ctx: ActiveContext, v: CohortView, name: str) -> go.Figure:
    """Figure ``name`` of the view, drawn once per run, cohort, scope and label (``ui.loaders.figure``)."""
    key = ("cohort", name, *loaders.cohort_view_key(ctx.run_entry.path, ctx.cohort.path, v.split, ctx.sig_label))
    return loaders.figure(key, lambda: _draw(name, v, ctx.sig_label))


def view(ctx: ActiveContext, split: str) -> CohortView | None:
    """The cohort view of the active run (None, with the reason shown, if it cannot be computed)."""
    with guarded(f"Run {ctx.run.run_id} on {ctx.bundle.name}"), st.spinner("Scoring the stays and aggregating them…"):
        return loaders.cohort_view(ctx.run_entry.path, ctx.cohort.path, split, ctx.sig_label)
    return None


def summary(ctx: ActiveContext, v: CohortView) -> None:
    model = "its trees" if ctx.run.kind == "tabular" else "its network"
    origin = "the predictions stored when it was trained on this cohort" if v.stored else f"{model} (it was trained on {md(ctx.run.cohort.name)})"
    st.markdown(f"**Run** `{v.run_id}` on **{md(ctx.bundle.name)}**: {v.n:,} {scope(v)}, scored from {origin}.")
    c = st.columns(4)
    o = v.overall
    c[0].metric("Stays", f"{v.n:,}")
    c[1].metric("MAE", f"{o['mae_days']:.2f} days", help=f"95 % bootstrap interval {o['lo']:.2f}–{o['hi']:.2f} days.")
    c[2].metric("Interval coverage", f"{100 * v.interval_coverage:.1f} %", help=f"Share of stays whose observed LOS lies in the run's {100 * v.interval_level:.0f} % interval.")
    c[3].metric("Brier, LOS > 7 days", f"{v.brier:.3f}", help=f"Predicting the validation share ({100 * v.validation_share_long:.0f} %) for everyone scores {v.brier_reference:.3f}; lower is better.")


def levels_section(ctx: ActiveContext, v: CohortView) -> None:
    if v.level_spread is None:
        st.info(v.notes.get("levels", "No per-stay level importance for this run."))
        return
    chart(_figure(ctx, v, "levels"), key="cohort_levels")
    st.caption(f"|φ| is a stay's exact level Shapley value (log1p-days), over the stays where the level's modality is present; "
               f"{ctx.sig_label} levels have none for stays without {ctx.sig_label}.")


def calibration_section(ctx: ActiveContext, v: CohortView) -> None:
    left, right = st.columns(2)
    with left:
        if v.interval_calibration.empty:
            if "interval" in v.notes:
                why = v.notes["interval"]
            elif v.stored:
                why = f"run {v.run_id} does not store its validation predictions with the {ctx.sig_label} hidden, which its interval calibration used"
            else:
                why = f"the predictions of run {v.run_id} are computed for this cohort, not stored with the validation stays its interval was calibrated on"
            st.info(f"The coverage at other nominal levels cannot be recomputed: {why}. "
                    f"Its own {100 * v.interval_level:.0f} % interval covers {100 * v.interval_coverage:.1f} % of these stays.")
        else:
            chart(_figure(ctx, v, "interval"), key="cohort_interval_calibration")
    with right:
        chart(_figure(ctx, v, "reliability"), key="cohort_reliability")
    rc = v.residual_counts

    def residuals(pattern: str) -> str:
        own, used = rc[f"val_{pattern}"], rc[pattern]
        return f"{used:,} residuals" if own == used else f"all {used:,} residuals (only {own:,} validation stays {pattern} {ctx.sig_label}: too few)"

    st.caption(
        f"P(LOS > 7 d) comes from the run's conformal predictive distribution: a stay predicted f (log1p-days) gets the share of validation residuals "
        f"r = log1p(observed) − prediction with f + r > log1p(7), among those of its availability pattern: stays with {ctx.sig_label} use "
        f"{residuals('with')}, stays without {ctx.sig_label} use {residuals('without')}."
    )


def subgroup_section(ctx: ActiveContext, v: CohortView) -> tuple[str, str] | None:
    """The subgroup chart (click a point to pick it) and table; returns the clicked subgroup."""
    fig = _figure(ctx, v, "subgroups")
    event = st.plotly_chart(fig, key="cohort_subgroups", on_select="rerun", selection_mode=("points",), config=PLOTLY_CONFIG, alt=alt_text(fig))
    st.caption(md(alt_text(fig)))
    table = v.subgroups.rename(columns={"category": "category", "subgroup": "subgroup", "n": "stays", "mae_days": "MAE (days)", "lo": "95 % CI low", "hi": "95 % CI high"})
    table["note"] = [f"too few stays (< {MIN_CI_STAYS}) for an interval" if s else "" for s in table.pop("too_small")]
    with st.expander("Subgroup table"):
        st.dataframe(table.round(3), hide_index=True, key="cohort_subgroup_table")
    points = event.selection.points if event and event.selection else []
    picked = [p.get("customdata") for p in points if p.get("customdata")]
    return (str(picked[0][0]), str(picked[0][1])) if picked else None


def heads_section(ctx: ActiveContext, v: CohortView) -> None:
    if v.head_spread is None:
        st.info(v.notes.get("heads", "No head contributions for this run."))
        return
    chart(_figure(ctx, v, "heads"), key="cohort_heads")
    st.caption("A head's contribution to a stay's prediction is its weight × its prediction; each kind's heads are summed per stay. "
               f"Stays with and without {ctx.sig_label} are predicted by separately fitted weights.")


def _default_group(v: CohortView) -> str:
    ok = v.subgroups[~v.subgroups["too_small"]]
    row = (ok if not ok.empty else v.subgroups).sort_values("mae_days", ascending=False).iloc[0]
    return subgroup_label(row["category"], row["subgroup"])


def stays_section(ctx: ActiveContext, v: CohortView, picked: tuple[str, str] | None) -> None:
    """A subgroup (or a bin of P(LOS > 7 d)) → its stays, largest error first, each linked to case review."""
    groups = {subgroup_label(c, s): (c, s, n) for c, s, n in v.groups()}
    if picked is not None:
        label = subgroup_label(*picked)
        if label != st.session_state.get(_PICKED):  # a new click on the chart picks the subgroup once
            st.session_state[_PICKED] = label
            if label in groups:
                st.session_state[_GROUP_KEY] = label
    if st.session_state.get(_GROUP_KEY) not in groups:
        st.session_state[_GROUP_KEY] = _default_group(v)
    choice = st.selectbox("Subgroup or predicted-probability bin (or click a point above)", list(groups), key=_GROUP_KEY,
                          format_func=lambda g: f"{g} ({groups[g][2]:,} stays)")
    category, subgroup, _ = groups[choice]
    table, total = stay_list(v, category, subgroup, MAX_LISTED)
    out = table.reset_index().rename(columns={"stay_id": "stay"})
    out.insert(1, LINK, [case_link(ctx, v.run_id, s) for s in out["stay"]])
    st.dataframe(out.round(2), hide_index=True, key="cohort_stays", column_config={LINK: st.column_config.LinkColumn(LINK, display_text="open ↗")})
    if total > MAX_LISTED:
        st.caption(f"The {MAX_LISTED} stays with the largest absolute error of {total:,} in {md(choice)}.")
    else:
        st.caption(f"All {total:,} stays of {md(choice)}, largest absolute error first.")
