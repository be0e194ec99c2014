"""The records a decided batch publishes: which topic (by its role in ``TopicNames``), key,
partition and headers, the values encoded with the contract's codecs, and the records kept
for ever sealed under the players' secrets (``app.security.player_keys``)."""

from __future__ import annotations

from typing import NamedTuple

from app.contract.codec import AvroCodec
from app.core.spending import COMMAND_OUTCOMES
from app.leaderboards.board import encode_score
from app.pipeline.batch import BatchResult
from app.pipeline.ingest import RECORD_TYPE_HEADER, partition_for
from app.pipeline.rg_alerts import rg_alerts
from app.security.player_keys import Sealer, named_players

#: a leaderboard update: (board key, player id, new total, event time, top n)
ScoreRow = tuple[str, str, int, int, int]


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
        self.rg_alert = AvroCodec("RgAlert", registry_url=registry_url)


def needs_secrets(result: BatchResult) -> set[str]:
    """The players the batch's kept records name: each needs a secret before they go out."""
    return named_players(result.journal, result.decisions.cooldowns, result.player_letters)


def last_scores(scores: list[ScoreRow]) -> list[ScoreRow]:
    """Each player's last score per board in the batch, in the order of those last scores.

    A board keeps a player's highest total and when they reached it, and a player's totals
    only rise within a board's period, so the earlier scores of a batch would be overtaken by
    its last one before anyone reads them: one record per board and player instead of one
    per reward."""
    last: dict[tuple[str, str], ScoreRow] = {}
    for score in scores:
        last.pop((score[0], score[1]), None)
        last[score[0], score[1]] = score
    return list(last.values())


def output_plan(
    result: BatchResult, codecs: OutputCodecs, sealer: Sealer, partitions: int
) -> list[Output]:
    """Every record the batch publishes, in the order the worker sends them; the journal,
    dead letters and cool-down ids sealed under the players' secrets (``sealer``, which
    holds one for every player of ``needs_secrets``). A record keyed by a pseudonym goes to
    the player's partition (of ``partitions``), as it did when keyed by the id: a player's
    journal, rewards and cool-downs share a partition number. The RG team's alerts follow the
    journal entries they project (``app.pipeline.rg_alerts``)."""
    out = result.decisions
    plan = [
        Output("rekeyed", key, value, partition, ((RECORD_TYPE_HEADER, record_type),))
        for key, value, partition, record_type in result.batch.forwards
    ]
    plan += (
        Output("dead_letters", k, codecs.dead_letter.encode(d)) for k, d in result.dead_letters
    )
    for player_id, letter in result.player_letters:
        key, sealed = sealer.letter(player_id, letter)
        where = partition_for(player_id, partitions)
        plan.append(Output("dead_letters", key, codecs.dead_letter.encode(sealed), where))
    plan += (
        Output("rewards", r["player_id"].encode(), codecs.reward.encode(r)) for r in out.rewards
    )
    plan += (
        Output("cooldowns", c["player_id"].encode(), codecs.cooldown.encode(sealer.cooldown(c)))
        for c in out.cooldowns
    )
    plan += (Output("leaderboard_scores", *encode_score(*s)) for s in last_scores(out.scores))
    # after the scores: each board's keeper drops the player after their last score
    plan += (Output("leaderboard_scores", *erasure) for erasure in result.leaderboard_erasures)
    kept = []
    for entry in result.journal:
        sealed = sealer.entry(entry)
        kept.append((entry, sealed))
        player_id = entry["player_id"]
        where = partition_for(player_id, partitions) if player_id else None
        key = (sealed["player_id"] or "").encode() or None
        plan.append(Output("journal", key, codecs.journal.encode(sealed), where))
    # the RG team's alerts: a projection of the entries that raised a player to high
    plan += (
        Output("rg_alerts", a["player_id"].encode(), codecs.rg_alert.encode(a))
        for a in rg_alerts(kept)
    )
    # each player command's answer: its COMMAND_APPLIED or COMMAND_REFUSED entry, unsealed
    # (short-lived, keyed by the player like rewards) for the platform that sent it
    plan += (
        Output("command_outcomes", e["player_id"].encode(), codecs.journal.encode(e))
        for e in result.journal
        if e["decision"] in COMMAND_OUTCOMES
    )
    return plan
