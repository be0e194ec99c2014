"""The console in a real browser (Debian's Chromium, driven by playwright-core) against a real
worker, its archive and PostgreSQL: log in by pasting a token, watch the overview move while
events are produced, read a player's timeline in words as support, and see that support is
not shown harm flags where an rg_officer is. Screenshots are kept (tests/browser/driver.py).

Beside the browser, the session cookie's limits: accepted on console routes only, and every
request it carries is in the access log under the token's subject.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from app.console.session import COOKIE
from app.devtools.deployment import Deployment, wait_for
from tests.browser.driver import Browser
from tests.support.console import console_deployment
from tests.support.factories import natural, profile, settled
from tests.unit.archive.test_archive import pg  # noqa: F401  (PostgreSQL or a clear failure)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

QUIET = "p-console-quiet"  # no profile, so no marketing consent: its cashback is held back
HARMED = "p-console-flagged"  # harm flags on its profile: its rewards are held back
FLAG = "chasing_losses"
MINUTE = 60_000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, pg: str) -> Iterator[Deployment]:  # noqa: F811
    with console_deployment(tmp_path_factory.mktemp("console"), "console") as dep:
        dep.produce_profiles([profile(HARMED, harm_flags=[FLAG])])
        # Kafka does not order profiles against events: the harm flag must be known first
        wait_for(lambda: dep.view("/pitboss/stats/")["totals"]["profiles"] >= 1, what="profile")
        start = int(time.time() * 1000) - 60 * MINUTE
        # five losses in a row, minutes apart (a streak, not a rapid-loss burst)
        events = [
            settled("LOSS", player_id=QUIET, occurred_at=start + i * 5 * MINUTE) for i in range(5)
        ]
        events.append(natural(player_id=HARMED, occurred_at=start))
        dep.produce_events(events)
        wait_for(
            lambda: dep.view("/pitboss/stats/")["totals"]["events"] >= len(events),
            what="the worker to decide every event",
        )
        yield dep


def wait_archived(dep: Deployment, player: str) -> None:
    """Until the archive holds the player's suppressed rewards."""

    def archived() -> bool:
        try:
            path = f"/pitboss/timeline/{player}/?decision=REWARD_SUPPRESSED"
            return bool(dep.view(path)["items"])
        except urllib.error.HTTPError:  # 503 until the archive has its tables
            return False

    wait_for(archived, timeout=60, what=f"the archive to hold {player}'s suppression")


def log_in(person: Browser, url: str, token: str) -> None:
    """Open ``url``, meet the login form, paste ``token``: the page asked for loads."""
    assert person.goto(url) == 401
    person.fill("#token", token)
    person.click_and_load("#login button[type=submit]")
    assert person.count("#login") == 0, person.text("main")


def test_an_anonymous_browser_is_shown_the_login_page(served):
    with Browser() as person:
        for path in ("/console/", "/console/players/p-1/", "/console/rules/"):
            assert person.goto(served.web_url + path) == 401, path
            assert "Paste your staff token" in person.text("main")
            assert person.count("#login textarea#token") == 1
        person.screenshot("console-login")
        # a wrong token is refused in the form, with the door's reason
        person.fill("#token", "not-a-token")
        person.click("#login button[type=submit]")
        assert person.text("#login-error:not([hidden])")
        assert person.cookies() == []


def test_crm_manager_sees_the_overview_move_while_events_are_produced(served):
    token = served.token("crm_manager", subject="console-crm")
    with Browser() as person:
        log_in(person, served.web_url + "/console/", token)
        [cookie] = person.cookies()
        assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
            COOKIE,
            True,
            "Strict",
            "/console/",
        )
        first = person.wait_until(
            "() => { const t = document.getElementById('total-events').textContent;"
            " return t !== '-' && t; }"
        )
        before = int(first.replace(",", ""))
        now = int(time.time() * 1000)
        served.produce_events(
            [natural(player_id=f"p-console-live-{i}", occurred_at=now) for i in range(20)]
        )
        after = person.wait_until(
            "(before) => { const n = Number(document.getElementById('total-events')"
            ".textContent.replace(/,/g, '')); return n >= before + 20 && n; }",
            before,
        )
        assert after >= before + 20
        assert "first-natural-blackjack-of-day" in person.wait_until(
            "() => document.querySelector('#rewards_by_rule [data-label]')"
            " && document.getElementById('rewards_by_rule').innerText"
        )
        assert person.count("#rates polyline") == 2
        assert person.count("#workers tr[data-worker='worker-1']") == 1
        person.screenshot("console-overview")
        # the rules page: the ruleset in force, with its revision
        assert person.goto(served.web_url + "/console/rules/") == 200
        assert person.text("#revision")
        assert person.count("#rules tr[data-rule='loss-streak-5']") == 1
        person.screenshot("console-rules")
        # log out: the cookie is gone and the console asks for a token again
        person.click_and_load("#logout")
        assert person.count("#login") == 1 and person.cookies() == []


def test_support_reads_a_suppression_in_words_and_no_harm_flags(served):
    wait_archived(served, QUIET)
    wait_archived(served, HARMED)
    token = served.token("support", subject="console-support")
    with Browser() as person:
        log_in(person, served.web_url + "/console/players/", token)
        person.fill("#player_id", QUIET)
        assert person.click_and_load("#lookup button[type=submit]").endswith(
            f"/console/players/{QUIET}/"
        )
        held = person.texts("#timeline tr[data-decision='REWARD_SUPPRESSED'] td.why")
        assert any("has not consented to this kind of marketing" in why for why in held), held
        person.screenshot("console-player-support")

        assert person.goto(f"{served.web_url}/console/players/{HARMED}/") == 200
        page = person.text("main")
        assert FLAG not in page and "harm" not in page.lower()
        assert person.count("#profile [data-field='harm_flags']") == 0
        held = person.texts("#timeline tr[data-decision='REWARD_SUPPRESSED'] td.why")
        assert held and all("a responsible-gaming protection applies" in why for why in held)
        person.screenshot("console-player-support-harmed")

        # the overview is not for support: a page says so, with no figures
        assert person.goto(served.web_url + "/console/") == 403
        assert "stats.read" in person.text("#refusal")


def test_an_rg_officer_sees_the_harm_flags(served):
    wait_archived(served, HARMED)
    token = served.token("rg_officer", subject="console-rg")
    with Browser() as person:
        log_in(person, f"{served.web_url}/console/players/{HARMED}/", token)
        assert FLAG in person.text("#profile [data-field='harm_flags']")
        held = person.texts("#timeline tr[data-decision='REWARD_SUPPRESSED'] td.why")
        assert held and all(FLAG in why for why in held), held
        person.screenshot("console-player-rg-officer")


def call(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_session_cookie_counts_on_console_routes_only_and_is_logged(served):
    subject = f"console-cookie-{uuid.uuid4().hex[:6]}"
    cookie = f"{COOKIE}={served.token('crm_manager', subject=subject)}"
    status, body = call(served.web_url + "/console/api/overview", Cookie=cookie)
    figures = json.loads(body)
    assert status == 200 and figures["totals"]["events"] >= 1 and figures["worker_id"]
    status, body = call(served.web_url + "/console/session", Cookie=cookie)
    assert (status, json.loads(body)["subject"], json.loads(body)["home"]) == (
        200,
        subject,
        "/console/",
    )
    assert call(served.web_url + "/pitboss/stats/", Cookie=cookie)[0] == 401
    # a program that does not ask for HTML gets the door's JSON
    status, body = call(served.web_url + "/console/")
    assert (status, json.loads(body)["error"]) == (401, "unauthenticated")
    # a browser whose session expired gets the login page, saying why
    expired = served.identity.mint(subject, ["crm_manager"], ttl=1, now=time.time() - 600)
    status, body = call(
        served.web_url + "/console/", Cookie=f"{COOKIE}={expired}", Accept="text/html"
    )
    assert status == 401 and b"the token has expired" in body and b'id="login"' in body
    logged = served.consume(
        served.settings.topics.access_log,
        "AccessLogEntry",
        lambda found: any(
            e["subject"] == subject and e["action"] == "GET /console/api/overview" for e in found
        ),
    )
    entries = [e for e in logged if e["subject"] == subject and "overview" in e["action"]]
    assert entries and all(
        e["allowed"] and e["permission"] == "stats.read" and e["kind"] == "STAFF" for e in entries
    )
