"""Crypto-shredding: every record kept for ever names a player only under the player's own
secret, so deleting the secret (``pitboss forget``) makes those records unlinkable.

A player's secret is 32 random bytes, kept in the compacted ``player-keys`` topic (key: the
player id) and in the deciding worker's table (``tables/player_keys.py``). What this module
does with it is pure, so the worker (``app.pipeline.plan``), the audit replay and the tests
seal records alike:

- the player id becomes ``p1-`` + HMAC-SHA-256(secret, id) (``player_pseudonym``);
- an id the core derived from the player id (a journal entry's ``entry_id``, a cool-down's
  ``cooldown_id``) is re-keyed under the secret (``rekey``), so a guessed id cannot be
  checked against it; a reward id has no player id in it and stays;
- a dead letter's original key and bytes are encrypted with AES-256-GCM under the secret
  (``seal``), so support can read them (``unseal``) while the secret exists.

A ``PLAYER_ERASED`` entry also carries the erasure marker (``details.player``), the keyed
hash under the deployment's erasure key by which workers and the archive refuse the id later.
"""

from __future__ import annotations

import os
import secrets as random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.ids import pseudonym

#: what a per-player pseudonym starts with (``p1-``: version 1 of the scheme)
PSEUDONYM_PREFIX = "p1-"
SECRET_BYTES = 32
#: what sealed bytes start with: the scheme's version, then a 12-byte nonce
SEALED_PREFIX = b"PBS1"
_NONCE_BYTES = 12
#: a journal entry's details that hold an id the core derived from the player id
_DERIVED_DETAILS = ("cooldown_id",)
#: keeps a re-keyed id apart from a pseudonym of a player whose id looks like one
_DERIVED = "id\x1f"


def new_secret() -> bytes:
    """A player's secret: 256 random bits."""
    return random.token_bytes(SECRET_BYTES)


def player_pseudonym(player_id: str, secret: bytes) -> str:
    """The player as kept-for-ever records name them: linkable only with their secret."""
    return PSEUDONYM_PREFIX + pseudonym(player_id, secret)


def is_player_pseudonym(value: str | None) -> bool:
    return bool(value) and value.startswith(PSEUDONYM_PREFIX)


def rekey(derived_id: str, secret: bytes) -> str:
    """An id derived from the player id (``je-…``, ``cd-…``) under the player's secret, its
    prefix kept: still deterministic (a re-decision gives the same), no longer checkable."""
    prefix, _, _ = derived_id.rpartition("-")
    return f"{prefix}-{pseudonym(_DERIVED + derived_id, secret)}"


def seal(data: bytes | None, secret: bytes) -> bytes | None:
    """``data`` encrypted and authenticated under the secret (None stays None)."""
    if data is None:
        return None
    nonce = os.urandom(_NONCE_BYTES)
    return SEALED_PREFIX + nonce + AESGCM(secret).encrypt(nonce, data, SEALED_PREFIX)


def unseal(data: bytes | None, secret: bytes) -> bytes | None:
    """What ``seal`` sealed; raises ``cryptography.exceptions.InvalidTag`` for another
    secret or altered bytes, ``ValueError`` for bytes that were never sealed."""
    if data is None:
        return None
    if not data.startswith(SEALED_PREFIX):
        raise ValueError("these bytes were not sealed under a player's secret")
    start = len(SEALED_PREFIX)
    nonce, body = data[start : start + _NONCE_BYTES], data[start + _NONCE_BYTES :]
    return AESGCM(secret).decrypt(nonce, body, SEALED_PREFIX)


@dataclass(frozen=True, slots=True)
class Sealer:
    """Seals a batch's records with the secrets of the players they name.

    ``secrets``: player id -> secret, for every player the records name (a missing one is a
    bug: ``KeyError``). ``erasure_key``: the deployment's, for the erasure marker."""

    secrets: Mapping[str, bytes]
    erasure_key: bytes
    #: player id -> pseudonym, made once per player (a batch names a player many times)
    _names: dict[str, str] = field(default_factory=dict, repr=False)

    def name(self, player_id: str) -> str:
        """The player's pseudonym."""
        named = self._names.get(player_id)
        if named is None:
            named = self._names[player_id] = player_pseudonym(player_id, self.secrets[player_id])
        return named

    def entry(self, entry: dict) -> dict:
        """A JournalEntry as the journal keeps it; one without a player id is unchanged."""
        player_id = entry["player_id"]
        if not player_id:
            return entry
        secret = self.secrets[player_id]
        details = dict(entry["details"])
        for name in _DERIVED_DETAILS:
            if name in details:
                details[name] = rekey(details[name], secret)
        if entry["decision"] == "PLAYER_ERASED":
            details["player"] = pseudonym(player_id, self.erasure_key)
        return {
            **entry,
            "entry_id": rekey(entry["entry_id"], secret),
            "player_id": self.name(player_id),
            "details": details,
        }

    def cooldown(self, cooldown: dict) -> dict:
        """A CoolDown with its id re-keyed as the journal's ``details.cooldown_id`` is (the
        cooldowns topic keeps the id in clear for its week, for the wallet and the table)."""
        secret = self.secrets[cooldown["player_id"]]
        return {**cooldown, "cooldown_id": rekey(cooldown["cooldown_id"], secret)}

    def letter(self, player_id: str, letter: dict) -> tuple[bytes, dict]:
        """A dead letter of a known player: keyed by their pseudonym, the original key and
        bytes sealed under their secret."""
        secret = self.secrets[player_id]
        sealed = {
            **letter,
            "key": seal(letter["key"], secret),
            "value": seal(letter["value"], secret),
        }
        return self.name(player_id).encode(), sealed


def pseudonyms(secrets: Mapping[str, bytes]) -> dict[str, str]:
    """pseudonym -> player id, for every player with a secret (the replay's and the
    archive's way back from a record to its player)."""
    return {player_pseudonym(pid, secret): pid for pid, secret in secrets.items()}


def named_players(
    journal: Iterable[dict], cooldowns: Iterable[dict], letters: Iterable[tuple[str, dict]]
) -> set[str]:
    """The players a batch's sealed records name: each needs a secret."""
    named = {entry["player_id"] for entry in journal if entry["player_id"]}
    named.update(cooldown["player_id"] for cooldown in cooldowns)
    named.update(player_id for player_id, _ in letters)
    return named
