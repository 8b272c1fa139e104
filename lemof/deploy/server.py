"""How the server may be exposed: sign-in settings, the bind-address rule, and the check that
``python -m lemof serve`` runs before it starts Streamlit.

The rule: on a loopback address (the default, ``127.0.0.1``) the app is a single-user local tool
and needs no sign-in. On any other address (``0.0.0.0``, a LAN address, ``""`` = every interface)
it must have sign-in configured (Streamlit's ``[auth]`` in ``.streamlit/secrets.toml``) *or* the
operator must say that an authenticating reverse proxy is in front: ``LEMOF_BEHIND_AUTH_PROXY=1``.
Otherwise the server refuses, with one line saying why and what to do.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lemof.deploy.access import SETTINGS_SECTION, AccessPolicy
from lemof.errors import ConfigError

PROXY_ENV = "LEMOF_BEHIND_AUTH_PROXY"
PROXY_USER_HEADER_ENV = "LEMOF_PROXY_USER_HEADER"
REPO_ROOT = Path(__file__).resolve().parents[2]
_AUTH_KEYS = ("client_id", "client_secret", "server_metadata_url")


def is_loopback(address: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost`` and the rest of 127/8; not ``""`` (every interface)."""
    text = str(address).strip().strip("[]")
    if text.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def proxy_override() -> bool:
    return os.environ.get(PROXY_ENV, "").strip() == "1"


def default_secrets_files(cwd: Path | None = None) -> list[Path]:
    """Where Streamlit looks by default (its ``secrets.files``): the user's, then the app's folder."""
    return [Path.home() / ".streamlit" / "secrets.toml", Path(cwd or Path.cwd()) / ".streamlit" / "secrets.toml"]


def _providers(auth: Mapping[str, Any]) -> list[str | None]:
    """``[None]`` for the unnamed provider (its settings directly under ``[auth]``), else the names
    of the ``[auth.NAME]`` sections."""
    if any(k in auth for k in _AUTH_KEYS):
        return [None]
    return [name for name, value in auth.items() if isinstance(value, Mapping)]


def auth_problems(auth: Mapping[str, Any]) -> list[str]:
    """What is missing or weak in an ``[auth]`` section (empty: Streamlit can sign people in)."""
    problems = []
    redirect = str(auth.get("redirect_uri", ""))
    if not redirect.endswith("/oauth2callback"):
        problems.append("[auth] redirect_uri must be the app's public URL followed by /oauth2callback")
    secret = str(auth.get("cookie_secret", ""))
    if len(secret) < 32:
        problems.append("[auth] cookie_secret must be a random string of at least 32 characters (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    providers = _providers(auth)
    if not providers:
        problems.append("[auth] names no identity provider: give client_id, client_secret and server_metadata_url (or one [auth.NAME] section each)")
    for name in providers:
        section = auth if name is None else auth[name]
        where = "[auth]" if name is None else f"[auth.{name}]"
        for key in _AUTH_KEYS:
            if not section.get(key):
                problems.append(f"{where} has no {key}")
    return problems


@dataclass(frozen=True)
class ServerSettings:
    auth: Mapping[str, Any] | None
    access: AccessPolicy
    sources: tuple[Path, ...] = field(default=())

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, Any], sources: tuple[Path, ...] = ()) -> "ServerSettings":
        auth = secrets.get("auth")
        if auth is not None and not isinstance(auth, Mapping):
            raise ConfigError("[auth] in secrets.toml must be a table")
        return cls(dict(auth) if auth else None, AccessPolicy.from_settings(secrets.get(SETTINGS_SECTION)), sources)

    @classmethod
    def from_files(cls, paths: list[Path]) -> "ServerSettings":
        """Merge the TOML files that exist, later ones winning per top-level key (as Streamlit does)."""
        merged: dict[str, Any] = {}
        used = []
        for path in paths:
            path = Path(path)
            if not path.is_file():
                continue
            try:
                merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"{path} is not valid TOML: {exc}") from None
            used.append(path)
        return cls.from_secrets(merged, tuple(used))

    @property
    def mode(self) -> str:
        """``oidc`` (sign-in with the identity provider), ``proxy`` (a reverse proxy authenticates)
        or ``local`` (one user on this machine)."""
        if self.auth:
            return "oidc"
        return "proxy" if proxy_override() else "local"

    @property
    def providers(self) -> list[str | None]:
        return _providers(self.auth) if self.auth else []

    def problems(self) -> list[str]:
        """Why sign-in cannot work as configured (empty when it can, or when it is not configured)."""
        if not self.auth:
            return []
        out = auth_problems(self.auth)
        if not self.access.configured:
            out.append(f"no roles are configured: add roles_claim (+ trainer_values/viewer_values) or allow_list under [{SETTINGS_SECTION}]; until then everyone is refused")
        return out

    def bind_refusal(self, address: str) -> str | None:
        """One line saying why serving on ``address`` is refused, or None when it is allowed."""
        if is_loopback(address) or self.mode != "local":
            return None
        shown = address or "every interface"
        return (f"Refusing to serve on {shown} without sign-in: anyone who reaches the port would see every patient. "
                f"Configure [auth] in .streamlit/secrets.toml (docs/DEPLOY.md), bind to 127.0.0.1, "
                f"or set {PROXY_ENV}=1 if an authenticating reverse proxy is in front.")

    def describe(self) -> str:
        if self.mode == "oidc":
            names = ", ".join("default" if p is None else p for p in self.providers)
            return f"sign-in with the identity provider ({names}); roles from {self.access.describe()}"
        if self.mode == "proxy":
            header = os.environ.get(PROXY_USER_HEADER_ENV)
            return f"behind an authenticating reverse proxy ({PROXY_ENV}=1); user from header {header}" if header else \
                f"behind an authenticating reverse proxy ({PROXY_ENV}=1); no user header ({PROXY_USER_HEADER_ENV} unset): one shared user"
        return "local single-user mode (no sign-in): serve on a loopback address only"
