"""The worklist page: the active cohort's stays to review under the active model, with the
prediction, the unit and each stay's review status; sortable (click a column) and filterable;
each stay opens in the case review. A reviewer's own assigned stays come first. Trainers assign
stays to reviewers (select rows, name the reviewer) and see everyone's status.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from lemof.deploy.access import Role
from lemof.errors import LemofError
from lemof.reviews.worklist import SCOPES, STATUS_MINE, STATUS_NOT, STATUSES, next_unreviewed
from ui import access, links, loaders
from ui.context import ActiveContext, case_link
from ui.review import VERDICT_WORDS, audit_writer, key_of, table_for
from ui.widgets import md

CASE_PAGE = "pages/case_review.py"


def _filters(ctx: ActiveContext, table: pd.DataFrame) -> pd.DataFrame:
    c1, c2, c3, c4 = st.columns([1.2, 1.6, 1.2, 1.0], vertical_alignment="bottom")
    statuses = c1.multiselect("Status", STATUSES, default=[], key="worklist_status", placeholder="any status")
    units = c2.multiselect("Care unit", sorted(table["unit"].unique()), default=[], key="worklist_units", placeholder="all units")
    hi = float(np.ceil(table["predicted_los_days"].max())) if len(table) else 1.0
    los = c3.slider("Predicted LOS (days)", 0.0, max(hi, 1.0), (0.0, max(hi, 1.0)), step=0.5, key="worklist_los")
    mine_only = c4.toggle("Assigned to me", key="worklist_mine", help="Only the stays a trainer assigned to you.")
    keep = table["predicted_los_days"].between(los[0], los[1] + 1e-9)
    if statuses:
        keep &= table["status"].isin(statuses)
    if units:
        keep &= table["unit"].isin(units)
    if mine_only:
        keep &= table["assigned_to_me"]
    return table[keep.to_numpy()]


def _shown(ctx: ActiveContext, table: pd.DataFrame) -> pd.DataFrame:
    sig = ctx.sig_label
    return pd.DataFrame({
        "stay": [case_link(ctx, ctx.run_entry.run_id, s) for s in table["stay_id"]],
        "care unit": table["unit"].to_numpy(),
        sig: table["signal"].to_numpy(),
        "predicted LOS (d)": table["predicted_los_days"].round(1).to_numpy(),
        "interval (d)": [f"{lo:.1f} – {hi:.1f}" for lo, hi in zip(table["interval_low_days"], table["interval_high_days"])],
        "status": table["status"].to_numpy(),
        "your verdict": [VERDICT_WORDS.get(v, "") if isinstance(v, str) else "" for v in table["my_verdict"]],
        "other reviewers": table["others"].to_numpy(),
        "assigned to": table["assignees"].to_numpy(),
    })


def page(ctx: ActiveContext) -> None:
    visitor = access.current()
    trainer = visitor.role >= Role.TRAINER
    st.title("Worklist")
    st.caption(f"Stays of {md(ctx.cohort.label)} with the predictions of {md(ctx.run_entry.run_id)}. A review is bound to this model: "
               "another model's reviews count under that model, not here. Your assigned stays come first, then the ones you have not reviewed.")
    link = links.take("worklist", "scope")  # ?scope=all: a link to every stay of the cohort
    if link in SCOPES:
        st.session_state["worklist_scope"] = link
    scope = st.segmented_control("Stays", list(SCOPES), format_func=SCOPES.__getitem__, default="test", key="worklist_scope",
                                 label_visibility="collapsed") or "test"
    links.mirror("worklist", "scope", scope)
    try:
        with st.spinner("Reading the predictions and the reviews…"):
            table = table_for(ctx, scope)
    except LemofError as exc:
        st.error(f"The worklist cannot be shown: {exc}")
        return
    mine, assigned = int((table["status"] == STATUS_MINE).sum()), int(table["assigned_to_me"].sum())
    st.markdown(f"**{len(table):,} stays** · {mine:,} reviewed by you · {int((table['status'] == STATUS_NOT).sum()):,} not reviewed by anyone"
                + (f" · {assigned:,} assigned to you" if assigned else ""))
    nxt = next_unreviewed(table)
    if nxt is not None and st.button(f"Review the next stay ({nxt})", type="primary", icon=":material/skip_next:", key="worklist_next"):
        st.switch_page(CASE_PAGE, query_params={"stay": str(nxt)})
    shown = _filters(ctx, table)
    view = _shown(ctx, shown)
    config = {"stay": st.column_config.LinkColumn("stay", display_text=r"stay=(\d+)", help="Open the stay in the case review"),
              "predicted LOS (d)": st.column_config.NumberColumn(format="%.1f"),
              ctx.sig_label: st.column_config.CheckboxColumn(ctx.sig_label, help=f"A recorded {ctx.sig_label}")}
    height = min(36 * (len(view) + 1) + 2, 560)  # the rows shown, up to about 15 at once
    if trainer:
        event = st.dataframe(view, hide_index=True, column_config=config, on_select="rerun", selection_mode="multi-row", key="worklist_table",
                             height=height)
        _assign(ctx, shown.iloc[event.selection.rows] if event and event.selection.rows else shown.iloc[:0], visitor)
    else:
        st.dataframe(view, hide_index=True, column_config=config, key="worklist_table", height=height)
    st.caption(f"{len(view):,} of {len(table):,} stays shown. Click a column's name to sort by it.")


def _assign(ctx: ActiveContext, picked: pd.DataFrame, visitor) -> None:
    """Trainers: give the selected stays to a reviewer (or take them back)."""
    with st.form("worklist_assign", border=True):
        st.markdown(f"**Assign the {len(picked):,} selected stays** (tick rows in the table)")
        c1, c2, c3 = st.columns([2.5, 1, 1], vertical_alignment="bottom")
        who = c1.text_input("Reviewer (e-mail, as they sign in)", key="worklist_assignee")
        add = c2.form_submit_button("Assign", icon=":material/person_add:")
        remove = c3.form_submit_button("Unassign", icon=":material/person_remove:")
    if not (add or remove):
        return
    who = (who or "").strip().lower()
    if not who or picked.empty:
        st.warning("Tick at least one stay and name the reviewer.")
        return
    key = key_of(ctx, 0)
    ids = [int(s) for s in picked["stay_id"]]
    try:
        store = loaders.review_store()
        if add:
            n = store.assign(key.cohort_key, key.cohort_fingerprint, ids, who, assigned_by=visitor.user, audit=audit_writer(visitor))
            st.toast(f"{n} stay(s) assigned to {who}.")
        else:
            n = store.unassign(key.cohort_fingerprint, ids, who, by=visitor.user, audit=audit_writer(visitor))
            st.toast(f"{n} assignment(s) of {who} removed.")
    except LemofError as exc:
        st.error(f"Nothing was assigned: {exc}")
        return
    st.rerun()
