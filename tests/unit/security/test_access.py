"""Roles and permissions as data: every shipped role gets exactly its permissions, the VIP
restriction and field limits hold, and a broken access.yaml is reported by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.security.access import (
    DEFAULT_ACCESS_FILE,
    SCHEMA_PATH,
    load_access_file,
    redact_entries,
    strip_fields,
)
from app.security.documents import SecurityFileError
from app.security.permissions import CATALOGUE
from app.security.principal import Kind, Principal

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"

#: What each shipped role may do; the test fails if access.default.yaml grants more or less.
EXPECTED = {
    "support": {"player.read", "timeline.read", "api.read"},
    "crm_manager": {"rules.read", "rules.whatif", "rules.push", "stats.read", "api.read"},
    "rg_officer": {
        "player.read",
        "player.read.rg",
        "player.read.deposits",
        "timeline.read",
        "rg.write",
        "api.read",
    },
    "analyst": {"stats.read", "replay.run", "rules.read", "api.read"},
    "auditor": {name for name, p in CATALOGUE.items() if not p.changes},
    "monitoring": {"metrics.read"},
    "admin": {"player.forget", "settings.read", "topics.admin", "debug.read", "api.read"},
}


def staff(*roles: str, amr=("pwd", "mfa"), kind=Kind.STAFF) -> Principal:
    return Principal("alice", kind, frozenset(roles), frozenset(amr))


def test_every_role_gets_exactly_its_permissions(policy):
    assert set(policy.roles) == set(EXPECTED)
    for role, allowed in EXPECTED.items():
        granted = {p for p in CATALOGUE if policy.authorize(staff(role), p).allowed}
        assert granted == allowed, role


def test_the_auditor_changes_nothing(policy):
    changes = {name for name, p in CATALOGUE.items() if p.changes}
    assert changes and not any(policy.authorize(staff("auditor"), p).allowed for p in changes)


def test_roles_add_up_and_unknown_roles_and_permissions_grant_nothing(policy):
    both = staff("support", "analyst")
    assert policy.authorize(both, "timeline.read").allowed
    assert policy.authorize(both, "replay.run").allowed
    assert not policy.authorize(staff("superuser"), "player.read").allowed
    assert not policy.authorize(staff(), "player.read").allowed
    decision = policy.authorize(staff("auditor"), "everything.read")
    assert not decision.allowed and "not a permission" in decision.reason


def test_a_role_requiring_mfa_is_a_step_up_without_it(policy):
    pwd_only = staff("rg_officer", amr=("pwd",))
    decision = policy.authorize(pwd_only, "player.read.rg")
    assert not decision.allowed and decision.step_up
    assert "mfa" in decision.reason
    assert policy.authorize(staff("rg_officer"), "player.read.rg").allowed
    # support requires nothing: a password login may use it
    assert policy.authorize(staff("support", amr=("pwd",)), "player.read").allowed
    # a machine key has no login to be strong: its roles are the keys file's grant
    machine = Principal("pbk_abc", Kind.MACHINE, frozenset({"rg_officer"}))
    assert policy.authorize(machine, "player.read.rg").allowed


def test_acr_requirement(tmp_path):
    path = tmp_path / "access.yaml"
    path.write_text("roles:\n  r:\n    permissions: [stats.read]\n    require_acr: [gold]\n")
    policy = load_access_file(path)
    assert not policy.authorize(Principal("a", Kind.CLI, frozenset({"r"})), "stats.read").allowed
    ok = Principal("a", Kind.CLI, frozenset({"r"}), acr="gold")
    assert policy.authorize(ok, "stats.read").allowed


@pytest.mark.parametrize("tier", ["PLATINUM", "DIAMOND", "diamond"])
def test_vip_players_are_refused_to_uncleared_roles(policy, tier):
    refused = policy.authorize(staff("support"), "player.read", tier)
    assert not refused.allowed and not refused.step_up
    assert "cleared" in refused.reason
    assert policy.authorize(staff("rg_officer"), "player.read", tier).allowed
    assert policy.authorize(staff("auditor"), "timeline.read", tier).allowed


@pytest.mark.parametrize("tier", [None, "NONE", "GOLD"])
def test_other_tiers_are_not_restricted(policy, tier):
    assert policy.authorize(staff("support"), "player.read", tier).allowed


def test_the_clearance_must_come_with_the_granting_role(policy):
    # admin is not cleared, rg_officer is; reading a DIAMOND player needs a cleared role that
    # grants the read, which rg_officer does
    assert policy.authorize(staff("admin", "rg_officer"), "player.read", "DIAMOND").allowed
    # support grants timeline.read but is not cleared; admin is cleared for nothing
    assert not policy.authorize(staff("support", "admin"), "timeline.read", "DIAMOND").allowed


VIEW = {
    "player_id": "p-1",
    "state": {"xp": 10},
    "profile": {
        "vip_tier": "GOLD",
        "harm_flags": ["chasing"],
        "self_excluded": False,
        "consents": [{"product": "casino", "channel": "email", "granted": True}],
        "last_deposit": {"amount_minor": 5000, "currency": "EUR", "at": 1},
        "segments": ["high-roller"],
    },
}


def test_support_sees_the_player_without_restricted_fields(policy):
    decision = policy.authorize(staff("support"), "player.read")
    assert decision.fields_hidden == (
        "consents",
        "cooldown",
        "deposits",
        "harm_flags",
        "last_deposit",
        "self_excluded",
    )
    view = strip_fields(VIEW, decision.fields_hidden)
    assert view["profile"] == {"vip_tier": "GOLD", "segments": ["high-roller"]}
    assert view["state"] == {"xp": 10}
    assert VIEW["profile"]["harm_flags"] == ["chasing"]  # the input is untouched


def test_rg_officer_and_auditor_see_what_they_are_cleared_for(policy):
    rg = policy.authorize(staff("rg_officer"), "player.read")
    assert rg.fields_hidden == ("consents",)
    assert "harm_flags" in strip_fields(VIEW, rg.fields_hidden)["profile"]
    assert policy.authorize(staff("auditor"), "player.read").fields_hidden == ()
    assert strip_fields(VIEW, ()) is VIEW


def test_timeline_entries_lose_their_cooldown_for_support(policy):
    entries = [
        {"decision": "COOLDOWN_STARTED", "cooldown": {"reason": "loss streak", "ends_at": 5}},
        {"decision": "REWARD_ISSUED", "reward": {"kind": "points"}, "cooldown": None},
    ]
    hidden = policy.authorize(staff("support"), "timeline.read").fields_hidden
    assert strip_fields(entries, hidden) == [
        {"decision": "COOLDOWN_STARTED"},
        {"decision": "REWARD_ISSUED", "reward": {"kind": "points"}},
    ]


ENTRIES = [
    {
        "decision": "REWARD_SUPPRESSED",
        "reason": "harm_flag",
        "details": {"explain": "harm flags on the profile: chasing_losses", "amount": "0"},
    },
    {"decision": "COOLDOWN_STARTED", "reason": "rapid_loss_count", "details": {"losses": "8"}},
    {"decision": "REWARD_SUPPRESSED", "reason": "no_consent", "details": {"explain": "email"}},
    {"decision": "REWARD_ISSUED", "reason": None, "details": {"amount": "10"}},
]


def test_timeline_entries_that_reveal_rg_fields_say_only_that_a_protection_applied(policy):
    hidden = policy.authorize(staff("support"), "timeline.read").fields_hidden
    seen = redact_entries(ENTRIES, hidden)
    assert [e["reason"] for e in seen] == [
        "responsible_gaming",
        "responsible_gaming",
        "no_consent",
        None,
    ]
    assert seen[0]["details"] == {} and seen[1]["details"] == {}
    assert seen[2:] == ENTRIES[2:]  # nothing else changes
    assert "chasing" not in json.dumps(seen)
    assert ENTRIES[0]["reason"] == "harm_flag"  # the input is untouched


def test_an_rg_officer_reads_the_entries_whole(policy):
    hidden = policy.authorize(staff("rg_officer"), "timeline.read").fields_hidden
    assert redact_entries(ENTRIES, hidden) == ENTRIES


def test_second_approver_flag(policy):
    assert policy.authorize(staff("crm_manager"), "rules.push").second_approver
    assert not policy.authorize(staff("crm_manager"), "rules.read").second_approver


def test_the_tiers_are_the_contracts_vip_tiers():
    schema = json.loads(SCHEMA_PATH.read_text())
    avro = json.loads((SCHEMAS / "PlayerProfile.avsc").read_text())
    (vip,) = [f for f in avro["fields"] if f["name"] == "vip_tier"]
    assert schema["$defs"]["tier"]["enum"] == vip["type"]["symbols"]


def problems(tmp_path, text: str) -> list[str]:
    path = tmp_path / "access.yaml"
    path.write_text(text)
    with pytest.raises(SecurityFileError) as caught:
        load_access_file(path)
    return [str(p) for p in caught.value.problems]


def test_problems_name_file_line_and_field(tmp_path):
    found = problems(
        tmp_path,
        "restricted_tiers: [DIAMOND]\n"
        "roles:\n"
        "  support:\n"
        "    permissions: [player.read, timeline.raed]\n"
        "    cleared_tiers: [GOLD]\n"
        "fields:\n"
        "  harm_flags: player.read.harm\n",
    )
    where = tmp_path / "access.yaml"
    assert found == [
        f"{where}:4: roles.support.permissions[1]: 'timeline.raed' is not a permission Pitboss "
        "knows (did you mean 'timeline.read'?)",
        f"{where}:5: roles.support.cleared_tiers[0]: GOLD is not in restricted_tiers",
        f"{where}:7: fields.harm_flags: 'player.read.harm' is not a permission Pitboss knows "
        "(did you mean 'player.read.rg'?)",
    ]


def test_schema_problems(tmp_path):
    found = problems(
        tmp_path,
        "roles:\n  support:\n    permisions: [player.read]\n  Bad Name:\n    permissions: []\n"
        "restricted_tiers: [VIP]\n",
    )
    text = "\n".join(found)
    assert ":3: roles.support.permisions: unknown field (did you mean 'permissions'?)" in text
    assert "roles.support.permissions: is required but missing" in text
    assert ":4: roles.Bad Name: is not a valid name" in text
    assert ":6: restricted_tiers[0]: 'VIP' is not one of NONE" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("roles: [\n", "not valid YAML"),
        ("roles:\n  a: {permissions: []}\n  a: {permissions: []}\n", "is given twice"),
        ("roles: {}\n", "must not be empty"),
    ],
)
def test_broken_files(tmp_path, text, message):
    assert message in "\n".join(problems(tmp_path, text))


def test_a_missing_file(tmp_path):
    with pytest.raises(SecurityFileError, match="No such file"):
        load_access_file(tmp_path / "nope.yaml")


def test_the_shipped_file_is_the_default():
    assert load_access_file(DEFAULT_ACCESS_FILE).roles.keys() == EXPECTED.keys()


def test_a_deposit_flag_for_the_aml_team_keeps_its_figures_from_the_support_desk(policy):
    flagged = {
        "decision": "DEPOSIT_FLAGGED",
        "reason": "amount_over",
        "details": {"amount_minor": "250000", "market": "IT"},
    }
    hidden = policy.authorize(staff("support"), "timeline.read").fields_hidden
    [seen] = redact_entries([flagged], hidden)
    assert (seen["reason"], seen["details"]) == ("responsible_gaming", {})
    hidden = policy.authorize(staff("rg_officer"), "timeline.read").fields_hidden
    assert redact_entries([flagged], hidden) == [flagged]
