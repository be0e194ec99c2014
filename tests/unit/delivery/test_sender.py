"""Sending to a real local HTTP server: what is retried, what is final, tokens, Retry-After."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace

import aiohttp
from aiohttp import web

from app.delivery.config import OAuth2, Retry
from app.delivery.sender import Outcome, Sender
from app.devtools.localbroker import free_port
from tests.unit.delivery.test_payload import endpoint

Handler = Callable[[web.Request], Awaitable[web.Response]]


def deliver(
    handlers: dict[str, Handler], attempts: int = 4, times: int = 1, **changes
) -> tuple[Outcome, list[float]]:
    """Run ``times`` deliveries by one sender against a server with ``handlers`` (path ->
    handler); the last outcome and the pauses the sender asked for (recorded, not slept)."""
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    async def run() -> Outcome:
        app = web.Application()
        for path, handler in handlers.items():
            app.router.add_post(path, handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        settings = {"url": f"http://127.0.0.1:{port}/hook", "retry": Retry(attempts, 0.5, 4.0)}
        settings.update({k: (v(port) if callable(v) else v) for k, v in changes.items()})
        target = replace(endpoint(), **settings)
        try:
            async with aiohttp.ClientSession() as session:
                sender = Sender(target, session, rand=random.Random(3), sleep=sleep)
                for _ in range(times - 1):
                    await sender.deliver(b'{"x": 1}', "rw-1")
                return await sender.deliver(b'{"x": 1}', "rw-1")
        finally:
            await runner.cleanup()

    return asyncio.run(run()), pauses


def failing(times: int, status: int = 503, **extra: str) -> Handler:
    calls = {"n": 0}

    async def handler(request: web.Request) -> web.Response:
        calls["n"] += 1
        assert request.headers["Idempotency-Key"] == "rw-1"
        if calls["n"] <= times:
            return web.Response(status=status, text="busy\nnow", headers=extra)
        return web.json_response({"state": "DONE"}, status=201)

    return handler


def test_a_receiver_that_fails_twice_gets_it_on_the_third_attempt_after_growing_pauses():
    outcome, pauses = deliver({"/hook": failing(2)})
    assert outcome == Outcome(True, 3, 201, answer={"state": "DONE"})
    assert len(pauses) == 2 and 0.25 <= pauses[0] <= 0.5 and 0.5 <= pauses[1] <= 1.0


def test_attempts_run_out_with_the_last_answer_as_the_reason():
    outcome, pauses = deliver({"/hook": failing(10)}, attempts=3)
    assert not outcome.delivered and outcome.attempts == 3 and outcome.status == 503
    assert outcome.reason == "HTTP 503: busy now after 3 attempt(s)"
    assert len(pauses) == 2


def test_a_client_error_is_final_at_once():
    outcome, pauses = deliver({"/hook": failing(10, status=422)})
    assert (outcome.delivered, outcome.attempts, pauses) == (False, 1, [])
    assert "HTTP 422" in outcome.reason and "(not retried)" in outcome.reason


def test_retry_after_lengthens_a_pause_up_to_the_cap():
    _, pauses = deliver({"/hook": failing(2, status=429, **{"Retry-After": "3"})})
    assert pauses[0] == 3.0
    _, pauses = deliver({"/hook": failing(1, status=503, **{"Retry-After": "120"})})
    assert pauses == [4.0]


def test_no_answer_in_time_and_no_server_are_retried_then_given_up():
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response()

    outcome, pauses = deliver({"/hook": slow}, attempts=2, timeout=0.2)
    assert (outcome.delivered, outcome.attempts, len(pauses)) == (False, 2, 1)
    assert outcome.reason == "no answer within 0.2 s after 2 attempt(s)"
    outcome, _ = deliver({}, attempts=2, url=lambda port: f"http://127.0.0.1:{free_port()}/")
    assert not outcome.delivered and "ClientConnectorError" in outcome.reason


def test_an_oauth2_token_is_fetched_cached_and_fetched_again_after_a_401():
    tokens: list[str] = []
    revoke = {"after_use": False}

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        assert form["grant_type"] == "client_credentials" and form["scope"] == "credit"
        assert request.headers["Authorization"] == "Basic cGl0Ym9zczpzMw=="  # pitboss:s3
        tokens.append(f"tok-{len(tokens) + 1}")
        return web.json_response({"access_token": tokens[-1], "expires_in": 3600})

    async def hook(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {tokens[-1]}":
            return web.Response(status=401)
        if revoke["after_use"]:
            tokens.append("revoked")
        return web.Response(status=204)

    oauth = lambda port: OAuth2(f"http://127.0.0.1:{port}/token", "pitboss", "s3", "credit")  # noqa: E731
    outcome, pauses = deliver({"/hook": hook, "/token": token}, times=3, oauth2=oauth)
    assert outcome.delivered and tokens == ["tok-1"] and pauses == []  # one token, three uses
    tokens.clear()
    revoke["after_use"] = True
    outcome, pauses = deliver({"/hook": hook, "/token": token}, times=2, oauth2=oauth)
    # the second delivery's cached token is refused: fetched again, and the retry succeeds
    assert outcome.delivered and outcome.attempts == 2 and len(pauses) == 1
    assert tokens == ["tok-1", "revoked", "tok-3", "revoked"]


def test_a_token_url_that_gives_no_token_is_a_failed_attempt():
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=400, text="invalid_client")

    oauth = lambda port: OAuth2(f"http://127.0.0.1:{port}/token", "pitboss", "s3", None)  # noqa: E731
    outcome, pauses = deliver({"/token": refuse}, attempts=2, oauth2=oauth)
    assert not outcome.delivered and len(pauses) == 1
    assert "the token URL answered HTTP 400" in outcome.reason
