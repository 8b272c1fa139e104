"""The Evidence page: what the benchmark grids and the level-pair benchmark found, drawn from their
result files (``lemof.evaluation.benchmark_results``), interactive: pick a grid and a cohort for
its forest plot; the level pairs per cohort with their sentence and table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lemof.evaluation.benchmark_results import level_pairs_sentence, read_evidence, results_dir
from lemof.plots.evidence import REFERENCES, forest_figure, forest_references, level_pairs_figure
from ui import loaders
from ui.widgets import chart, guarded, md


def page() -> None:
    st.title("Benchmark evidence")
    st.caption(f"Read from the benchmark result files ({md(results_dir())}); every number has the command that produced it in docs/BENCHMARKS.md. "
               "Intervals are 95 % hierarchical bootstrap intervals (resampling training seeds, then stays).")
    ev = read_evidence()
    for problem in ev.problems:
        st.warning(md(problem))
    view = st.segmented_control("View", ["Methods compared (forest plots)", "Level guidance: every level pair"], default="Methods compared (forest plots)",
                                key="evidence_view", label_visibility="collapsed")
    if view == "Level guidance: every level pair":
        with guarded("Level pairs"):
            level_pairs(ev.level_pairs)
    elif view is not None:
        with guarded("Forest plots"):
            forest(ev.panels)


def forest(panels) -> None:
    if not panels:
        st.info("No grid report found.")
        return
    titles = [p.title for p in panels]
    pick = st.selectbox("Grid and cohort", titles, key="evidence_panel")
    panel = panels[titles.index(pick)]
    references = forest_references(panel.data) or ["lemof"]
    reference = references[0]
    if len(references) > 1:
        reference = st.segmented_control("Compared with", references, default=references[-1], format_func=lambda r: REFERENCES[r][1],
                                         key=f"evidence_reference_{panel.report}_{panel.key}") or references[-1]
    label = REFERENCES[reference][1]
    st.markdown(f"Each method's MAE minus {label}'s on the same stays and seeds (**> 0: {label} better**); a bar that does not cross 0 "
                "is a difference with its 95 % interval excluding zero. Hover for the numbers.")
    fig = loaders.figure(("evidence-forest", panel.report, panel.key, reference, results_dir()), lambda: forest_figure(panel.key, panel.data, reference))
    chart(fig, key="evidence_forest")
    rows = []
    for m in panel.data.get("methods", []):
        mae = ((m.get("metrics") or {}).get("mae_days") or {}) if isinstance(m, dict) else {}
        if mae.get("estimate") is not None:
            rows.append({"method": m.get("label", m.get("fusion")), "configuration": m.get("encoders"), "seeds": ", ".join(map(str, m.get("seeds", []))),
                         "MAE (d)": mae["estimate"], "95 % interval": f"{mae['lo']:.3f} – {mae['hi']:.3f}" if mae.get("lo") is not None else ""})
    if rows:
        with st.expander("Every method's MAE"):
            st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={"MAE (d)": st.column_config.NumberColumn(format="%.3f")})


def level_pairs(result: dict | None) -> None:
    if not result or not result.get("cohorts"):
        st.info("No level-pair result yet: `OMP_NUM_THREADS=1 python -m benchmarks.bench_level_pairs`.")
        return
    st.markdown("Stage 3 (cross-modal attention and the meta-learner) fitted on **every** pair of one EHR level and one bedside level, "
                "from the same stage-1 encoders per seed: does stage 2's Shapley choice pick a better pair than chance?")
    cohorts = [r["cohort"] for r in result["cohorts"]]
    pick = st.segmented_control("Cohort", cohorts, default=cohorts[0], key="evidence_pairs_cohort") or cohorts[0]
    r = result["cohorts"][cohorts.index(pick)]
    st.markdown(md(level_pairs_sentence(r)))
    fig = loaders.figure(("evidence-pairs", pick, result.get("when"), results_dir()), lambda: level_pairs_figure(r))
    chart(fig, key="evidence_pairs")
    rows = [{"EHR level": p["ehr_level"], "bedside level": p["sig_level"], "test MAE (d)": p["test_mae_days"]["estimate"],
             "− Shapley choice (d)": p["minus_shapley_days"]["estimate"],
             "chosen by stage 2 (seeds)": ", ".join(s for s, v in p["seeds"].items() if v["shapley_choice"]),
             "chosen on validation (seeds)": ", ".join(s for s, v in p["seeds"].items() if v["validation_choice"])} for p in r["pairs"]]
    with st.expander("Every pair, per seed"):
        st.dataframe(pd.DataFrame(rows).sort_values("test MAE (d)"), hide_index=True,
                     column_config={"test MAE (d)": st.column_config.NumberColumn(format="%.3f"), "− Shapley choice (d)": st.column_config.NumberColumn(format="%+.3f")})
