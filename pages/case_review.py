"""Case review: one ICU stay, its predicted LOS with uncertainty, and why."""

import streamlit as st

from ui import access, case, context

ctx = context.current()
st.title("Case review")
stay_id = case.stay_picker(ctx)
if stay_id is None:
    st.stop()
access.viewed("case review", ctx.cohort.key, ctx.run_entry.run_id, stay_id)  # in the audit log before anything of the stay is drawn
results = case.stay_results(ctx, stay_id)  # one object per (run, cohort, stay), shared by every section below
if results is None:
    st.stop()
pred = case.prediction(results)
if pred is None:
    st.stop()

case.headline(pred, ctx.sig_label)
case.unavailable_note(ctx)
case.report_button(ctx, results)
st.subheader("Patient context")
draw_signal = case.patient_context(ctx, results)
case.explanations(ctx, results, draw_signal)  # the sections of the explanations that apply to the run (lemof.explain.explainers / views)
