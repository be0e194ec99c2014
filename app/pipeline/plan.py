"""The records a decided batch publishes: which topic (by its role in ``TopicNames``), key,
partition and headers, the values encoded with the contract's codecs."""

from __future__ import annotations

from typing import NamedTuple

from app.contract.codec import AvroCodec
from app.leaderboards.board import encode_score
from app.pipeline.batch import BatchResult
from app.pipeline.ingest import RECORD_TYPE_HEADER


class Output(NamedTuple):
    """One record to publish."""

    #: the ``TopicNames`` field of its topic: "rewards", "journal", "rekeyed" ...
    role: str
    key: bytes | None
    value: bytes | None
    #: None: where Kafka's default partitioner puts the key
    partition: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


class OutputCodecs:
    """The writers of the published records (with the schema registry, if one is used)."""

    def __init__(self, registry_url: str | None = None) -> None:
        self.reward = AvroCodec("Reward", registry_url=registry_url)
        self.journal = AvroCodec("JournalEntry", registry_url=registry_url)
        self.cooldown = AvroCodec("CoolDown", registry_url=registry_url)
        self.dead_letter = AvroCodec("DeadLetter", registry_url=registry_url)


def output_plan(result: BatchResult, codecs: OutputCodecs) -> list[Output]:
    """Every record the batch publishes, in the order the worker sends them."""
    out = result.decisions
    plan = [
        Output("rekeyed", key, value, partition, ((RECORD_TYPE_HEADER, record_type),))
        for key, value, partition, record_type in result.batch.forwards
    ]
    plan += (
        Output("dead_letters", k, codecs.dead_letter.encode(d)) for k, d in result.dead_letters
    )
    plan += (
        Output("rewards", r["player_id"].encode(), codecs.reward.encode(r)) for r in out.rewards
    )
    plan += (
        Output("cooldowns", c["player_id"].encode(), codecs.cooldown.encode(c))
        for c in out.cooldowns
    )
    plan += (Output("leaderboard_scores", *encode_score(*score)) for score in out.scores)
    # after the scores: each board's keeper drops the player after their last score
    plan += (Output("leaderboard_scores", *erasure) for erasure in result.leaderboard_erasures)
    plan += (
        Output("journal", (entry["player_id"] or "").encode() or None, codecs.journal.encode(entry))
        for entry in result.journal
    )
    return plan
