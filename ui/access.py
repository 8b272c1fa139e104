"""Sign-in, roles and the audit trail, as the pages see them.

``gate()`` runs first on every script run (``ui.router``), before anything of a patient is drawn:
it enforces the bind-address rule, asks for sign-in when ``[auth]`` is configured, decides the
role (``lemof.deploy.access``) and returns the ``Visitor``; otherwise it draws only a sign-in or refusal
page and stops the run. ``record`` writes an audit entry for this visitor (fsynced before it
returns; if it cannot be written, the page says so and stops: no patient data without its entry).
``viewed`` records a view once per arrival (not on every rerun).
"""

from __future__ import annotations

import getpass
import logging
import os
from dataclasses import dataclass

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from lemof import LemofError
from lemof.deploy.access import Decision, Role
from lemof.audit import AuditError, audit_log
from lemof.deploy.server import PROXY_USER_HEADER_ENV, ServerSettings
from ui.widgets import md

log = logging.getLogger("lemof.app")
_VISITOR = "_lemof_visitor"
_SIGNED_IN = "_lemof_signed_in_logged"
_REFUSED = "_lemof_refused_logged"
_VIEWS = "_lemof_views"
_PAGE = "_lemof_page"


@dataclass(frozen=True)
class Visitor:
    user: str
    role: Role
    mode: str  # oidc, proxy, local
    session: str  # Streamlit's session id: which browser tab

    @property
    def can_train(self) -> bool:
        return self.role >= Role.TRAINER


def _session_id() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "-"


def settings() -> ServerSettings:
    """The server's sign-in settings, from Streamlit's secrets (its ``secrets.files``)."""
    try:
        secrets = st.secrets.to_dict() if st.secrets.load_if_toml_exists() else {}
    except Exception as exc:  # noqa: BLE001 - a malformed secrets.toml: Streamlit's own parse error
        raise LemofError(f"the secrets file cannot be read: {exc}") from None
    return ServerSettings.from_secrets(secrets)


def _audit(event: str, user: str, role: Role | None, session: str | None = None, **fields) -> None:
    try:
        audit_log().append(event, user=user, role=role.label if role else None, session=session or _session_id(), **fields)
    except AuditError as exc:
        log.error("audit log: %s", exc)
        st.error(f"The audit log cannot be written, so nothing is shown: {exc}. Tell the server's administrator.")
        st.stop()


def _only(draw, title: str) -> None:
    """Show one page (sign-in, refusal) and nothing else: no menu, no sidebar, no patient."""
    st.navigation([st.Page(draw, title=title, default=True)], position="hidden").run()
    st.stop()


def _sign_in_page(s: ServerSettings):
    def draw() -> None:
        st.title("LeMoF Explorer")
        st.write("Sign in with your hospital account to review cases.")
        for provider in s.providers:
            label = "Sign in" if provider is None else f"Sign in with {provider}"
            if st.button(label, type="primary", key=f"sign_in_{provider or 'default'}", icon=":material/login:"):
                st.login(provider) if provider is not None else st.login()
        st.caption("Research software, not a medical device. Every view of a patient is recorded in the audit log.")
    return draw


def _refused_page(decision: Decision):
    def draw() -> None:
        st.title("LeMoF Explorer")
        st.error(md(decision.reason))  # names the user: text from the identity provider
        if st.button("Sign out", key="sign_out_refused", icon=":material/logout:"):
            st.logout()
    return draw


def _fatal_page(message: str):
    def draw() -> None:
        st.title("LeMoF Explorer")
        st.error(message)
    return draw


def _decide(s: ServerSettings) -> Decision:
    if s.mode == "oidc":
        return s.access.decide(st.user.to_dict())
    if s.mode == "proxy":
        header = os.environ.get(PROXY_USER_HEADER_ENV)
        if not header:
            return Decision("proxy-user", Role.TRAINER, "Signed in through the reverse proxy (one shared user).")
        who = (st.context.headers.get(header) or "").strip()
        if not who:
            return Decision("", None, f"The reverse proxy did not say who you are (no {header} header): access refused.")
        if not s.access.configured:
            return Decision(who, Role.TRAINER, f"Signed in through the reverse proxy as {who}.")
        return s.access.decide({"email": who} if "@" in who else {"sub": who})
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001
        name = f"uid{os.getuid()}"
    return Decision(f"local:{name}", Role.TRAINER, "Local single-user mode.")


def gate() -> Visitor:
    """The visitor of this run, or (sign-in page, refusal) a run that stops here."""
    try:
        s = settings()
    except LemofError as exc:
        log.error("sign-in settings: %s", exc)
        _only(_fatal_page(f"The server's sign-in settings are invalid, so nothing is shown: {exc}"), "Not available")
    refusal = s.bind_refusal(st.get_option("server.address") or "")
    if refusal:
        log.error(refusal)
        _only(_fatal_page(refusal), "Not available")
    problems = s.problems()
    if problems:
        log.error("sign-in settings: %s", "; ".join(problems))
        _only(_fatal_page(f"Sign-in is configured but cannot work, so nothing is shown: {problems[0]}."), "Not available")
    if s.mode == "oidc" and not st.user.is_logged_in:
        _only(_sign_in_page(s), "Sign in")
    decision = _decide(s)
    if not decision.allowed:
        if not st.session_state.get(_REFUSED):
            _audit("auth.refused", decision.identity or "(unknown)", None, mode=s.mode, reason=decision.reason)
            st.session_state[_REFUSED] = True
        _only(_refused_page(decision), "No access")
    visitor = Visitor(decision.identity, decision.role, s.mode, _session_id())
    if st.session_state.get(_SIGNED_IN) != (visitor.user, visitor.role):
        if s.mode != "local":  # a local session is one person at their own machine: no sign-in to record
            _audit("auth.sign_in", visitor.user, visitor.role, mode=s.mode)
        st.session_state[_SIGNED_IN] = (visitor.user, visitor.role)
    st.session_state[_VISITOR] = visitor
    return visitor


def current() -> Visitor:
    visitor = st.session_state.get(_VISITOR)
    if visitor is None:  # gate() always runs first; a page without it shows nothing
        st.stop()
    return visitor


def require(role: Role, what: str) -> Visitor:
    """Stop the page (with a message) unless the visitor has ``role``."""
    visitor = current()
    if visitor.role < role:
        st.error(f"{what} needs the {role.label} role; you are signed in as {md(visitor.user)} ({visitor.role.label}).")
        st.stop()
    return visitor


def record(event: str, **fields) -> None:
    """One audit entry for this visitor, on disk before this returns."""
    audit_as(current(), event, **fields)


def audit_as(visitor: Visitor, event: str, **fields) -> None:
    """``record`` for a visitor captured earlier (a download's callback may run outside the page)."""
    _audit(event, visitor.user, visitor.role, visitor.session, **{k: v for k, v in fields.items() if v is not None})


def entered(page: str) -> None:
    """The router says which page runs: arriving on another page starts a new set of views."""
    if st.session_state.get(_PAGE) != page:
        st.session_state[_PAGE] = page
        st.session_state[_VIEWS] = {}


def viewed(page: str, cohort: str, run: str, stay: int | None = None, **details) -> None:
    """Record that this visitor sees ``stay`` (or, without one, ``page``) of ``cohort`` under
    ``run``: once per arrival, not on every rerun of the same view."""
    kind = "stay.view" if stay is not None else "page.view"
    key = (cohort, run, stay, tuple(sorted(details.items())))
    views = st.session_state.setdefault(_VIEWS, {})
    if views.get(kind) == key:
        return
    record(kind, page=page, cohort=cohort, run=run, stay=None if stay is None else int(stay), **details)
    views[kind] = key


def sidebar_badge(visitor: Visitor) -> None:
    """Who is signed in (and a sign-out button), or the local mode, at the top of the sidebar."""
    if visitor.mode == "local":
        st.sidebar.caption(f":material/person: Local single-user mode ({visitor.user}); no sign-in. Views are recorded in the audit log.")
        return
    st.sidebar.caption(f":material/verified_user: Signed in as **{md(visitor.user)}** ({visitor.role.label})")
    if visitor.mode == "oidc" and st.sidebar.button("Sign out", key="sign_out", icon=":material/logout:"):
        record("auth.sign_out")
        st.session_state.pop(_SIGNED_IN, None)
        st.logout()
