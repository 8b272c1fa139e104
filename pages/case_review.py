"""Case review: one ICU stay — the answer on the first screen, the evidence one click away."""

import streamlit as st

from ui import access, case, context, loaders

ctx = context.current()
stay_id, outcomes = case.stay_picker(ctx)
if stay_id is None:
    st.stop()
access.viewed("case review", ctx.cohort.key, ctx.run_entry.run_id, stay_id)  # in the audit log before anything of the stay is drawn
results = case.stay_results(ctx, stay_id)  # one object per (run, cohort, stay), shared by every section below
if results is None:
    st.stop()
pred = case.prediction(results)
if pred is None:
    st.stop()

later = case.first_screen(ctx, results, pred, outcomes)  # what is stored is drawn now; what must be computed, after the first paint
draw_view = case.evidence(ctx, results)  # one view at a time, none until asked for
for fill in later:
    fill()
draw_view()
loaders.warm(ctx.run)  # the network, for the views that need it, built once the first screen is out
