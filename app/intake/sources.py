"""The sources file: each studio or platform that sends over HTTP, its mappings, and how it
proves who it is: an API key (stored only as a hash, as ``app.security.apikeys`` stores
machine keys) or an HMAC-SHA256 signature over the body with a timestamp, so a captured
request cannot be replayed after ``PITBOSS_INTAKE_SIGNATURE_TOLERANCE`` seconds.

Signature: ``X-Pitboss-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from app.intake.mapping import SourceMapping, load_mapping
from app.rules.problems import Path, RuleProblem
from app.security.apikeys import hash_secret, secret_matches
from app.security.documents import SecurityFileError, load_document
from app.security.principal import AuthenticationError, Kind, Principal

SCHEMA_PATH = FilePath(__file__).resolve().parent / "sources.schema.json"
SIGNATURE_HEADER = "X-Pitboss-Signature"
#: The one answer to every failed authentication, so it tells an attacker nothing.
REFUSED = "unknown source, or a wrong API key or signature"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp`` (what a studio computes)."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def new_key() -> tuple[str, str]:
    """(a new API key, to hand to the studio once; its hash, for the sources file)."""
    key = secrets.token_urlsafe(32)
    return key, hash_secret(key)


@dataclass(frozen=True)
class Source:
    """One sender: its name (the URL's ``{source}``), mappings by format, credentials."""

    name: str
    mappings: Mapping[str, SourceMapping]
    key_hashes: tuple[str, ...]
    hmac_secret: bytes | None


class Sources:
    """The sources file, read: name -> Source; authenticates a request for one of them."""

    def __init__(self, sources: Mapping[str, Source], tolerance_s: float) -> None:
        self.sources, self.tolerance_s = dict(sources), tolerance_s
        self._decoy = hash_secret(secrets.token_urlsafe(32))

    @classmethod
    def load(cls, path: str | FilePath, tolerance_s: float) -> Sources:
        """The sources in ``path``; SecurityFileError listing every problem (of the file or of
        a mapping it names)."""
        doc = load_document(path, SCHEMA_PATH, _checks)
        base = FilePath(path).resolve().parent
        sources = {}
        for name, spec in doc["sources"].items():
            mappings = [load_mapping(base / m) for m in spec.get("mappings", ())]
            formats = [m.format for m in mappings]
            if len(set(formats)) != len(formats):
                where = f"sources.{name}.mappings"
                why = "one mapping per format: the Content-Type chooses it"
                raise SecurityFileError(str(path), [RuleProblem(str(path), None, None, where, why)])
            secret_file = spec.get("hmac_secret_file")
            secret = (base / secret_file).read_bytes().strip() if secret_file else None
            sources[name] = Source(
                name,
                {m.format: m for m in mappings},
                tuple(spec.get("api_keys", ())),
                secret or None,
            )
        return cls(sources, tolerance_s)

    def authenticate(
        self, name: str, headers: Mapping[str, str], body: bytes, now_s: float
    ) -> Principal:
        """The source a request comes from, by its API key or its signature over ``body``;
        AuthenticationError (one message for every failure) otherwise."""
        source = self.sources.get(name)
        signature = headers.get(SIGNATURE_HEADER)
        if signature is not None:
            ok = source is not None and self._signed(source, signature, body, now_s)
        else:
            ok = self._keyed(source, headers.get("Authorization", ""))
        if not ok or source is None:
            raise AuthenticationError(REFUSED)
        return Principal(subject=f"intake:{name}", kind=Kind.MACHINE, roles=frozenset())

    def any_key(self, authorization: str) -> bool:
        """Whether ``authorization`` carries the API key of any source (the OpenAPI document
        is for every sender)."""
        return any(self._keyed(s, authorization) for s in self.sources.values())

    def _keyed(self, source: Source | None, authorization: str) -> bool:
        scheme, _, key = authorization.strip().partition(" ")
        key = key.strip()
        hashes = source.key_hashes if source and source.key_hashes else (self._decoy,)
        if scheme.lower() != "bearer" or not key:
            key = ""
        # every hash is compared (constant time each), whatever matched, and an unknown
        # source costs the same as a known one
        matched = [secret_matches(key, stored) for stored in hashes]
        return bool(key) and source is not None and any(matched)

    def _signed(self, source: Source, header: str, body: bytes, now_s: float) -> bool:
        if source.hmac_secret is None:
            return False
        parts = dict(p.strip().partition("=")[::2] for p in header.split(","))
        try:
            timestamp = int(parts.get("t", ""))
        except ValueError:
            return False
        if abs(now_s - timestamp) > self.tolerance_s:
            return False
        expected = sign(source.hmac_secret, timestamp, body)
        return hmac.compare_digest(
            expected.encode(), f"t={timestamp},v1={parts.get('v1', '')}".encode()
        )


def _checks(doc: Mapping[str, Any]) -> list[tuple[Path, str]]:
    """Every source can be used: over HTTP with credentials, or over RabbitMQ (whose own
    credentials are the door) with a mapping."""
    return [
        (("sources", name), "needs mappings, api_keys or hmac_secret_file: nothing could use it")
        for name, spec in doc["sources"].items()
        if not (spec.get("mappings") or spec.get("api_keys") or spec.get("hmac_secret_file"))
    ]
