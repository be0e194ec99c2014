"""The HTTP intake: ``POST /intake/v1/{source}/events`` takes a batch as JSON, XML or Avro,
maps and checks every item (``app.intake.translate``), produces the accepted ones to
``table-events`` and the refused ones to ``dead-letters``, and answers 202 only once Kafka has
acknowledged them: ``accepted`` lists what Kafka holds, ``refused`` says why per item.

Its own process (``pitboss intake``): it scales with studio traffic, not with players, and
never shares an event loop with deciding. Back-pressure is a bound on events handed to Kafka
and not yet acknowledged: beyond it a request is answered 429 with Retry-After instead of
queueing without limit. Every authentication decision goes to the access log, as on every
other surface (``app.security.access_log_producer``).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from app.intake import metrics
from app.intake.outlet import Outlet
from app.intake.settings import IntakeSettings
from app.intake.sources import Sources
from app.intake.translate import CONTENT_TYPES, BatchRefused, Outcome, Translator
from app.metrics.process import add_metrics_route, counting
from app.security.access import Decision
from app.security.access_log import access_entry
from app.security.access_log_producer import AccessLogProducer
from app.security.principal import AuthenticationError, Principal
from app.security.settings import SecuritySettings
from app.settings import Settings

log = logging.getLogger(__name__)

OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.yaml"
EVENTS_ROUTE = "/intake/v1/{source}/events"
#: What the access log calls the intake's one permission (it is not a staff role's).
PERMISSION = "intake.write"
#: Seconds a client is asked to wait after a 429.
RETRY_AFTER = 1
#: A client's X-Request-Id the access log takes as it is (else one is made up).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _error(status: int, error: str, detail: str, **headers: str) -> web.Response:
    return web.json_response({"error": error, "detail": detail}, status=status, headers=headers)


class Intake:
    """The intake's state: sources, translators, the producer and what is in flight."""

    def __init__(
        self,
        settings: Settings,
        intake: IntakeSettings,
        sources: Sources,
        security: SecuritySettings,
        erasure_key: bytes,
    ) -> None:
        self.settings, self.security = settings, security
        self.intake, self.sources = intake, sources
        self.translators = {
            name: Translator(name, source.mappings, erasure_key)
            for name, source in sources.sources.items()
        }
        self.outlet = Outlet(settings, security.kafka, "intake")
        self.access_log = AccessLogProducer(settings, security.kafka)
        metrics.IN_FLIGHT.set_function(lambda: self.outlet.in_flight)
        self.openapi = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.intake.max_body,
            middlewares=[counting(metrics.REQUESTS), _no_traceback],
        )
        app.router.add_get("/health", _health)
        add_metrics_route(app, metrics.REGISTRY, self.settings, self.security)
        app.router.add_get("/intake/v1/openapi.json", self._openapi)
        app.router.add_post(EVENTS_ROUTE, self._events)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, _: web.Application) -> None:
        await self.outlet.start()

    async def _stop(self, _: web.Application) -> None:
        await self.outlet.stop()
        await self.access_log.stop()

    async def _record(
        self, request: web.Request, who: Principal | None, decision: Decision
    ) -> None:
        header = request.headers.get("X-Request-Id", "")
        entry = access_entry(
            request_id=header if _REQUEST_ID.fullmatch(header) else uuid.uuid4().hex,
            occurred_at=int(time.time() * 1000),
            principal=who,
            permission=PERMISSION,
            action=f"{request.method} {request.match_info.route.resource.canonical}",
            decision=decision,
            remote=request.remote,
        )
        try:
            await self.access_log(entry)
        except Exception as exc:  # no decision the access log cannot record is acted on
            log.exception("the access log refused an entry")
            raise web.HTTPServiceUnavailable(reason="the access log cannot record this") from exc

    async def _openapi(self, request: web.Request) -> web.Response:
        if not self.sources.any_key(request.headers.get("Authorization", "")):
            return _error(401, "unauthenticated", "send a source's API key as a Bearer token")
        return web.json_response(self.openapi)

    async def _events(self, request: web.Request) -> web.Response:
        source = request.match_info["source"]
        body = await request.read()
        try:
            who = self.sources.authenticate(source, request.headers, body, time.time())
        except AuthenticationError as exc:
            await self._record(request, None, Decision(False, str(exc)))
            return _error(401, "unauthenticated", str(exc))
        await self._record(request, who, Decision(True, f"source {source}"))
        fmt = CONTENT_TYPES.get(request.content_type)
        if fmt is None:
            known = ", ".join(sorted(CONTENT_TYPES))
            return _error(415, "unsupported", f"Content-Type must be one of {known}")
        translator = self.translators[source]
        now_ms = int(time.time() * 1000)
        try:
            outcomes = translator.translate(fmt, body, now_ms)
        except BatchRefused as exc:
            refused = translator.refused_body(body, str(exc), now_ms)
            outcomes, answer = [], _error(400, "refused", str(exc))
        else:
            refused, answer = None, None
        if self.outlet.in_flight + len(outcomes) > self.intake.max_in_flight:
            detail = f"more than {self.intake.max_in_flight} events are waiting for Kafka"
            return _error(429, "busy", detail, **{"Retry-After": str(RETRY_AFTER)})
        try:
            with metrics.PRODUCE_SECONDS.time():
                failed = await self.outlet.produce(outcomes, now_ms, refused)
        except TimeoutError:
            return _error(503, "unavailable", "Kafka did not acknowledge the batch: send it again")
        if answer is not None:
            return answer
        body = _answer(outcomes, failed)
        metrics.ITEMS.labels(source, "accepted").inc(len(body["accepted"]))
        metrics.ITEMS.labels(source, "refused").inc(len(body["refused"]))
        return web.json_response(body, status=202)


def _answer(outcomes: list[Outcome], failed: Mapping[int, str]) -> dict:
    """202's body: what Kafka holds, and per refused item why (in the batch's order)."""
    reasons = {o.index: o.reason or failed.get(o.index) for o in outcomes}
    return {
        "accepted": [
            {"index": o.index, "event_id": o.event_id} for o in outcomes if not reasons[o.index]
        ],
        "refused": [
            {"index": o.index, "event_id": o.event_id, "reason": reasons[o.index]}
            for o in outcomes
            if reasons[o.index]
        ],
    }


async def _health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@web.middleware
async def _no_traceback(request: web.Request, handler: Any) -> web.StreamResponse:
    """Errors as one line of JSON, never a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    except Exception:
        log.exception("intake request failed")
        return _error(500, "internal", "the intake could not handle this request")
