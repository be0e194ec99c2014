"""Machine API keys: ``pbk_<id>_<secret>``, stored only as a hash of the secret.

The id is public (it names the key in the access log); the secret is 256 random bits, so a
plain SHA-256 of it cannot be brute-forced and is checked in microseconds on every request.
``scrypt`` is accepted too, for secrets that did not come from ``mint_api_key``. The keys file
is YAML, one line per key, as ``mint_api_key`` prints it (docs/security.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

import yaml

from app.rules.problems import Path
from app.security.documents import load_document
from app.security.principal import AuthenticationError, Kind, Principal

PREFIX = "pbk"
SCHEMA_PATH = FilePath(__file__).resolve().parent / "apikeys.schema.json"
_REFUSED = "unknown or wrong API key"


def hash_secret(secret: str, scheme: str = "sha256") -> str:
    """The stored form of ``secret``: ``sha256:<hex>`` or ``scrypt:<n>:<r>:<p>:<salt>:<hash>``."""
    if scheme == "sha256":
        return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()
    if scheme == "scrypt":
        salt = secrets.token_bytes(16)
        n, r, p = 2**14, 8, 1
        digest = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
        return f"scrypt:{n}:{r}:{p}:{_b64(salt)}:{_b64(digest)}"
    raise ValueError(f"hash scheme: sha256 or scrypt, got {scheme!r}")


def secret_matches(secret: str, stored: str) -> bool:
    """Whether ``secret`` hashes to ``stored``, compared in constant time."""
    scheme, _, rest = stored.partition(":")
    if scheme == "sha256":
        expected, actual = rest, hashlib.sha256(secret.encode()).hexdigest()
    else:
        n, r, p, salt, expected = rest.split(":")
        actual = _b64(
            hashlib.scrypt(
                secret.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32
            )
        )
    return hmac.compare_digest(expected.encode(), actual.encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    roles: frozenset[str]
    hash: str


def mint_api_key(name: str, roles: Iterable[str], scheme: str = "sha256") -> tuple[str, str]:
    """(the new key, to hand to the machine once; its keys-file line, to paste under ``keys:``)."""
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    entry = {"name": name, "roles": sorted(roles), "hash": hash_secret(secret, scheme)}
    flow = yaml.safe_dump(entry, default_flow_style=True, sort_keys=False, width=1000).strip()
    return f"{PREFIX}_{key_id}_{secret}", f'  "{key_id}": {flow}'


class KeyRing:
    """The keys file, read: key id -> ApiKey."""

    def __init__(self, keys: Mapping[str, ApiKey]) -> None:
        self.keys = dict(keys)
        self._decoy = hash_secret(secrets.token_urlsafe(32))

    @classmethod
    def load(cls, path: str | FilePath) -> KeyRing:
        """The keys in ``path``; raises SecurityFileError listing every problem."""
        doc = load_document(path, SCHEMA_PATH, _checks)
        return cls(
            {
                key_id: ApiKey(key_id, spec["name"], frozenset(spec["roles"]), spec["hash"])
                for key_id, spec in (doc.get("keys") or {}).items()
            }
        )

    def authenticate(self, presented: str) -> Principal:
        """The machine ``presented`` (a whole ``pbk_`` key) belongs to; AuthenticationError
        (the same for an unknown id and a wrong secret) otherwise."""
        prefix, _, rest = presented.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != PREFIX or not key_id or not secret:
            raise AuthenticationError("malformed API key")
        key = self.keys.get(key_id)
        # an unknown id costs the same hash and comparison as a known one
        if not secret_matches(secret, key.hash if key else self._decoy) or key is None:
            raise AuthenticationError(_REFUSED)
        return Principal(subject=f"{PREFIX}_{key_id}", kind=Kind.MACHINE, roles=key.roles)


def _checks(doc: Mapping[str, Any]) -> list[tuple[Path, str]]:
    """Key ids are text (quote one that YAML reads as a number); scrypt parameters are usable."""
    found: list[tuple[Path, str]] = []
    for key_id, spec in (doc.get("keys") or {}).items():
        if not isinstance(key_id, str):
            found.append((("keys", key_id), "a key id is text: quote it"))
            continue
        if spec["hash"].startswith("scrypt:"):
            n = int(spec["hash"].split(":")[1])
            if n < 2**14 or n & (n - 1):
                found.append((("keys", key_id, "hash"), "scrypt n must be a power of 2, >= 16384"))
    return found
