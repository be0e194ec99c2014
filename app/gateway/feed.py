"""What the gateway knows, kept in memory from the topics it follows (``follower.py``):
each player's latest state (the worker's player-state changelog), the erasure markers, the
leaderboards' top N (the leaderboards changelog), the players' secrets (``player-keys``, to
name a player as the journal does), their recent rewards (``rewards``), the ruleset in force
(``crm-rules``), and who listens to whose journal entries.

Applying records is plain Python with no I/O, so the tests feed it records directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.contract.codec import AvroCodec
from app.contract.errors import DecodeError
from app.core.ids import pseudonym
from app.core.outputs import DETECTORS
from app.core.rules import Ruleset
from app.core.state import PlayerState
from app.gateway.cursor import Cursor
from app.gateway.ranks import Rankings
from app.leaderboards.board import Board
from app.pipeline.ingest import partition_for
from app.pipeline.keys import ERASED
from app.rules.live import LiveEngine
from app.security.player_keys import player_pseudonym

log = logging.getLogger(__name__)

#: A journal entry for a listener: its offset in the player's partition and the entry.
Delivery = tuple[int, dict[str, Any]]
#: A kept reward: where it lies on ``rewards``, its view, and its A/B variant (never shown).
Kept = tuple[Cursor, dict[str, Any], str | None]


class NotTheirs(LookupError):
    """An interaction names a reward that is not one of the player's (kept) rewards."""


@dataclass(eq=False)
class Listener:
    """One open stream: the entries of one player as the follower reads them. A listener
    whose client falls ``limit`` entries behind is ``overflowed``: it is told to reconnect
    with its cursor, which loses nothing."""

    limit: int
    #: None once, after the last delivery an overflowed listener gets
    queue: asyncio.Queue[Delivery | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def put(self, delivery: Delivery) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= self.limit:
            self.overflowed = True
            self.queue.put_nowait(None)
        else:
            self.queue.put_nowait(delivery)


def reward_view(reward: dict[str, Any]) -> dict[str, Any]:
    """A Reward as the player sees it (not its A/B variant, not the rule's version)."""
    return {
        "reward_id": reward["reward_id"],
        "rule_id": reward["rule_id"],
        "kind": reward["kind"],
        "amount": reward["amount"],
        "currency": reward["currency"],
        "message": reward["message"],
        "badge": reward["attributes"].get("badge"),
        "game": reward["game"],
        "table_id": reward["table_id"],
        "event_time": reward["event_time"],
        "issued_at": reward["issued_at"],
    }


class PlayerFeed:
    """The followed topics' latest records, indexed for the gateway's routes."""

    def __init__(
        self,
        partitions: int,
        erasure_key: bytes,
        operator_timezone: str,
        rewards_kept: int,
    ) -> None:
        self.partitions, self.erasure_key = partitions, erasure_key
        self.rewards_kept = rewards_kept
        self.rules_raw: bytes | None = None
        #: the published ruleset compiled as the workers compile it (the shipped one until then)
        self._rules = LiveEngine(operator_timezone, lambda: self.rules_raw)
        self.states: dict[str, bytes] = {}
        #: board key -> the board (top N) as the leaderboards agent last wrote it
        self.boards: dict[str, bytes] = {}
        #: every player's rank on every live board (for a player below its top N)
        self.ranks = Rankings()
        self.erased: dict[int, frozenset[str]] = {}
        self.secrets: dict[str, bytes] = {}
        self.rewards: dict[str, deque[Kept]] = {}
        #: journal partition -> the next offset the follower reads (all before it dispatched)
        self.journal_next: dict[int, int] = {}
        self.listeners: dict[str, set[Listener]] = {}
        self._rewards = AvroCodec("Reward")
        self._journal = AvroCodec("JournalEntry")
        #: players whose secret someone waits for (a stream opened before their first play)
        self._awaited: dict[str, asyncio.Event] = {}
        #: players whose next reward an interaction waits for (the stream may pass it first)
        self._rewarded: dict[str, asyncio.Event] = {}

    # -- questions ---------------------------------------------------------------------

    def partition(self, player_id: str) -> int:
        return partition_for(player_id, self.partitions)

    def is_erased(self, player_id: str) -> bool:
        markers = self.erased.get(self.partition(player_id), frozenset())
        return bool(markers) and pseudonym(player_id, self.erasure_key) in markers

    def state(self, player_id: str) -> PlayerState:
        """The player's state as the worker last wrote it (a new player's: the initial)."""
        return PlayerState.from_bytes(self.states.get(player_id))

    def board(self, key: str) -> Board | None:
        """The board ``key`` (``board:game:period``) as last written; None: nobody scored."""
        return Board.from_bytes(self.boards.get(key))

    def ruleset(self) -> Ruleset:
        return self._rules.current().ruleset

    def entry(self, value: bytes) -> dict[str, Any]:
        """A journal record's JournalEntry (``DecodeError`` if it is not one)."""
        return self._journal.decode(value)

    def name(self, player_id: str) -> str | None:
        """How the journal names the player (None: they have no secret yet)."""
        secret = self.secrets.get(player_id)
        return None if secret is None else player_pseudonym(player_id, secret)

    async def named(self, player_id: str) -> str:
        """The player's journal name, once they have a secret (their first decision)."""
        while (name := self.name(player_id)) is None:
            await self._awaited.setdefault(player_id, asyncio.Event()).wait()
        return name

    def recent_rewards(
        self, player_id: str, before: Cursor | None, limit: int
    ) -> tuple[list[tuple[Cursor, dict[str, Any]]], bool]:
        """Up to ``limit`` of the player's rewards, newest first, older than ``before``;
        and whether older ones remain."""
        kept = [
            (at, view)
            for at, view, _ in reversed(self.rewards.get(player_id, ()))
            if before is None or at < before
        ]
        return kept[:limit], len(kept) > limit

    async def about(
        self, player_id: str, reward_id: str | None, message_id: str | None, wait: float
    ) -> dict[str, str | None]:
        """The ``rule_id`` and ``variant`` of what an interaction of the player names, from what
        the gateway served, never from the client: a reward's own; a running cool-down's
        detector; else unknown (None). ``NotTheirs`` for a reward that is not one of the
        player's, after waiting up to ``wait`` seconds for its record (the stream reads the
        journal, which may pass the ``rewards`` topic)."""
        if reward_id is None:
            cooldown = self.state(player_id).cooldown
            if cooldown is not None and cooldown.cooldown_id == message_id:
                return {"rule_id": DETECTORS.get(cooldown.reason, "risk-level"), "variant": None}
            return {"rule_id": None, "variant": None}
        loop = asyncio.get_running_loop()
        until = loop.time() + wait
        while (found := self._kept(player_id, reward_id)) is None:
            left = until - loop.time()
            if left <= 0:
                raise NotTheirs(f"reward_id: {reward_id} is not one of this player's rewards")
            arrived = self._rewarded.setdefault(player_id, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), left)
        _, view, variant = found
        return {"rule_id": view["rule_id"], "variant": variant}

    def _kept(self, player_id: str, reward_id: str) -> Kept | None:
        return next(
            (r for r in self.rewards.get(player_id, ()) if r[1]["reward_id"] == reward_id), None
        )

    # -- listeners ---------------------------------------------------------------------

    def listen(self, name: str, limit: int) -> Listener:
        listener = Listener(limit)
        self.listeners.setdefault(name, set()).add(listener)
        return listener

    def unlisten(self, name: str, listener: Listener) -> None:
        held = self.listeners.get(name)
        if held is not None:
            held.discard(listener)
            if not held:
                del self.listeners[name]

    # -- records -----------------------------------------------------------------------

    def apply_state(self, key: bytes | None, value: bytes | None, partition: int) -> None:
        if key == ERASED:
            self.erased[partition] = frozenset(orjson.loads(value or b"[]"))
        elif key and not key.startswith(b"\x00"):
            player_id = key.decode()
            if value is None:  # erased (or a state dropped): nothing of theirs stays here
                self.states.pop(player_id, None)
                self.rewards.pop(player_id, None)
            else:
                self.states[player_id] = value

    def apply_board(self, key: bytes | None, value: bytes | None) -> None:
        if not key or key.startswith(b"\x00"):
            return
        if value is None:
            self.boards.pop(key.decode(), None)
            self.ranks.drop(key.decode())
        else:
            self.boards[key.decode()] = value

    def apply_secret(self, key: bytes | None, value: bytes | None) -> None:
        if not key:
            return
        player_id = key.decode()
        if value is None:
            self.secrets.pop(player_id, None)
            return
        self.secrets[player_id] = value
        waiting = self._awaited.pop(player_id, None)
        if waiting is not None:
            waiting.set()

    def apply_reward(self, value: bytes | None, partition: int, offset: int) -> None:
        if value is None:
            return
        reward = self._rewards.decode(value)
        player_id = reward["player_id"]
        kept = self.rewards.setdefault(player_id, deque(maxlen=self.rewards_kept))
        kept.append(
            (Cursor(partition, offset), reward_view(reward), reward["attributes"].get("variant"))
        )
        arrived = self._rewarded.pop(player_id, None)
        if arrived is not None:
            arrived.set()

    def apply_journal(
        self, records: Iterable[tuple[bytes | None, bytes | None, int]], partition: int
    ) -> None:
        """Hand the entries of listened-to players to their listeners; then note how far
        the partition has been read (one step: a listener added later sees none of these)."""
        last = None
        for key, value, offset in records:
            last = offset
            listeners = self.listeners.get(key.decode(errors="replace")) if key else None
            if listeners and value is not None:
                try:
                    entry = self.entry(value)
                except DecodeError:
                    log.error("journal %d@%d does not decode; not pushed", partition, offset)
                    continue
                for listener in listeners:
                    listener.put((offset, entry))
        if last is not None:
            self.journal_next[partition] = last + 1

    def apply_rules(self, ruleset_id: str, key: bytes | None, value: bytes | None) -> None:
        if key is not None and key.decode() == ruleset_id:
            self.rules_raw = value
