"""The table-screen widgets in a real browser (Debian's Chromium, driven by playwright-core)
against a real worker and gateway on the real broker: a natural blackjack produced to Kafka
makes a reward toast appear, a click on it lands on ``player-interactions``, a rapid-loss
burst opens the take-a-break pop-up (and it stays until acknowledged), a long session's
reality check shows as a notice the player acknowledges, the leaderboard marks the player's
own row, and each theme is screenshotted (kept under .state/artifacts/screenshots/)."""

from __future__ import annotations

import time
import urllib.parse
import uuid
from collections.abc import Callable

import pytest
import requests

from app.devtools.deployment import wait_for
from app.gateway.widgets import FILES
from app.leaderboards.board import Board, is_board
from app.operations.privacy import changelog
from tests.browser.driver import Browser, missing
from tests.e2e.test_gateway_e2e import Gateway, gateway, plays  # noqa: F401  (the fixture)
from tests.support.factories import natural, settled, table_event

pytestmark = [pytest.mark.broker, pytest.mark.slow]

MIN = 60_000
#: JavaScript run in the page: the open toasts as [reward id, text]
TOASTS = "document.querySelector('pitboss-toast').shadowRoot.querySelectorAll('.toast')"
OPEN_TOASTS = f"() => [...{TOASTS}].map(t => [t.dataset.reward, t.innerText])"
#: the take-a-break dialog
DIALOG = "document.querySelector('pitboss-break').shadowRoot.querySelector('dialog')"


@pytest.fixture(scope="module")
def browser_ready() -> None:
    if (why := missing()) is not None:
        pytest.fail(f"the browser tests need `make browser`: {why}", pytrace=False)


def now_ms() -> int:
    return int(time.time() * 1000)


def open_demo(person: Browser, gw: Gateway, player: str, **options: str) -> None:
    """The demo page for ``player`` (``options``: theme, transport), once its stream is open;
    toasts stay until clicked."""
    query = urllib.parse.urlencode({"player": player, "token": gw.token(player), **options})
    assert person.goto(f"{gw.url}/widgets/demo.html?{query}") == 200
    person.wait_until("() => document.getElementById('channel').dataset.state === 'live'")
    person.wait_until(
        "() => { document.querySelector('pitboss-toast').setAttribute('duration', '600000');"
        " return true; }"
    )


def first_toast(person: Browser) -> tuple[str, str]:
    return tuple(person.wait_until(f"() => ({OPEN_TOASTS})()[0]"))


def interactions(gw: Gateway, until: Callable[[list[dict]], bool]) -> list[dict]:
    topic = gw.dep.settings.topics.player_interactions
    return gw.dep.consume(topic, "PlayerInteraction", until)


def test_the_widget_files_are_served_without_a_token_and_nothing_else_is(gateway):  # noqa: F811
    assert {"pitboss-widgets.js", "demo.html", "themes/classic.css", "themes/noir.css"} <= set(
        FILES
    )
    for name in FILES:
        answer = requests.get(f"{gateway.url}/widgets/{name}", timeout=30)
        assert answer.status_code == 200, name
        assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    for name in ("__init__.py", "themes", "themes/", "nope.js", "..%2f__init__.py"):
        answer = requests.get(f"{gateway.url}/widgets/{name}", timeout=30)
        assert answer.status_code == 404, name
        assert set(answer.json()) == {"error", "detail"}, name


@pytest.mark.usefixtures("browser_ready")
@pytest.mark.parametrize("transport", ["websocket", "sse"])
def test_a_natural_blackjack_makes_the_toast_appear(gateway, transport):  # noqa: F811
    player = f"p-toast-{uuid.uuid4().hex[:6]}"
    with Browser() as person:
        open_demo(person, gateway, player, transport=transport)
        stream = "document.getElementById('channel').stream.constructor.name"
        assert (
            person.wait_until(f"() => {stream}")
            == {
                "websocket": "WebSocket",
                "sse": "EventSource",
            }[transport]
        )
        assert person.wait_until(f"() => ({OPEN_TOASTS})().length === 0")
        gateway.dep.produce_events([natural(player_id=player, occurred_at=now_ms())])
        reward_id, text = first_toast(person)
        assert reward_id and "10 XP" in text
        # the rule's own words, once the gateway has read the reward
        person.wait_until(f"() => ({OPEN_TOASTS})()[0][1].includes('First natural blackjack')")
        # the level bar follows the worker's state: 10 XP of the 50 that make level 2
        person.wait_until(
            "() => document.querySelector('pitboss-points').shadowRoot.querySelector('.next')"
            ".textContent === '10 / 50 XP to level 2'"
        )
        person.screenshot(f"widgets-toast-{transport}")
    shown = interactions(gateway, lambda found: any(i["reward_id"] == reward_id for i in found))
    [seen] = [i for i in shown if i["reward_id"] == reward_id]
    assert (seen["player_id"], seen["action"], seen["surface"]) == (
        player,
        "SHOWN",
        "pitboss-toast",
    )


@pytest.mark.usefixtures("browser_ready")
def test_a_click_on_the_toast_is_recorded_as_an_interaction(gateway):  # noqa: F811
    player = f"p-click-{uuid.uuid4().hex[:6]}"
    with Browser() as person:
        open_demo(person, gateway, player)
        gateway.dep.produce_events([natural(player_id=player, occurred_at=now_ms())])
        reward_id, _ = first_toast(person)
        person.click(f"pitboss-toast .toast[data-reward='{reward_id}'] .open")
        assert person.wait_until(f"() => ({OPEN_TOASTS})().length === 0")

    def clicked(found: list[dict]) -> bool:
        return any(i["reward_id"] == reward_id and i["action"] == "CLICKED" for i in found)

    [click] = [
        i
        for i in interactions(gateway, clicked)
        if i["action"] == "CLICKED" and i["reward_id"] == reward_id
    ]
    assert (click["player_id"], click["surface"]) == (player, "pitboss-toast")


@pytest.mark.usefixtures("browser_ready")
def test_a_reconnect_resumes_from_the_last_cursor_missing_and_repeating_nothing(gateway):  # noqa: F811
    dep, player = gateway.dep, f"p-resume-{uuid.uuid4().hex[:6]}"
    with Browser() as person:
        open_demo(person, gateway, player)
        dep.produce_events([natural(player_id=player, occurred_at=now_ms())])
        first, _ = first_toast(person)
        # offline while the player bets: wager points and the explorer badge are decided
        person.wait_until("() => { document.getElementById('channel').shut(); return true; }")
        dep.produce_events([table_event(player_id=player, occurred_at=now_ms())])
        named = dep.named(player)
        dep.consume(
            dep.settings.topics.journal,
            "JournalEntry",
            lambda es: (
                {"wager-points", "explorer"}
                <= {e["rule_id"] for e in es if e["player_id"] == named}
            ),
        )
        person.wait_until("() => { document.getElementById('channel').open(); return true; }")
        toasts = person.wait_until(
            f"() => {{ const t = ({OPEN_TOASTS})(); return t.length >= 3 && t; }}"
        )
        assert [reward for reward, _ in toasts].count(first) == 1
        assert len({reward for reward, _ in toasts}) == len(toasts) == 3
        assert any("+25 points" in text for _, text in toasts)


@pytest.mark.usefixtures("browser_ready")
def test_a_rapid_loss_burst_opens_the_take_a_break_pop_up_until_acknowledged(
    gateway,  # noqa: F811
):
    dep, player = gateway.dep, f"p-break-{uuid.uuid4().hex[:6]}"
    t0 = now_ms() - 5 * MIN  # the cool-down (30 min from the last loss) runs past now
    losing = {"bet_type": "main", "stake_minor": 9375, "currency": "EUR"}  # 8 of them: 750.00
    burst = [
        settled("LOSS", player_id=player, bet=losing, occurred_at=t0 + i * 20_000) for i in range(8)
    ]
    after = table_event(player_id=player, occurred_at=t0 + 8 * 20_000)  # wager points, held back
    with Browser() as person:
        open_demo(person, gateway, player)
        dep.produce_events([*burst, after])
        opened, modal, text = person.wait_until(
            f"() => {DIALOG}.open && [true, {DIALOG}.matches(':modal'), {DIALOG}.innerText]"
        )
        assert opened and modal
        # calm: no motion, and not the celebration's colours
        still, background = person.wait_until(
            f"() => {{ const d = getComputedStyle({DIALOG}); return [d.animationName === 'none'"
            " && d.transitionDuration === '0s', d.backgroundColor]; }"
        )
        assert still and background == "rgb(238, 241, 240)"
        assert "Time for a short break" in text and "Paused until" in text
        person.screenshot("widgets-break")

        # rewards stop: the bet after the burst is held back, so no toast
        named = dep.named(player)
        dep.consume(
            dep.settings.topics.journal,
            "JournalEntry",
            lambda es: any(
                e["player_id"] == named
                and e["decision"] == "REWARD_SUPPRESSED"
                and e["rule_id"] == "wager-points"
                for e in es
            ),
        )
        assert person.wait_until(f"() => ({OPEN_TOASTS})().length === 0")

        # it stays until the player acknowledges it
        person.click("pitboss-break dialog button")
        assert person.wait_until(f"() => !{DIALOG}.open")

    def acknowledged(found: list[dict]) -> bool:
        return any(i["player_id"] == player and i["action"] == "DISMISSED" for i in found)

    mine = [i for i in interactions(gateway, acknowledged) if i["player_id"] == player]
    cooldowns = dep.consume(
        dep.settings.topics.cooldowns,
        "CoolDown",
        lambda cs: any(c["player_id"] == player for c in cs),
    )
    [cooldown] = [c for c in cooldowns if c["player_id"] == player]
    assert {(i["action"], i["message_id"], i["surface"]) for i in mine} == {
        ("SHOWN", cooldown["cooldown_id"], "pitboss-break"),
        ("DISMISSED", cooldown["cooldown_id"], "pitboss-break"),
    }


@pytest.mark.usefixtures("browser_ready")
def test_a_long_session_shows_a_reality_check_notice_until_acknowledged(gateway):  # noqa: F811
    """95 minutes of play (event time, produced at once) raise the risk level to low: its
    reality check reaches the player as a notice, not the modal pop-up."""
    dep, player = gateway.dep, f"p-reality-{uuid.uuid4().hex[:6]}"
    t0 = now_ms() - 100 * MIN
    session = [table_event(player_id=player, occurred_at=t0 + i * 5 * MIN) for i in range(20)]
    notice = "document.querySelector('pitboss-break').shadowRoot.querySelector('.notice')"
    with Browser() as person:
        open_demo(person, gateway, player)
        dep.produce_events(session)
        text = person.wait_until(f"() => !{notice}.hidden && {notice}.innerText")
        assert not person.wait_until(f"() => [{DIALOG}.open]")[0]
        person.click("pitboss-break .notice button")
        assert person.wait_until(f"() => {notice}.hidden")

    named = dep.named(player)
    changes = dep.consume(
        dep.settings.topics.journal,
        "JournalEntry",
        lambda es: any(
            e["player_id"] == named and e["decision"] == "RISK_LEVEL_CHANGED" for e in es
        ),
    )
    [change] = [
        e for e in changes if e["player_id"] == named and e["decision"] == "RISK_LEVEL_CHANGED"
    ]
    assert change["details"]["message"] in text and "minutes" in text
    assert change["details"]["markers"] not in text  # RG data stays out of the player channel

    def acknowledged(found: list[dict]) -> bool:
        return any(i["player_id"] == player and i["action"] == "DISMISSED" for i in found)

    found = interactions(gateway, acknowledged)
    mine = [i for i in found if i["player_id"] == player and i["surface"] == "pitboss-break"]
    assert {(i["action"], i["message_id"], i["surface"]) for i in mine} == {
        ("SHOWN", change["entry_id"], "pitboss-break"),
        ("DISMISSED", change["entry_id"], "pitboss-break"),
    }


@pytest.mark.usefixtures("browser_ready")
def test_the_leaderboard_widget_marks_the_players_own_row(gateway):  # noqa: F811
    dep, player = gateway.dep, f"p-board-{uuid.uuid4().hex[:6]}"
    dep.produce_events(plays(player, bets=2))
    topic = changelog(dep.settings, "leaderboards")

    def board() -> tuple[str, int, int] | None:
        """The key of a board the player is on, their rank and total there."""
        for r in dep.read_all(topic):
            board_record = r.key and r.value and is_board(r.key)  # not a reserved key
            written = Board.from_bytes(r.value) if board_record else None
            for rank, row in enumerate(written.entries if written else (), 1):
                if row.player_id == player:
                    return r.key.decode(), rank, row.total
        return None

    key, rank, total = wait_for(board, what="a board with the player")
    rows = "document.querySelector('pitboss-leaderboard').shadowRoot"
    with Browser() as person:
        open_demo(person, gateway, player, board=key)
        mine, footer = person.wait_until(
            f"() => {rows}.querySelector('li.you')"
            f" && [{rows}.querySelector('li.you').textContent,"
            f" {rows}.querySelector('.mine').textContent]"
        )
    assert mine == f"{rank}. You{total:,}", mine
    assert footer == f"You: #{rank}, {total:,}"


@pytest.mark.usefixtures("browser_ready")
@pytest.mark.parametrize("theme", ["classic", "noir"])
def test_each_theme_is_screenshotted(gateway, theme):  # noqa: F811
    player = f"p-theme-{theme}-{uuid.uuid4().hex[:6]}"
    gateway.dep.produce_events(plays(player, bets=2))
    with Browser() as person:
        open_demo(person, gateway, player, theme=theme)
        # the worker's decisions on the widgets: a mission two steps in, points above zero
        person.wait_until(
            "() => { const m = document.querySelector('pitboss-missions').shadowRoot"
            ".querySelector('[data-mission=\"baccarat-banker-x3\"]');"
            " return m && m.innerText.includes('2 / 3'); }"
        )
        accent = person.wait_until(
            "() => getComputedStyle(document.documentElement)"
            ".getPropertyValue('--pitboss-accent').trim()"
        )
        assert accent == {"classic": "#1f6f4a", "noir": "#7aa7d8"}[theme]
        bar = person.wait_until(
            "() => getComputedStyle(document.querySelector('pitboss-points').shadowRoot"
            ".querySelector('.fill')).backgroundColor"
        )
        assert bar == {"classic": "rgb(31, 111, 74)", "noir": "rgb(122, 167, 216)"}[theme]
        person.screenshot(f"widgets-theme-{theme}")
