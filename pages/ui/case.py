"""Building blocks of the case-review page."""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import streamlit as st

from lemof import LemofError, StayExplanation, StayNotFoundError
from lemof.patient import stay_context
from lemof.plots import (
    attention_figure,
    contributions_figure,
    ehr_attribution_figure,
    level_shap_figure,
    signal_attribution_figure,
    signal_figure,
    static_attribution_figure,
    timeline_figure,
)
from lemof.plots.style import head_label
from pages.ui.state import ActiveContext, attribution

log = logging.getLogger("lemof.app")
SCOPES = ("Held-out test stays", "All stays")


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Show a failure of one section as an error box and let the rest of the page run."""
    try:
        yield
    except LemofError as exc:
        st.error(f"{what}: {exc}")
    except Exception:  # noqa: BLE001 - the page must keep working; details go to the log
        log.exception("%s failed", what)
        st.error(f"{what} could not be shown because of an internal error; the details are in the server log.")


def _apply_deep_link(ctx: ActiveContext, keys: dict[str, str]) -> None:
    """Select the stay named by ``?stay=`` once per new link value; warn if it is unknown."""
    link = st.query_params.get("stay")
    if link is None or link == st.session_state.get("_stay_link_applied"):
        return
    st.session_state["_stay_link_applied"] = link
    try:
        row = ctx.bundle.row_of(link)
    except StayNotFoundError as exc:
        st.warning(f"The link asks for stay {link!r}, but {exc}. Showing another stay instead.")
        return
    # Widen the filters so the linked stay is visible, then select it.
    for key in (keys["scope"], keys["units"], keys["los"]):
        st.session_state.pop(key, None)
    st.session_state[keys["scope"]] = SCOPES[1]
    st.session_state[keys["stay"]] = int(ctx.bundle.stays["stay_id"].iloc[row])


def stay_picker(ctx: ActiveContext) -> int | None:
    """Filters (split, care unit, observed LOS) and a searchable stay selector; deep-linkable."""
    stays = ctx.bundle.stays
    suffix = ctx.cohort.key
    keys = {k: f"{k}:{suffix}" for k in ("scope", "units", "los", "stay")}
    _apply_deep_link(ctx, keys)
    c1, c2, c3 = st.columns([1.2, 1.5, 1.5])
    scope = c1.radio("Stays", SCOPES, key=keys["scope"], horizontal=False, help="Held-out test stays were never seen in training.")
    units_all = sorted(stays["first_careunit"].astype(str).unique()) if "first_careunit" in stays else []
    units = c2.multiselect("Care unit", units_all, key=keys["units"], placeholder="all units")
    hi = float(math.ceil(stays["los_days"].max()))
    los = c3.slider("Observed LOS (days)", 0.0, hi, (0.0, hi), step=0.5, key=keys["los"])
    keep = stays["los_days"].between(los[0], los[1])
    if scope == SCOPES[0]:
        keep &= stays["split"] == "test"
    if units:
        keep &= stays["first_careunit"].astype(str).isin(units)
    shown = stays[keep]
    if shown.empty:
        st.info("No stay matches these filters.")
        return None
    options = shown["stay_id"].astype(int).tolist()
    if st.session_state.get(keys["stay"]) not in options:
        st.session_state.pop(keys["stay"], None)
    sig = ctx.sig_label
    unit = (" · " + shown["first_careunit"].astype(str)) if "first_careunit" in shown else ""
    text = shown["stay_id"].astype(str) + unit + " · " + shown["los_days"].map("{:.1f}".format) + " d observed · "
    text += np.where(shown["has_signal"], f"with {sig}", f"no {sig}")
    labels = dict(zip(options, text))  # built once per run: thousands of options stay fast

    stay_id = st.selectbox(f"ICU stay ({len(options):,} match; type to search by id)", options, key=keys["stay"], format_func=labels.__getitem__)
    st.query_params["stay"] = str(stay_id)
    st.session_state["_stay_link_applied"] = str(stay_id)
    return int(stay_id)


def explaining_message(ctx: ActiveContext) -> str:
    if ctx.run.cohort.get("fingerprint") == ctx.bundle.fingerprint:
        return "Explaining this stay…"
    return (
        "Computing exact level SHAP values: this model was not trained on this cohort, so they are not stored "
        "(the first stay after start-up takes about 15 s while shap compiles)…"
    )


def headline(expl: StayExplanation, sig_label: str) -> None:
    lo, hi = expl.interval_days
    level = int(round(100 * expl.interval_level))
    c = st.columns(4)
    c[0].metric("Predicted LOS", f"{expl.los_days:.1f} days", help="Median-type prediction of the meta-learner, back-transformed from log1p(days).")
    c[1].metric(f"{level} % prediction interval", f"{lo:.1f} – {hi:.1f} days", help="Split-conformal interval calibrated on validation stays (cross-fitted).")
    c[2].metric("Observed LOS", f"{expl.observed_los_days:.1f} days", delta=f"{expl.los_days - expl.observed_los_days:+.1f} d prediction error", delta_color="off")
    c[3].metric(sig_label, "recorded" if expl.has_signal else "absent", help=f"Without a {sig_label}, its heads are absent from the prediction, not read as normal.")
    if expl.split != "test":
        st.caption(f"This stay is in the **{expl.split}** split: the model saw it while training, so its prediction is in-sample.")


def patient_context(ctx: ActiveContext, stay_id: int, expl: StayExplanation) -> None:
    pc = stay_context(ctx.bundle, stay_id)
    facts = "  ·  ".join(
        f"**{k.replace('_', ' ')}**: {round(v, 1) if isinstance(v, float) else v}"
        for k, v in pc.static.items()
        if not (isinstance(v, float) and math.isnan(v))
    )
    st.markdown(facts)
    left, right = st.columns([1.35, 1])
    with left:
        with guarded("EHR timeline"):
            hours = ctx.bundle.features["ehr"]["n_steps"] * ctx.bundle.ehr_step_hours
            st.plotly_chart(timeline_figure(pc, hours), key="timeline", config={"displaylogo": False})
    with right:
        with guarded(ctx.sig_label):
            if pc.signal is None:
                st.info(f"This stay has no {ctx.sig_label} data. Its heads are **absent** from the prediction below, not counted as normal values.")
                return
            model_channels = ctx.run.preprocessor.sig_channels
            observed = [c for c, row in zip(pc.signal_channels, pc.signal) if np.isfinite(row).any()]
            default = [c for c in model_channels if c in observed][:6] or model_channels[:3]
            shown = st.multiselect(
                "Channels",
                pc.signal_channels,
                default=default,
                key=f"signal_channels:{ctx.cohort.key}",
                help="The model reads: " + ", ".join(model_channels),
            )
            attention = None
            if expl.attention is not None:
                received = np.asarray(expl.attention["ehr_to_sig"]["mean"]).mean(axis=0)  # attention each sig token receives
                attention = (expl.attention["sig_seconds"], received.tolist())
            st.plotly_chart(signal_figure(pc, shown, attention), key="signal", config={"displaylogo": False})


def level_section(expl: StayExplanation, sig_label: str) -> None:
    st.plotly_chart(level_shap_figure(expl, sig_label), key="level_shap", config={"displaylogo": False})
    total = sum(v for m in ("ehr", "sig") for v in expl.level_shap[m] if v is not None)
    st.caption(
        f"Exact Shapley values over the encoder levels ({expl.shap_source} with `shap`): "
        f"base {expl.shap_base:.3f} + Σφ {total:+.3f} = level-stacker output {expl.stacker_output:.3f} (log1p-days)."
    )


def contribution_section(expl: StayExplanation, sig_label: str) -> None:
    st.plotly_chart(contributions_figure(expl, sig_label), key="contributions", config={"displaylogo": False})
    modality = sum(v for k, v in expl.contributions.items() if v is not None and k.endswith(".global"))
    level = sum(v for k, v in expl.contributions.items() if v is not None and not k.endswith(".global"))
    st.caption(
        f"Modality-level heads add {modality:+.3f}, level-specific heads {level:+.3f} to the bias {expl.meta_bias:.3f}: "
        f"prediction {expl.meta_output:.3f} log1p-days = {expl.los_days:.2f} days."
    )


def attention_section(expl: StayExplanation, sig_label: str) -> None:
    if expl.attention is None:
        st.info(f"No cross-modal attention for this stay: its {sig_label} data are absent, so the fused head used the EHR alone.")
        return
    n_heads = expl.attention["ehr_to_sig"]["shape"][0]
    c1, c2 = st.columns(2)
    direction = c1.segmented_control(
        "Direction", ["ehr_to_sig", "sig_to_ehr"], default="ehr_to_sig", key="attn_direction",
        format_func=lambda d: f"EHR → {sig_label}" if d == "ehr_to_sig" else f"{sig_label} → EHR",
    ) or "ehr_to_sig"
    head = c2.selectbox("Head", ["mean"] + list(range(n_heads)), key="attn_head", format_func=lambda h: "average of all heads" if h == "mean" else f"head {h + 1}")
    fig = attention_figure(expl, direction, None if head == "mean" else int(head), sig_label)
    st.plotly_chart(fig, key="attention", config={"displaylogo": False})


def contributions_table(expl: StayExplanation, sig_label: str) -> list[dict]:
    """Rows for a table of heads: prediction, weight x prediction, or 'absent'."""
    rows = []
    for key in expl.head_names:
        value, pred = expl.contributions[key], expl.head_predictions[key]
        rows.append(
            {
                "head": head_label(key, sig_label),
                "kind": "modality-level" if key.endswith(".global") else "level-specific",
                "prediction (days)": None if pred is None else round(float(np.expm1(pred)), 2),
                "contribution (log1p-days)": "absent" if value is None else f"{value:+.4f}",
            }
        )
    return rows


def attribution_section(ctx: ActiveContext, stay_id: int) -> None:
    """Integrated Gradients over the inputs, computed on request (about half a second)."""
    if not st.toggle("Show which hours, features and signal segments drove the prediction (Integrated Gradients)", key="show_attribution"):
        return
    with st.spinner("Integrating gradients over 128 steps…"):
        attr = attribution(ctx, stay_id)
    labels = {f["name"]: f.get("label", f["name"]) for f in ctx.bundle.features["ehr"]["features"]}
    left, right = st.columns([1.4, 1])
    with left:
        st.plotly_chart(ehr_attribution_figure(attr, labels), key="attr_ehr", config={"displaylogo": False})
    with right:
        st.plotly_chart(static_attribution_figure(attr), key="attr_static", config={"displaylogo": False})
        fig = signal_attribution_figure(attr, ctx.sig_label)
        if fig is None:
            st.info(f"No {ctx.sig_label} data for this stay, so none to attribute.")
        else:
            st.plotly_chart(fig, key="attr_signal", config={"displaylogo": False})
    st.caption(
        f"{attr.method}. Attributions add up to prediction − baseline prediction: {attr.total:+.3f} vs "
        f"{attr.output - attr.baseline_output:+.3f} log1p-days (integration error {attr.delta:+.4f})."
    )
