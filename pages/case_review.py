"""Case review: one ICU stay, its predicted LOS with uncertainty, and why."""

import streamlit as st

from pages.ui import case
from pages.ui.state import explanation, page_context

ctx = page_context()
st.title("Case review")
if ctx is None:
    st.stop()

stay_id = case.stay_picker(ctx)
if stay_id is None:
    st.stop()

expl = None
with case.guarded(f"Explanation of stay {stay_id}"), st.spinner(case.explaining_message(ctx)):
    expl = explanation(ctx, stay_id)
if expl is None:
    st.stop()

case.headline(expl, ctx.sig_label)
st.subheader("Patient context")
case.patient_context(ctx, stay_id, expl)

st.subheader("Why this prediction")
left, right = st.columns(2)
with left, case.guarded("Level importance"):
    case.level_section(expl, ctx.sig_label)
with right, case.guarded("Head contributions"):
    case.contribution_section(expl, ctx.sig_label)
with st.expander("Heads in detail"):
    st.dataframe(case.contributions_table(expl, ctx.sig_label), hide_index=True)

st.subheader("Cross-modal attention")
with case.guarded("Cross-modal attention"):
    case.attention_section(expl, ctx.sig_label)

st.subheader("Input attribution")
with case.guarded("Input attribution"):
    case.attribution_section(ctx, stay_id)
