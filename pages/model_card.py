"""Model card: what the active run is, how well it does, which levels it relies on."""

import pandas as pd
import streamlit as st

from lemof.plots import global_importance_figure, metrics_figure
from lemof.plots.style import head_label
from pages.ui.case import guarded
from pages.ui.state import page_context

ctx = page_context()
st.title("Model and cohort")
if ctx is None:
    st.stop()

run, bundle = ctx.run, ctx.bundle
st.markdown(
    f"**Run** `{run.run_id}` · encoders **{run.encoders}** · trained on **{run.cohort.get('name')}** "
    f"({run.cohort.get('n_stays', '?')} stays) · task: {run.config.get('task')}"
)
test = run.metrics.get("test")
if test:
    m, b = test["lemof"], test["baseline_train_median"]
    c = st.columns(4)
    c[0].metric("Test MAE", f"{m['mae_days']:.2f} d", delta=f"{-100 * test['mae_reduction_vs_baseline']:.0f} % vs training median", delta_color="inverse")
    c[1].metric("Test RMSE", f"{m['rmse_days']:.2f} d")
    c[2].metric("Kappa (10 LOS buckets)", f"{m['kappa_linear_10bucket']:.3f}", help=f"training median baseline: {b['kappa_linear_10bucket']:.3f}")
    c[3].metric("Interval coverage", f"{100 * m['interval_coverage']:.1f} %", help=f"nominal {100 * (1 - run.config['train']['interval_alpha']):.0f} %")
    with guarded("Metrics chart"):
        st.plotly_chart(metrics_figure(run.metrics, ctx.sig_label), key="metrics")
with guarded("Global level importance"):
    st.plotly_chart(global_importance_figure(run.level_importance, ctx.sig_label), key="global_importance")

st.subheader("Meta-learner weights")
rows = []
for report in run.config.get("stage_reports", {}).get("meta_learner", []):
    for key, w in report["weights"].items():
        rows.append({"availability": report["pattern"], "head": head_label(key, ctx.sig_label), "weight": round(w, 4)})
if rows:
    st.dataframe(pd.DataFrame(rows).pivot(index="head", columns="availability", values="weight"))

st.subheader("Cohort")
prov = bundle.provenance
st.markdown(f"**{bundle.name}** · source `{bundle.source}` · version {prov.get('version')} · fingerprint `{bundle.fingerprint}`")
st.dataframe(bundle.stays.groupby("split").agg(stays=("stay_id", "size"), median_los_days=("los_days", "median"), with_signal=("has_signal", "mean")).round(3))
if prov.get("dropped"):
    st.markdown("**Dropped while building the cohort**")
    st.dataframe(pd.DataFrame(prov["dropped"]), hide_index=True)
log_path = run.path / "train.log"
if log_path.exists():
    with st.expander("Training log"):
        st.code(log_path.read_text(encoding="utf-8"), language=None)
