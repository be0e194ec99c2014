"""A/B tests that measure (``app.core.experiments``): the holdout split is stable per player
and at the configured share, independent of the variant split; every arm's firing is
journaled EXPOSED, the held-out's and a zero arm's too; and the replay reproduces it."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import yaml

from app.audit import offline
from app.audit.model import ReplayRange
from app.audit.replay import replay_records
from app.audit.revisions import Revision, RevisionBook
from app.core import Engine
from app.core.compile import RulesetError, compile_ruleset
from app.core.experiments import HOLDOUT, TREATED, arm_of, held_out
from app.pipeline.ingest import Ingest
from app.rules.versioning import assign_versions
from app.settings import TopicNames
from tests.support.factories import ERASURE_KEY, ms, table_event
from tests.support.rulesets import PLAYER, ruleset, run

T0 = ms("2026-11-24T12:00:00Z")
#: fixed ids: the same players every run, so the shares below are exact, not flaky
PLAYERS = [f"p-{i:06d}" for i in range(4000)]

AB = """
ruleset: ab-test
experiments: {holdout: 0.05}
rules:
  - id: welcome-ab
    events: [PLAYER_JOINED]
    holdout: 0.1
    reward: {kind: POINTS, amount: 10}
    variants:
      - {name: A, weight: 1}
      - {name: B, weight: 1, reward: {amount: 20}}
      - {name: none, weight: 1, reward: {amount: 0}}
  - id: plain
    events: [PLAYER_JOINED]
    reward: {kind: POINTS, amount: 5}
"""


def joined(player: str, occurred_at: int = T0) -> dict:
    return table_event(
        event_type="PLAYER_JOINED", bet=None, player_id=player, occurred_at=occurred_at
    )


def within(count: int, total: int, share: float) -> bool:
    """``count`` of ``total`` is within five standard deviations of ``share``."""
    spread = 5 * math.sqrt(total * share * (1 - share))
    return abs(count - total * share) <= spread


def test_the_holdout_is_stable_per_player_and_at_the_configured_share():
    rules = ruleset(AB)
    rule = rules.rule("welcome-ab")
    arms = {p: arm_of(rule, p, rules.holdout) for p in PLAYERS}
    assert arms == {p: arm_of(rule, p, rules.holdout) for p in PLAYERS}  # stable
    # 5 % globally, then 10 % of the rest: 14.5 % held out
    held = sum(a == HOLDOUT for a in arms.values())
    assert within(held, len(PLAYERS), 0.05 + 0.95 * 0.1)
    # the arms stay balanced: the holdout hash is independent of the variant split
    counts = Counter(a for a in arms.values() if a != HOLDOUT)
    assert set(counts) == {"A", "B", "none"}
    for name in counts:
        assert within(counts[name], len(PLAYERS) - held, 1 / 3)


def test_the_global_holdout_is_the_same_players_for_every_rule():
    rules = ruleset(AB)
    a, b = rules.rule("welcome-ab"), rules.rule("plain")
    only_global = [p for p in PLAYERS if held_out(b, p, rules.holdout)]
    assert within(len(only_global), len(PLAYERS), 0.05)
    assert all(held_out(a, p, rules.holdout) for p in only_global)
    # the rule's own holdout hashes rule and player: a different 10 % for another rule
    other = compile_ruleset({"rules": [{**ruleset_doc()["rules"][0], "id": "other-ab"}]})
    other_rule = other.rule("other-ab")
    own = {p for p in PLAYERS if held_out(a, p, 0)}
    assert own != {p for p in PLAYERS if held_out(other_rule, p, 0)}
    assert within(len(own), len(PLAYERS), 0.1)


def ruleset_doc() -> dict:
    return yaml.safe_load(AB)


def test_every_arm_is_exposed_and_only_the_held_out_and_the_zero_arm_get_nothing():
    engine = Engine(ruleset(AB))
    seen: Counter[tuple[str, str]] = Counter()
    for player in PLAYERS[:600]:
        _, out = run(engine, [joined(player)])
        exposures = [e for e in out.journal if e["decision"] == "EXPOSED"]
        by_rule = {e["rule_id"]: e for e in exposures}
        assert set(by_rule) == {"welcome-ab", "plain"}  # the global holdout measures both
        ab = by_rule["welcome-ab"]
        arm, granted = ab["details"]["arm"], ab["details"]["granted"]
        assert ab["reason"] == arm and arm == arm_of(
            engine.ruleset.rule("welcome-ab"), player, 0.05
        )
        rewards = {r["rule_id"]: r for r in out.rewards}
        if arm in (HOLDOUT, "none"):
            assert granted == "false" and "welcome-ab" not in rewards
        else:
            assert granted == "true"
            assert rewards["welcome-ab"]["amount"] == {"A": 10, "B": 20}[arm]
            assert rewards["welcome-ab"]["reward_id"] == ab["reward_id"]
        plain = by_rule["plain"]["details"]
        assert plain["arm"] in (HOLDOUT, TREATED)
        assert (plain["granted"] == "true") == ("plain" in rewards) == (plain["arm"] == TREATED)
        # the exposure comes first, before what the firing issued
        first = out.journal.index(ab)
        assert all(
            out.journal.index(e) > first
            for e in out.journal
            if e["decision"] == "REWARD_ISSUED" and e["rule_id"] == "welcome-ab"
        )
        seen[arm, granted] += 1
    assert {("A", "true"), ("B", "true"), ("none", "false"), (HOLDOUT, "false")} <= set(seen)


def test_a_rule_without_variants_or_holdout_journals_no_exposure():
    engine = Engine(ruleset(AB.replace("experiments: {holdout: 0.05}\n", "")))
    _, out = run(engine, [joined(PLAYERS[0])])
    assert [e["rule_id"] for e in out.journal if e["decision"] == "EXPOSED"] == ["welcome-ab"]
    assert any(e["rule_id"] == "plain" for e in out.journal)


def test_a_held_out_player_is_exposed_again_on_each_firing_with_its_own_entry():
    engine = Engine(ruleset(AB))
    rule = engine.ruleset.rule("welcome-ab")
    player = next(p for p in PLAYERS if arm_of(rule, p, 0.05) == HOLDOUT)
    _, out = run(engine, [joined(player), joined(player)])
    exposures = [e for e in out.journal if e["rule_id"] == "welcome-ab"]
    assert [e["decision"] for e in exposures] == ["EXPOSED", "EXPOSED"]
    assert len({e["entry_id"] for e in exposures}) == 2
    assert not [r for r in out.rewards if r["rule_id"] == "welcome-ab"]


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"experiments": {"holdout": 1}, "rules": []}, "experiments.holdout"),
        ({"experiments": {"holdout": -0.1}, "rules": []}, "experiments.holdout"),
        ({"experiments": {"holdout": "5%"}, "rules": []}, "experiments.holdout"),
        ({"experiments": {"share": 0.1}, "rules": []}, "experiments.share"),
        ({"experiments": [0.1], "rules": []}, "experiments"),
    ],
)
def test_bad_experiment_settings_are_refused_with_their_path(doc, path):
    with pytest.raises(RulesetError) as caught:
        compile_ruleset(doc)
    assert caught.value.path == path


def test_a_rule_holdout_out_of_range_or_a_variant_named_holdout_is_refused():
    doc = ruleset_doc()
    doc["rules"][0]["holdout"] = 1.5
    with pytest.raises(RulesetError, match=r"rules\[0\].holdout"):
        compile_ruleset(doc)
    doc = ruleset_doc()
    doc["rules"][0]["variants"][0]["name"] = "holdout"
    with pytest.raises(RulesetError, match=r"variants\[0\].name"):
        compile_ruleset(doc)


def test_exposures_replay_to_exactly_the_journal():
    topics = TopicNames.from_env({})
    ingest = Ingest(topics, 3, erasure_key=ERASURE_KEY)
    events = [
        joined(p, occurred_at=T0 + i * 1000 + n)
        for n in range(2)
        for i, p in enumerate(PLAYERS[:80])
    ]
    records = offline.records_of(ingest, events, (), T0 - 1000)
    doc = assign_versions(ruleset_doc(), None, 0, "test")
    book = RevisionBook([Revision(1, T0 - 60_000, doc)], lambda rs: Engine(rs, "UTC"))
    secrets: dict[str, bytes] = {}
    journal = offline.worker_journal(ingest, records, lambda _t: book.engine(1), 7, secrets)
    entries = [e for copies in journal.values() for _o, e in copies]
    exposures = [e for e in entries if e["decision"] == "EXPOSED"]
    assert {e["details"]["arm"] for e in exposures} >= {HOLDOUT, "A", "B", "none", TREATED}
    report = replay_records(ingest, book, ReplayRange(), records, journal, secrets)
    assert report.mismatch_total == 0 and report.ambiguous_count == 0, report.mismatches[:3]
    assert report.matches == len(entries)


def test_an_arm_whose_grant_a_guard_holds_back_is_exposed_as_not_granted():
    engine = Engine(ruleset(AB))
    rule = engine.ruleset.rule("welcome-ab")
    player = next(p for p in PLAYERS if arm_of(rule, p, 0.05) == "B")
    excluded = {**PLAYER, "player_id": player, "self_excluded": True}
    _, out = run(engine, [joined(player)], excluded)
    [exposed] = [
        e for e in out.journal if e["rule_id"] == "welcome-ab" and e["decision"] == "EXPOSED"
    ]
    assert exposed["details"] == {"arm": "B", "granted": "false", "revision": "0"}
    assert out.rewards == [] and any(e["decision"] == "REWARD_SUPPRESSED" for e in out.journal)
