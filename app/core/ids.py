"""Deterministic identities: the same inputs always give the same id, so a re-delivered
event can never mint a second, different reward or journal entry."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from hashlib import blake2b, sha256


def stable_id(prefix: str, *parts: object, event_ids: Iterable[str] = ()) -> str:
    """A 128-bit hex id from the parts and the (order-independent) triggering event ids."""
    h = blake2b(digest_size=16)
    for part in parts:
        h.update(str(part).encode())
        h.update(b"\x1f")
    for event_id in sorted(event_ids):
        h.update(event_id.encode())
        h.update(b"\x1e")
    return f"{prefix}-{h.hexdigest()}"


def reward_id(rule_id: str, rule_version: int, event_ids: Iterable[str]) -> str:
    return stable_id("rw", rule_id, rule_version, event_ids=event_ids)


def event_fingerprint(event_id: str) -> int:
    """A compact 48-bit stand-in for an event id in the per-player seen set."""
    return int.from_bytes(blake2b(event_id.encode(), digest_size=6).digest(), "big")


def pseudonym(player_id: str, key: bytes) -> str:
    """A player id as the logs, dead letters and erasure markers show it: HMAC-SHA-256 under
    the deployment's erasure key (``PITBOSS_ERASURE_KEY``), 128 bits in hex. Keyed, because a
    plain hash of a guessable id (an account number) is reversed by hashing every id."""
    return hmac.new(key, player_id.encode(), sha256).hexdigest()[:32]
