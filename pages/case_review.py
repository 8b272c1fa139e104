"""Case review: one ICU stay, its predicted LOS with uncertainty, and why."""

import streamlit as st

from ui import access, case, context
from ui.widgets import guarded, section

ctx = context.current()
st.title("Case review")
stay_id = case.stay_picker(ctx)
if stay_id is None:
    st.stop()
access.viewed("case review", ctx.cohort.key, ctx.run_entry.run_id, stay_id)  # in the audit log before anything of the stay is drawn
results = case.stay_results(ctx, stay_id)  # one object per (run, cohort, stay), shared by every section below
if results is None:
    st.stop()

if not ctx.run.is_lemof:  # a baseline: its prediction, the patient, and what of the explanation applies
    pred = case.prediction(results)
    if pred is None:
        st.stop()
    case.headline(pred, ctx.sig_label)
    case.not_lemof_note(ctx)
    st.subheader("Patient context")
    draw_signal = case.patient_context(ctx, results)
    if draw_signal is not None:
        draw_signal()
    case.report_button(ctx, results)
    if ctx.run.kind == "baseline":
        with section("Input drivers"):
            case.drivers_section(ctx, results)
    else:  # the tabular peer: its own TreeSHAP values, and what-if through its trees
        with section("Why this prediction: TreeSHAP"):
            case.tree_shap_section(ctx, results)
        with section("What if"):
            case.what_if_section(ctx, results)
    st.stop()

expl = case.explanation(ctx, results)
if expl is None:
    st.stop()

case.headline(expl, ctx.sig_label)
case.report_button(ctx, results)
st.subheader("Patient context")
draw_signal = case.patient_context(ctx, results)

st.subheader("Why this prediction")
left, right = st.columns(2)
with left, guarded("Level importance"):
    case.level_section(expl, ctx.sig_label)
with right, guarded("Head contributions"):
    case.contribution_section(expl, ctx.sig_label)

# Below this line the network may run (attention maps; what-if and Integrated Gradients on request): everything above has painted.
if draw_signal is not None:
    draw_signal()
with section("Similar stays"):
    case.similar_section(ctx, results)
with section("Cross-modal attention"):
    case.attention_section(ctx, results)
with section("What if"):
    case.what_if_section(ctx, results)
with section("Input drivers"):
    case.drivers_section(ctx, results)
