"""Crypto-shredding's pure part: pseudonyms and re-keyed ids under a player's secret, sealed
dead letters, and the table of secrets (made once, durable before use, deleted on erasure)."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.exceptions import InvalidTag

from app.core.ids import pseudonym, stable_id
from app.pipeline.ingest import partition_for
from app.pipeline.store import DictStore
from app.security.key_store import secrets_for, shred
from app.security.player_keys import (
    PSEUDONYM_PREFIX,
    SECRET_BYTES,
    Sealer,
    is_player_pseudonym,
    named_players,
    new_secret,
    player_pseudonym,
    pseudonyms,
    rekey,
    seal,
    unseal,
)
from app.security.player_names import access_name, hold_secrets
from tests.support.factories import ERASURE_KEY

A, B = b"a" * 32, b"b" * 32
PLAYER = "p-000042"


def entry(decision: str = "REWARD_ISSUED", player_id: str | None = PLAYER, **details) -> dict:
    return {
        "entry_id": stable_id("je", decision, player_id, event_ids=["e-1"]),
        "player_id": player_id,
        "decision": decision,
        "rule_id": "r",
        "rule_version": 1,
        "reason": "x",
        "event_ids": ["e-1"],
        "reward_id": None,
        "details": details,
        "event_time": 1,
        "recorded_at": 2,
    }


def test_a_secret_is_random_and_long():
    assert len(new_secret()) == SECRET_BYTES and new_secret() != new_secret()


def test_a_player_pseudonym_needs_the_secret_and_shows_what_it_is():
    name = player_pseudonym(PLAYER, A)
    assert name == player_pseudonym(PLAYER, A) and name.startswith(PSEUDONYM_PREFIX)
    assert is_player_pseudonym(name) and not is_player_pseudonym(PLAYER)
    assert name != player_pseudonym(PLAYER, B) != player_pseudonym("p-000043", A)
    assert PLAYER not in name
    # the deployment key's pseudonym (the erasure marker) is another value
    assert name[len(PSEUDONYM_PREFIX) :] != pseudonym(PLAYER, ERASURE_KEY)
    assert pseudonyms({PLAYER: A}) == {name: PLAYER}


def test_a_rekeyed_id_keeps_its_prefix_and_is_stable_only_under_one_secret():
    original = stable_id("je", "REWARD_ISSUED", PLAYER, event_ids=["e-1"])
    one = rekey(original, A)
    assert one == rekey(original, A) and one.startswith("je-") and one != original
    assert len(one) == len(original) and one != rekey(original, B)


def test_sealed_bytes_open_only_with_their_secret():
    data = f"an event of {PLAYER}".encode()
    sealed = seal(data, A)
    assert PLAYER.encode() not in sealed and sealed != seal(data, A)  # a fresh nonce each time
    assert unseal(sealed, A) == data
    with pytest.raises(InvalidTag):
        unseal(sealed, B)
    with pytest.raises(InvalidTag):
        unseal(sealed[:-1] + bytes([sealed[-1] ^ 1]), A)
    with pytest.raises(ValueError, match="not sealed"):
        unseal(data, A)
    assert seal(None, A) is None and unseal(None, A) is None


def test_a_journal_entry_is_sealed_with_every_id_derived_from_the_player_rekeyed():
    sealer = Sealer({PLAYER: A}, ERASURE_KEY)
    started = entry("COOLDOWN_STARTED", cooldown_id=stable_id("cd", PLAYER, "RAPID_LOSS_AMOUNT"))
    sealed = sealer.entry(started)
    assert sealed["player_id"] == player_pseudonym(PLAYER, A)
    assert sealed["entry_id"] == rekey(started["entry_id"], A)
    assert sealed["details"]["cooldown_id"] == rekey(started["details"]["cooldown_id"], A)
    assert PLAYER not in str(sealed) and started["entry_id"] not in str(sealed)
    assert {k: v for k, v in sealed.items() if k not in ("entry_id", "player_id", "details")} == {
        k: v for k, v in started.items() if k not in ("entry_id", "player_id", "details")
    }
    assert started["player_id"] == PLAYER  # the core's record is not changed


def test_an_erasure_entry_carries_the_marker_and_an_entry_without_a_player_stays():
    sealer = Sealer({PLAYER: A}, ERASURE_KEY)
    erased = sealer.entry(entry("PLAYER_ERASED", requested_by="dpo"))
    assert erased["details"] == {"requested_by": "dpo", "player": pseudonym(PLAYER, ERASURE_KEY)}
    for nobody in (None, ""):  # an event refused for having no player id
        anonymous = entry("EVENT_REJECTED", player_id=nobody)
        assert sealer.entry(anonymous) is anonymous
        assert named_players([anonymous], [], []) == set()
    with pytest.raises(KeyError):  # a player the worker made no secret for is a bug
        Sealer({}, ERASURE_KEY).entry(entry())


def test_a_dead_letter_and_a_cooldown_are_sealed_under_the_players_secret():
    sealer = Sealer({PLAYER: A}, ERASURE_KEY)
    letter = {"key": PLAYER.encode(), "value": b"\xc3\x01" + PLAYER.encode(), "reason": "bad"}
    key, sealed = sealer.letter(PLAYER, letter)
    assert key == player_pseudonym(PLAYER, A).encode()
    assert (
        unseal(sealed["key"], A) == letter["key"] and unseal(sealed["value"], A) == letter["value"]
    )
    assert PLAYER.encode() not in sealed["key"] + sealed["value"] and sealed["reason"] == "bad"
    cooldown = {"cooldown_id": stable_id("cd", PLAYER), "player_id": PLAYER}
    assert sealer.cooldown(cooldown) == {
        "cooldown_id": rekey(cooldown["cooldown_id"], A),
        "player_id": PLAYER,
    }


class KeyTable(DictStore):
    """The worker's table of secrets in dicts, with the awaited write of a BatchTable; it
    counts the writes, to show which ones were made."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[int, dict]] = []

    async def put_many(self, partition, writes) -> None:  # type: ignore[override]
        self.writes.append((partition, dict(writes)))
        super().put_many(partition, writes)


def test_a_secret_is_made_once_written_before_use_and_deleted_by_shredding():
    table, n = KeyTable(), 4
    first = asyncio.run(secrets_for(table, [PLAYER, "p-7"], n))
    assert set(first) == {PLAYER, "p-7"} and first[PLAYER] != first["p-7"]
    partition = partition_for(PLAYER, n)
    assert table.get_many(partition, [PLAYER.encode()]) == {PLAYER.encode(): first[PLAYER]}
    made = len(table.writes)
    again = asyncio.run(secrets_for(table, [PLAYER], n))
    assert again == {PLAYER: first[PLAYER]} and len(table.writes) == made  # nothing new
    asyncio.run(shred(table, [PLAYER, "p-never-seen"], n))
    assert table.writes[-1] == (partition, {PLAYER.encode(): None})  # no tombstone for nothing
    assert table.get_many(partition, [PLAYER.encode()]) == {}
    fresh = asyncio.run(secrets_for(table, [PLAYER], n))
    assert fresh[PLAYER] != first[PLAYER]  # a new secret: the old records stay unlinkable


def test_an_access_log_entry_names_a_player_by_their_secret_where_it_is_held():
    hold_secrets({PLAYER: A}.get)
    try:
        assert access_name(PLAYER, ERASURE_KEY) == player_pseudonym(PLAYER, A)
        # a player whose secret this process does not hold: the erasure marker
        assert access_name("p-elsewhere", ERASURE_KEY) == pseudonym("p-elsewhere", ERASURE_KEY)
    finally:
        hold_secrets(lambda _player_id: None)
