"""Staff tokens: JWTs from the operator's identity provider, verified with PyJWT.

Only asymmetric algorithms are accepted, so no verifier holds a key that could also sign (and
the ``alg: none`` / HMAC-with-the-public-key confusions have nothing to work with). The keys
come from the provider's JWKS URL (cached, refetched for an unknown key id) or from a file: a
PEM public key or a JWKS document (docs/security.md says what the provider must issue).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from app.security.principal import AuthenticationError, Kind, Principal

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
#: Claims a token must carry; ``iss``, ``aud`` and ``exp`` are also checked, ``sub`` is the who.
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")

#: What a client is told for each way a token fails; never the verifier's own words.
_FAILURES: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is not for this audience"),
    (jwt.InvalidIssuerError, "the token is from another issuer"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not accepted"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.PyJWKClientError, "the token's signing key is unknown"),
)


class KeysUnavailable(Exception):
    """The identity provider's keys cannot be fetched: not the client's fault (HTTP 503)."""


class KeySource(Protocol):
    """Where the key that verifies a token comes from."""

    #: True when finding a key may block on the network (call it off the event loop).
    fetches: bool

    def key_for(self, token: str) -> jwt.PyJWK | PublicKeyTypes: ...


class JwksUrl:
    """The provider's JWKS endpoint, through PyJWKClient's cache (keys for 5 minutes)."""

    fetches = True

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.client = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=timeout)

    def key_for(self, token: str) -> jwt.PyJWK:
        try:
            return self.client.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise KeysUnavailable("the identity provider's keys cannot be fetched") from exc


class KeyFile:
    """A PEM public key, or a JWKS document (one key, or several told apart by ``kid``)."""

    fetches = False

    def __init__(self, path: str | Path) -> None:
        raw = Path(path).read_bytes()
        self.pem: PublicKeyTypes | None = None
        self.jwks: dict[str | None, jwt.PyJWK] = {}
        if raw.lstrip().startswith(b"-----BEGIN"):
            self.pem = load_pem_public_key(raw)
            return
        doc = json.loads(raw)
        keys = [jwt.PyJWK(k) for k in doc.get("keys", [doc])]
        if not keys or any(k.key_type not in ("RSA", "EC", "OKP") for k in keys):
            raise ValueError(f"{path}: a key file holds public RSA, EC or OKP keys only")
        self.jwks = {k.key_id: k for k in keys}

    def key_for(self, token: str) -> jwt.PyJWK | PublicKeyTypes:
        if self.pem is not None:
            return self.pem
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None and len(self.jwks) == 1:
            return next(iter(self.jwks.values()))
        try:
            return self.jwks[kid]
        except KeyError:
            raise jwt.PyJWKClientError("unknown key id") from None


@dataclass(frozen=True)
class IdentityProvider:
    """What a token must say to be accepted here."""

    issuer: str
    audience: str
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256", "EdDSA")
    #: the claim with the principal's roles; dotted for nested claims (``realm_access.roles``)
    roles_claim: str = "roles"
    #: seconds of clock difference tolerated on ``exp``, ``nbf`` and ``iat``
    leeway: float = 30.0

    def __post_init__(self) -> None:
        weak = set(self.algorithms) - ASYMMETRIC
        if weak or not self.algorithms:
            raise ValueError(
                f"token algorithms must be asymmetric ({', '.join(sorted(ASYMMETRIC))}); "
                f"refused: {', '.join(sorted(weak)) or 'none given'}"
            )
        if not self.issuer or not self.audience:
            raise ValueError("an identity provider needs an issuer and an audience")


def _claim(claims: Mapping[str, Any], dotted: str) -> Any:
    value: Any = claims
    for step in dotted.split("."):
        value = value.get(step) if isinstance(value, Mapping) else None
    return value


def _names(value: Any) -> frozenset[str]:
    """A claim holding names: a list of strings, or one space-separated string."""
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return frozenset(v for v in value if isinstance(v, str))
    return frozenset()


class TokenVerifier:
    """Bearer JWT -> Principal, or AuthenticationError saying why not."""

    def __init__(self, provider: IdentityProvider, keys: KeySource) -> None:
        self.provider, self.keys = provider, keys

    @property
    def fetches(self) -> bool:
        return self.keys.fetches

    def verify(self, token: str, kind: Kind = Kind.STAFF) -> Principal:
        p = self.provider
        try:
            claims = jwt.decode(
                token,
                self.keys.key_for(token),
                algorithms=list(p.algorithms),
                audience=p.audience,
                issuer=p.issuer,
                leeway=p.leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except KeysUnavailable:
            raise
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            message = next((m for cls, m in _FAILURES if isinstance(exc, cls)), None)
            raise AuthenticationError(message or "the token is malformed") from exc
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise AuthenticationError("the token's subject is empty")
        acr = claims.get("acr")
        return Principal(
            subject=subject,
            kind=kind,
            roles=_names(_claim(claims, p.roles_claim)),
            amr=_names(claims.get("amr")),
            acr=acr if isinstance(acr, str) else None,
        )
