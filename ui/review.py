"""The reviewer's verdict on one stay, on the case page's first screen.

A line says where the stay stands (your review, if any, and how many earlier reviews there are
and under which model); "Record your review" opens the form: a verdict on the prediction (agree /
partly / disagree), the reviewer's own estimate in days (optional), per explanation shown on the
first screen useful / not useful / misleading, and a note. One click saves it; an edit keeps the
history. A review is bound to the run's weights, the cohort and the stay (``lemof.reviews``): a
new model starts with no verdicts, and the earlier reviews name the model they were about.

If the database cannot be reached the form says so and keeps what the reviewer typed (the
widgets keep their values; nothing is cleared until a save succeeds).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lemof.audit import audit_log
from lemof.deploy.access import Role
from lemof.errors import LemofError
from lemof.reviews import EXPLANATIONS, RATINGS, VERDICTS, ReviewDatabaseError, ReviewKey, ReviewRecord
from lemof.reviews.worklist import next_unreviewed, worklist
from ui import access, loaders
from ui.context import ActiveContext
from ui.widgets import md

VERDICT_WORDS = {"agree": "Agree", "partly": "Partly agree", "disagree": "Disagree"}
RATING_WORDS = {"useful": "Useful", "not_useful": "Not useful", "misleading": "Misleading"}
EXPLANATION_WORDS = {"drivers": "The reasons in days", "ecg": "The ECG findings", "similar": "The similar stays"}
WORKLIST_PAGE = "pages/worklist.py"


def key_of(ctx: ActiveContext, stay_id: int) -> ReviewKey:
    """What a review of ``stay_id`` under the active run is bound to."""
    run = ctx.run
    return ReviewKey(ctx.run_entry.run_id, run.weights_sha256 or f"unhashed:{run.run_id}", ctx.bundle.name, ctx.bundle.fingerprint, int(stay_id))


def reviewer() -> str:
    return access.current().user.strip().lower()


def audit_writer(visitor: access.Visitor):
    """The audit callback of a review write: one entry, raising (``AuditError``) if it cannot be written,
    so the write is rolled back and the page says so (never a write without its entry)."""
    def write(event: str, **fields) -> None:
        audit_log().append(event, user=visitor.user, role=visitor.role.label, session=visitor.session, **{k: v for k, v in fields.items() if v is not None})
    return write


def _when(record: ReviewRecord) -> str:
    return record.updated_at.strftime("%d %b %Y %H:%M UTC")


def _model_words(ctx: ActiveContext, record: ReviewRecord) -> str:
    if record.weights_sha256 == key_of(ctx, record.stay_id).weights_sha256:
        return "this model"
    return f"another model: {md(record.run_id)} ({record.weights_sha256[:8]})"


def _widget_keys(key: ReviewKey) -> dict[str, str]:
    tag = f"{key.weights_sha256[:12]}:{key.cohort_fingerprint[:12]}:{key.stay_id}"
    keys = {"verdict": f"review_verdict:{tag}", "estimate": f"review_estimate:{tag}", "note": f"review_note:{tag}"}
    keys |= {f"rating_{e}": f"review_rating_{e}:{tag}" for e in EXPLANATIONS}
    return keys


def _prefill(keys: dict[str, str], mine: ReviewRecord | None) -> None:
    """The form starts from the reviewer's saved review (once per stay and model: then it keeps what they type)."""
    if keys["verdict"] in st.session_state:
        return
    st.session_state[keys["verdict"]] = mine.verdict if mine else None
    st.session_state[keys["estimate"]] = mine.estimate_days if mine else None
    st.session_state[keys["note"]] = mine.note if mine else ""
    for e in EXPLANATIONS:
        st.session_state[keys[f"rating_{e}"]] = (mine.ratings.get(e) if mine else None)


def shown_explanations(has_ecg_line: bool, has_similar: bool) -> list[str]:
    """The explanations on the first screen that the reviewer can rate."""
    return ["drivers"] + (["ecg"] if has_ecg_line else []) + (["similar"] if has_similar else [])


def panel(ctx: ActiveContext, stay_id: int, predicted_los_days: float, explanations: list[str]) -> None:
    """The review line, the form in a popover, the earlier reviews and the way on (worklist, next stay)."""
    key = key_of(ctx, stay_id)
    visitor = access.current()
    me = reviewer()
    earlier: list[ReviewRecord] = []
    try:
        earlier = loaders.review_store().reviews_of_stay(key.cohort_fingerprint, key.stay_id, reviewer=None if visitor.role >= Role.TRAINER else me)
        mine = next((r for r in earlier if r.reviewer == me and r.weights_sha256 == key.weights_sha256), None)
    except LemofError as exc:  # the form is still drawn: what the reviewer types is kept until a save succeeds
        mine = None
        st.warning(f"The review database cannot be read now: {exc}")
    if mine:
        est = f" · your estimate {mine.estimate_days:.1f} d" if mine.estimate_days is not None else ""
        st.markdown(f"**Your review: {VERDICT_WORDS[mine.verdict]}**{est} · {_when(mine)}" + (f" (version {mine.version})" if mine.version > 1 else ""))
    else:
        st.markdown("**Not yet reviewed by you** under this model.")
    others = [r for r in earlier if r is not mine]
    if others:
        other_models = sum(r.weights_sha256 != key.weights_sha256 for r in others)
        st.caption(f"{len(others)} earlier review{'s' if len(others) != 1 else ''} of this stay" + (f", {other_models} under another model" if other_models else "") + ".")
    with st.popover("Edit your review" if mine else "Record your review", icon=":material/rate_review:", use_container_width=True):
        _form(ctx, key, mine, predicted_los_days, explanations, visitor)
        if earlier:
            _earlier(ctx, earlier, mine)
    c1, c2 = st.columns(2)
    c1.page_link(WORKLIST_PAGE, label="Worklist", icon=":material/checklist:")
    if c2.button("Next stay", icon=":material/skip_next:", key=f"next_unreviewed:{stay_id}", use_container_width=True,
                 help="The next stay of your worklist (yours first, then the ones you have not reviewed) that you have not reviewed under this model."):
        _go_next(ctx, stay_id)


def _form(ctx, key: ReviewKey, mine: ReviewRecord | None, predicted_los_days: float, explanations: list[str], visitor) -> None:
    keys = _widget_keys(key)
    _prefill(keys, mine)
    with st.form(f"review_form:{key.stay_id}", border=False):
        st.radio(f"Your verdict on the prediction ({predicted_los_days:.1f} days)", VERDICTS, key=keys["verdict"], horizontal=True,
                 format_func=VERDICT_WORDS.__getitem__)
        st.number_input("Your own estimate of the length of stay, in days (optional)", min_value=0.0, max_value=365.0, step=0.5,
                        key=keys["estimate"], placeholder="leave empty if you have none")
        st.markdown("**How useful was each explanation?**")
        for e in explanations:
            st.radio(EXPLANATION_WORDS[e], RATINGS, key=keys[f"rating_{e}"], horizontal=True, format_func=RATING_WORDS.__getitem__)
        st.text_area("Note (optional)", key=keys["note"], max_chars=4000, height=90,
                     placeholder="What you took from the prediction, what you would do differently, what was missing…")
        saved = st.form_submit_button("Save review", type="primary", icon=":material/save:")
    if not saved:
        return
    verdict = st.session_state[keys["verdict"]]
    if verdict is None:
        st.warning("Choose a verdict first: agree, partly agree or disagree.")
        return
    ratings = {e: st.session_state[keys[f"rating_{e}"]] for e in explanations if st.session_state[keys[f"rating_{e}"]]}
    try:
        record = loaders.review_store().save(key, reviewer(), verdict, estimate_days=st.session_state[keys["estimate"]], ratings=ratings,
                            note=st.session_state[keys["note"]] or "", predicted_los_days=float(predicted_los_days), audit=audit_writer(visitor))
    except (ReviewDatabaseError, LemofError) as exc:
        st.error(f"Your review was not saved: {exc}. What you typed is kept here; save again once this is resolved.")
        return
    st.toast(f"Review saved (version {record.version}).", icon=":material/check_circle:")
    st.rerun()  # the status line and the worklist follow at once


def _earlier(ctx: ActiveContext, earlier: list[ReviewRecord], mine: ReviewRecord | None) -> None:
    st.markdown("**Earlier reviews of this stay**")
    for r in earlier:
        est = f", estimate {r.estimate_days:.1f} d" if r.estimate_days is not None else ""
        pred = f" of {r.predicted_los_days:.1f} d" if r.predicted_los_days is not None else ""
        who = "you" if mine is not None and r.id == mine.id else md(r.reviewer)
        st.markdown(f"- {who}: **{VERDICT_WORDS[r.verdict]}**{pred}{est} · {_when(r)} · {_model_words(ctx, r)}")
        if r.note:
            st.text(r.note)  # plain text: no Markdown, no link made of a URL in it (a colleague's note is untrusted)
    if mine is not None and mine.version > 1:
        try:
            changes = loaders.review_store().history(mine.id)
        except LemofError:
            return
        st.caption("Your edits: " + "; ".join(
            f"v{h.version} {h.changed_at.strftime('%d %b %H:%M')}: " + (", ".join(md(f) for f in h.changes) or "created") for h in changes))


def table_for(ctx: ActiveContext, scope: str) -> pd.DataFrame:
    """The signed-in reviewer's worklist of ``scope`` ("test" or "all") under the active run
    (``ReviewDatabaseError`` if the database cannot be read)."""
    key = key_of(ctx, 0)
    status = loaders.review_store().status(key.cohort_fingerprint, key.weights_sha256, reviewer())
    return worklist(loaders.worklist_base(ctx.run_entry.path, ctx.cohort.path, scope), status)


def _go_next(ctx: ActiveContext, stay_id: int) -> None:
    try:
        table = table_for(ctx, "test" if str(ctx.bundle.stays.set_index("stay_id").loc[stay_id, "split"]) == "test" else "all")
    except LemofError as exc:
        st.warning(f"The worklist cannot be read now: {exc}")
        return
    nxt = next_unreviewed(table, stay_id)
    if nxt is None:
        st.info("Every stay of your worklist is reviewed under this model.")
        return
    st.query_params["stay"] = str(nxt)
    st.rerun()
