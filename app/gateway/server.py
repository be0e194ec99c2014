"""The player gateway's HTTP surface: a player's own view, recent rewards, live stream
(WebSocket, or Server-Sent Events as the fallback) and interactions back.

Every route but ``/health`` and the widgets' static files (``/widgets/``) needs the player's
token (``Authorization: Bearer``, or ``?access_token=`` where a browser cannot set headers:
WebSocket, EventSource); it opens only the token subject's own data: another player's id is
403, an erased player's 410.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiohttp import web

from app.contract.errors import DecodeError
from app.gateway import metrics
from app.gateway.cors import allow_origins
from app.gateway.cursor import BadCursor, Cursor
from app.gateway.feed import NotTheirs, PlayerFeed
from app.gateway.follower import Follower
from app.gateway.interactions import InteractionOutlet, InvalidInteraction
from app.gateway.messages import stream_message
from app.gateway.settings import GatewaySettings
from app.gateway.view import leaderboard_view, player_view
from app.gateway.widgets import ROUTE as WIDGETS_ROUTE
from app.gateway.widgets import widget_file
from app.leaderboards.board import parse_board_key
from app.metrics.process import ROUTE as METRICS_ROUTE
from app.metrics.process import add_metrics_route, counting
from app.security.principal import AuthenticationError
from app.security.settings import SecuritySettings
from app.security.tokens import KeysUnavailable, TokenVerifier
from app.settings import Settings

log = logging.getLogger(__name__)

OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.yaml"
PLAYER_ROUTE = "/gateway/v1/players/{player_id}"
#: Seconds between keep-alives on an idle stream (they also find clients that went away).
KEEPALIVE = 15.0
#: Seconds an interaction waits for the reward it names to be read from ``rewards`` (the
#: stream, which reads the journal, may have shown it first).
REWARD_WAIT = 2.0
#: ``GET …/rewards``: the page size unless ``limit`` says otherwise, and its bound.
PAGE, PAGE_MAX = 20, 100

Send = Callable[[dict[str, Any]], Awaitable[None]]
KEEPALIVE_MESSAGE = {"type": "keepalive"}
RECONNECT = {
    "type": "reconnect",
    "detail": "the client fell behind: reconnect with the last cursor",
}
GONE = {"type": "gone", "detail": "this player was erased"}


@cache
def openapi_document() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))


def interaction_schema() -> dict[str, Any]:
    """The document's Interaction schema, as JSON Schema with its references resolvable."""
    return {**openapi_document(), "$ref": "#/components/schemas/Interaction"}


def _error(status: int, error: str, detail: str) -> web.Response:
    return web.json_response({"error": error, "detail": detail}, status=status)


class Gateway:
    """The routes, over a followed ``PlayerFeed``."""

    def __init__(
        self,
        config: GatewaySettings,
        verifier: TokenVerifier,
        feed: PlayerFeed,
        follower: Follower,
        outlet: InteractionOutlet,
        deployment: Settings,
        security: SecuritySettings,
    ) -> None:
        self.config, self.verifier, self.feed = config, verifier, feed
        self.follower, self.outlet = follower, outlet
        #: the staff door of /metrics (a player token never opens it)
        self.deployment, self.security = deployment, security
        self._following: asyncio.Task | None = None

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=64 * 1024, middlewares=[counting(metrics.REQUESTS), _no_traceback]
        )
        app.router.add_get("/health", self._health)
        app.router.add_get("/gateway/v1/openapi.json", self._openapi)
        app.router.add_get(PLAYER_ROUTE, self._view)
        app.router.add_get(PLAYER_ROUTE + "/rewards", self._rewards)
        app.router.add_get(PLAYER_ROUTE + "/leaderboards/{board}", self._leaderboard)
        app.router.add_get(PLAYER_ROUTE + "/stream", self._stream)
        app.router.add_post(PLAYER_ROUTE + "/interactions", self._interaction)
        app.router.add_get(WIDGETS_ROUTE, widget_file)
        add_metrics_route(app, metrics.REGISTRY, self.deployment, self.security)
        allow_origins(app, self.config.cors_origins, skip=("/health", METRICS_ROUTE))
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, _: web.Application) -> None:
        await self.outlet.start()
        self._following = asyncio.ensure_future(self.follower.run())
        self._following.add_done_callback(_follower_ended)

    async def _stop(self, _: web.Application) -> None:
        if self._following is not None:
            self._following.cancel()
            await asyncio.gather(self._following, return_exceptions=True)
        await self.outlet.stop()

    # -- the door ------------------------------------------------------------------------

    async def _subject(self, request: web.Request) -> str:
        """The token's player, or an HTTPException (401, or 503 if the keys are away)."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            token = request.query.get("access_token", "")
        if not token.strip():
            raise _http(401, "unauthenticated", "send the player's token as a Bearer token")
        try:
            if self.verifier.fetches:
                who = await asyncio.to_thread(self.verifier.verify, token.strip())
            else:
                who = self.verifier.verify(token.strip())
        except AuthenticationError as exc:
            raise _http(401, "unauthenticated", str(exc)) from None
        except KeysUnavailable as exc:
            raise _http(503, "unavailable", str(exc)) from None
        return who.subject

    async def _player(self, request: web.Request) -> str:
        """The path's player, if the token is theirs and they are not erased."""
        subject = await self._subject(request)
        player_id = request.match_info["player_id"]
        if player_id != subject:
            raise _http(403, "forbidden", "a player token opens only that player's own data")
        if not self.follower.ready.is_set():
            raise _http(503, "unavailable", "the gateway is still reading the decisions")
        if self.feed.is_erased(player_id):
            raise _http(410, "gone", "this player was erased")
        return player_id

    # -- routes --------------------------------------------------------------------------

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "ready": self.follower.ready.is_set()})

    async def _openapi(self, request: web.Request) -> web.Response:
        await self._subject(request)
        return web.json_response(openapi_document())

    async def _view(self, request: web.Request) -> web.Response:
        player_id = await self._player(request)
        feed = self.feed
        body = player_view(player_id, feed.state(player_id), feed.ruleset())
        return web.json_response(body)

    async def _rewards(self, request: web.Request) -> web.Response:
        player_id = await self._player(request)
        partition = self.feed.partition(player_id)
        try:
            limit = _limit(request)
        except ValueError:
            return _error(400, "bad_request", f"limit is a whole number from 1 to {PAGE_MAX}")
        before = _cursor(request.query.get("cursor"), partition)
        page, more = self.feed.recent_rewards(player_id, before, limit)
        return web.json_response(
            {
                "rewards": [{**reward, "cursor": str(at)} for at, reward in page],
                "next_cursor": str(page[-1][0]) if more else None,
            }
        )

    async def _leaderboard(self, request: web.Request) -> web.Response:
        player_id = await self._player(request)
        key = request.match_info["board"]
        try:
            parse_board_key(key)
        except ValueError as exc:
            return _error(400, "bad_request", str(exc))
        try:
            limit = _limit(request)
        except ValueError:
            return _error(400, "bad_request", f"limit is a whole number from 1 to {PAGE_MAX}")
        feed = self.feed
        ranked = feed.ranks.rank(key, player_id)
        body = leaderboard_view(
            key, feed.board(key), player_id, feed.state(player_id), limit, ranked
        )
        return web.json_response(body)

    async def _interaction(self, request: web.Request) -> web.Response:
        player_id = await self._player(request)
        try:
            body = orjson.loads(await request.read())
            record = self.outlet.record(player_id, body)
        except orjson.JSONDecodeError:
            return _error(400, "bad_request", "the body is not JSON")
        except InvalidInteraction as exc:
            return _error(400, "bad_request", str(exc))
        try:
            record.update(
                await self.feed.about(
                    player_id, record["reward_id"], record["message_id"], REWARD_WAIT
                )
            )
        except NotTheirs as exc:
            return _error(404, "not_found", str(exc))
        try:
            await self.outlet.send(record)
        except Exception:  # whatever Kafka said: the client sends it again (same id)
            log.exception("an interaction was not stored")
            return _error(503, "unavailable", "Kafka did not take the interaction: send it again")
        return web.json_response({"interaction_id": record["interaction_id"]}, status=202)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        player_id = await self._player(request)
        partition = self.feed.partition(player_id)
        resume = request.query.get("cursor") or request.headers.get("Last-Event-ID")
        start = _cursor(resume, partition)
        first: int | None
        if start is not None:
            first = start.offset + 1
        elif self.feed.name(player_id) is not None:
            first = None  # from the moment it listens: nothing to read again from Kafka
        else:  # their first decisions may pass their secret: from now, read again if need be
            first = self.feed.journal_next[partition]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, player_id, partition, first)
        if "text/event-stream" not in request.headers.get("Accept", ""):
            return _error(406, "not_acceptable", "open a WebSocket, or Accept text/event-stream")
        return await self._events(request, player_id, partition, first)

    async def _websocket(
        self, request: web.Request, player_id: str, partition: int, first: int | None
    ) -> web.WebSocketResponse:
        """The stream as WebSocket text frames, until the client closes it."""
        ws = web.WebSocketResponse(heartbeat=KEEPALIVE)
        await ws.prepare(request)
        pump = asyncio.ensure_future(self._pump(player_id, partition, first, ws.send_json))
        reader = asyncio.ensure_future(_drain(ws))
        with metrics.CONNECTIONS.labels("websocket").track_inprogress():
            await asyncio.wait([pump, reader], return_when=asyncio.FIRST_COMPLETED)
        for task in (pump, reader):
            task.cancel()
        await asyncio.gather(pump, reader, return_exceptions=True)
        if not pump.cancelled() and isinstance(pump.exception(), Exception):
            log.error("a player's stream failed", exc_info=pump.exception())
        await ws.close()
        return ws

    async def _events(
        self, request: web.Request, player_id: str, partition: int, first: int | None
    ) -> web.StreamResponse:
        """The stream as Server-Sent Events, until the client goes away."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)

        async def send(message: dict[str, Any]) -> None:
            await response.write(_event(message))

        with (
            contextlib.suppress(ConnectionResetError),  # the client went away
            metrics.CONNECTIONS.labels("sse").track_inprogress(),
        ):
            await self._pump(player_id, partition, first, send)
        return response

    async def _pump(self, player_id: str, partition: int, first: int | None, send: Send) -> None:
        """Send the player's pushed entries from offset ``first`` on (None: from when it
        listens), in order, each once: the ones the follower passed already read again from
        Kafka, then the live ones."""
        feed = self.feed
        name = await self._name(player_id, send)
        listener = feed.listen(name, self.config.stream_queue)
        try:
            upto = feed.journal_next[partition]
            first = upto if first is None else first
            last = first - 1
            if first < upto:
                async for offset, value in self.follower.read_journal(partition, first, upto, name):
                    if await _push(send, partition, offset, _entry(feed, value)):
                        return
                    last = offset
            while True:
                try:
                    delivery = await asyncio.wait_for(listener.queue.get(), KEEPALIVE)
                except TimeoutError:
                    await send(KEEPALIVE_MESSAGE)
                    continue
                if delivery is None:
                    await send(RECONNECT)
                    return
                offset, entry = delivery
                if offset > last:
                    if await _push(send, partition, offset, entry, live=True):
                        return
                    last = offset
        finally:
            feed.unlisten(name, listener)

    async def _name(self, player_id: str, send: Send) -> str:
        """The player's journal name, keeping the stream alive until their first decision."""
        naming = asyncio.ensure_future(self.feed.named(player_id))
        try:
            while not naming.done():
                await asyncio.wait([naming], timeout=KEEPALIVE)
                if not naming.done():
                    await send(KEEPALIVE_MESSAGE)
            return naming.result()
        finally:
            naming.cancel()


def _entry(feed: PlayerFeed, value: bytes) -> dict[str, Any] | None:
    try:
        return feed.entry(value)
    except DecodeError:
        log.error("a journal entry does not decode; not pushed")
        return None


async def _push(
    send: Send, partition: int, offset: int, entry: dict | None, live: bool = False
) -> bool:
    """Send the entry's message, if it is one a player sees (timed from its ``recorded_at``
    when ``live``); True when the stream ends with it: the player was erased."""
    if entry is None:
        return False
    if entry["decision"] == "PLAYER_ERASED":
        await send(GONE)
        return True
    message = stream_message(entry, Cursor(partition, offset))
    if message is not None:
        await send(message)
        metrics.PUSHED.labels(message["type"]).inc()
        if live:
            metrics.PUSH_LATENCY.observe(max(time.time() - entry["recorded_at"] / 1000, 0.0))
    return False


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, until it closes."""
    async for _ in ws:
        pass


def _event(message: dict[str, Any]) -> bytes:
    """One Server-Sent Event: the cursor as its id (EventSource resends it as Last-Event-ID),
    the type as its event name, the message as its data."""
    head = f"id: {message['cursor']}\n" if "cursor" in message else ""
    data = orjson.dumps(message).decode()
    return f"{head}event: {message['type']}\ndata: {data}\n\n".encode()


def _limit(request: web.Request) -> int:
    """The ``limit`` query parameter (default ``PAGE``); ValueError outside 1..``PAGE_MAX``."""
    limit = int(request.query.get("limit", PAGE))
    if not 1 <= limit <= PAGE_MAX:
        raise ValueError(limit)
    return limit


def _cursor(text: str | None, partition: int) -> Cursor | None:
    if not text:
        return None
    try:
        return Cursor.parse(text, partition)
    except BadCursor as exc:
        raise _http(400, "bad_request", str(exc)) from None


_REFUSALS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    403: web.HTTPForbidden,
    410: web.HTTPGone,
    503: web.HTTPServiceUnavailable,
}


def _http(status: int, error: str, detail: str) -> web.HTTPException:
    """An HTTPException whose body is the gateway's one-line JSON error."""
    body = orjson.dumps({"error": error, "detail": detail}).decode()
    return _REFUSALS[status](text=body, content_type="application/json")


def _follower_ended(task: asyncio.Task) -> None:
    """A gateway that no longer follows Kafka would answer from stale data: it stops (SIGTERM
    to itself, the clean way out) so that its supervisor starts it again."""
    if not task.cancelled() and task.exception() is not None:
        log.error("the gateway stopped following Kafka; stopping", exc_info=task.exception())
        os.kill(os.getpid(), signal.SIGTERM)


@web.middleware
async def _no_traceback(request: web.Request, handler: Any) -> web.StreamResponse:
    """Errors as one line of JSON, never a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return _error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    except Exception:
        log.exception("gateway request failed")
        return _error(500, "internal", "the gateway could not handle this request")
