"""Sections of the case-review page: stay picker, headline, patient context, explanations."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

from lemof import StayExplanation, StayNotFoundError, StayPrediction, stay_context
from lemof.plots import (
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
)
from ui import loaders
from ui.context import ActiveContext
from ui.widgets import chart, guarded

SCOPES = ("Held-out test stays", "All stays")
SIGNAL_FILTER = ("any", "recorded", "absent")


def _apply_deep_link(ctx: ActiveContext, keys: dict[str, str]) -> None:
    """Select the stay named by ``?stay=`` once per new link value; warn if it is unknown."""
    link = st.query_params.get("stay")
    if link is None or link == st.session_state.get("_stay_link_applied"):
        return
    st.session_state["_stay_link_applied"] = link
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
    st.query_params["stay"] = str(stay_id)
    st.session_state["_stay_link_applied"] = str(stay_id)
    return int(stay_id)


def prediction(ctx: ActiveContext, stay_id: int) -> StayPrediction | None:
    """What any run gives for the stay (used for baselines, which LeMoF's explanations do not fit)."""
    pred = None
    with guarded(f"Prediction for stay {stay_id}"), st.spinner("Predicting this stay…"):
        pred = loaders.prediction(ctx.run_entry.path, ctx.cohort.path, stay_id)
    return pred


def not_lemof_note(ctx: ActiveContext) -> None:
    run = ctx.run
    what = {
        "baseline": "Integrated Gradients over its inputs (below) do apply",
        "tabular": "it is a gradient-boosting model on summary statistics whose predictions were stored at training; nothing else of it is kept",
    }[run.kind]
    st.info(
        f"**{run.run_id}** is the **{run.fusion}** baseline ({run.encoders}). Level SHAP, the head waterfall and the cross-modal "
        f"attention explain LeMoF's levels, heads and attention, so they do not apply to it; {what}. "
        "Pick a LeMoF run in the sidebar for the full explanation, or compare the runs on the model page."
    )


def explanation(ctx: ActiveContext, stay_id: int) -> StayExplanation | None:
    message = "Explaining this stay…" if ctx.trained_on_this_cohort else "Running the model and computing exact level Shapley values for this stay…"
    expl = None
    with guarded(f"Explanation of stay {stay_id}"), st.spinner(message):
        expl = loaders.explanation(ctx.run_entry.path, ctx.cohort.path, stay_id)
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
        f"**{k.replace('_', ' ')}**: {round(v, 1) if isinstance(v, float) else v}"
        for k, v in static.items()
        if not (isinstance(v, float) and math.isnan(v))
    )


def patient_context(ctx: ActiveContext, stay_id: int) -> Callable[[], None] | None:
    """Static facts, the EHR timeline and the biosignal channel picker.

    Returns a function that draws the biosignal strip with the attention it receives into its
    place beside the timeline; the page calls it after the explanation has painted, because the
    attention needs the network. None when the stay has no biosignal.
    """
    pc = stay_context(ctx.bundle, stay_id)
    st.markdown(_facts(pc.static))
    left, right = st.columns([1.35, 1])
    hours = ctx.bundle.features["ehr"]["n_steps"] * ctx.bundle.ehr_step_hours
    with left, guarded("EHR timeline"):
        st.markdown(f"**EHR: values observed in the first {hours:g} hours**")
        chart(timeline_figure(pc, hours), key="timeline")
        if pc.unmeasured:
            st.caption("Not measured in this window: " + ", ".join(pc.unmeasured) + ".")
    with right:
        if pc.signal is None:
            st.info(f"This stay has no {ctx.sig_label} data. Its heads are **absent** from the prediction below, not counted as normal values.")
            return None
        model_channels = ctx.run.preprocessor.sig_channels if ctx.run.preprocessor is not None else pc.signal_channels[:3]
        observed = [c for c, row in zip(pc.signal_channels, pc.signal) if np.isfinite(row).any()]
        default = [c for c in model_channels if c in observed][:6] or model_channels[:3]
        shown = st.multiselect("Channels", pc.signal_channels, default=default, key=f"signal_channels:{ctx.cohort.key}", help="The model reads: " + ", ".join(model_channels))
        slot = st.empty()
        slot.caption(f"Drawing the {ctx.sig_label} with the attention it receives…")

    def draw_strip() -> None:
        with slot.container(), guarded(ctx.sig_label):
            attention = loaders.attention(ctx.run_entry.path, ctx.cohort.path, stay_id) if ctx.run.is_lemof else None
            received = None
            if attention is not None:
                received = (attention["sig_seconds"], np.asarray(attention["ehr_to_sig"]["mean"]).mean(axis=0).tolist())
            chart(signal_figure(pc, shown, received), key="signal")

    return draw_strip


def level_section(expl: StayExplanation, sig_label: str) -> None:
    chart(level_shap_figure(expl, sig_label), key="level_shap")


def contribution_section(expl: StayExplanation, sig_label: str) -> None:
    chart(contributions_figure(expl, sig_label), key="contributions")
    with st.expander("Heads in detail"):
        st.table(pd.DataFrame(head_table_rows(expl, sig_label)).set_index("head"))


def attention_section(ctx: ActiveContext, stay_id: int, expl: StayExplanation) -> None:
    sig_label = ctx.sig_label
    if not expl.has_signal:
        st.info(f"No cross-modal attention for this stay: its {sig_label} data are absent, so the fused head used the EHR alone.")
        return
    with st.spinner("Running the model for the attention maps…"):
        attention = loaders.attention(ctx.run_entry.path, ctx.cohort.path, stay_id)
    n_heads = attention["ehr_to_sig"]["shape"][0]
    c1, c2 = st.columns(2)
    direction = c1.segmented_control(
        "Direction", ["ehr_to_sig", "sig_to_ehr"], default="ehr_to_sig", key="attn_direction",
        format_func=lambda d: f"EHR → {sig_label}" if d == "ehr_to_sig" else f"{sig_label} → EHR",
    ) or "ehr_to_sig"
    head = c2.selectbox("Head", ["mean"] + list(range(n_heads)), key="attn_head", format_func=lambda h: "average of all heads" if h == "mean" else f"head {h + 1}")
    chart(attention_figure(attention, direction, None if head == "mean" else int(head), sig_label), key="attention")


def attribution_section(ctx: ActiveContext, stay_id: int) -> None:
    """Integrated Gradients over the inputs, computed on request (about half a second)."""
    if not st.toggle("Show which hours, features and signal segments drove the prediction (Integrated Gradients)", key="show_attribution"):
        return
    with st.spinner("Integrating gradients over 128 steps…"):
        attr = loaders.attribution(ctx.run_entry.path, ctx.cohort.path, stay_id)
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
        f"{attr.method}. Attributions add up to prediction − baseline prediction: {attr.total:+.3f} vs "
        f"{attr.output - attr.baseline_output:+.3f} log1p-days (integration error {attr.delta:+.4f})."
    )
