"""Credentials -> Principal, for every surface: ``Authorization: Bearer <JWT>`` for staff,
``Bearer pbk_...`` for machines, a token in the environment or a file for the CLI.

Authentication is never off. Without an identity provider the only way to run is the
development identity, named explicitly (``PITBOSS_DEV_IDENTITY``) and logged as a warning
every time it is loaded; with neither, ``authenticator_from_settings`` refuses to start.
"""

from __future__ import annotations

import logging
from pathlib import Path

from app.security.apikeys import PREFIX, KeyRing
from app.security.dev_identity import ensure_dev_identity
from app.security.principal import AuthenticationError, Kind, Principal
from app.security.settings import AuthSettings
from app.security.tokens import IdentityProvider, JwksUrl, KeyFile, TokenVerifier
from app.settings import Environ

log = logging.getLogger(__name__)


class NoIdentityProvider(ValueError):
    """Neither an identity provider nor the development identity is configured."""


class Authenticator:
    """One Authorization header (or CLI token) -> Principal, or AuthenticationError."""

    def __init__(self, tokens: TokenVerifier, keys: KeyRing | None = None) -> None:
        self.tokens, self.keys = tokens, keys

    @property
    def fetches(self) -> bool:
        """True when verifying may block on the identity provider (call it off the loop)."""
        return self.tokens.fetches

    def authenticate(self, authorization: str | None, kind: Kind = Kind.STAFF) -> Principal:
        """The principal of an ``Authorization`` header value."""
        if not authorization or not authorization.strip():
            raise AuthenticationError("no credentials: send Authorization: Bearer <token>")
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            raise AuthenticationError("use Authorization: Bearer <token>")
        if credentials.startswith(f"{PREFIX}_"):
            if self.keys is None:
                raise AuthenticationError("API keys are not accepted by this deployment")
            return self.keys.authenticate(credentials)
        return self.tokens.verify(credentials, kind)

    def authenticate_cli(self, env: Environ) -> Principal:
        """The person running a command: ``PITBOSS_TOKEN``, else the file ``PITBOSS_TOKEN_FILE``."""
        token = env.get("PITBOSS_TOKEN", "").strip()
        path = env.get("PITBOSS_TOKEN_FILE", "").strip()
        if not token and path:
            try:
                token = Path(path).expanduser().read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise AuthenticationError(
                    f"PITBOSS_TOKEN_FILE cannot be read: {exc.strerror}"
                ) from exc
        if not token:
            raise AuthenticationError("this command needs PITBOSS_TOKEN or PITBOSS_TOKEN_FILE")
        return self.authenticate(f"Bearer {token}", Kind.CLI)


def authenticator_from_settings(auth: AuthSettings) -> Authenticator:
    """The deployment's authenticator: its identity provider, else the development identity
    (with a warning), else NoIdentityProvider."""
    keys = KeyRing.load(auth.api_keys_file) if auth.api_keys_file else None
    if auth.issuer:
        provider = IdentityProvider(
            issuer=auth.issuer,
            audience=auth.audience,
            algorithms=auth.algorithms,
            roles_claim=auth.roles_claim,
            leeway=auth.leeway,
        )
        if not (auth.jwks_url or auth.keys_file):
            raise NoIdentityProvider(f"the keys of {auth.issuer} are not configured")
        source = JwksUrl(auth.jwks_url) if auth.jwks_url else KeyFile(auth.keys_file or "")
        return Authenticator(TokenVerifier(provider, source), keys)
    if auth.dev_identity:
        identity = ensure_dev_identity(auth.dev_identity)
        log.warning(
            "AUTHENTICATION USES THE DEVELOPMENT IDENTITY in %s: anyone who can read its "
            "private key can mint any role. Set PITBOSS_AUTH_ISSUER and the provider's keys "
            "for anything but a developer's machine (docs/security.md).",
            identity.directory,
        )
        return Authenticator(identity.verifier(), keys)
    raise NoIdentityProvider(
        "no identity provider: set PITBOSS_AUTH_ISSUER and PITBOSS_AUTH_JWKS_URL (or "
        "PITBOSS_AUTH_KEYS_FILE), or PITBOSS_DEV_IDENTITY=<dir> on a developer's machine "
        "(docs/security.md)"
    )
