"""One record to one endpoint: attempts with exponential backoff and jitter up to the
endpoint's limit, and the outcome in words.

What is retried: no answer (a refused connection, a timeout), 408, 425, 429 and every 5xx
(``Retry-After`` is honoured up to ``max_delay``), and a 401 with an OAuth2 token (the token is
fetched again). Any other 4xx is final at once: the same request would be refused again.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from app.delivery.auth import AuthError, TokenSource
from app.delivery.backoff import backoff
from app.delivery.config import Endpoint
from app.delivery.payload import headers

RETRIED_STATUSES = frozenset({408, 425, 429})
#: How much of an answer's body a reason quotes.
QUOTED = 200


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    attempts: int
    #: the last HTTP status (None: no answer)
    status: int | None
    #: why it was not delivered, in words
    reason: str | None = None
    #: the last answer's JSON body, when it was JSON
    answer: Any = None


@dataclass(frozen=True)
class _Try:
    status: int | None
    retry: bool
    reason: str | None
    answer: Any = None
    retry_after: float | None = None


class Sender:
    """Sends to one endpoint over a shared HTTP session."""

    def __init__(
        self,
        endpoint: Endpoint,
        session: aiohttp.ClientSession,
        *,
        rand: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_retry: Callable[[], None] = lambda: None,
    ) -> None:
        self.endpoint, self.session = endpoint, session
        self.rand, self.sleep, self.on_retry = rand or random.Random(), sleep, on_retry
        self.tokens = TokenSource(endpoint.oauth2) if endpoint.oauth2 else None

    async def deliver(self, data: bytes, record_id: str) -> Outcome:
        """Send ``data`` until it is taken, refused for good, or the attempts run out."""
        retry = self.endpoint.retry
        attempt = 0
        while True:
            attempt += 1
            tried = await self._attempt(data, record_id)
            if tried.reason is None:
                return Outcome(True, attempt, tried.status, answer=tried.answer)
            if not tried.retry or attempt >= retry.attempts:
                why = tried.reason if tried.retry else f"{tried.reason} (not retried)"
                return Outcome(False, attempt, tried.status, f"{why} after {attempt} attempt(s)")
            pause = backoff(attempt, retry.first_delay, retry.max_delay, self.rand)
            if tried.retry_after is not None:
                pause = max(pause, min(tried.retry_after, retry.max_delay))
            self.on_retry()
            await self.sleep(pause)

    async def _attempt(self, data: bytes, record_id: str) -> _Try:
        endpoint = self.endpoint
        sent = headers(endpoint, record_id, data, time.time())
        try:
            if endpoint.auth_header is not None:
                sent[endpoint.auth_header[0]] = endpoint.auth_header[1]
            if self.tokens is not None:
                name, value = await self.tokens.header(self.session, endpoint.timeout)
                sent[name] = value
            async with self.session.request(
                endpoint.method,
                endpoint.url,
                data=data,
                headers=sent,
                timeout=aiohttp.ClientTimeout(total=endpoint.timeout),
                allow_redirects=False,
            ) as answer:
                text = await answer.text(errors="replace")
                return self._judge(answer.status, text, answer.headers.get("Retry-After"))
        except AuthError as exc:
            return _Try(None, True, str(exc))
        except TimeoutError:
            return _Try(None, True, f"no answer within {endpoint.timeout:g} s")
        except aiohttp.ClientError as exc:
            return _Try(None, True, f"{type(exc).__name__}: {exc}")

    def _judge(self, status: int, text: str, retry_after: str | None) -> _Try:
        if 200 <= status < 300:
            return _Try(status, False, None, _json(text))
        reason = f"HTTP {status}: {' '.join(text.split())[:QUOTED]}".rstrip(": ")
        if status == 401 and self.tokens is not None:
            self.tokens.forget()
            return _Try(status, True, reason)
        retried = status in RETRIED_STATUSES or status >= 500
        return _Try(status, retried, reason, retry_after=_seconds(retry_after))


def _json(text: str) -> Any:
    try:
        return orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        return None


def _seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (its HTTP-date form is ignored: the backoff applies)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
