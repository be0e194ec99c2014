"""Dead letters of records that could not be delivered, kept for ever on ``dead-letters`` as
the contract says: a known player's record is sealed under their secret, an erased player's
is not kept.

Rewards, cool-downs and RG alerts name the player in clear (their topics keep them a week),
so a letter holding one is keyed by the player's pseudonym with the original key and bytes
encrypted under the player's secret (``app.security.player_keys.Sealer``), exactly as the
workers seal theirs; the secret comes from ``player-keys``, read to its end when a letter
needs one not read yet (a reward's secret was written before the reward). A player whose
secret is gone was erased: the letter has the erasure marker for key and neither the key nor
the bytes. A journal entry names the player by pseudonym already and is kept as it is.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from app.audit.source import read_secrets
from app.core.ids import pseudonym
from app.pipeline.ingest import dead_letter
from app.security.player_keys import Sealer
from app.settings import Settings

NOT_KEPT = "; the player was erased: the record is not kept"


class Letters:
    """Makes the dead letter of a record read from a topic a delivery follows."""

    def __init__(self, settings: Settings, keys: AIOKafkaConsumer, erasure_key: bytes) -> None:
        self.settings, self.keys, self.erasure_key = settings, keys, erasure_key
        #: the secrets read so far (read again when one is missing)
        self._secrets: dict[str, bytes] = {}
        #: one reader of ``player-keys`` for every lane
        self._reading = asyncio.Lock()

    async def letter(self, msg: ConsumerRecord, error: str, reason: str) -> tuple[bytes, dict]:
        """(key, DeadLetter) of ``msg``, sealed or not kept as its player requires."""
        now = int(time.time() * 1000)
        topics = self.settings.topics
        in_clear = msg.topic in (topics.rewards, topics.cooldowns, topics.rg_alerts)
        if not in_clear or not msg.key:
            return msg.key, dead_letter(msg, error, reason, now)
        player_id = msg.key.decode(errors="replace")
        secret = await self._secret(player_id)
        if secret is None:
            letter = dead_letter(msg, error, reason + NOT_KEPT, now)
            marker = pseudonym(player_id, self.erasure_key).encode()
            return marker, {**letter, "key": None, "value": None}
        sealer = Sealer({player_id: secret}, self.erasure_key)
        return sealer.letter(player_id, dead_letter(msg, error, reason, now))

    async def _secret(self, player_id: str) -> bytes | None:
        async with self._reading:
            if player_id not in self._secrets:
                every = list(range(self.settings.partitions))
                topic = self.settings.topics.player_keys
                self._secrets = await read_secrets(self.keys, self.settings, every, {topic})
            return self._secrets.get(player_id)
