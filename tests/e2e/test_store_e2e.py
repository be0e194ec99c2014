"""The points store and the wheel on a running worker: a purchase spends points and grants the
item, a purchase beyond the stock is refused with the reason (journal and command-outcomes),
and a spin's outcome is the replay's (the worker and the replay share the operator's salt)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import yaml

from app.audit.source import ReplayOptions, run_replay
from app.contract.codec import AvroCodec
from app.core.games import landing
from app.core.ids import reward_id
from app.devtools.deployment import Deployment, wait_for
from app.rules import compile_document, default_document
from app.rules.publish import push
from tests.support.factories import profile, table_event

pytestmark = [
    pytest.mark.broker,
    pytest.mark.slow,
    pytest.mark.deployment(PITBOSS_GAME_SALT="store-e2e-salt"),
]
MIN = 60_000
#: one per partition of the deployment's four: each partition sells its share, one
LAST_CHIP = {
    "id": "last-chip",
    "price": 100,
    "stock": 4,
    "reward": {"kind": "BADGE", "badge": "last-chip", "message": "The last chip is yours"},
}


def command(player: str, command_id: str, at: int, kind: str = "PURCHASE", **ids) -> dict:
    return {
        "command_id": command_id,
        "player_id": player,
        "type": kind,
        "item_id": ids.get("item_id"),
        "reward_id": ids.get("reward_id"),
        "target_id": None,
        "occurred_at": at,
        "attributes": {},
    }


def test_a_purchase_spends_points_stock_runs_out_and_a_spin_replays(
    dep: Deployment, tmp_path: Path
):
    doc = default_document()
    doc["store"].append(LAST_CHIP)
    rules = tmp_path / "store.yaml"
    rules.write_text(yaml.safe_dump(doc, sort_keys=False))
    published, _ = asyncio.run(push(dep.settings, rules))
    dep.start_worker()
    wait_for(lambda: dep.view("/pitboss/rules/")["revision"] == published["revision"], what="live")
    topics = dep.settings.topics
    player = "p-shopper"
    dep.produce_profiles([profile(player, country="GB")])
    wait_for(lambda: dep.view("/pitboss/stats/")["totals"]["profiles"] >= 1, what="profile")

    # 900.00 EUR staked: 900 points to spend (the daily cap of 1,000 leaves room for a prize)
    t0 = int(time.time() * 1000) - 30 * MIN
    stake = {"bet_type": "main", "stake_minor": 90_000, "currency": "EUR"}
    dep.produce_events([table_event(player_id=player, bet=stake, occurred_at=t0)])
    dep.consume(topics.rewards, "Reward", lambda rs: any(r["kind"] == "POINTS" for r in rs))

    codec = AvroCodec("PlayerCommand")
    commands = [
        command(player, "buy-1", t0 + MIN, item_id="last-chip"),
        command(player, "buy-2", t0 + 2 * MIN, item_id="last-chip"),  # beyond the stock
        command(player, "buy-1", t0 + 3 * MIN, item_id="last-chip"),  # re-sent: nothing
        command(player, "spin-buy", t0 + 4 * MIN, item_id="lucky-spin"),
        command(player, "spin-1", t0 + 5 * MIN, "SPIN"),
    ]
    dep.produce(
        topics.player_commands, [(player.encode(), codec.encode(c), None) for c in commands]
    )

    outcomes = dep.consume(topics.command_outcomes, "JournalEntry", lambda es: len(es) >= 4)
    answered = [(e["details"]["command_id"], e["decision"], e["reason"]) for e in outcomes]
    assert answered == [
        ("buy-1", "COMMAND_APPLIED", "purchase"),
        ("buy-2", "COMMAND_REFUSED", "out_of_stock"),
        ("spin-buy", "COMMAND_APPLIED", "purchase"),
        ("spin-1", "COMMAND_APPLIED", "spin"),
    ]
    # where the spin lands is fixed by its reward id (the purchase's) and the worker's salt
    spin_id = reward_id("store:lucky-spin", 1, ["cmd:spin-buy"])
    wheel = compile_document(doc).minigames["lucky-wheel"]
    sector, landed = landing(wheel, b"store-e2e-salt", spin_id, 1)
    won = landed.rule.reward if landed.rule is not None else None
    extra = won.amount if won is not None and won.kind == "POINTS" else 0
    assert [e["details"]["balance"] for e in outcomes] == ["800", "800", "700", str(700 + extra)]
    assert outcomes[0]["player_id"] == player  # the answer names the player: it is theirs

    rewards = dep.consume(
        topics.rewards, "Reward", lambda rs: any(r["kind"] == "WHEEL_SPIN" for r in rs)
    )
    [chip] = [r for r in rewards if r["rule_id"] == "store:last-chip"]
    assert (
        chip["reward_id"] == outcomes[0]["reward_id"] and chip["attributes"]["badge"] == "last-chip"
    )
    [spin] = [r for r in rewards if r["kind"] == "WHEEL_SPIN"]
    assert spin["reward_id"] == spin_id

    # the play is journaled where it landed, and its sector's prize issued
    journal = dep.consume(
        topics.journal, "JournalEntry", lambda es: any(e["decision"] == "GAME_PLAYED" for e in es)
    )
    [played] = [e for e in journal if e["decision"] == "GAME_PLAYED"]
    assert (played["reward_id"], played["details"]["sector"]) == (spin_id, str(sector))
    if landed.rule is not None:
        prize = reward_id(landed.rule.rule_id, landed.rule.version, [f"{spin_id}#1"])
        assert played["details"]["prize_reward_id"] == prize
        dep.consume(topics.rewards, "Reward", lambda rs: any(r["reward_id"] == prize for r in rs))

    # the replay reads player-commands too, and plays the spin under the same salt
    dep.wait_quiet()
    outcome = asyncio.run(asyncio.wait_for(run_replay(dep.settings, ReplayOptions()), 120))
    report = outcome.report
    assert report.mismatch_total == 0 and report.ambiguous_count == 0, report.mismatches[:3]
    assert report.matches == report.decisions >= 6


#: an opt-in mission of two tasks in sequence, ten minutes from the opt-in, worth level 2
SPRINT = {
    "id": "sprint",
    "events": ["BET_PLACED"],
    "trigger": {
        "type": "mission",
        "period": "day",
        "opt_in": True,
        "time_limit": "10m",
        "order": "sequence",
        "tasks": [
            {"id": "bets", "count": 2},
            {"id": "big", "when": "event.bet.stake_minor >= 50000"},
        ],
    },
    "reward": {"kind": "XP", "amount": 60},
}


def test_an_opt_in_mission_completes_grants_a_level_reward_expires_and_replays(
    dep: Deployment, tmp_path: Path
):
    doc = default_document()
    doc["rules"].append(SPRINT)
    doc["levels"][0]["reward"] = {"kind": "POINTS", "amount": 100}  # level 2, at 50 XP
    rules = tmp_path / "missions.yaml"
    rules.write_text(yaml.safe_dump(doc, sort_keys=False))
    published, _ = asyncio.run(push(dep.settings, rules))
    dep.start_worker()
    wait_for(lambda: dep.view("/pitboss/rules/")["revision"] == published["revision"], what="live")
    topics = dep.settings.topics
    done, late = "p-sprinter", "p-latecomer"
    dep.produce_profiles([profile(done, country="GB"), profile(late, country="GB")])
    wait_for(lambda: dep.view("/pitboss/stats/")["totals"]["profiles"] >= 2, what="profiles")

    t0 = int(time.time() * 1000) - 30 * MIN
    codec = AvroCodec("PlayerCommand")
    opt_ins = [{**command(p, f"in-{p}", t0, "OPT_IN"), "target_id": "sprint"} for p in (done, late)]
    opt_ins.append({**command(late, "in-again", t0 + 1, "OPT_IN"), "target_id": "sprint"})
    dep.produce(
        topics.player_commands, [(c["player_id"].encode(), codec.encode(c), None) for c in opt_ins]
    )
    outcomes = dep.consume(topics.command_outcomes, "JournalEntry", lambda es: len(es) >= 3)
    assert {(e["details"]["command_id"], e["reason"]) for e in outcomes} == {
        ("in-again", "already_in"),
        (f"in-{done}", "opt_in"),
        (f"in-{late}", "opt_in"),
    }

    def bet(player: str, at: int, stake: int = 2500) -> dict:
        stake_part = {"bet_type": "main", "stake_minor": stake, "currency": "EUR"}
        return table_event(player_id=player, bet=stake_part, occurred_at=at)

    big = bet(done, t0 + 3 * MIN, 60_000)
    events = [bet(done, t0 + MIN), bet(done, t0 + 2 * MIN), big]
    events += [bet(late, t0 + MIN), bet(late, t0 + 20 * MIN)]  # the second after the deadline
    dep.produce_events(events)

    rewards = dep.consume(
        topics.rewards, "Reward", lambda rs: any(r["rule_id"] == "level:2" for r in rs)
    )
    [xp] = [r for r in rewards if r["rule_id"] == "sprint"]
    [level] = [r for r in rewards if r["rule_id"] == "level:2"]
    assert (xp["player_id"], xp["trigger_event_ids"]) == (done, [big["event_id"]])
    assert (level["kind"], level["amount"], level["player_id"]) == ("POINTS", 100, done)
    assert level["reward_id"] == reward_id("level:2", 1, [big["event_id"]])

    def expired(es: list[dict]) -> list[dict]:
        return [e for e in es if e["details"].get("state") == "expired"]

    journal = dep.consume(topics.journal, "JournalEntry", lambda es: bool(expired(es)))
    [ended] = expired(journal)  # the latecomer's (the journal names players by pseudonym)
    assert (ended["rule_id"], ended["event_time"], ended["details"]["step"]) == (
        "sprint",
        t0 + 10 * MIN,
        "1",
    )
    steps = [e["details"].get("task") for e in journal if e["decision"] == "MISSION_PROGRESS"]
    assert sorted(map(str, steps)) == ["None", "bets", "bets", "bets", "big"]

    dep.wait_quiet()
    outcome = asyncio.run(asyncio.wait_for(run_replay(dep.settings, ReplayOptions()), 120))
    report = outcome.report
    assert report.mismatch_total == 0 and report.ambiguous_count == 0, report.mismatches[:3]
    assert report.matches == report.decisions >= 10


#: a voucher the player must claim within an hour of buying it
VOUCHER = {
    "id": "voucher",
    "price": 100,
    "reward": {"kind": "FREE_SIDE_BET", "amount": 1, "claim": {"within": "1h"}},
}


def test_a_claimed_reward_is_published_on_its_claim_once_and_replays(
    dep: Deployment, tmp_path: Path
):
    doc = default_document()
    doc["store"].append(VOUCHER)
    rules = tmp_path / "claims.yaml"
    rules.write_text(yaml.safe_dump(doc, sort_keys=False))
    published, _ = asyncio.run(push(dep.settings, rules))
    dep.start_worker()
    wait_for(lambda: dep.view("/pitboss/rules/")["revision"] == published["revision"], what="live")
    topics = dep.settings.topics
    player = "p-claimer"
    dep.produce_profiles([profile(player, country="GB")])
    wait_for(lambda: dep.view("/pitboss/stats/")["totals"]["profiles"] >= 1, what="profile")

    t0 = int(time.time() * 1000) - 30 * MIN
    stake = {"bet_type": "main", "stake_minor": 50_000, "currency": "EUR"}  # 500 points
    dep.produce_events([table_event(player_id=player, bet=stake, occurred_at=t0)])
    dep.consume(topics.rewards, "Reward", lambda rs: any(r["kind"] == "POINTS" for r in rs))

    voucher = reward_id("store:voucher", 1, ["cmd:buy-voucher"])
    codec = AvroCodec("PlayerCommand")
    commands = [
        command(player, "buy-voucher", t0 + MIN, item_id="voucher"),
        command(player, "claim-1", t0 + 2 * MIN, "CLAIM", reward_id=voucher),
        command(player, "claim-2", t0 + 3 * MIN, "CLAIM", reward_id=voucher),
        command(player, "claim-3", t0 + 4 * MIN, "CLAIM", reward_id="rw-none"),
    ]
    dep.produce(
        topics.player_commands, [(player.encode(), codec.encode(c), None) for c in commands]
    )
    outcomes = dep.consume(topics.command_outcomes, "JournalEntry", lambda es: len(es) >= 4)
    answered = [(e["details"]["command_id"], e["reason"]) for e in outcomes]
    assert answered == [
        ("buy-voucher", "purchase"),
        ("claim-1", "claim"),
        ("claim-2", "already_claimed"),
        ("claim-3", "unknown_reward"),
    ]
    assert outcomes[1]["reward_id"] == voucher and outcomes[0]["details"]["balance"] == "400"

    journal = dep.consume(
        topics.journal, "JournalEntry", lambda es: any(e["reward_id"] == voucher for e in es)
    )
    [pending] = [
        e for e in journal if e["decision"] == "REWARD_ISSUED" and e["reward_id"] == voucher
    ]
    assert pending["details"]["claim"] == "pending"
    assert pending["details"]["claim_by"] == str(t0 + MIN + 60 * MIN)
    dep.wait_quiet()
    rewards = dep.consume(
        topics.rewards, "Reward", lambda rs: any(r["reward_id"] == voucher for r in rs)
    )
    # published once, on the claim (not on the purchase, not on the second claim)
    assert [r["kind"] for r in rewards if r["reward_id"] == voucher] == ["FREE_SIDE_BET"]
    outcome = asyncio.run(asyncio.wait_for(run_replay(dep.settings, ReplayOptions()), 120))
    report = outcome.report
    assert report.mismatch_total == 0 and report.ambiguous_count == 0, report.mismatches[:3]
    assert report.matches == report.decisions >= 6
