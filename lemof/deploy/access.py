"""Who may use the app, and as what: roles from an identity-provider claim or a local allow-list.

Two roles. A *viewer* reviews cases, compares runs, reads the cohort and model pages and downloads
reports; a *trainer* also opens Retrain, starts and cancels training jobs and makes a run the
active model for everyone. Settings (``[lemof_access]`` in ``.streamlit/secrets.toml``, next to
Streamlit's ``[auth]``)::

    roles_claim = "roles"                 # an ID-token claim: a string or a list of strings
    trainer_values = ["lemof-trainer"]    # claim values that make a trainer
    viewer_values = ["lemof-viewer"]      # ... a viewer
    allow_list = "/etc/lemof/users.json"  # {"trainer": ["ana@hospital.org"], "viewer": ["ben@hospital.org"]}

A user's identity is the ``email`` claim (compared without case), else ``sub``. The role is the
higher one that the claim or the allow-list grants; a user neither grants is refused, and so is
everyone when neither source is configured (the app fails closed, never open).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, Mapping

from lemof.errors import ConfigError

SETTINGS_SECTION = "lemof_access"


class Role(IntEnum):
    VIEWER = 1
    TRAINER = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Decision:
    identity: str          # who (email or sub; "" when the identity provider gave neither)
    role: Role | None      # None: refused
    reason: str            # a sentence for the user (and the audit log)

    @property
    def allowed(self) -> bool:
        return self.role is not None


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{what} must be a string or a list of strings, got {value!r}")


def read_allow_list(path: str | Path) -> dict[str, Role]:
    """``{"trainer": [...], "viewer": [...]}`` (JSON) → identity (lower case) → role."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"the allow-list {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the allow-list {path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or not set(data) <= {"trainer", "viewer"}:
        raise ConfigError(f"the allow-list {path} must be a JSON object with the keys \"trainer\" and/or \"viewer\", each a list of e-mail addresses or subjects")
    users: dict[str, Role] = {}
    for role in (Role.VIEWER, Role.TRAINER):  # trainer last: listed under both is a trainer
        for who in _strings(data.get(role.label), f"{path}: {role.label!r}"):
            users[who.strip().lower()] = role
    return users


@dataclass(frozen=True)
class AccessPolicy:
    roles_claim: str | None = None
    trainer_values: tuple[str, ...] = ()
    viewer_values: tuple[str, ...] = ()
    allow_list: Path | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> "AccessPolicy":
        settings = dict(settings or {})
        unknown = set(settings) - {"roles_claim", "trainer_values", "viewer_values", "allow_list"}
        if unknown:
            raise ConfigError(f"[{SETTINGS_SECTION}] has unknown settings {sorted(unknown)}: allowed are roles_claim, trainer_values, viewer_values, allow_list")
        claim = settings.get("roles_claim")
        if claim is not None and not isinstance(claim, str):
            raise ConfigError(f"[{SETTINGS_SECTION}] roles_claim must be the name of a claim, got {claim!r}")
        policy = cls(claim or None, _strings(settings.get("trainer_values"), "trainer_values"),
                     _strings(settings.get("viewer_values"), "viewer_values"),
                     Path(settings["allow_list"]).expanduser() if settings.get("allow_list") else None)
        if policy.roles_claim and not (policy.trainer_values or policy.viewer_values):
            raise ConfigError(f"[{SETTINGS_SECTION}] roles_claim = {claim!r} needs trainer_values and/or viewer_values: the claim values that grant each role")
        if policy.allow_list is not None:
            read_allow_list(policy.allow_list)  # a broken allow-list is found at start, not at the first sign-in
        return policy

    @property
    def configured(self) -> bool:
        return bool(self.roles_claim) or self.allow_list is not None

    def describe(self) -> str:
        parts = []
        if self.roles_claim:
            parts.append(f"claim {self.roles_claim!r} (trainer: {', '.join(self.trainer_values) or '—'}; viewer: {', '.join(self.viewer_values) or '—'})")
        if self.allow_list is not None:
            parts.append(f"allow-list {self.allow_list}")
        return " and ".join(parts) if parts else "no role source configured (everyone is refused)"

    def decide(self, claims: Mapping[str, Any]) -> Decision:
        """The role of a signed-in user, from their ID-token claims."""
        identity = str(claims.get("email") or claims.get("sub") or "").strip()
        if not identity:
            return Decision("", None, "The identity provider sent neither an e-mail address nor a subject: access cannot be decided.")
        if not self.configured:
            return Decision(identity, None, f"Signed in as {identity}, but no roles are configured on this server "
                                            f"([{SETTINGS_SECTION}] in .streamlit/secrets.toml): nobody has access yet.")
        granted: list[Role] = []
        if self.roles_claim:
            try:
                values = set(_strings(claims.get(self.roles_claim), f"claim {self.roles_claim!r}"))
            except ConfigError:
                values = set()
            if values & set(self.trainer_values):
                granted.append(Role.TRAINER)
            elif values & set(self.viewer_values):
                granted.append(Role.VIEWER)
        if self.allow_list is not None:
            role = read_allow_list(self.allow_list).get(identity.lower())  # read per sign-in: an edit applies without a restart
            if role is not None:
                granted.append(role)
        if not granted:
            return Decision(identity, None, f"{identity} has no access to LeMoF Explorer on this server. "
                                            "Ask the unit's administrator to grant you the viewer or trainer role.")
        role = max(granted)
        return Decision(identity, role, f"Signed in as {identity} ({role.label}).")
