"""Case review: one ICU stay, its predicted LOS with uncertainty, and why."""

import streamlit as st

from ui import case, context
from ui.widgets import guarded, section

ctx = context.current()
st.title("Case review")
stay_id = case.stay_picker(ctx)
if stay_id is None:
    st.stop()

if not ctx.run.is_lemof:  # a baseline: its prediction, the patient, and what of the explanation applies
    pred = case.prediction(ctx, stay_id)
    if pred is None:
        st.stop()
    case.headline(pred, ctx.sig_label)
    case.not_lemof_note(ctx)
    st.subheader("Patient context")
    draw_signal = case.patient_context(ctx, stay_id)
    if draw_signal is not None:
        draw_signal()
    case.report_button(ctx, stay_id)
    if ctx.run.kind == "baseline":
        with section("Drivers in words"):
            case.drivers_section(ctx, stay_id)
        with section("Input attribution"):
            case.attribution_section(ctx, stay_id)
    st.stop()

expl = case.explanation(ctx, stay_id)
if expl is None:
    st.stop()

case.headline(expl, ctx.sig_label)
case.report_button(ctx, stay_id)
st.subheader("Patient context")
draw_signal = case.patient_context(ctx, stay_id)

st.subheader("Why this prediction")
left, right = st.columns(2)
with left, guarded("Level importance"):
    case.level_section(expl, ctx.sig_label)
with right, guarded("Head contributions"):
    case.contribution_section(expl, ctx.sig_label)

# Below this line the network runs (attention, attributions, what-if): everything above has painted.
if draw_signal is not None:
    draw_signal()
with section("Drivers in words"):
    case.drivers_section(ctx, stay_id)
with section("Cross-modal attention"):
    case.attention_section(ctx, stay_id, expl)
with section("What if"):
    case.what_if_section(ctx, stay_id, expl)
with section("Similar stays"):
    case.similar_section(ctx, stay_id, expl)
with section("Input attribution"):
    case.attribution_section(ctx, stay_id)
