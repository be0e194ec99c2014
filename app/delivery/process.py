"""What happens to one record: decoded, matched against every endpoint's topics and filter,
sent to those it matches (side by side), and whatever could not be delivered dead-lettered
with the reason; for ``pitboss fulfil``, each reward's lifecycle steps published around the
call. It returns only once the broker has every record this produced, so its offset may then
be committed (``app.delivery.lanes``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import aiohttp
from aiokafka import ConsumerRecord

from app.contract.codec import AvroCodec
from app.contract.errors import DecodeError
from app.delivery.config import Endpoint, Use
from app.delivery.filters import matches
from app.delivery.letters import Letters
from app.delivery.lifecycle import settled, step
from app.delivery.metrics import DEAD_LETTERS, DELIVERIES, RETRIES
from app.delivery.outlet import Outlet, Output
from app.delivery.payload import PayloadError, body, record_id
from app.delivery.sender import Outcome, Sender
from app.security.masking import mask_secrets
from app.settings import Settings

log = logging.getLogger(__name__)

#: The contract's record on each topic a delivery can follow.
RECORDS = {
    "rewards": "Reward",
    "cooldowns": "CoolDown",
    "journal": "JournalEntry",
    "rg-alerts": "RgAlert",
}
REPORT_EVERY = 10.0


@dataclass(slots=True)
class Totals:
    """One endpoint's counts, for the log lines."""

    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0

    def count_retry(self) -> None:
        self.retried += 1

    def __str__(self) -> str:
        counts = (f"{f.name.replace('_', '-')} {getattr(self, f.name):,}" for f in fields(self))
        return ", ".join(counts)


class Deliverer:
    """Handles each record for every endpoint of one ``pitboss webhooks`` or ``fulfil``."""

    def __init__(
        self,
        settings: Settings,
        use: Use,
        endpoints: Sequence[Endpoint],
        session: aiohttp.ClientSession,
        outlet: Outlet,
        letters: Letters,
    ) -> None:
        self.settings, self.use, self.endpoints = settings, use, list(endpoints)
        self.outlet, self.letters = outlet, letters
        topics = settings.topics
        named = {
            "rewards": topics.rewards,
            "cooldowns": topics.cooldowns,
            "journal": topics.journal,
            "rg-alerts": topics.rg_alerts,
        }
        wanted = {t for e in self.endpoints for t in e.topics}
        registry = settings.schema_registry_url or None
        #: Kafka topic -> (contract name, codec), for the topics some endpoint wants
        self.topics = {
            named[t]: (t, AvroCodec(RECORDS[t], registry_url=registry)) for t in sorted(wanted)
        }
        self.letter_codec = AvroCodec("DeadLetter", registry_url=registry)
        self.lifecycle_codec = AvroCodec("RewardLifecycle", registry_url=registry)
        self.totals = {e.name: Totals() for e in self.endpoints}
        self.senders = {
            e.name: Sender(e, session, on_retry=self._retried(e.name)) for e in self.endpoints
        }
        self._reported = time.monotonic()

    async def handle(self, msg: ConsumerRecord) -> None:
        topic, codec = self.topics[msg.topic]
        try:
            if msg.value is None:
                raise DecodeError("UNDECODABLE", "a tombstone (no value)")
            record = codec.decode(msg.value)
        except DecodeError as exc:
            log.error(
                "%s partition %d offset %d is not a %s: dead-lettered",
                msg.topic,
                msg.partition,
                msg.offset,
                codec.name,
            )
            key, letter = await self.letters.letter(msg, exc.error, f"{self.use}: {exc.message}")
            await self.outlet.send([self._letter(key, letter)])
            DEAD_LETTERS.labels(self.use).inc()
            return
        chosen = [
            e for e in self.endpoints if topic in e.topics and matches(e.filter, topic, record)
        ]
        if chosen:
            produced = await asyncio.gather(*(self._deliver(e, topic, record, msg) for e in chosen))
            await self.outlet.send([out for outs in produced for out in outs])
        self.report()

    async def _deliver(
        self, endpoint: Endpoint, topic: str, record: dict, msg: ConsumerRecord
    ) -> list[Output]:
        """Send to one endpoint; the records that says (a dead letter, lifecycle steps)."""
        fulfil = self.use == "fulfil"
        if fulfil:  # stored before the call, so no credit is ever made without a PENDING
            await self.outlet.send([self._step(record, endpoint, "PENDING")])
        try:
            data = body(endpoint, topic, record)
        except PayloadError as exc:
            outcome = Outcome(False, 0, None, str(exc))
        else:
            outcome = await self.senders[endpoint.name].deliver(data, record_id(topic, record))
        out: list[Output] = []
        status, reason = settled(endpoint, outcome) if fulfil else ("", outcome.reason)
        if fulfil:
            out.append(self._step(record, endpoint, status, outcome, reason))
        totals = self.totals[endpoint.name]
        if outcome.delivered and status != "FAILED":
            totals.delivered += 1
            DELIVERIES.labels(self.use, endpoint.name, "delivered").inc()
            return out
        totals.dead_lettered += 1
        DELIVERIES.labels(self.use, endpoint.name, "dead_lettered").inc()
        DEAD_LETTERS.labels(self.use).inc()
        # kept for ever: a password or token in the URL or a quoted answer is masked
        why = mask_secrets(f"{self.use} {endpoint.name} ({endpoint.url}): {reason}")
        log.warning("%s %s not delivered, dead-lettered: %s", topic, record_id(topic, record), why)
        key, letter = await self.letters.letter(msg, "OTHER", why)
        return [self._letter(key, letter), *out]

    def _retried(self, endpoint: str) -> Callable[[], None]:
        """Counts a retry of ``endpoint`` in its totals and its metric."""
        totals, metric = self.totals[endpoint], RETRIES.labels(self.use, endpoint)

        def count() -> None:
            totals.count_retry()
            metric.inc()

        return count

    def _step(
        self,
        reward: dict,
        endpoint: Endpoint,
        status: str,
        outcome: Outcome | None = None,
        reason: str | None = None,
    ) -> Output:
        record = step(reward, endpoint.name, status, int(time.time() * 1000), outcome, reason)
        return (
            self.settings.topics.reward_lifecycle,
            reward["player_id"].encode(),
            self.lifecycle_codec.encode(record),
        )

    def _letter(self, key: bytes | None, letter: dict) -> Output:
        return (self.settings.topics.dead_letters, key, self.letter_codec.encode(letter))

    def report(self, force: bool = False) -> None:
        """A log line per endpoint every ``REPORT_EVERY`` seconds while records flow."""
        now = time.monotonic()
        if not force and now - self._reported < REPORT_EVERY:
            return
        self._reported = now
        for name, totals in self.totals.items():
            log.info("%s %s: %s", self.use, name, totals)
