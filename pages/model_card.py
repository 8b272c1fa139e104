"""Model and cohort: what the active run is, how well it does, which levels it relies on."""

import streamlit as st

from lemof.plots import global_importance_figure, metrics_figure, training_curves_figure
from lemof.runs.layout import LOG_FILE
from ui import access, context, model_card
from ui.widgets import chart, guarded

ctx = context.current()
access.viewed("model and cohort", ctx.cohort.key, ctx.run_entry.run_id)
run = ctx.run
st.title("Model and cohort")
st.markdown(model_card.summary(ctx))
model_card.default_for_everyone(ctx)

if run.metrics.test is not None:
    model_card.metric_tiles(ctx)
    with guarded("Metrics chart"):
        chart(metrics_figure(run.metrics, run.head_kinds, ctx.sig_label, model_name=model_card.model_name(run)), key="metrics")
model_card.reviews_section(ctx)
if run.level_importance is not None:
    with guarded("Global level importance"):
        chart(global_importance_figure(run.level_importance, ctx.sig_label), key="global_importance")
    model_card.concepts_section(ctx)
else:
    st.info(f"Level importance is stage 2 of LeMoF; the {run.fusion!r} baseline has none.")

if run.meta_weights:
    st.subheader("Meta-learner weights")
    st.dataframe(model_card.meta_weights_table(ctx), width="stretch")
    st.caption("Each head's contribution to a stay's prediction is its weight × its prediction (log1p-days); a weight of 0 means the meta-learner does not use that head.")
gbm = model_card.gbm_table(ctx)
if gbm is not None:
    st.subheader(gbm[0])
    st.dataframe(gbm[1], hide_index=True)

with guarded("Training curves"):
    if any(isinstance(r, dict) and r.get("history") for r in run.stage_reports.values()):
        chart(training_curves_figure(run.stage_reports), key="training_curves")

st.subheader("Cohort")
st.markdown(model_card.cohort_summary(ctx))
st.dataframe(model_card.split_table(ctx), hide_index=True)
dropped = model_card.dropped_table(ctx)
if dropped is not None:
    st.markdown("**Dropped while building the cohort**")
    st.dataframe(dropped, hide_index=True)
log_path = run.path / LOG_FILE
if log_path.exists():
    with st.expander("Training log"):
        st.code(log_path.read_text(encoding="utf-8"), language=None)
