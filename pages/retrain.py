"""Retrain: train a model on a cohort in the background (GPU when present), watch it, use it."""

import streamlit as st

from lemof.deploy.access import Role
from ui import access, context, retrain

ctx = context.current()
access.require(Role.TRAINER, "Retraining")
access.viewed("retrain", ctx.cohort.key, ctx.run_entry.run_id)
st.title("Retrain")
st.caption("Training runs in a separate process: you can keep using the app, refresh or close this tab; the job goes on and reappears here.")
retrain.form(ctx)
st.subheader("Job")
retrain.job_panel()
st.subheader("Recent jobs")
retrain.history()
