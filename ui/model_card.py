"""Text and tables of the model-and-cohort page, in words and percentages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lemof.evaluation.metrics import LONG_STAY_DAYS
from lemof.plots import head_label, level_concepts_figure
from lemof.runs.shared_default import read_defaults, set_default
from lemof.errors import LemofError
from lemof.reviews.analysis import agreement, estimates_vs_model
from ui import access, loaders
from ui.review import key_of
from ui.context import ActiveContext
from ui.widgets import chart, guarded, md

SPLIT_NAMES = {"train": "Training", "val": "Validation", "test": "Test (held out)"}


def model_name(run) -> str:
    if run.fusion == "lemof":
        return "LeMoF (meta-learner" + (", with a tabular head)" if run.tabular_head is not None else ")")
    return f"{run.fusion} ({run.kind if run.kind != 'lemof' else 'LeMoF ablation'})"


def summary(ctx: ActiveContext) -> str:
    run = ctx.run
    seconds = f" in {run.training_seconds / 60:.1f} min" if run.training_seconds else ""
    device = f" on {run.device.upper() if run.device else 'an unknown device'}"
    n = f"{run.cohort.n_stays:,} stays" if run.cohort.n_stays else "stays"
    return (
        f"**Run** `{run.run_id}` · fusion **{run.fusion}**{' + tabular head (LightGBM)' if run.tabular_head is not None else ''} · "
        f"encoders **{run.encoders}** (EHR + {ctx.sig_label}) · seed {run.train_config.seed}  \n"
        f"Trained on **{md(run.cohort.name)}** ({n}){seconds}{device}; predicts ICU length of stay in days "
        f"(regression on log1p(days), {100 * run.interval_level:.0f} % conformal intervals)."
    )


def metric_tiles(ctx: ActiveContext) -> None:
    test = ctx.run.metrics.test
    m, base = test.model, test.train_median
    c = st.columns(5)
    c[0].metric("Test MAE", f"{m.mae_days:.2f} days", delta=f"{-100 * test.mae_reduction_vs_train_median:.0f} % vs median", delta_color="inverse",
                help=f"The training median predicts {ctx.run.metrics.train_median_los_days:.2f} days for everyone: test MAE {base.mae_days:.2f} days.")
    c[1].metric("Test RMSE", f"{m.rmse_days:.2f} days", help=f"training median: {base.rmse_days:.2f} days")
    c[2].metric("Kappa (10 LOS buckets)", f"{m.kappa_linear_10bucket:.3f}", help="Linear-weighted Cohen's kappa over <1, 1–2, …, 7–8, 8–14, >14 days; the training median scores 0.")
    auroc = "n/a" if m.auroc_los_gt7 is None else f"{m.auroc_los_gt7:.3f}"
    c[3].metric(f"AUROC, LOS > {LONG_STAY_DAYS:g} days", auroc, help=f"How well the predicted LOS ranks stays longer than {LONG_STAY_DAYS:g} days (0.5 = chance).")
    coverage = "n/a" if m.interval_coverage is None else f"{100 * m.interval_coverage:.1f} %"
    c[4].metric("Interval coverage", coverage, help=f"Share of test stays whose observed LOS lies in the interval; nominal {100 * ctx.run.interval_level:.0f} %.")


def meta_weights_table(ctx: ActiveContext) -> pd.DataFrame:
    """Heads x availability pattern, with the bias and interval half-width as the last rows."""
    pattern_names = {"ehr+sig": f"with {ctx.sig_label}", "ehr": f"without {ctx.sig_label}"}
    kinds = ctx.run.head_kinds
    columns = {}
    for report in ctx.run.meta_weights:
        col = {f"{head_label(h, ctx.sig_label)} ({kinds[h]})": f"{w:.3f}" for h, w in report.weights.items()}
        col["bias (log1p-days)"] = f"{report.bias:+.3f}"
        col["interval half-width (log1p-days)"] = f"±{report.interval_halfwidth:.3f}"
        col["validation stays fitted on"] = f"{report.n:,}"
        columns[pattern_names.get(report.pattern, report.pattern)] = col
    return pd.DataFrame(columns)


def gbm_table(ctx: ActiveContext) -> tuple[str, pd.DataFrame] | None:
    """(title, table) of the LightGBM settings a run chose: the tabular peer's (on validation) or
    LeMoF's tabular head's (on cross-validation within the training split); None for other runs."""
    report = ctx.run.stage_reports.get("gbm")
    if report:
        rows = [{"setting": k, "value": str(v)} for k, v in report["params"].items()]
        rows += [
            {"setting": "trees (early stopping on validation)", "value": str(report["n_trees"])},
            {"setting": "configurations tried on validation", "value": str(report.get("fits", "—"))},
            {"setting": "validation MAE (days)", "value": f"{report['val_mae_days']:.3f}"},
            {"setting": "summary features", "value": f"{len(report['features']):,}"},
        ]
        return "Gradient boosting: what validation chose", pd.DataFrame(rows)
    report = ctx.run.stage_reports.get("tabular_head")
    if report:
        folds = report.get("cv_folds", "—")
        rows = [{"setting": k, "value": str(v)} for k, v in report["params"].items()]
        rows += [
            {"setting": f"trees (early stopping on {folds}-fold training cross-validation)", "value": str(report["n_trees"])},
            {"setting": "configurations tried", "value": str(report.get("fits", "—"))},
            {"setting": "out-of-fold MAE on training stays (days)", "value": f"{report['train_oof_mae_days']:.3f}"},
        ]
        return "Tabular head: what training cross-validation chose (no validation stay)", pd.DataFrame(rows)
    return None


def cohort_summary(ctx: ActiveContext) -> str:
    b = ctx.bundle
    prov = b.provenance
    return f"**{md(b.name)}** · family `{b.source}` · version {md(prov.get('version'))} · {len(b):,} stays · fingerprint `{b.fingerprint[:16]}…`"


def split_table(ctx: ActiveContext) -> pd.DataFrame:
    stays = ctx.bundle.stays
    rows = []
    for split in ("train", "val", "test"):
        part = stays[stays["split"] == split]
        rows.append(
            {
                "Split": SPLIT_NAMES[split],
                "Stays": f"{len(part):,}",
                "Median observed LOS (days)": f"{part['los_days'].median():.1f}",
                f"LOS > {LONG_STAY_DAYS:g} days": f"{100 * (part['los_days'] > LONG_STAY_DAYS).mean():.1f} %",
                f"With {ctx.sig_label}": f"{100 * part['has_signal'].mean():.1f} %",
            }
        )
    return pd.DataFrame(rows)


def dropped_table(ctx: ActiveContext) -> pd.DataFrame | None:
    dropped = ctx.bundle.provenance.get("dropped")
    if not dropped:
        return None
    table = pd.DataFrame(dropped).rename(columns={"what": "What", "reason": "Why", "count": "Count"})
    if "Count" in table:
        table["Count"] = table["Count"].map("{:,}".format)
    return table


def concepts_section(ctx: ActiveContext) -> None:
    """The level x concept heatmap of the run's concept probes, or how to compute them."""
    run = ctx.run
    st.subheader("What each level encodes")
    if run.level_concepts is None:
        st.info(f"No concept probes stored for {run.run_id}: `python -m lemof concepts --run {run.path} --data <the cohort it was trained on>` computes them (no retraining).")
        return
    imp = run.level_importance
    with guarded("Concept probes"):
        chart(level_concepts_figure(run.level_concepts, set(imp.selected["ehr"]) | set(imp.selected["sig"]), ctx.sig_label), key="level_concepts")
    t = run.level_concepts.get("thresholds", {})
    st.caption(
        "A linear probe per level and concept, cross-validated on held-out stays (validation + test); cells give the AUROC (binary concept) "
        f"or R² (continuous), coloured on one 0–1 skill scale (2·(AUROC − 0.5), or R²). A level is named after the concepts that reach "
        f"AUROC ≥ {t.get('binary', 0.8)} or R² ≥ {t.get('continuous', 0.3)} (at most two). That a level encodes a concept does not mean the prediction uses it."
    )


def default_for_everyone(ctx: ActiveContext) -> None:
    """Trainers: make the active run the model every new session opens on for this cohort."""
    visitor = access.current()
    run_id = ctx.run_entry.run_id
    shared = read_defaults().get(ctx.cohort.key)
    if shared and shared["run"] == run_id:
        st.caption(f"{run_id} is the default model for everyone on this cohort (set by {md(shared.get('by', '?'))} on {md(shared.get('at', '?'))}).")
        return
    if not visitor.can_train:
        return
    if st.button(f"Make {run_id} the default model for everyone", key="default_for_everyone", icon=":material/groups:",
                 help="Every user's new sessions on this cohort open on this model; anyone can still pick another in the sidebar."):
        access.record("run.activate", scope="everyone", cohort=ctx.cohort.key, run=run_id)
        set_default(ctx.cohort.key, run_id, visitor.user)
        st.rerun()


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _agreement_table(table: pd.DataFrame, group: str) -> pd.DataFrame:
    return pd.DataFrame({
        group: table["group"].astype(str).map(md),
        "reviews": table["reviews"],
        "agree": table["agree"], "partly": table["partly"], "disagree": table["disagree"],
        "agreed fully": [f"{100 * s:.0f} % ({100 * lo:.0f}–{100 * hi:.0f})" for s, lo, hi in zip(table["agree_share"], table["agree_lo"], table["agree_hi"])],
    })


def reviews_section(ctx: ActiveContext) -> None:
    """What the clinicians' reviews of this model on this cohort say (``lemof.reviews.analysis``):
    agreement by predicted-LOS band and by unit; the reviewers' estimates against the model's."""
    st.subheader("What the reviews say")
    key = key_of(ctx, 0)
    try:
        reviews = loaders.review_store().reviews(cohort_fingerprint=key.cohort_fingerprint, weights_sha256=key.weights_sha256)
    except LemofError as exc:
        st.warning(f"The reviews cannot be read now: {exc}")
        return
    if reviews.empty:
        st.info("No clinician has reviewed a stay of this cohort under this model yet (reviews are recorded on the case page; "
                "another model's reviews count under that model).")
        return
    n_users, n_stays = reviews["user"].nunique(), reviews["stay_id"].nunique()
    st.markdown(f"**{_count(len(reviews), 'review')}** of {_count(n_stays, 'stay')} by {_count(n_users, 'reviewer')}, "
                "each about this model's prediction. Share that agreed fully, with its 95 % Wilson interval:")
    left, right = st.columns(2)
    with left:
        st.dataframe(_agreement_table(agreement(reviews, ctx.bundle, "band"), "predicted LOS"), hide_index=True)
    with right:
        st.dataframe(_agreement_table(agreement(reviews, ctx.bundle, "unit"), "care unit"), hide_index=True)
    cmp = estimates_vs_model(reviews, ctx.bundle)
    if cmp is None:
        st.caption("No review with the reviewer's own estimate yet: the estimates cannot be compared with the model's.")
        return
    d = cmp.difference
    closer = "closer to" if d["estimate"] < 0 else "farther from"
    st.markdown(
        f"**The reviewers' own estimates against the model**, on {cmp.n:,} reviews ({cmp.stays:,} stays, {cmp.reviewers:,} reviewers) "
        f"with an estimate and an observed length of stay: reviewers off by **{cmp.reviewer_mae_days:.2f} d** on average, the model by "
        f"**{cmp.model_mae_days:.2f} d**: the reviewers were {abs(d['estimate']):.2f} d {closer} the outcome "
        f"(difference {d['estimate']:+.2f} d, 95 % interval {d['lo']:+.2f} to {d['hi']:+.2f}; "
        + ("the interval excludes no difference)." if d["excludes_zero"] else "the interval includes no difference).")
    )
    st.caption(cmp.interval_note + ". The model's prediction compared is the one each reviewer saw.")
