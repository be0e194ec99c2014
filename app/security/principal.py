"""Who is asking: the identity every authorization decision and access-log entry is about."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Kind(enum.Enum):
    """How the principal authenticated; the access log records it (AccessLogEntry.kind)."""

    STAFF = "STAFF"  # a person, with a token from the identity provider, over HTTP
    MACHINE = "MACHINE"  # a program, with an API key
    CLI = "CLI"  # a person, with a token, running a `pitboss` command


@dataclass(frozen=True)
class Principal:
    """An authenticated identity: the token's subject or the API key's id, and its roles.

    ``amr``/``acr`` are the identity provider's statement of how the person logged in (RFC 8176
    values such as ``mfa``, ``otp``, ``hwk``); a role may require them (docs/security.md).
    """

    subject: str
    kind: Kind
    roles: frozenset[str]
    amr: frozenset[str] = field(default_factory=frozenset)
    acr: str | None = None


class AuthenticationError(Exception):
    """The credentials are missing, malformed, forged, expired or not for this deployment.

    The message is safe to show the client: it names the failure, never a key, a token or the
    verifier's internals.
    """
