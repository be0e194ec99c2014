"""How an access-log entry names a player: by the pseudonym under the player's own secret
where this process holds it (a worker, for the players of its partitions), so erasing the
player makes the entry unlinkable; otherwise by the erasure marker (the keyed hash under the
deployment's erasure key), as a command or a worker asked about another's player does.

A process that holds secrets says so once (``hold_secrets``: ``tables/player_keys.py``)."""

from __future__ import annotations

from collections.abc import Callable

from app.core.ids import pseudonym
from app.security.player_keys import player_pseudonym

#: player id -> their secret, if this process holds it
SecretLookup = Callable[[str], bytes | None]

_held: list[SecretLookup] = []


def hold_secrets(lookup: SecretLookup) -> None:
    """Name players by their secrets, found with ``lookup``, from now on in this process."""
    _held[:] = [lookup]


def access_name(player_id: str, erasure_key: bytes) -> str:
    for lookup in _held:
        secret = lookup(player_id)
        if secret is not None:
            return player_pseudonym(player_id, secret)
    return pseudonym(player_id, erasure_key)
