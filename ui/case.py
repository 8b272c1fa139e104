"""Sections of the case-review page: stay picker, headline, patient context, explanations."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

from lemof import LemofError, StayExplanation, StayNotFoundError, StayPrediction, StayResults, TabularExplanation
from lemof.explain.drivers import allocation_note
from lemof.explain.input_attribution import BACKGROUND_SIZE, BACKGROUND_STEPS
from lemof.explain.whatif import Edit, limits
from lemof.explain.similar import PERCENTILE_NOTE, neighbours_sentence
from lemof.report import case_report_html, report_file_name
from lemof.plots import (
    span_of,
    waterfall_range,
    attention_figure,
    contributions_figure,
    ehr_attribution_figure,
    feature_title,
    head_table_rows,
    level_shap_figure,
    signal_attribution_figure,
    signal_figure,
    static_attribution_figure,
    timeline_figure,
    tree_shap_figure,
    tree_shap_range,
    tree_shap_rows,
)
from ui import access, links, loaders
from ui.context import ActiveContext, case_link
from ui.widgets import chart, guarded, md

SCOPES = ("Held-out test stays", "All stays")
SIGNAL_FILTER = ("any", "recorded", "absent")
LINK_SCOPE = "case"  # of its links (ui.links)


def _apply_deep_link(ctx: ActiveContext, keys: dict[str, str]) -> None:
    """Select the stay named by ``?stay=`` once per new link value; warn if it is unknown."""
    link = links.take(LINK_SCOPE, "stay")
    if link is None:
        return
    try:
        row = ctx.bundle.row_of(link)
    except StayNotFoundError as exc:
        st.warning(f"The link asks for stay {link!r}, but {exc}. Showing another stay instead.")
        return
    # Reset the filters so the linked stay is visible (a test stay keeps the short test list), then select it.
    for key in keys.values():
        st.session_state.pop(key, None)
    st.session_state[keys["scope"]] = SCOPES[0] if ctx.bundle.stays["split"].iloc[row] == "test" else SCOPES[1]
    st.session_state[keys["stay"]] = int(ctx.bundle.stays["stay_id"].iloc[row])


def stay_picker(ctx: ActiveContext) -> int | None:
    """Filters (split, care unit, observed LOS, biosignal) and a searchable stay selector; deep-linkable."""
    stays = ctx.bundle.stays
    sig = ctx.sig_label
    keys = {k: f"{k}:{ctx.cohort.key}" for k in ("scope", "units", "los", "signal", "stay")}
    _apply_deep_link(ctx, keys)
    c1, c2, c3, c4 = st.columns([1.1, 1.4, 1.4, 1.0])
    scope = c1.radio("Stays", SCOPES, key=keys["scope"], help="Held-out test stays were never seen in training.")
    units_all = sorted(stays["first_careunit"].astype(str).unique()) if "first_careunit" in stays else []
    units = c2.multiselect("Care unit", units_all, key=keys["units"], placeholder="all units")
    hi = float(math.ceil(stays["los_days"].max()))
    los = c3.slider("Observed LOS (days)", 0.0, hi, (0.0, hi), step=0.5, key=keys["los"])
    signal = c4.radio(sig, SIGNAL_FILTER, key=keys["signal"], format_func=lambda s: {"any": "any", "recorded": "recorded", "absent": "absent"}[s],
                      help=f"Only stays with a recorded {sig}, or only those without one.")
    keep = stays["los_days"].between(los[0], los[1])
    if scope == SCOPES[0]:
        keep &= stays["split"] == "test"
    if units:
        keep &= stays["first_careunit"].astype(str).isin(units)
    if signal != "any":
        keep &= stays["has_signal"] == (signal == "recorded")
    shown = stays[keep]
    if shown.empty:
        st.info("No stay matches these filters.")
        return None
    options = shown["stay_id"].astype(int).tolist()
    if st.session_state.get(keys["stay"]) not in options:
        st.session_state.pop(keys["stay"], None)
    unit = (" · " + shown["first_careunit"].astype(str)) if "first_careunit" in shown else ""
    text = shown["stay_id"].astype(str) + unit + " · " + shown["los_days"].map("{:.1f}".format) + " d observed · "
    text += np.where(shown["has_signal"], f"with {sig}", f"no {sig}")
    labels = dict(zip(options, text))  # built once per run: thousands of options stay fast
    stay_id = st.selectbox(f"ICU stay ({len(options):,} match; type to search by id)", options, key=keys["stay"], format_func=labels.__getitem__)
    links.mirror(LINK_SCOPE, "stay", str(stay_id))
    return int(stay_id)


def stay_results(ctx: ActiveContext, stay_id: int) -> StayResults | None:
    """The stay's shared results object (None, with an error box, if the run cannot explain it)."""
    found = None
    with guarded(f"Stay {stay_id}"):
        found = loaders.stay(ctx.run, ctx.bundle, stay_id)
    return found


def prediction(results: StayResults) -> StayPrediction | None:
    """What any run gives for the stay (used for baselines, which LeMoF's explanations do not fit)."""
    pred = None
    with guarded(f"Prediction for stay {results.stay_id}"), st.spinner("Predicting this stay…"):
        pred = results.prediction
    return pred


def not_lemof_note(ctx: ActiveContext) -> None:
    run = ctx.run
    what = {
        "baseline": "the input drivers against typical stays (below) do apply",
        "tabular": "it is gradient boosting (LightGBM) on per-stay summary statistics, explained below by its own exact TreeSHAP values",
    }[run.kind]
    st.info(
        f"**{run.run_id}** is the **{run.fusion}** baseline ({run.encoders}). Level SHAP, the head waterfall, the cross-modal "
        f"attention and the similar stays (they compare LeMoF's fused representation) explain LeMoF, so they do not apply to it; {what}. "
        "Pick a LeMoF run in the sidebar for the full explanation, or compare the runs on the model page."
    )


def tree_shap_section(ctx: ActiveContext, results: StayResults) -> None:
    """The tabular peer's prediction explained by its trees: base value + TreeSHAP contributions
    of the summary features = prediction (log1p-days), the largest ones drawn and listed."""
    with st.spinner("Summarising the stay and computing TreeSHAP values…"):
        expl = results.tree_shap
    st.markdown(
        f"Base value (the trees' average output over training stays) **{expl.base_value:.3f}** "
        f"+ contributions of {len(expl.contributions)} summary features **{sum(expl.contributions):+.3f}** "
        f"= prediction **{expl.output:.3f}** log1p-days = **{expl.los_days:.1f} days**."
    )
    chart(tree_shap_figure(expl, sig_label=ctx.sig_label), key="tree_shap")
    with st.expander("The largest contributions in a table"):
        st.dataframe(pd.DataFrame(tree_shap_rows(expl, 25)), hide_index=True)
    st.caption(
        f"{expl.method}. Each contribution is in log1p-days: its share of the gap between the average stay and this one; "
        "a summary that was never observed is routed by the trees like any value (shown as 'never observed')."
    )


def explanation(ctx: ActiveContext, results: StayResults) -> StayExplanation | None:
    message = "Explaining this stay…" if ctx.trained_on_this_cohort else "Running the model and computing exact level Shapley values for this stay…"
    expl = None
    with guarded(f"Explanation of stay {results.stay_id}"), st.spinner(message):
        expl = results.explanation
    return expl


def headline(expl: StayExplanation | StayPrediction, sig_label: str) -> None:
    lo, hi = expl.interval_days
    level = int(round(100 * expl.interval_level))
    c = st.columns(4)
    c[0].metric("Predicted LOS", f"{expl.los_days:.1f} days", help="The meta-learner's prediction, back-transformed from log1p(days).")
    c[1].metric(f"{level} % prediction interval", f"{lo:.1f} – {hi:.1f} days", help="Split-conformal interval calibrated on validation stays (cross-fitted).")
    c[2].metric("Observed LOS", f"{expl.observed_los_days:.1f} days", delta=f"{expl.los_days - expl.observed_los_days:+.1f} d prediction error", delta_color="off")
    c[3].metric(sig_label, "recorded" if expl.has_signal else "absent", help=f"Without a {sig_label}, its heads are absent from the prediction, not read as normal.")
    if expl.split != "test":
        st.caption(f"This stay is in the **{expl.split}** split: the model saw it while training, so its prediction is in-sample.")


def _facts(static: dict) -> str:
    return "  ·  ".join(
        f"**{md(k.replace('_', ' '))}**: {md(round(v, 1) if isinstance(v, float) else v)}"
        for k, v in static.items()
        if not (isinstance(v, float) and math.isnan(v))
    )


def patient_context(ctx: ActiveContext, results: StayResults) -> Callable[[], None] | None:
    """Static facts, the EHR timeline and the biosignal channel picker.

    Returns a function that draws the biosignal strip with the attention it receives into its
    place beside the timeline; the page calls it after the explanation has painted (for the
    run's own cohort the attention is stored; for another it needs the network). None when the
    stay has no biosignal.
    """
    pc = results.context
    st.markdown(_facts(pc.static))
    left, right = st.columns([1.35, 1])
    hours = ctx.bundle.features["ehr"]["n_steps"] * ctx.bundle.ehr_step_hours
    with left, guarded("EHR timeline"):
        st.markdown(f"**EHR: values observed in the first {hours:g} hours**")
        chart(timeline_figure(pc, hours), key="timeline")
        if pc.unmeasured:
            st.caption("Not measured in this window: " + ", ".join(md(u) for u in pc.unmeasured) + ".")
    with right:
        if pc.signal is None:
            st.info(f"This stay has no {ctx.sig_label} data. Its heads are **absent** from the prediction below, not counted as normal values.")
            return None
        model_channels = ctx.run.preprocessor.sig_channels if ctx.run.preprocessor is not None else pc.signal_channels[:3]
        observed = [c for c, row in zip(pc.signal_channels, pc.signal) if np.isfinite(row).any()]
        default = [c for c in model_channels if c in observed][:6] or model_channels[:3]
        shown = st.multiselect("Channels", pc.signal_channels, default=default, key=f"signal_channels:{ctx.cohort.key}", help="The model reads: " + ", ".join(md(c) for c in model_channels))
        slot = st.empty()
        slot.caption(f"Drawing the {ctx.sig_label} with the attention it receives…")

    def draw_strip() -> None:
        with slot.container(), guarded(ctx.sig_label):
            chart(signal_figure(pc, shown, results.attention_received), key="signal")

    return draw_strip


def level_section(expl: StayExplanation, sig_label: str) -> None:
    chart(level_shap_figure(expl, sig_label), key="level_shap")


def contribution_section(expl: StayExplanation, sig_label: str) -> None:
    chart(contributions_figure(expl, sig_label), key="contributions")
    with st.expander("Heads in detail"):
        st.table(pd.DataFrame(head_table_rows(expl, sig_label)).set_index("head"))


def attention_section(ctx: ActiveContext, results: StayResults) -> None:
    sig_label = ctx.sig_label
    if not results.has_signal:
        st.info(f"No cross-modal attention for this stay: its {sig_label} data are absent, so the fused head used the EHR alone.")
        return
    with st.spinner("Running the model for the attention maps…"):
        attention = results.attention
    n_heads = attention["ehr_to_sig"]["shape"][0]
    c1, c2 = st.columns(2)
    direction = c1.segmented_control(
        "Direction", ["ehr_to_sig", "sig_to_ehr"], default="ehr_to_sig", key="attn_direction",
        format_func=lambda d: f"EHR → {sig_label}" if d == "ehr_to_sig" else f"{sig_label} → EHR",
    ) or "ehr_to_sig"
    head = c2.selectbox("Head", ["mean"] + list(range(n_heads)), key="attn_head", format_func=lambda h: "average of all heads" if h == "mean" else f"head {h + 1}")
    chart(attention_figure(attention, direction, None if head == "mean" else int(head), sig_label), key="attention")


ATTRIBUTION_TOGGLE = "Find the inputs that drove this prediction (Integrated Gradients against typical stays, about a second)"


def drivers_section(ctx: ActiveContext, results: StayResults) -> None:
    """The reference as a prediction in days, the five input drivers in words and days, everything
    else (they add up to the prediction) and the Integrated Gradients figures: computed on request
    (a toggle), in one of the server's shared compute slots, then kept for every session."""
    if not results.computed("attribution") and not st.toggle(ATTRIBUTION_TOGGLE, key="show_attribution"):
        st.caption(f"Computed on request: Integrated Gradients from {BACKGROUND_SIZE} typical training stays to this one, {BACKGROUND_STEPS} steps each.")
        return
    with st.spinner("Integrating gradients from typical stays…"):
        attr, drivers = results.attribution, results.drivers
    lines = [f"A typical stay of this cohort: **{drivers.reference_days:.1f} d**."]
    lines += [f"{i}. {md(d.text)}" for i, d in enumerate(drivers, 1)]
    lines += [f"{len(drivers) + 1}. Everything else: {drivers.rest_shown_days:+.1f} d.", "", f"**{drivers.sum_text()}**"]
    st.markdown("\n".join(lines))
    st.caption(allocation_note(drivers) + " An EHR variable counts over all its hours; the hour named is the one that weighed most.")
    labels = {f["name"]: feature_title(f) for f in ctx.bundle.features["ehr"]["features"]}
    left, right = st.columns([1.4, 1])
    with left:
        chart(ehr_attribution_figure(attr, labels), key="attr_ehr")
    with right:
        chart(static_attribution_figure(attr), key="attr_static")
        fig = signal_attribution_figure(attr, ctx.sig_label)
        if fig is None:
            st.info(f"No {ctx.sig_label} data for this stay, so none to attribute.")
        else:
            chart(fig, key="attr_signal")
    st.caption(
        f"{attr.method}. Attributions add up to prediction − reference prediction: {attr.total:+.3f} vs "
        f"{attr.output - attr.baseline_output:+.3f} log1p-days (integration error {attr.delta:+.4f})."
    )


def what_if_section(ctx: ActiveContext, results: StayResults) -> None:
    """Edit the stay (hide the biosignal, set a value, shift a series) and see the new explanation
    beside the original (level SHAP and heads for LeMoF, TreeSHAP for the tabular peer)."""
    stay_id = results.stay_id
    expl = results.tree_shap if ctx.run.kind == "tabular" else results.explanation
    features = ctx.bundle.features["ehr"]["features"]
    editable = [f["name"] for f in features if limits(ctx.bundle, f["name"]) is not None]
    if ctx.bundle.signal_mask is not None:
        editable += [c for c in ctx.bundle.signal_channels if limits(ctx.bundle, c) is not None]
    labels = {f["name"]: feature_title(f) for f in features}
    labels.update({c: f"{c} ({ctx.sig_label})" for c in ctx.bundle.signal_channels})
    hours = ctx.bundle.features["ehr"]["n_steps"] * ctx.bundle.ehr_step_hours
    with st.form(f"what_if_{stay_id}"):
        hide = st.checkbox(f"Hide the {ctx.sig_label}", value=False, disabled=not expl.has_signal)
        c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
        feature = c1.selectbox("Variable", ["(none)"] + editable, format_func=lambda f: labels.get(f, f))
        mode = c2.radio("Edit", ["set a value", "shift the series"], horizontal=False)
        hour = c3.number_input("At hour", min_value=0.0, max_value=float(hours) - 1e-6, value=float(hours) - 1, step=1.0, help="for 'set a value'")
        amount = c4.number_input("Value / shift", value=0.0, format="%.4g", help="The new value (physical units) or the amount added to every measurement.")
        apply = st.form_submit_button("Apply")
    if not apply and not st.session_state.get(f"_whatif_{stay_id}"):
        st.caption("Edits are checked against the physiological limits the data loaders use.")
        return
    edits = []
    if hide:
        edits.append(Edit("hide_signal"))
    if feature != "(none)":
        edits.append(Edit("value", feature, hour=float(hour), value=float(amount)) if mode == "set a value" else Edit("shift", feature, delta=float(amount)))
    if apply:
        st.session_state[f"_whatif_{stay_id}"] = edits
    edits = st.session_state.get(f"_whatif_{stay_id}", [])
    if not edits:
        st.info("Choose an edit: hide the biosignal, or a variable to set or shift.")
        return
    try:
        edited = loaders.what_if(ctx.run, ctx.bundle, stay_id, edits)
    except LemofError as exc:
        st.error(f"This edit cannot be applied: {exc}")
        return
    what = md("; ".join(e.describe(labels) for e in edits))  # names a feature: cohort text
    lo, hi = edited.interval_days
    st.markdown(
        f"**What if** {what}: predicted LOS **{edited.los_days:.1f} days** (interval {lo:.1f}–{hi:.1f}) instead of "
        f"{expl.los_days:.1f} days ({expl.interval_days[0]:.1f}–{expl.interval_days[1]:.1f}), a change of **{edited.los_days - expl.los_days:+.1f} d**."
    )
    if isinstance(expl, TabularExplanation):
        _tabular_what_if(ctx, expl, edited, what)
        return
    span = 1.15 * max(span_of(expl), span_of(edited))
    ranges = [waterfall_range(expl), waterfall_range(edited)]
    value_range = (min(r[0] for r in ranges), max(r[1] for r in ranges))
    left, right = st.columns(2)
    with left:
        st.markdown("**As recorded**")
        chart(level_shap_figure(expl, ctx.sig_label, span=span), key="whatif_shap_before")
        chart(contributions_figure(expl, ctx.sig_label, value_range=value_range), key="whatif_heads_before")
    with right:
        st.markdown(f"**With the edit** ({what})")
        chart(level_shap_figure(edited, ctx.sig_label, span=span), key="whatif_shap_after")
        chart(contributions_figure(edited, ctx.sig_label, value_range=value_range), key="whatif_heads_after")


def _tabular_what_if(ctx: ActiveContext, expl: TabularExplanation, edited: TabularExplanation, what: str) -> None:
    """The tabular peer's TreeSHAP waterfalls before and after the edit, on one scale."""
    ranges = [tree_shap_range(expl), tree_shap_range(edited)]
    value_range = (min(r[0] for r in ranges), max(r[1] for r in ranges))
    left, right = st.columns(2)
    with left:
        st.markdown("**As recorded**")
        chart(tree_shap_figure(expl, value_range=value_range, sig_label=ctx.sig_label), key="whatif_tree_before")
    with right:
        st.markdown(f"**With the edit** ({what})")
        chart(tree_shap_figure(edited, value_range=value_range, sig_label=ctx.sig_label), key="whatif_tree_after")
    st.caption("The edited stay is summarised again (trends, variability, last values …) and run through the same trees.")


def similar_section(ctx: ActiveContext, results: StayResults) -> None:
    """The ten nearest training stays in the model's fused representation, as precedents."""
    message = "Finding similar training stays…" if ctx.trained_on_this_cohort else "Finding similar training stays (the first time, every training stay is encoded)…"
    with st.spinner(message):
        table = results.similar(10).copy()
    st.markdown(neighbours_sentence(table, results.prediction.los_days, results.observed_los_days))
    table.insert(1, "open in case review", [case_link(ctx, ctx.run_entry.run_id, s) for s in table["stay"]])
    shared, values = results.similar_shared(10)
    st.dataframe(table, hide_index=True, column_config={
        "open in case review": st.column_config.LinkColumn("open in case review", display_text="open ↗"),
        "percentile": st.column_config.NumberColumn("percentile", format="%.1f", help="closer than this percent of random pairs of training stays"),
    })
    st.caption(PERCENTILE_NOTE)
    st.markdown(f"**What they share**: {md(shared)}.")
    if len(values):
        st.dataframe(values, hide_index=True)
        st.caption("This stay's most abnormal EHR values (window mean farthest from the training median, in robust SDs) against the 10 neighbours' median.")


def report_button(ctx: ActiveContext, results: StayResults) -> None:
    """One click: the stay's review as a self-contained HTML file, built when clicked from the
    same results object the page shows (what the page computed is reused). The download is in
    the audit log before its bytes leave the server."""
    visitor = access.current()
    entry = {"cohort": ctx.cohort.key, "fingerprint": ctx.bundle.fingerprint, "run": ctx.run_entry.run_id, "stay": int(results.stay_id)}

    def build() -> bytes:
        page = case_report_html(results).encode("utf-8")
        access.audit_as(visitor, "report.download", **entry)  # a callback of the download: the visitor captured when drawn
        return page

    st.download_button(
        "Download the case report (HTML, opens offline)", data=build, file_name=report_file_name(results.stay_id, ctx.run_entry.run_id),
        mime="text/html", icon=":material/download:", key=f"report_{results.stay_id}",
        help="Prediction and interval, patient context, every explanation figure (interactive), the drivers in words, model, cohort and code versions.",
    )
