"""Rule versions change exactly when behaviour changes; revisions when anything does."""

from __future__ import annotations

import copy

import pytest

from app.rules import compile_document, default_document
from app.rules.versioning import assign_versions, diff_documents, rule_hash

NOW = 1_795_000_000_000


@pytest.fixture
def live() -> dict:
    """The shipped ruleset as published once: revision 1, every rule v1."""
    return assign_versions(default_document(), None, NOW, "default.yaml")


def edited(doc: dict) -> dict:
    """A manager's working copy of a published document."""
    return copy.deepcopy(doc)


def rule(doc: dict, rule_id: str) -> dict:
    return next(r for r in doc["rules"] if r["id"] == rule_id)


def versions(doc: dict) -> dict[str, int]:
    return {r["id"]: r["version"] for r in doc["rules"]}


def test_first_publication_gives_every_rule_v1(live: dict) -> None:
    assert live["revision"] == 1 and live["levels_version"] == 1
    assert set(versions(live).values()) == {1}
    assert (live["published_at"], live["source"]) == (NOW, "default.yaml")
    assert compile_document(live).revision == 1


def test_an_unchanged_file_changes_nothing(live: dict) -> None:
    diff = diff_documents(default_document(), live)
    assert not diff.has_changes
    assert diff.versions == versions(live)
    assert diff.render() == "ruleset default: no changes from revision 1"


def test_writing_defaults_out_or_reordering_is_no_change(live: dict) -> None:
    doc = default_document()
    rule(doc, "baccarat-banker-x3")["trigger"]["period"] = "day"  # the default
    rule(doc, "explorer")["trigger"] = {"type": "event"}
    rule(doc, "wager-points")["multipliers"][0]["factor"] = 2.0
    rule(doc, "wager-points")["enabled"] = True
    assert not diff_documents(doc, live).has_changes


def test_a_behaviour_change_bumps_only_that_rule(live: dict) -> None:
    doc = default_document()
    rule(doc, "loss-streak-5")["trigger"]["length"] = 6
    diff = diff_documents(doc, live)
    published = assign_versions(doc, live, NOW + 1, "mine.yaml")
    assert published["revision"] == 2
    assert versions(published) == {**versions(live), "loss-streak-5": 2}
    assert rule(published, "loss-streak-5")["hash"] != rule(live, "loss-streak-5")["hash"]
    assert diff.render().splitlines() == [
        "ruleset default: revision 1 -> 2",
        "  loss-streak-5 v1 -> v2 (changed: trigger.length 5 -> 6)",
        "  5 rules unchanged",
    ]
    # and again: versions keep counting from the live document, not from the file
    rule(doc, "loss-streak-5")["trigger"]["length"] = 7
    assert versions(assign_versions(doc, published, NOW + 2, "x"))["loss-streak-5"] == 3


def test_a_description_change_is_a_new_revision_but_not_a_new_version(live: dict) -> None:
    doc = default_document()
    rule(doc, "explorer")["description"] = "Reworded."
    diff = diff_documents(doc, live)
    assert diff.has_changes
    assert diff.versions == versions(live)
    assert "explorer v1 (same version; description" in diff.render()
    assert assign_versions(doc, live, NOW, "x")["revision"] == 2


def test_switching_a_rule_off_keeps_its_version(live: dict) -> None:
    doc = default_document()
    rule(doc, "explorer")["enabled"] = False
    diff = diff_documents(doc, live)
    assert diff.versions["explorer"] == 1
    assert "explorer v1 (same version; switched off)" in diff.lines()


def test_changing_a_promo_bumps_the_rules_that_use_it(live: dict) -> None:
    doc = default_document()
    doc["promos"]["lightning-weekend"]["until"] = "2026-11-24T00:00:00Z"
    diff = diff_documents(doc, live)
    assert diff.versions == {**versions(live), "wager-points": 2}
    text = diff.render()
    assert 'promos.lightning-weekend.until "2026-11-23T00:00:00Z" -> "2026-11-24T00:00:00Z"' in text
    assert "wager-points v1 -> v2" in text


def test_a_new_rule_starts_at_v1(live: dict) -> None:
    doc = default_document()
    doc["rules"].append({"id": "vip", "events": ["PLAYER_JOINED"], "reward": {"kind": "XP"}})
    diff = diff_documents(doc, live)
    assert [(r.rule_id, r.status, r.new_version) for r in diff.of("added")] == [("vip", "added", 1)]
    assert "vip v1 (new)" in diff.render()


def test_a_removed_rule_that_comes_back_continues_its_numbering(live: dict) -> None:
    doc = default_document()
    rule(doc, "explorer")["once_per"] = "day"
    v2 = assign_versions(doc, live, NOW, "x")
    assert versions(v2)["explorer"] == 2
    without = edited(doc)
    without["rules"] = [r for r in without["rules"] if r["id"] != "explorer"]
    removed = assign_versions(without, v2, NOW, "x")
    assert removed["retired"] == {"explorer": 2}
    assert "explorer v2 (removed)" in diff_documents(without, v2).render()
    back = assign_versions(doc, removed, NOW, "x")
    assert versions(back)["explorer"] == 3
    assert "retired" not in back
    assert "explorer v3 (back; it was v2)" in diff_documents(doc, removed).render()


def test_levels_have_their_own_version(live: dict) -> None:
    doc = default_document()
    doc["levels"][0]["xp"] = 60
    published = assign_versions(doc, live, NOW, "x")
    assert published["levels_version"] == 2
    assert versions(published) == versions(live)
    assert "levels[0].xp 50 -> 60" in diff_documents(doc, live).render()
    doc["description"] = "New words."
    assert assign_versions(doc, published, NOW, "x")["levels_version"] == 2


def test_the_published_fields_of_a_candidate_are_ignored(live: dict) -> None:
    """A manager may start from the live document itself (`rules list` output, say)."""
    doc = edited(live)
    doc["revision"], rule(doc, "explorer")["version"] = 99, 42
    assert not diff_documents(doc, live).has_changes
    assert versions(assign_versions(doc, live, NOW, "x"))["explorer"] == 1


def test_the_hash_ignores_words_and_sees_behaviour() -> None:
    base = {"id": "r", "events": ["BET_PLACED"], "reward": {"kind": "POINTS", "amount": 1}}
    assert rule_hash(base) == rule_hash({**base, "description": "x", "version": 7})
    assert rule_hash(base) != rule_hash({**base, "reward": {"kind": "POINTS", "amount": 2}})
    assert rule_hash(base) != rule_hash({**base, "games": ["ROULETTE"]})


def test_the_protection_thresholds_are_versioned_like_levels():
    from app.rules.versioning import assign_versions

    base = {"ruleset": "default", "rules": [], "protection": {"daily_points_cap": 1000}}
    first = assign_versions(base, None, 1, "test")
    assert first["protection"] == {"daily_points_cap": 1000, "version": 1}
    same = assign_versions(base, first, 2, "test")
    assert same["protection"]["version"] == 1
    tighter = {**base, "protection": {"daily_points_cap": 500}}
    second = assign_versions(tighter, first, 3, "test")
    assert second["protection"] == {"daily_points_cap": 500, "version": 2}
    from app.rules import compile_document

    assert compile_document(second).protection.version == 2
    assert compile_document(second).protection.daily_points_cap == 500
