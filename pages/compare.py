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
with section("Level importance profiles"):
    compare.profiles_section(ctx, comp)
with section("What each level encodes"):
    compare.concepts_section(ctx, comp)
with section("Interval calibration"):
    compare.calibration_section(comp, calibration)
st.subheader("Run against run")
a, b = compare.pair_section(ctx, comp)
with section("One stay across runs"):
    top = int(comp.disagreements(a, b, 1).index[0])
    compare.one_stay_section(ctx, comp, top)
