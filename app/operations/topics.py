"""The topics Pitboss reads and writes, with their partition counts and configs.

Topics are created up front from this list (``pitboss topics create``), never auto-created
by a producer: the local broker would give an auto-created topic one partition, and
co-partitioning of events, state and profiles depends on equal partition counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.settings import Settings

WEEK_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str]
    doc: str


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic of the contract, keyed and partitioned as docs/contract.md describes."""
    t = settings.topics
    n = settings.partitions
    keep_week = {"retention.ms": str(WEEK_MS)}
    keep_forever = {"retention.ms": "-1"}
    compact = {"cleanup.policy": "compact"}
    return [
        TopicSpec(t.table_events, n, keep_week, "Avro TableEvent from studios; key player_id"),
        TopicSpec(t.rekeyed, n, keep_week, "internal: player events a studio keyed otherwise"),
        TopicSpec(t.player_profiles, n, compact, "Avro PlayerProfile; key player_id"),
        TopicSpec(t.crm_rules, 1, compact, "published rulesets (JSON); key ruleset id"),
        TopicSpec(t.crm_rules_history, 1, keep_forever, "every published revision; key ruleset id"),
        TopicSpec(t.leaderboard_scores, n, keep_week, "internal: a player's new score on a board"),
        TopicSpec(t.rewards, n, keep_week, "Avro Reward; key player_id"),
        TopicSpec(t.cooldowns, n, keep_week, "Avro CoolDown; key player_id"),
        TopicSpec(t.journal, n, keep_forever, "Avro JournalEntry; key: player pseudonym"),
        TopicSpec(
            t.dead_letters,
            n,
            keep_forever,
            "Avro DeadLetter; key: player pseudonym or original key",
        ),
        TopicSpec(
            t.access_log, n, keep_forever, "Avro AccessLogEntry; key: player pseudonym or subject"
        ),
        TopicSpec(t.player_keys, n, compact, "each player's secret (raw bytes); key player_id"),
        TopicSpec(t.reward_lifecycle, n, keep_week, "Avro RewardLifecycle; key player_id"),
        TopicSpec(t.player_interactions, n, keep_week, "Avro PlayerInteraction; key player_id"),
        TopicSpec(t.account_events, n, keep_week, "Avro AccountEvent; key player_id"),
        TopicSpec(t.player_commands, n, keep_week, "Avro PlayerCommand; key player_id"),
        TopicSpec(t.tournament_prizes, n, keep_week, "Avro TournamentPrize; key player_id"),
        TopicSpec(
            t.command_outcomes, n, keep_week, "Avro JournalEntry (command outcomes); key player_id"
        ),
        TopicSpec(t.rg_alerts, n, keep_week, "Avro RgAlert; key player_id"),
        TopicSpec(t.player_outcomes, n, keep_week, "Avro PlayerOutcome; key player_id"),
    ]
