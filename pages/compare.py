"""Compare runs: encoder configurations and fusion methods side by side on the active cohort."""

import streamlit as st

from ui import access, compare, context
from ui.widgets import md, section

ctx = context.current()
st.title("Compare runs")
entries = compare.choose_runs(ctx)
if len(entries) < 2:
    st.info("Pick at least two runs to compare.")
    st.stop()
split = compare.choose_scope(ctx, entries)
access.viewed("compare", ctx.cohort.key, ctx.run_entry.run_id, runs=",".join(e.run_id for e in entries), split=split)
scored = "the held-out test stays" if split == "test" else "every stay"
st.caption(f"Runs trained on {md(ctx.bundle.source)} cohorts, scored on {scored} of {md(ctx.bundle.name)}.")
result = compare.available(ctx, entries, split)
if result is None:
    st.stop()
comp, metrics, calibration = result
compare.report_problems(ctx, comp)
if len(comp.runs) < 2:
    st.info("Fewer than two of these runs can be compared on this cohort; pick others.")
    st.stop()

with section("Test metrics" if split == "test" else "Metrics on every stay"):
    compare.metrics_section(comp, metrics)
draw_view = compare.views(ctx, comp, calibration)  # one view at a time, none until asked for: only the chosen one is computed and drawn
draw_view()
