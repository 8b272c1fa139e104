"""Cohort: the active run over the whole cohort: level importance and head contributions with
their spread, calibration, error by subgroup, and the stays behind each number."""

import streamlit as st

from ui import access, cohort, context
from ui.widgets import guarded, md, section

ctx = context.current()
st.title("Cohort")
st.caption(f"Run {ctx.run.run_id} over the stays of {md(ctx.bundle.name)}; select a subgroup to list its stays, each opening in case review.")
split = cohort.choose_split(ctx)
access.viewed("cohort", ctx.cohort.key, ctx.run_entry.run_id, split=split)
view = cohort.view(ctx, split)
if view is None:
    st.stop()
cohort.summary(ctx, view)

with section("Level importance across stays"):
    cohort.levels_section(ctx, view)
with section("Calibration"):
    cohort.calibration_section(ctx, view)
st.subheader("Error by subgroup")
picked = None
with guarded("Error by subgroup"):
    picked = cohort.subgroup_section(ctx, view)
with guarded("Stays of a subgroup"):
    cohort.stays_section(ctx, view, picked)
with section("Head contributions across stays"):
    cohort.heads_section(ctx, view)
