"""The console's Rules in a real browser against a real worker, its archive and PostgreSQL: a
crm_manager reads a rule's figures from the archive, edits the ruleset, validates and diffs it,
runs a what-if that doubles a reward's amount and sees the doubling, and pushes; the shipped
access.yaml wants a second approver, so another crm_manager approves, and the page shows the
revision the worker switched to. Support cannot open the Rules nor push; every push and
approval is in the access log. Screenshots are kept (tests/browser/driver.py).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from app.contract.codec import AvroCodec
from app.devtools.deployment import Deployment, wait_for
from app.rules import DEFAULT_RULESET_PATH
from tests.browser.driver import Browser
from tests.e2e.test_console_browser_e2e import log_in
from tests.support.console import console_deployment
from tests.support.factories import natural
from tests.unit.archive.test_archive import pg  # noqa: F401  (PostgreSQL or a clear failure)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

RULE = "first-natural-blackjack-of-day"  # 10 XP, once per player and day
PLAYERS = [f"p-rules-{i}" for i in range(3)]
MINUTE = 60_000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, pg: str) -> Iterator[Deployment]:  # noqa: F811
    with console_deployment(tmp_path_factory.mktemp("console-rules"), "console_rules") as dep:
        start = int(time.time() * 1000) - 30 * MINUTE
        dep.produce_events([natural(player_id=p, occurred_at=start) for p in PLAYERS])

        def archived() -> bool:
            try:
                found = dep.view(f"/pitboss/timeline/{PLAYERS[-1]}/?decision=REWARD_ISSUED")
                return bool(found["items"])
            except urllib.error.HTTPError:  # 503 until the archive has its tables
                return False

        wait_for(archived, timeout=60, what="the archive to hold the rewards")
        yield dep


def post(url: str, body: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def numbers(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]


def test_a_crm_manager_tries_a_doubled_reward_and_pushes_it_with_a_second_approval(served):
    rules_page = served.web_url + "/console/rules/"
    with Browser() as alice:
        log_in(alice, rules_page, served.token("crm_manager", subject="alice"))
        # the rule's figures from the archive: three players, 10 XP each
        row = f"#figures tr[data-rule='{RULE}'][data-version='1']"
        assert (alice.text(f"{row} .fires"), alice.text(f"{row} .players")) == ("3", "3")
        assert alice.text(f"{row} .amounts") == "30 XP"
        assert alice.count(f"#daily-chart g.line[data-label='{RULE} XP'] circle") == 8
        assert f"{RULE} XP (30)" in alice.text("#daily-chart figcaption")
        # an edit that breaks the file: every problem with its line
        shipped = alice.wait_until("() => document.getElementById('yaml').value")
        line = shipped.splitlines().index("      amount: 10") + 1
        alice.fill("#yaml", shipped.replace("amount: 10\n", "amount: ten\n", 1))
        alice.click("#validate")
        assert f"rules.yaml:{line}: rule {RULE}: reward.amount" in alice.text("#result.bad")
        # double the reward: valid, and the diff names the rule's next version
        alice.fill("#yaml", shipped.replace("amount: 10\n", "amount: 20\n", 1))
        alice.click("#validate")
        alice.wait_until("() => document.getElementById('result').textContent.startsWith('valid')")
        alice.click("#diff")
        assert f"{RULE} v1 -> v2" in alice.wait_until(
            "() => { const t = document.getElementById('result').textContent;"
            " return t.includes('->') && t; }"
        )
        # the what-if over the default days: the recorded 30 XP become 60
        alice.click("#whatif")
        alice.wait_until("() => document.getElementById('whatif-status').dataset.state === 'done'")
        amounts = alice.text(f"#whatif-result tr[data-rule='{RULE}'] td.amounts")
        assert amounts.startswith("XP") and "\u00d72" in amounts
        before, after, _ = numbers(amounts)
        assert (before, after) == (30, 60)
        assert alice.count(f"#whatif-result tr.changed[data-rule='{RULE}']") == 1
        assert alice.count("#whatif-result tr.changed") == 1
        alice.screenshot("console-rules-what-if")
        # push: the shipped access.yaml wants a second crm_manager
        alice.click("#push")
        assert "Waiting for a second crm_manager" in alice.wait_until(
            "() => { const t = document.getElementById('result').textContent;"
            " return t.startsWith('Waiting') && t; }"
        )
        assert alice.text("#revision") == "0"
    with Browser() as bob:
        log_in(bob, rules_page, served.token("crm_manager", subject="bob"))
        assert f"{RULE} v1 -> v2" in bob.text("#pending .request")
        bob.click("#pending button.approve")
        bob.wait_until("() => document.getElementById('result').textContent.startsWith('Approved')")

        def switched() -> bool:
            bob.goto(rules_page)
            return bob.text("#revision") == "1"

        wait_for(switched, timeout=30, what="the worker to run revision 1")
        assert "none published yet" not in bob.text("main")
        bob.screenshot("console-rules-pushed")
    # every push and approval is in the access log, under the person's name
    logged = served.consume(
        served.settings.topics.access_log,
        "AccessLogEntry",
        lambda found: any("published ruleset default revision 1" in e["reason"] for e in found),
    )
    asked = [e for e in logged if e["subject"] == "alice" and "waits for a second" in e["reason"]]
    approved = [e for e in logged if "published ruleset default revision 1" in e["reason"]]
    assert asked and asked[0]["permission"] == "rules.push"
    assert [e["subject"] for e in approved] == ["bob"]
    assert "console by alice, approved by bob" in approved[0]["reason"]


def interaction(player: str, reward_id: str, action: str, n: int) -> dict:
    """A ``PlayerInteraction`` as the player gateway posts it (rule filled from the reward)."""
    now = int(time.time() * 1000)
    return {
        "interaction_id": f"i-{player}-{n}",
        "player_id": player,
        "action": action,
        "reward_id": reward_id,
        "message_id": None,
        "rule_id": RULE,
        "variant": None,
        "surface": "reward-toast",
        "occurred_at": now,
        "recorded_at": now,
    }


def test_the_rule_page_shows_click_through_per_variant(served):
    """Players' interactions, on their topic as the gateway writes them, are journaled by the
    worker, archived, and counted on the Rules page per rule and variant."""
    rewards = {
        player: served.view(f"/pitboss/timeline/{player}/?decision=REWARD_ISSUED")["items"][0][
            "reward_id"
        ]
        for player in PLAYERS
    }
    first, second, _ = PLAYERS
    answers = [
        interaction(first, rewards[first], "SHOWN", 1),
        interaction(first, rewards[first], "CLICKED", 2),
        interaction(first, rewards[first], "CLAIMED", 3),
        interaction(second, rewards[second], "SHOWN", 4),
        interaction(second, rewards[second], "DISMISSED", 5),
    ]
    codec = AvroCodec("PlayerInteraction")
    served.produce(
        served.settings.topics.player_interactions,
        [(a["player_id"].encode(), codec.encode(a), None) for a in answers],
    )

    def archived() -> bool:
        found = served.view(f"/pitboss/timeline/{second}/?decision=INTERACTION_RECORDED")
        return len(found["items"]) == 2

    wait_for(archived, timeout=60, what="the archive to hold the interactions")
    with Browser() as alice:
        log_in(alice, served.web_url + "/console/rules/", served.token("crm_manager"))
        row = f"#engagement tr[data-rule='{RULE}'][data-variant='']"
        cells = {c: alice.text(f"{row} .{c}") for c in ("issued", "shown", "clicked", "ctr")}
        assert cells == {"issued": "3", "shown": "2", "clicked": "1", "ctr": "50%"}, cells
        assert (alice.text(f"{row} .claimed"), alice.text(f"{row} .dismissed")) == ("1", "1")
        alice.screenshot("console-rules-click-through")


def test_a_push_cannot_be_approved_by_the_person_who_asked(served):
    token = served.token("crm_manager", subject="carol")
    candidate = DEFAULT_RULESET_PATH.read_text(encoding="utf-8").replace(
        "amount: 10\n", "amount: 30\n", 1
    )
    status, asked = post(served.web_url + "/console/api/rules/push", {"yaml": candidate}, token)
    assert status == 202 and asked["status"] == "pending", asked
    approve = f"/console/api/rules/pushes/{asked['request_id']}/approve"
    status, refused = post(served.web_url + approve, {}, token)
    assert (status, refused["error"]) == (403, "refused") and "second person" in refused["detail"]
    status, bad = post(served.web_url + "/console/api/rules/validate", {"yaml": "rules: ["}, token)
    assert status == 400 and bad["problems"] and bad["problems"][0]["line"]
    too_long = {"yaml": candidate, "from": "2020-01-01"}
    status, bad = post(served.web_url + "/console/api/rules/whatif", too_long, token)
    assert status == 400 and "at most" in bad["detail"]


def test_support_cannot_open_the_rules_nor_push(served):
    token = served.token("support", subject="sam")
    with Browser() as sam:
        log_in(sam, served.web_url + "/console/players/", token)
        assert sam.goto(served.web_url + "/console/rules/") == 403
        assert "rules.read" in sam.text("#refusal")
        sam.screenshot("console-rules-forbidden")
    status, refused = post(served.web_url + "/console/api/rules/push", {"yaml": "x"}, token)
    assert (status, refused["error"]) == (403, "forbidden")
