"""Retrain: train a model on a cohort in the background (GPU when present), watch it, use it."""

import streamlit as st

from ui import context, retrain

ctx = context.current()
st.title("Retrain")
st.caption("Training runs in a separate process: you can keep using the app, refresh or close this tab; the job goes on and reappears here.")
retrain.form(ctx)
st.subheader("Job")
retrain.job_panel()
st.subheader("Recent jobs")
retrain.history()
