"""Roles and permissions as data, and the one decision every surface asks: may this principal
do this (to a player of this tier), and which fields must it not see?

The policy is read from access.yaml (the shipped ``access.default.yaml`` unless
``PITBOSS_ACCESS_FILE`` names another); ``AccessPolicy.authorize`` is pure, so the same
principal, permission and tier always get the same answer (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

from app.rules.problems import Path, hint
from app.security.documents import load_document
from app.security.permissions import CATALOGUE
from app.security.principal import Kind, Principal

HERE = FilePath(__file__).resolve().parent
DEFAULT_ACCESS_FILE = HERE / "access.default.yaml"
SCHEMA_PATH = HERE / "access.schema.json"


@dataclass(frozen=True)
class Role:
    """A named set of permissions, the restricted tiers it is cleared for, and how strongly
    its holder must have logged in (any of ``require_amr``; one of ``require_acr``)."""

    name: str
    permissions: frozenset[str]
    cleared_tiers: frozenset[str] = frozenset()
    require_amr: frozenset[str] = frozenset()
    require_acr: frozenset[str] = frozenset()

    def usable_by(self, principal: Principal) -> bool:
        """Whether the principal logged in strongly enough to use this role. API keys are
        exempt: a machine has no login, and its roles are the keys file's deliberate grant."""
        if principal.kind is Kind.MACHINE:
            return True
        if self.require_amr and not self.require_amr & principal.amr:
            return False
        return not self.require_acr or principal.acr in self.require_acr

    def requirement(self) -> str:
        needs = []
        if self.require_amr:
            needs.append(f"amr {' or '.join(sorted(self.require_amr))}")
        if self.require_acr:
            needs.append(f"acr {' or '.join(sorted(self.require_acr))}")
        return " and ".join(needs)


@dataclass(frozen=True)
class Decision:
    """The answer to one request.

    ``step_up``: refused only because the login was not strong enough (the client should log
    in again with MFA, so HTTP answers 401, RFC 9470). ``second_approver``: allowed, but the
    change needs a second person's approval before it takes effect.
    """

    allowed: bool
    reason: str
    fields_hidden: tuple[str, ...] = ()
    step_up: bool = False
    second_approver: bool = False


@dataclass(frozen=True)
class AccessPolicy:
    """access.yaml, read: the roles, the field limits, the restricted tiers."""

    roles: Mapping[str, Role]
    fields: Mapping[str, str] = field(default_factory=dict)
    restricted_tiers: frozenset[str] = frozenset()
    second_approver: frozenset[str] = frozenset()

    def authorize(
        self, principal: Principal, permission: str, player_tier: str | None = None
    ) -> Decision:
        """May ``principal`` use ``permission`` (on a player of ``player_tier``)?"""
        if permission not in CATALOGUE:
            return Decision(False, f"{permission!r} is not a permission Pitboss knows")
        held = [self.roles[name] for name in sorted(principal.roles) if name in self.roles]
        usable = [role for role in held if role.usable_by(principal)]
        granting = [role for role in usable if permission in role.permissions]
        if not granting:
            weak = [role for role in held if permission in role.permissions]
            if weak:
                needs = "; ".join(
                    f"role {r.name} needs a login with {r.requirement()}" for r in weak
                )
                return Decision(False, needs, step_up=True)
            return Decision(False, f"no role of {principal.subject} grants {permission}")
        tier = player_tier.upper() if player_tier else None
        if tier in self.restricted_tiers and not any(tier in r.cleared_tiers for r in granting):
            return Decision(
                False, f"players of tier {tier} are visible only to roles cleared for it"
            )
        visible = frozenset().union(*(role.permissions for role in usable))
        hidden = tuple(
            sorted(name for name, needed in self.fields.items() if needed not in visible)
        )
        return Decision(
            True,
            f"granted by role {', '.join(role.name for role in granting)}",
            hidden,
            second_approver=permission in self.second_approver,
        )

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> AccessPolicy:
        """The policy of a validated access.yaml document."""
        return cls(
            roles={
                name: Role(
                    name,
                    frozenset(spec["permissions"]),
                    frozenset(spec.get("cleared_tiers", ())),
                    frozenset(spec.get("require_amr", ())),
                    frozenset(spec.get("require_acr", ())),
                )
                for name, spec in doc["roles"].items()
            },
            fields=dict(doc.get("fields") or {}),
            restricted_tiers=frozenset(doc.get("restricted_tiers", ())),
            second_approver=frozenset(doc.get("second_approver", ())),
        )


def strip_fields(data: Any, hidden: tuple[str, ...] | frozenset[str]) -> Any:
    """``data`` (a player view, a timeline entry, lists of them) without the fields named in
    ``hidden``, at any depth; the input is left as it was."""
    if not hidden:
        return data
    if isinstance(data, Mapping):
        return {k: strip_fields(v, hidden) for k, v in data.items() if k not in hidden}
    if isinstance(data, list | tuple):
        return [strip_fields(item, hidden) for item in data]
    return data


#: Journal entries that reveal a protected field: (entry key, value) -> the field. A caller
#: who may not see the field gets the entry with ``reason`` "responsible_gaming" and without
#: the figures that explain it (``redact_entries``).
REVEALS: Mapping[tuple[str, str], str] = {
    ("reason", "harm_flag"): "harm_flags",
    ("reason", "self_excluded"): "self_excluded",
    ("reason", "cooldown_active"): "cooldown",
    ("reason", "risk_medium"): "harm_flags",
    ("reason", "risk_high"): "harm_flags",
    ("decision", "COOLDOWN_STARTED"): "cooldown",
    ("decision", "COOLDOWN_ENDED"): "cooldown",
    ("decision", "RISK_LEVEL_CHANGED"): "harm_flags",
    ("decision", "DEPOSIT_FLAGGED"): "deposits",  # AML: never the figures to the support desk
}
REDACTED_REASON = "responsible_gaming"


def redact_entries(entries: list[dict], hidden: tuple[str, ...] | frozenset[str]) -> list[dict]:
    """Journal entries (a timeline page, an export) as a caller who may not see ``hidden``
    fields may read them: a hold for a harm flag says only that a protection applied, a
    cool-down keeps its dates but not what tripped it (field stripping alone would leave the
    reason code and the ``explain`` sentence naming the flag)."""
    if not hidden:
        return entries
    out = []
    for entry in entries:
        reveals = any(
            REVEALS.get((key, str(entry.get(key)))) in hidden for key in ("decision", "reason")
        )
        if reveals:
            entry = {**entry, "reason": REDACTED_REASON, "details": {}}
        out.append(entry)
    return out


def _unknown(name: str, path: Path) -> tuple[Path, str]:
    return path, f"{name!r} is not a permission Pitboss knows{hint(name, CATALOGUE)}"


def _checks(doc: Mapping[str, Any]) -> list[tuple[Path, str]]:
    """What the schema cannot see: permission names, tiers that are cleared but not restricted."""
    found = [
        _unknown(p, ("second_approver", i))
        for i, p in enumerate(doc.get("second_approver", ()))
        if p not in CATALOGUE
    ]
    found += [
        _unknown(p, ("fields", name))
        for name, p in (doc.get("fields") or {}).items()
        if p not in CATALOGUE
    ]
    restricted = set(doc.get("restricted_tiers", ()))
    for name, spec in doc["roles"].items():
        found += [
            _unknown(p, ("roles", name, "permissions", i))
            for i, p in enumerate(spec["permissions"])
            if p not in CATALOGUE
        ]
        found += [
            (("roles", name, "cleared_tiers", i), f"{tier} is not in restricted_tiers")
            for i, tier in enumerate(spec.get("cleared_tiers", ()))
            if tier not in restricted
        ]
    return found


def load_access_file(path: str | FilePath = DEFAULT_ACCESS_FILE) -> AccessPolicy:
    """The policy in ``path``; raises SecurityFileError listing every problem."""
    return AccessPolicy.from_document(load_document(path, SCHEMA_PATH, _checks))
