"""Mini-games (wheels, scratch cards, gift boxes): which sector a play lands on.

The outcome is a keyed hash (HMAC-SHA-256) of the play, the WHEEL_SPIN reward's id and its
play number, under a secret salt the operator sets (``PITBOSS_GAME_SALT``; never in the
ruleset or the journal). So it is fixed the moment the spin is granted (its id is), a
player cannot compute it without the salt, and a replay given the same salt lands on the
same sectors. 64 bits of the hash modulo the total weight: the bias is below 2^-40.
"""

from __future__ import annotations

import hmac
from hashlib import sha256

from app.core.rules import MiniGame, Sector

#: The mini-game kinds (one machinery; the kind is what the player's screen shows).
KINDS = ("wheel", "scratch_card", "gift_box")


def draw(salt: bytes, reward_id: str, play: int) -> int:
    """The play's 64-bit draw: a keyed hash, so only the salt's holder can foresee it."""
    digest = hmac.new(salt, f"{reward_id}\x1f{play}".encode(), sha256).digest()
    return int.from_bytes(digest[:8], "big")


def landing(game: MiniGame, salt: bytes, reward_id: str, play: int) -> tuple[int, Sector]:
    """The sector (its index, and itself) that play ``play`` of spin ``reward_id`` lands on."""
    point = draw(salt, reward_id, play) % game.total
    for index, sector in enumerate(game.sectors):
        if point < sector.weight:
            return index, sector
        point -= sector.weight
    raise AssertionError("weights sum to the total")  # unreachable
