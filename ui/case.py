"""Sections of the case-review page: stay picker, headline, patient context, explanations."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

from lemof import LemofError, StayNotFoundError, StayPrediction, StayResults
from lemof.explain.drivers import allocation_note, rest_shown_days, shown, sum_text
from lemof.ecg.findings import measurements_text, present_text
from lemof.explain.explainers import unavailable
from lemof.explain.input_attribution import BACKGROUND_SIZE, BACKGROUND_STEPS
from lemof.explain.whatif import Edit, limits
from lemof.explain.similar import PERCENTILE_NOTE
from lemof.plots.paired import paired_figures
from lemof.report import case_report_html, report_file_name
from lemof.plots import (
    attention_figure,
    contributions_figure,
    ehr_attribution_figure,
    feature_title,
    head_table_rows,
    level_shap_figure,
    signal_attribution_figure,
    signal_figure,
    stay_ecg_figure,
    static_attribution_figure,
    timeline_figure,
    tree_shap_figure,
    tree_shap_rows,
)
from ui import access, links, loaders
from ui.context import ActiveContext, case_link
from ui.widgets import chart, guarded, md, section

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
    """What any run gives for the stay: its prediction and interval."""
    pred = None
    with guarded(f"Prediction for stay {results.stay_id}"), st.spinner("Predicting this stay…"):
        pred = results.prediction
    return pred


def unavailable_note(ctx: ActiveContext) -> None:
    """Which explanations do not apply to the active run, and why (nothing for a LeMoF run)."""
    note = unavailable(ctx.run)
    if note:
        st.info(md(note) + " Pick a LeMoF run in the sidebar for the full explanation, or compare the runs on the model page.")


def tree_shap_section(ctx: ActiveContext, results: StayResults) -> None:
    """The tabular peer's prediction explained by its trees: base value + TreeSHAP contributions
    of the summary features = prediction (log1p-days), the largest ones drawn and listed."""
    with st.spinner("Summarising the stay and computing TreeSHAP values…"):
        expl = results.attribute("tree_shap")
    los = results.prediction.los_days
    st.markdown(
        f"Base value (the trees' average output over training stays) **{expl.base:.3f}** "
        f"+ contributions of {len(expl.values)} summary features **{expl.total:+.3f}** "
        f"= prediction **{expl.output:.3f}** log1p-days = **{los:.1f} days**."
    )
    chart(tree_shap_figure(expl, los, sig_label=ctx.sig_label), key="tree_shap")
    with st.expander("The largest contributions in a table"):
        st.dataframe(pd.DataFrame(tree_shap_rows(expl, 25)), hide_index=True)
    st.caption(
        f"{expl.note} Each contribution is in log1p-days: its share of the gap between the average stay and this one; "
        "a summary that was never observed is routed by the trees like any value (shown as 'never observed')."
    )


def headline(expl: StayPrediction, sig_label: str) -> None:
    lo, hi = expl.interval_days
    level = int(round(100 * expl.interval_level))
    c = st.columns(4)
    c[0].metric("Predicted LOS", f"{expl.los_days:.1f} days", help="The meta-learner's prediction, back-transformed from log1p(days).")
    c[1].metric(f"{level} % prediction interval", f"{lo:.1f} – {hi:.1f} days", help="Split-conformal interval calibrated on validation stays (cross-fitted).")
    c[2].metric("Observed LOS", f"{expl.observed_los_days:.1f} days", delta=f"{expl.los_days - expl.observed_los_days:+.1f} d prediction error", delta_color="off")
    c[3].metric(sig_label, "recorded" if expl.has_signal else "absent", help=f"Without a {sig_label}, its heads are absent from the prediction, not read as normal.")
    if expl.split != "test":
        st.caption(f"This stay is in the **{expl.split}** split: the model saw it while training, so its prediction is in-sample.")


def _facts(facts: list[tuple[str, str]]) -> str:
    return "  ·  ".join(f"**{md(label)}**: {md(value)}" for label, value in facts)


def patient_context(ctx: ActiveContext, results: StayResults) -> Callable[[], None] | None:
    """Static facts, the EHR timeline and the biosignal.

    An ECG is drawn as a cardiologist reads it, the 12-lead sheet at 25 mm/s and 10 mm/mV, across
    the page under the timeline; another biosignal (bedside series) beside the timeline with a
    channel picker and the attention it receives. Returns a function that draws the biosignal
    into its place; the page calls it after the explanation has painted (for the run's own cohort
    the attention is stored; for another it needs the network). None when the stay has no biosignal.
    """
    pc = results.context
    st.markdown(_facts(pc.facts))
    if pc.signal_kind == "ecg":
        return _ecg_context(ctx, results)
    left, right = st.columns([1.35, 1])
    with left:
        _timeline(ctx, pc)
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


def _timeline(ctx: ActiveContext, pc) -> None:
    """The EHR timeline of the observation window, and what was never measured in it."""
    hours = ctx.bundle.features["ehr"]["n_steps"] * ctx.bundle.ehr_step_hours
    with guarded("EHR timeline"):
        st.markdown(f"**EHR: values observed in the first {hours:g} hours**")
        chart(timeline_figure(pc, hours), key="timeline")
        if pc.unmeasured:
            st.caption("Not measured in this window: " + ", ".join(md(u) for u in pc.unmeasured) + ".")


def _ecg_context(ctx: ActiveContext, results: StayResults) -> Callable[[], None] | None:
    """The EHR timeline across the page, then the stay's ECG on the 12-lead sheet (or a note that it has none)."""
    pc = results.context
    _timeline(ctx, pc)
    if pc.signal is None:
        st.info(f"This stay has no {ctx.sig_label} data. Its heads are **absent** from the prediction below, not counted as normal values.")
        return None
    slot = st.empty()
    slot.caption(f"Drawing the {ctx.sig_label}…")

    def draw_ecg() -> None:
        with slot.container(), guarded(ctx.sig_label):
            chart(stay_ecg_figure(pc), key="ecg")
            if results.ecg is not None:
                st.markdown(f"**Measured**: {md(measurements_text(results.ecg))}  \n**Findings**: {md(present_text(results.ecg_findings()))}")
            else:
                st.caption("This ECG could not be measured (too short or too noisy).")
            model_leads = ctx.run.preprocessor.sig_channels if ctx.run.preprocessor is not None else []
            if model_leads:
                st.caption(f"The model reads leads {', '.join(md(c) for c in model_leads)}. Zoom with the mouse; double-click to reset.")

    return draw_ecg


def level_section(ctx: ActiveContext, results: StayResults) -> None:
    message = "Reading the level Shapley values…" if ctx.trained_on_this_cohort else "Running the model and computing exact level Shapley values for this stay…"
    with st.spinner(message):
        expl = results.attribute("level_shap")
    chart(level_shap_figure(expl, ctx.sig_label, concepts=results.concepts), key="level_shap")


def contribution_section(ctx: ActiveContext, results: StayResults) -> None:
    expl = results.attribute("heads")
    chart(contributions_figure(expl, results.prediction.los_days, ctx.sig_label), key="contributions")
    with st.expander("Heads in detail"):
        st.table(pd.DataFrame(head_table_rows(expl, ctx.sig_label)).set_index("head"))


def attention_section(ctx: ActiveContext, results: StayResults) -> None:
    sig_label = ctx.sig_label
    if not results.has_signal:
        st.info(f"No cross-modal attention for this stay: its {sig_label} data are absent, so the fused head used the EHR alone.")
        return
    with st.spinner("Running the model for the attention maps…"):
        attention = results.attention
    n_heads = attention.n_heads
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
    if not results.computed("input_gradients") and not st.toggle(ATTRIBUTION_TOGGLE, key="show_attribution"):
        st.caption(f"Computed on request: Integrated Gradients from {BACKGROUND_SIZE} typical training stays to this one, {BACKGROUND_STEPS} steps each.")
        return
    with st.spinner("Integrating gradients from typical stays…"):
        attr, drivers = results.input_gradients, results.attribute("drivers")
    named = shown(drivers)
    lines = [f"A typical stay of this cohort: **{drivers.base:.1f} d**."]
    lines += [f"{n}. {md(drivers.texts[i])}" for n, i in enumerate(named, 1)]
    lines += [f"{len(named) + 1}. Everything else: {rest_shown_days(drivers):+.1f} d.", "", f"**{sum_text(drivers)}**"]
    st.markdown("\n".join(lines))
    st.caption(allocation_note(drivers) + " An EHR variable counts over all its hours; the hour named is the one that weighed most.")
    labels = {f["name"]: feature_title(f) for f in ctx.bundle.features["ehr"]["features"]}
    left, right = st.columns([1.4, 1])
    with left:
        chart(ehr_attribution_figure(attr, labels), key="attr_ehr")
    with right:
        chart(static_attribution_figure(attr), key="attr_static")
        fig = None if results.context.signal_kind == "ecg" else signal_attribution_figure(attr, ctx.sig_label)
        if attr.sig is None:
            st.info(f"No {ctx.sig_label} data for this stay, so none to attribute.")
        elif fig is not None:
            chart(fig, key="attr_signal")
    if results.context.signal_kind == "ecg" and attr.sig is not None:
        chart(stay_ecg_figure(results.context, attr), key="attr_ecg")
    st.caption(
        f"{attr.method}. Attributions add up to prediction − reference prediction: {attr.total:+.3f} vs "
        f"{attr.output - attr.reference_output:+.3f} log1p-days (integration error {attr.delta:+.4f})."
    )


def what_if_section(ctx: ActiveContext, results: StayResults) -> None:
    """Edit the stay (hide the biosignal, set a value, shift a series) and see its explanations
    beside the original's, on shared scales (every explainer that needs no per-stay network pass
    on request: level SHAP and heads for LeMoF, TreeSHAP for the tabular peer)."""
    stay_id = results.stay_id
    pred = results.prediction
    features = ctx.bundle.features["ehr"]["features"]
    editable = [f["name"] for f in features if limits(ctx.bundle, f["name"]) is not None]
    if ctx.bundle.signal_mask is not None:
        editable += [c for c in ctx.bundle.signal_channels if limits(ctx.bundle, c) is not None]
    labels = {f["name"]: feature_title(f) for f in features}
    labels.update({c: f"{c} ({ctx.sig_label})" for c in ctx.bundle.signal_channels})
    hours = ctx.bundle.features["ehr"]["n_steps"] * ctx.bundle.ehr_step_hours
    with st.form(f"what_if_{stay_id}"):
        hide = st.checkbox(f"Hide the {ctx.sig_label}", value=False, disabled=not pred.has_signal)
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
    new = edited.prediction
    lo, hi = new.interval_days
    st.markdown(
        f"**What if** {what}: predicted LOS **{new.los_days:.1f} days** (interval {lo:.1f}–{hi:.1f}) instead of "
        f"{pred.los_days:.1f} days ({pred.interval_days[0]:.1f}–{pred.interval_days[1]:.1f}), a change of **{new.los_days - pred.los_days:+.1f} d**."
    )
    pairs = [(name, results.attribute(name), after) for name, after in edited.attributions.items()]
    left, right = st.columns(2)
    left.markdown("**As recorded**")
    right.markdown(f"**With the edit** ({what})")
    for name, before, after in pairs:
        fig_before, fig_after = paired_figures(before, after, pred.los_days, new.los_days, ctx.sig_label)
        with left:
            chart(fig_before, key=f"whatif_{name}_before")
        with right:
            chart(fig_after, key=f"whatif_{name}_after")
    if "tree_shap" in edited.attributions:
        st.caption("The edited stay is summarised again (trends, variability, last values …) and run through the same trees.")


def similar_section(ctx: ActiveContext, results: StayResults) -> None:
    """The ten nearest training stays in the model's fused representation, as precedents."""
    message = "Finding similar training stays…" if ctx.trained_on_this_cohort else "Finding similar training stays (the first time, every training stay is encoded)…"
    with st.spinner(message):
        similar = results.similar(10)
    st.markdown(md(similar.sentence(results.prediction.los_days, results.observed_los_days)))
    sig = ctx.sig_label
    table = pd.DataFrame({
        "stay": [n.stay_id for n in similar.neighbours],
        "open in case review": [case_link(ctx, ctx.run_entry.run_id, n.stay_id) for n in similar.neighbours],
        "similarity": [n.similarity for n in similar.neighbours],
        "percentile": [n.percentile for n in similar.neighbours],
        "observed LOS (days)": [n.observed_los_days for n in similar.neighbours],
        "care unit": [n.care_unit for n in similar.neighbours],
        "age": [n.age for n in similar.neighbours],
        "sex": [n.sex for n in similar.neighbours],
        sig: ["yes" if n.has_signal else "no" for n in similar.neighbours],
    })
    st.dataframe(table, hide_index=True, column_config={
        "open in case review": st.column_config.LinkColumn("open in case review", display_text="open ↗"),
        "percentile": st.column_config.NumberColumn("percentile", format="%.1f", help="closer than this percent of random pairs of training stays"),
    })
    st.caption(PERCENTILE_NOTE)
    st.markdown(f"**What they share**: {md(similar.shared)}.")
    if similar.key_values:
        st.dataframe(pd.DataFrame([{"value (window mean)": k.feature, "this stay": k.this_stay, "neighbours' median": k.neighbours_median,
                                    "training median": k.training_median} for k in similar.key_values]), hide_index=True)
        st.caption("This stay's most abnormal EHR values (window mean farthest from the training median, in robust SDs) against the 10 neighbours' median.")


# Each explanation's page section, by the explainer's or view's name (lemof.explain.explainers / views).
ADDITIVE_SECTIONS = {"drivers": drivers_section, "tree_shap": tree_shap_section, "level_shap": level_section, "heads": contribution_section}
VIEW_SECTIONS = {"similar": similar_section, "attention": attention_section}


def explanations(ctx: ActiveContext, results: StayResults, draw_signal: Callable[[], None] | None) -> None:
    """Every explanation that applies to the run, from the run's lists: the additive ones computed
    without a network pass per stay first (side by side), then the biosignal strip, the views,
    what-if (when there is something to re-explain), and last those computed on request."""
    now = [e for e in results.explainers if not e.on_request]
    if now:
        st.subheader("Why this prediction")
        columns = st.columns(len(now)) if len(now) > 1 else [st.container()]
        for column, e in zip(columns, now):
            with column, guarded(e.title):
                ADDITIVE_SECTIONS[e.name](ctx, results)
    # Below this line the network may run (attention maps; what-if and Integrated Gradients on request): everything above has painted.
    if draw_signal is not None:
        draw_signal()
    for v in results.views:
        if v.name in VIEW_SECTIONS:
            with section(v.title):
                VIEW_SECTIONS[v.name](ctx, results)
    if now:
        with section("What if"):
            what_if_section(ctx, results)
    for e in results.explainers:
        if e.on_request:
            with section(e.title):
                ADDITIVE_SECTIONS[e.name](ctx, results)


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
