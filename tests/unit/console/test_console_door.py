"""The door with the console's session cookie, on a real aiohttp server on loopback: the
cookie counts on console routes only, a header wins over it, and a browser refused a console
page gets the login or the forbidden page where a program gets the door's JSON."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from app.console.errors import console_refusals
from app.console.session import COOKIE, PREFIX
from app.security.authenticate import Authenticator
from app.security.middleware import auth_middleware, requires
from tests.unit.security.conftest import identity, policy  # noqa: F401  (shared fixtures)

HTML = {"Accept": "text/html,application/xhtml+xml"}


@requires("stats.read")
async def figures(request: web.Request) -> web.Response:
    return web.json_response({"events": 1})


def run(identity, policy, scenario: Callable[[TestClient], Awaitable[None]]) -> list:  # noqa: F811
    entries: list = []

    async def main() -> None:
        door = auth_middleware(
            Authenticator(identity.verifier()), policy, entries.append, cookie=(PREFIX, COOKIE)
        )
        app = web.Application(middlewares=[console_refusals, door])
        app.router.add_get("/console/figures", figures)
        app.router.add_get("/pitboss/figures", figures)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            await scenario(client)

    asyncio.run(main())
    return entries


def test_the_cookie_counts_on_console_routes_only(identity, policy):  # noqa: F811
    token = identity.mint("carol", ["crm_manager"])

    async def scenario(client: TestClient) -> None:
        cookie = {"Cookie": f"{COOKIE}={token}"}
        response = await client.get("/console/figures", headers=cookie)
        assert (response.status, await response.json()) == (200, {"events": 1})
        response = await client.get("/pitboss/figures", headers=cookie)
        assert response.status == 401
        # a header, when sent, is what is judged (here: a forged one)
        response = await client.get(
            "/console/figures", headers={**cookie, "Authorization": "Bearer forged"}
        )
        assert response.status == 401

    entries = run(identity, policy, scenario)
    assert [(e["subject"], e["allowed"]) for e in entries] == [
        ("carol", True),
        (None, False),
        (None, False),
    ]


def test_a_browser_refused_a_console_page_gets_a_page(identity, policy):  # noqa: F811
    expired = identity.mint("dave", ["support"], ttl=1, now=0)
    support = identity.mint("erin", ["support"])

    async def scenario(client: TestClient) -> None:
        response = await client.get("/console/figures", headers=HTML)
        text = await response.text()
        assert response.status == 401 and response.content_type == "text/html"
        assert 'id="login"' in text and "expired" not in text
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        response = await client.get(
            "/console/figures", headers={**HTML, "Cookie": f"{COOKIE}={expired}"}
        )
        assert response.status == 401 and "the token has expired" in await response.text()
        response = await client.get(
            "/console/figures", headers={**HTML, "Cookie": f"{COOKIE}={support}"}
        )
        assert response.status == 403 and "stats.read" in await response.text()
        # programs keep the JSON, and so do routes outside the console
        response = await client.get("/console/figures")
        assert (response.status, (await response.json())["error"]) == (401, "unauthenticated")
        response = await client.get("/pitboss/figures", headers=HTML)
        assert response.content_type == "application/json"

    run(identity, policy, scenario)
