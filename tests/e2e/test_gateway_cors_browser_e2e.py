"""Widgets embedded in a page of another origin (the operator's own site) in a real browser:
with that origin in ``PITBOSS_GATEWAY_CORS_ORIGINS`` the kit loads, the view is read, the
Server-Sent Events stream delivers a reward toast and its ``shown`` interaction is posted (a
preflighted request); a gateway without the setting stays same-origin, and its preflights
refuse any origin. Credentials are never allowed."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from app.devtools.localbroker import free_port
from tests.browser.driver import Browser
from tests.e2e.test_gateway_e2e import Gateway, gateway  # noqa: F401  (the fixture)
from tests.e2e.test_widgets_browser_e2e import browser_ready  # noqa: F401  (the fixture)
from tests.support.factories import natural

pytestmark = [pytest.mark.broker, pytest.mark.slow]

TOASTS = "document.querySelector('pitboss-toast').shadowRoot.querySelectorAll('.toast')"


class Site:
    """The operator's site: a real HTTP server on its own origin serving one page."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page(self, gw: Gateway, player: str) -> str:
        """The URL of a page embedding ``player``'s widgets from ``gw``."""
        (self.root / f"{player}.html").write_text(
            f"""<!doctype html><html><head><meta charset="utf-8">
<script type="module" src="{gw.url}/widgets/pitboss-widgets.js"></script></head><body>
<pitboss-channel id="channel" player="{player}" token="{gw.token(player)}"
  gateway="{gw.url}" transport="sse">
  <pitboss-points></pitboss-points><pitboss-toast duration="600000"></pitboss-toast>
</pitboss-channel></body></html>""",
            encoding="utf-8",
        )
        return f"{self.origin}/{player}.html"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    running = Site(tmp_path_factory.mktemp("operator-site"))
    yield running
    running.close()


@pytest.fixture(scope="module")
def open_gateway(gateway, site, tmp_path_factory) -> Iterator[Gateway]:  # noqa: F811
    """A second gateway of the same deployment that lets the site's origin in."""
    running = Gateway(
        gateway.dep,
        tmp_path_factory.mktemp("cors-gateway"),
        PITBOSS_GATEWAY_CORS_ORIGINS=f"https://elsewhere.example, {site.origin}",
    )
    yield running
    running.stop()


def preflight(gw: Gateway, origin: str, method: str = "POST") -> requests.Response:
    return requests.options(
        f"{gw.url}/gateway/v1/players/p-1/interactions",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
        timeout=30,
    )


def test_preflights_answer_the_listed_origins_only_and_never_allow_credentials(
    open_gateway,
    gateway,  # noqa: F811
    site,
):
    allowed = preflight(open_gateway, site.origin)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == site.origin
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "AUTHORIZATION" in allowed.headers["Access-Control-Allow-Headers"].upper()
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    for gw, origin in ((open_gateway, "http://evil.example"), (gateway, site.origin)):
        refused = preflight(gw, origin)
        assert refused.status_code in (403, 405)
        assert "Access-Control-Allow-Origin" not in refused.headers
        assert set(refused.json()) == {"error", "detail"}
    # a simple request from another origin is answered, without the header a browser needs
    answer = requests.get(f"{gateway.url}/health", headers={"Origin": site.origin}, timeout=30)
    assert "Access-Control-Allow-Origin" not in answer.headers


@pytest.mark.usefixtures("browser_ready")
def test_widgets_on_a_listed_origin_read_stream_and_post_interactions(open_gateway, site):
    player = f"p-embed-{uuid.uuid4().hex[:6]}"
    with Browser() as person:
        assert person.goto(site.page(open_gateway, player)) == 200
        person.wait_until("() => document.getElementById('channel').dataset.state === 'live'")
        assert person.wait_until(
            "() => document.querySelector('pitboss-points').shadowRoot"
            ".querySelector('.next')?.textContent"
        )
        open_gateway.dep.produce_events([natural(player_id=player, occurred_at=_now_ms())])
        reward_id = person.wait_until(f"() => [...{TOASTS}].map(t => t.dataset.reward)[0]")
    shown = open_gateway.dep.consume(
        open_gateway.dep.settings.topics.player_interactions,
        "PlayerInteraction",
        lambda found: any(i["reward_id"] == reward_id for i in found),
    )
    [seen] = [i for i in shown if i["reward_id"] == reward_id]
    assert (seen["player_id"], seen["action"], seen["rule_id"]) == (
        player,
        "SHOWN",
        "first-natural-blackjack-of-day",
    )


@pytest.mark.usefixtures("browser_ready")
def test_a_gateway_without_the_setting_stays_same_origin(gateway, site):  # noqa: F811
    player = f"p-closed-{uuid.uuid4().hex[:6]}"
    with Browser() as person:
        assert person.goto(site.page(gateway, player)) == 200
        read = person.wait_until(
            "async ([url, token]) => { try { const a = await fetch(url,"
            " {headers: {Authorization: `Bearer ${token}`}}); return `read ${a.status}`; }"
            " catch (e) { return 'blocked'; } }",
            [f"{gateway.url}/gateway/v1/players/{player}", gateway.token(player)],
        )
    assert read == "blocked"


def _now_ms() -> int:
    return int(time.time() * 1000)
