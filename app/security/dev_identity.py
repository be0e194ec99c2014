"""The development identity: a local EC P-256 key pair that stands in for the identity
provider, so ``make run`` and the tests run with authentication on.

Whoever can read ``private.pem`` can mint a token with any role: it is for a developer's
machine only, and a worker using it says so loudly at start-up (app/security/authenticate.py).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.security.tokens import IdentityProvider, KeyFile, TokenVerifier

ISSUER = "pitboss-dev"
AUDIENCE = "pitboss"
ALGORITHM = "ES256"
PRIVATE_KEY = "private.pem"
JWKS = "jwks.json"


@dataclass(frozen=True)
class DevIdentity:
    """A directory holding the key pair: ``private.pem`` (mode 0600) and ``jwks.json``."""

    directory: Path

    @property
    def provider(self) -> IdentityProvider:
        return IdentityProvider(issuer=ISSUER, audience=AUDIENCE, algorithms=(ALGORITHM,))

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(self.provider, KeyFile(self.directory / JWKS))

    def mint(
        self,
        subject: str,
        roles: Iterable[str],
        ttl: float = 3600,
        amr: Iterable[str] = ("pwd", "mfa"),
        now: float | None = None,
    ) -> str:
        """A token for ``subject`` with ``roles``, valid for ``ttl`` seconds from ``now``."""
        extra = {"roles": sorted(roles), "amr": list(amr)}
        return self.sign(ISSUER, AUDIENCE, subject, ttl, now, extra)

    def sign(
        self,
        issuer: str,
        audience: str,
        subject: str,
        ttl: float,
        now: float | None = None,
        extra: dict | None = None,
    ) -> str:
        """A JWT signed with this identity's key (staff tokens, and the gateway's development
        player tokens, share it)."""
        key = serialization.load_pem_private_key(
            (self.directory / PRIVATE_KEY).read_bytes(), password=None
        )
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "iat": issued,
            "exp": issued + int(ttl),
            "jti": uuid.uuid4().hex,
            **(extra or {}),
        }
        kid = json.loads((self.directory / JWKS).read_text())["keys"][0]["kid"]
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})


def ensure_dev_identity(directory: str | Path) -> DevIdentity:
    """The development identity in ``directory``, generated on first use (under a lock, so
    workers sharing the directory and starting together end up with one key pair)."""
    identity = DevIdentity(Path(directory).resolve())
    private = identity.directory / PRIVATE_KEY
    if private.exists():
        return identity
    identity.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(identity.directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not private.exists():
            _generate(identity.directory)
    return identity


def _generate(directory: Path) -> None:
    private = directory / PRIVATE_KEY
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk |= {"kid": _thumbprint(jwk), "alg": ALGORITHM, "use": "sig"}
    (directory / JWKS).write_text(json.dumps({"keys": [jwk]}, indent=2) + "\n")
    fd = os.open(private.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    private.with_suffix(".tmp").replace(private)  # the JWKS first: a key never lacks its JWKS


def _thumbprint(jwk: dict[str, str]) -> str:
    """The RFC 7638 thumbprint of an EC public key: a key id derived from the key itself."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
