"""Account events and interactions on a running worker: a deposit changes what rules see and
fires a deposit rule, an unverified player in a KYC-requiring market gets nothing (journaled
with the reason), a deposit pattern is flagged for the AML team, interactions are journaled
with their rule and variant, and the replay reproduces all of it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from app.audit.source import ReplayOptions, run_replay
from app.contract.codec import AvroCodec
from app.devtools.deployment import Deployment, wait_for
from app.rules import DEFAULT_RULESET_PATH
from app.rules.publish import push
from tests.support.factories import account_record, interaction_record, natural, profile

pytestmark = [pytest.mark.broker, pytest.mark.slow]
MIN = 60_000

DEPOSIT_RULES = """
  - id: first-e-wallet-deposit
    description: The player's first deposit by e-wallet.
    events: [DEPOSIT]
    when: event.account.payment_method == "E_WALLET"
    once_per: ever
    reward: {kind: POINTS, amount: 500}

  - id: depositor-natural
    description: A natural blackjack of a player whose last deposit was 100.00 or more.
    events: [BET_SETTLED]
    when: event.settlement.hand == "natural_blackjack" && money.deposit >= 100.0
    reward: {kind: XP, amount: 7}
"""


def produce(dep: Deployment, topic: str, schema: str, records: list[dict]) -> None:
    codec = AvroCodec(schema)
    dep.produce(topic, [(r["player_id"].encode(), codec.encode(r), None) for r in records])


def decided(dep: Deployment, events: int) -> None:
    """Wait until the worker decided ``events`` player events. Records of different topics
    are decided in the order the worker reads them, which Kafka does not fix between topics
    (docs/integration.md, "Account events"): each step waits for the one before."""
    wait_for(lambda: dep.view("/pitboss/stats/")["totals"]["events"] >= events, what="decided")


def test_account_events_and_interactions_are_decided_journaled_and_replayed(
    dep: Deployment, tmp_path: Path
):
    rules = tmp_path / "rules.yaml"
    rules.write_text(DEFAULT_RULESET_PATH.read_text().rstrip("\n") + "\n" + DEPOSIT_RULES)
    published, _ = asyncio.run(push(dep.settings, rules))
    dep.start_worker()
    revision = published["revision"]
    wait_for(lambda: dep.view("/pitboss/rules/")["revision"] == revision, what="rules live")
    topics = dep.settings.topics
    t0 = int(time.time() * 1000) - 30 * MIN
    depositor, italian = "p-depositor", "p-italian"
    dep.produce_profiles(
        [profile(depositor, country="GB", last_deposit=None), profile(italian, country="IT")]
    )
    wait_for(lambda: dep.view("/pitboss/stats/")["totals"]["profiles"] >= 2, what="profiles")

    # A deposit by e-wallet of 150.00 EUR, then a natural: both deposit rules fire.
    wallet = account_record(
        player_id=depositor, occurred_at=t0, amount_minor=15_000, payment_method="E_WALLET"
    )
    produce(dep, topics.account_events, "AccountEvent", [wallet])
    decided(dep, 1)
    hand = natural(player_id=depositor, occurred_at=t0 + MIN)
    dep.produce_events([hand])
    # The Italian player is not verified: a natural gets nothing; then six deposits within
    # the hour, one of them over 2,000.00: flagged for the AML team.
    held = natural(player_id=italian, occurred_at=t0 + 2 * MIN)
    dep.produce_events([held])
    decided(dep, 3)
    deposits = [
        account_record(
            player_id=italian,
            occurred_at=t0 + (3 + i) * MIN,
            amount_minor=250_000 if i == 0 else 5_000,
        )
        for i in range(6)
    ]
    produce(dep, topics.account_events, "AccountEvent", deposits)
    decided(dep, 9)  # the interactions below only journal: their order does not matter
    # Interactions from the player gateway, a click on the reward sent twice, and an
    # acknowledgement of a take-a-break message.
    click = interaction_record(
        player_id=depositor,
        interaction_id="click-1",
        rule_id="first-e-wallet-deposit",
        variant="b",
        recorded_at=t0 + 10 * MIN,
    )
    ack = interaction_record(
        player_id=italian,
        action="DISMISSED",
        reward_id=None,
        rule_id=None,
        variant=None,
        message_id="cd-0123",
        recorded_at=t0 + 11 * MIN,
    )
    produce(dep, topics.player_interactions, "PlayerInteraction", [click, click, ack])

    rewards = dep.consume(
        topics.rewards, "Reward", lambda rs: {"depositor-natural"} <= {r["rule_id"] for r in rs}
    )
    mine = {r["rule_id"]: r for r in rewards if r["player_id"] == depositor}
    assert mine["first-e-wallet-deposit"]["trigger_event_ids"] == [f"acct:{wallet['event_id']}"]
    assert mine["first-e-wallet-deposit"]["amount"] == 500
    assert mine["depositor-natural"]["trigger_event_ids"] == [hand["event_id"]]
    assert all(r["player_id"] != italian for r in rewards)

    named = {p: dep.named(p) for p in (depositor, italian)}

    def done(entries: list[dict]) -> bool:
        kinds = [e["decision"] for e in entries]
        return kinds.count("INTERACTION_RECORDED") >= 2 and "DEPOSIT_FLAGGED" in kinds

    journal = dep.consume(topics.journal, "JournalEntry", done)
    suppressed = [
        e
        for e in journal
        if e["decision"] == "REWARD_SUPPRESSED" and e["player_id"] == named[italian]
    ]
    assert suppressed and {e["reason"] for e in suppressed} == {"kyc_unverified"}
    assert suppressed[0]["event_ids"] == [held["event_id"]]
    flags = [e for e in journal if e["decision"] == "DEPOSIT_FLAGGED"]
    assert flags[0]["player_id"] == named[italian]
    assert flags[0]["event_ids"] == [f"acct:{deposits[0]['event_id']}"]
    assert (flags[0]["reason"], flags[0]["details"]["amount_threshold_minor"]) == (
        "amount_over",
        "200000",
    )
    assert {"frequent"} <= {f["reason"] for f in flags[1:]}
    interactions = [e for e in journal if e["decision"] == "INTERACTION_RECORDED"]
    assert len(interactions) == 2  # the re-sent click is journaled once
    clicked = next(e for e in interactions if e["player_id"] == named[depositor])
    assert (clicked["rule_id"], clicked["reward_id"]) == ("first-e-wallet-deposit", "rw-1")
    assert (clicked["details"]["variant"], clicked["details"]["interaction_id"]) == (
        "b",
        "click-1",
    )
    acknowledged = next(e for e in interactions if e["player_id"] == named[italian])
    assert acknowledged["details"]["acknowledges"] == "cooldown"

    # The replay reads account-events and player-interactions too: zero mismatches.
    dep.wait_quiet()
    outcome = asyncio.run(asyncio.wait_for(run_replay(dep.settings, ReplayOptions()), 120))
    report = outcome.report
    assert report.mismatch_total == 0 and report.ambiguous_count == 0, report.mismatches[:3]
    assert report.matches == report.decisions >= len(journal) - 2
    assert report.in_force["first-e-wallet-deposit"].rewards == 1
