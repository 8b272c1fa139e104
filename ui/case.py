"""The case-review page: the answer on the first screen, the evidence one click away, the
model's internals in their own view.

First screen (no scrolling at 1440×900): the picker, who the patient is and when the prediction
is made, the predicted LOS with its interval and what LOS means in this cohort, the reasons in
days that add up to it, the ECG's findings and the similar stays in one sentence
(``lemof.explain.case_summary``). For the run's own cohort the reasons are stored
(``stay_reasons.json.gz``); otherwise they are computed after everything else has painted.

Below, one control opens one view at a time and only that view is computed and drawn: the EHR
timeline, the ECG (or bedside series), the inputs over time, the similar stays, what-if, and the
model's internals (level SHAP, heads, attention per head) for the researcher.

Outcomes (observed LOS, the error) are hidden unless the reviewer asks for a retrospective review;
the choice is remembered per user (``lemof.deploy.preferences``).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

from lemof import LemofError, StayNotFoundError, StayPrediction, StayResults
from lemof.data.display import UNIT_NOTE, fact_text
from lemof.deploy.preferences import preference, set_preference
from lemof.ecg.findings import machine_text, measurements_text, present_text
from lemof.explain.case_summary import Reasons, los_definition, prediction_hours, reasons, signal_noun
from lemof.explain.drivers import allocation_note
from lemof.explain.explainers import unavailable
from lemof.explain.input_attribution import BACKGROUND_SIZE, BACKGROUND_STEPS
from lemof.explain.whatif import Edit, limits
from lemof.explain.signal_where import stay_story
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
from ui import access, links, loaders, review
from ui.context import ActiveContext, case_link
from ui.widgets import chart, guarded, md

SCOPES = ("Held-out test stays", "All stays")
SIGNAL_FILTER = ("any", "recorded", "absent")
LINK_SCOPE = "case"  # of its links (ui.links)
OUTCOMES_KEY = "show_outcomes"  # the toggle's session-state key; its value is remembered per user
VIEW_KEY = "case_view"


# --- outcomes: prospective (hidden) or retrospective (shown) review ---------------------------------
def _save_outcomes_choice() -> None:
    visitor = access.current()
    try:
        set_preference(visitor.user, "show_outcomes", bool(st.session_state[OUTCOMES_KEY]))
    except OSError as exc:  # a read-only cache: the choice holds for this session only
        st.session_state["_lemof_outcomes_unsaved"] = str(exc)


def outcomes_toggle() -> bool:
    """"Show outcomes" (a retrospective review): off by default, remembered per user."""
    if OUTCOMES_KEY not in st.session_state:
        st.session_state[OUTCOMES_KEY] = preference(access.current().user, "show_outcomes", False)
    shown = st.toggle("Show outcomes", key=OUTCOMES_KEY, on_change=_save_outcomes_choice,
                      help="Off: a prospective review — judge the prediction before seeing what happened. On: a retrospective review — "
                           "observed length of stay and the prediction's error are shown, and stays can be filtered by them. Remembered for your sign-in.")
    problem = st.session_state.pop("_lemof_outcomes_unsaved", None)
    if problem:
        st.warning(f"Your choice holds for this session only: it could not be saved ({problem}).")
    return bool(shown)


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


def stay_picker(ctx: ActiveContext) -> tuple[int | None, bool]:
    """One row: a searchable stay selector, its filters (split, care unit, biosignal; observed LOS
    in a retrospective review) and the outcomes switch. Deep-linkable (``?stay=``). Returns the
    stay (None when no stay matches) and whether outcomes are shown."""
    stays = ctx.bundle.stays
    sig = ctx.sig_label
    keys = {k: f"{k}:{ctx.cohort.key}" for k in ("scope", "units", "los", "signal", "stay")}
    _apply_deep_link(ctx, keys)
    c1, c2, c3 = st.columns([3.8, 1.0, 1.7], vertical_alignment="bottom")
    with c3:
        outcomes = outcomes_toggle()
    with c2.popover("Filters", icon=":material/filter_list:", use_container_width=True):
        scope = st.radio("Stays", SCOPES, key=keys["scope"], help="Held-out test stays were never seen in training.")
        units_all = sorted(stays["first_careunit"].astype(str).unique()) if "first_careunit" in stays else []
        units = st.multiselect("Care unit", units_all, key=keys["units"], placeholder="all units")
        signal = st.radio(sig, SIGNAL_FILTER, key=keys["signal"], horizontal=True, help=f"Only stays with a recorded {sig}, or only those without one.")
        los = None
        if outcomes:
            hi = float(math.ceil(stays["los_days"].max()))
            los = st.slider("Observed LOS (days)", 0.0, hi, (0.0, hi), step=0.5, key=keys["los"])
    keep = np.ones(len(stays), dtype=bool)
    if los is not None:
        keep &= stays["los_days"].between(los[0], los[1]).to_numpy()
    if scope == SCOPES[0]:
        keep &= (stays["split"] == "test").to_numpy()
    if units:
        keep &= stays["first_careunit"].astype(str).isin(units).to_numpy()
    if signal != "any":
        keep &= (stays["has_signal"] == (signal == "recorded")).to_numpy()
    shown = stays[keep]
    if shown.empty:
        c1.info("No stay matches these filters.")
        return None, outcomes
    options = shown["stay_id"].astype(int).tolist()
    if st.session_state.get(keys["stay"]) not in options:
        st.session_state.pop(keys["stay"], None)
    units_named = {u: (fact_text(ctx.bundle.source, "first_careunit", u) or ("", str(u)))[1] for u in units_all}  # once per unit, not per stay
    unit = (" · " + shown["first_careunit"].astype(str).map(units_named)) if "first_careunit" in shown else ""
    noun = signal_noun(sig)
    text = shown["stay_id"].astype(str) + unit + " · " + np.where(shown["has_signal"], f"with {noun}", f"no {noun}")
    if outcomes:
        text += " · " + shown["los_days"].map("{:.1f}".format) + " d observed"
    labels = dict(zip(options, text))  # built once per run: thousands of options stay fast
    stay_id = c1.selectbox(f"ICU stay ({len(options):,} match; type to search by id)", options, key=keys["stay"], format_func=labels.__getitem__)
    links.mirror(LINK_SCOPE, "stay", str(stay_id))
    return int(stay_id), outcomes


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


def first_screen(ctx: ActiveContext, results: StayResults, pred: StayPrediction, outcomes: bool) -> list[Callable[[], None]]:
    """Who, when, what is predicted and how sure, why (in days), the ECG's findings and the
    similar stays. What is stored is drawn at once; what must be computed gets a placeholder and
    is returned as a function that fills it, for the page to call after everything has painted."""
    pc = results.context
    hours = prediction_hours(ctx.bundle)
    st.markdown(f"##### Stay {results.stay_id} · {md(pc.patient_line)} · predicted at hour {hours:g} after ICU admission")
    left, right = st.columns([1, 1.9], gap="large")
    later: list[Callable[[], None]] = []
    with left:
        lo, hi = pred.interval_days
        level = int(round(100 * pred.interval_level))
        st.metric("Predicted length of stay", f"{pred.los_days:.1f} days",
                  help="The model's prediction from the data of the first "
                       f"{hours:g} hours after ICU admission; the interval is split-conformal, calibrated on validation stays.")
        st.markdown(f"**{level} % interval: {lo:.1f} – {hi:.1f} days**")
        st.caption(md(los_definition(ctx.bundle)[:1].upper() + los_definition(ctx.bundle)[1:]) + ".")
        if outcomes:
            st.metric("Observed length of stay", f"{pred.observed_los_days:.1f} days", delta=f"{pred.los_days - pred.observed_los_days:+.1f} d prediction error",
                      delta_color="off")
        if pred.split != "test":
            st.caption(f"This stay is in the **{pred.split}** split: the model saw it while training, so its prediction is in-sample.")
        report_button(ctx, results, outcomes)
        with guarded("Your review"):
            review.panel(ctx, results.stay_id, pred.los_days,
                         review.shown_explanations(pc.signal_kind == "ecg", any(v.name == "similar" for v in results.views)))
    with right:
        st.markdown("**Why this prediction**")
        if results.reasons_stored() or not any(e.name == "drivers" for e in results.explainers):
            _draw_reasons(results)
        else:
            slot = st.empty()
            slot.caption(f"Working out the reasons: Integrated Gradients from {BACKGROUND_SIZE} typical stays to this one (about a second)…")

            def fill_reasons() -> None:
                with slot.container():
                    _draw_reasons(results)

            later.append(fill_reasons)
    later += _evidence_lines(ctx, results, pred, outcomes)
    return later


def _draw_reasons(results: StayResults) -> None:
    with guarded("The reasons"):
        found: Reasons | None = reasons(results)
        if found is None:
            st.info(md(unavailable(results.run) or "This run has no explanation in days."))
            return
        lines = [f"Starting point — {md(found.start_text)}: **{found.start_days:.1f} d**"]
        lines += [f"{n}. {md(r.text)}" for n, r in enumerate(found.items, 1)]
        lines += [f"{len(found.items) + 1}. Everything else: {found.rest_days:+.1f} d", "", f"**{md(found.sum_text)}**"]
        st.markdown("\n".join(lines))
        st.caption(md(found.note))


def _evidence_lines(ctx: ActiveContext, results: StayResults, pred: StayPrediction, outcomes: bool) -> list[Callable[[], None]]:
    """The ECG (measurements and findings) and the similar stays, one line each."""
    later = []
    pc = results.context
    if pc.signal is None:
        noun = signal_noun(ctx.sig_label)
        st.markdown(f"**{md(noun[:1].upper() + noun[1:])}**: none recorded for this stay. The prediction uses the EHR alone: the {md(noun)} "
                    "is absent, not read as normal.")
    elif pc.signal_kind == "ecg":
        ecg_slot = st.empty()

        def fill_ecg() -> None:
            with ecg_slot.container(), guarded("ECG measurements"):
                when = f" (hour {pc.signal_time_h:.1f})" if pc.signal_time_h is not None else ""
                if results.ecg is None:
                    st.markdown(f"**ECG{when}**: recorded, but too short or too noisy to measure.")
                else:
                    st.markdown(f"**ECG{when}**: {md(measurements_text(results.ecg))}. **Findings**: {md(present_text(results.ecg_findings()))}.")

        if results.stored_reasons.get("ecg") is not None:
            fill_ecg()
        else:
            ecg_slot.caption("Measuring the ECG…")
            later.append(fill_ecg)
    if any(v.name == "similar" for v in results.views):
        sim_slot = st.empty()

        def fill_similar() -> None:
            with sim_slot.container(), guarded("Similar stays"):
                similar = results.similar(10)
                st.markdown("**Similar stays**: " + md(similar.sentence(pred.los_days, pred.observed_los_days if outcomes else None)))

        if ctx.trained_on_this_cohort:
            fill_similar()
        else:
            sim_slot.caption("Finding similar training stays (the first time, every training stay is encoded)…")
            later.append(fill_similar)
    return later


def _timeline(ctx: ActiveContext, results: StayResults) -> None:
    """The EHR timeline of the observation window, and what was never measured in it."""
    pc = results.context
    hours = prediction_hours(ctx.bundle)
    st.markdown(f"**EHR: values observed in the first {hours:g} hours**")
    chart(timeline_figure(pc, hours), key="timeline")
    notes = [UNIT_NOTE]
    if pc.unmeasured:
        notes.insert(0, "Not measured in this window: " + ", ".join(md(u) for u in pc.unmeasured) + ".")
    st.caption(" ".join(notes))


def ecg_view(ctx: ActiveContext, results: StayResults) -> None:
    """The stay's ECG on the 12-lead sheet, shaded where the prediction was driven, with its
    measurements and where in the ECG the model's parts looked."""
    pc = results.context
    attr = None
    if results.run.spec is not None:
        with st.spinner("Finding where in the ECG the prediction was driven (Integrated Gradients, about a second)…"):
            attr = results.input_gradients
    chart(stay_ecg_figure(pc, attr), key="ecg")
    if results.ecg is not None:
        st.markdown(f"**Measured**: {md(measurements_text(results.ecg))}  \n**Findings**: {md(present_text(results.ecg_findings()))}")
    else:
        st.caption("This ECG could not be measured (too short or too noisy).")
    if results.ecg_machine is not None:
        st.markdown(f"**The ECG cart's own measurements** (MIMIC-IV-ECG): {md(machine_text(results.ecg, results.ecg_machine))}")
    story = where_in_signal(results)
    if story:
        st.markdown(md(story))
    model_leads = ctx.run.preprocessor.sig_channels if ctx.run.preprocessor is not None else []
    if model_leads:
        st.caption(f"The model reads leads {', '.join(md(c) for c in model_leads)}. Zoom with the mouse; double-click to reset.")


def signal_view(ctx: ActiveContext, results: StayResults) -> None:
    """A bedside biosignal: the channels a reviewer picks, with the attention the model's EHR gives each time."""
    pc = results.context
    model_channels = ctx.run.preprocessor.sig_channels if ctx.run.preprocessor is not None else pc.signal_channels[:3]
    observed = [c for c, row in zip(pc.signal_channels, pc.signal) if np.isfinite(row).any()]
    default = [c for c in model_channels if c in observed][:6] or model_channels[:3]
    label = dict(zip(pc.signal_channels, pc.signal_channel_labels))
    shown = st.multiselect("Channels", pc.signal_channels, default=default, key=f"signal_channels:{ctx.cohort.key}", format_func=lambda c: label.get(c, c),
                           help="The model reads: " + ", ".join(md(label.get(c, c)) for c in model_channels))
    chart(signal_figure(pc, shown, results.attention_received), key="signal")
    story = where_in_signal(results)
    if story:
        st.markdown(md(story))


def where_in_signal(results: StayResults) -> str:
    """One story for "where in the biosignal": where the attribution (Integrated Gradients) and the
    attention peak, and why they may differ."""
    return stay_story(results)


def level_section(ctx: ActiveContext, results: StayResults) -> None:
    message = "Reading the level Shapley values…" if ctx.trained_on_this_cohort else "Running the model and computing exact level Shapley values for this stay…"
    with st.spinner(message):
        expl = results.attribute("level_shap")
    chart(level_shap_figure(expl, ctx.sig_label, concepts=results.concepts, prediction_days=results.prediction.los_days), key="level_shap")


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


def inputs_view(ctx: ActiveContext, results: StayResults) -> None:
    """Which variables, at which hours, drove the prediction (Integrated Gradients from typical
    stays, the same computation as the reasons), and the static facts; for the tabular peer its
    TreeSHAP values."""
    if results.run.spec is None:
        tree_shap_section(ctx, results)
        return
    with st.spinner("Integrating gradients from typical stays…"):
        attr = results.input_gradients
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
        else:
            st.caption("Where in the ECG: the ECG view shades the 12-lead sheet with this same attribution.")
    st.caption(md(allocation_note(results.attribute("drivers"))) + " An EHR variable counts over all its hours; the hour named is the one that weighed most.")


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


# The model's internals, in reading order: (explainer or view, title, heading, section).
INTERNALS = (
    ("heads", "Head contributions", "How the prediction is assembled from the model's heads", contribution_section),
    ("level_shap", "Level SHAP", "Which encoder levels the level stacker relied on", level_section),
    ("attention", "Cross-modal attention", "Cross-modal attention, per head", attention_section),
    ("tree_shap", "TreeSHAP", "", tree_shap_section),
)


def internals_view(ctx: ActiveContext, results: StayResults) -> None:
    """For the researcher: how the model's parts produced the number (the heads and their
    weights, level SHAP, attention per head), each chart saying which number it explains."""
    note = unavailable(ctx.run)
    if note:
        st.info(md(note) + " Pick a LeMoF run in the sidebar for the full explanation, or compare the runs on the model page.")
    names = {e.name for e in results.explainers} | {v.name for v in results.views}
    for name, title, heading, draw in INTERNALS:
        if name in names:
            with guarded(title):
                if heading:
                    st.markdown(f"**{heading}**")
                draw(ctx, results)


def evidence_views(ctx: ActiveContext, results: StayResults) -> dict[str, Callable[[ActiveContext, StayResults], None]]:
    """The views one click away, in reading order: those that apply to this run and stay."""
    pc = results.context
    views: dict[str, Callable[[ActiveContext, StayResults], None]] = {"EHR timeline": _timeline}
    if pc.signal is not None:
        if pc.signal_kind == "ecg":
            views["ECG"] = ecg_view
        else:
            views[f"{ctx.sig_label} series"] = signal_view
    if results.run.spec is not None:
        views["Inputs over time"] = inputs_view
    if any(v.name == "similar" for v in results.views):
        views["Similar stays"] = similar_section
    if any(not e.on_request for e in results.explainers):
        views["What if"] = what_if_section
    views["Model internals"] = internals_view
    return views


def evidence(ctx: ActiveContext, results: StayResults) -> Callable[[], None]:
    """The control that opens one view (none at first: nothing below the first screen is computed
    or drawn until asked for). Returns the function that draws the chosen view, for the page to
    call after the first screen's computed parts."""
    views = evidence_views(ctx, results)
    choice = st.segmented_control("Evidence", list(views), default=None, key=VIEW_KEY, label_visibility="collapsed")
    if choice is None:
        st.caption("Open the evidence: " + ", ".join(views) + ".")
    slot = st.container()

    def draw() -> None:
        if choice in views:
            with slot, guarded(choice):
                views[choice](ctx, results)

    return draw


def report_button(ctx: ActiveContext, results: StayResults, outcomes: bool = False) -> None:
    """One click: the stay's review as a self-contained HTML file, built when clicked from the
    same results object the page shows (what the page computed is reused). The download is in
    the audit log before its bytes leave the server."""
    visitor = access.current()
    entry = {"cohort": ctx.cohort.key, "fingerprint": ctx.bundle.fingerprint, "run": ctx.run_entry.run_id, "stay": int(results.stay_id)}

    def build() -> bytes:
        page = case_report_html(results, show_outcomes=outcomes).encode("utf-8")
        access.audit_as(visitor, "report.download", **entry)  # a callback of the download: the visitor captured when drawn
        return page

    st.download_button(
        "Case report (HTML)", data=build, file_name=report_file_name(results.stay_id, ctx.run_entry.run_id),
        mime="text/html", icon=":material/download:", key=f"report_{results.stay_id}",
        help="Prediction and interval, patient context, every explanation figure (interactive), the drivers in words, model, cohort and code versions.",
    )
