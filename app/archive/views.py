"""A player's timeline and export, served from the archive by any worker.

PostgreSQL is shared, so unlike the live-state views nothing is forwarded to the worker
that owns the player. Each request opens its own short connection: these are support
views, and a connection per request survives a PostgreSQL restart without any care.
When the archive is disabled or PostgreSQL cannot answer, the views say so with a 503.

The request is answered where the player's profile is (Faust's table routing), because the
VIP restriction needs the player's tier; the fields the caller may not see are left out
(docs/security.md), and a CSV cell that a spreadsheet would run as a formula is quoted.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import orjson
import psycopg
from aiohttp import web
from faust.web import Request, Response, View

from app.archive import store
from app.archive.store import ArchiveUnavailable, Cursor, TimelineQuery
from app.contract.schemas import SCHEMA_DIR
from app.core.ids import pseudonym
from app.core.times import time_ms
from app.pipeline.ingest import partition_for
from app.security.access import redact_entries, strip_fields
from app.security.erasure_key import erasure_key
from app.security.middleware import authorize_player, requires
from app.streaming.faust_app import app, settings
from tables.players import player_profiles

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: Export rows written to the response at a time.
FLUSH_EVERY = 500
DECISIONS = frozenset(
    next(
        f["type"]["symbols"]
        for f in json.loads((SCHEMA_DIR / "JournalEntry.avsc").read_text())["fields"]
        if f["name"] == "decision"
    )
)
CSV_COLUMNS = (
    "entry_id",
    "event_time",
    "recorded_at",
    "decision",
    "rule_id",
    "rule_version",
    "reason",
    "event_ids",
    "reward_id",
    "reward_kind",
    "reward_amount",
    "reward_currency",
    "reward_message",
    "cooldown_reason",
    "cooldown_ends_at",
    "details",
)
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
#: A CSV cell starting with one of these is a formula to a spreadsheet (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: ``limit``: ASCII digits only (``str.isdigit`` also takes "٣" and "²").
_LIMIT = re.compile(r"[0-9]{1,6}")


class BadRequest(ValueError):
    """A query parameter the views cannot use; the message says which and why."""


# -- query parameters ----------------------------------------------------------------------


def parse_time(name: str, raw: str | None) -> datetime | None:
    """Epoch milliseconds or ISO-8601 with a zone (``app.core.times``); None when absent."""
    if not raw:
        return None
    try:
        return store.from_ms(time_ms(raw))
    except ValueError as exc:
        raise BadRequest(
            f"{name}: {exc}; give ISO-8601 with a zone or epoch milliseconds"
        ) from None


def parse_limit(raw: str | None) -> int:
    if not raw:
        return DEFAULT_LIMIT
    if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit: expected a whole number from 1 to {MAX_LIMIT}, got {raw!r}")
    return int(raw)


def parse_decisions(raw: str | None) -> tuple[str, ...]:
    """``decision=REWARD_ISSUED`` or several, comma-separated."""
    wanted = tuple(d.strip().upper() for d in (raw or "").split(",") if d.strip())
    unknown = [d for d in wanted if d not in DECISIONS]
    if unknown:
        raise BadRequest(
            f"decision: unknown {', '.join(unknown)}; one of {', '.join(sorted(DECISIONS))}"
        )
    return wanted


def encode_cursor(cursor: Cursor) -> str:
    raw = f"{store.to_ms(cursor.event_time)}:{cursor.entry_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(raw: str | None) -> Cursor | None:
    if not raw:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        ms, entry_id = text.split(":", 1)
        return Cursor(store.from_ms(int(ms)), entry_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest(f"before: not a cursor from a previous page: {raw!r}") from None


def parse_text(name: str, raw: str | None) -> str | None:
    """A text parameter PostgreSQL can compare (no NUL character); None when absent."""
    if raw and "\x00" in raw:
        raise BadRequest(f"{name}: must not contain a NUL character")
    return raw or None


def time_range(params: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    """``from`` (inclusive) and ``to`` (exclusive), if given."""
    since = parse_time("from", params.get("from"))
    until = parse_time("to", params.get("to"))
    if since and until and since >= until:
        raise BadRequest("from must be earlier than to")
    return since, until


def timeline_query(player_id: str, params: Mapping[str, str]) -> TimelineQuery:
    """The query a request's parameters ask for (``from`` inclusive, ``to`` exclusive)."""
    since, until = time_range(params)
    return TimelineQuery(
        player_id=parse_text("player_id", player_id) or "",
        limit=parse_limit(params.get("limit")),
        before=decode_cursor(params.get("before")),
        decisions=parse_decisions(params.get("decision")),
        since=since,
        until=until,
    )


# -- the archive connection ----------------------------------------------------------------


@asynccontextmanager
async def archive_connection() -> AsyncIterator[psycopg.AsyncConnection]:
    """A connection to the archive, or ``ArchiveUnavailable`` saying why there is none."""
    if not settings.archive_url:
        raise ArchiveUnavailable("the archive is disabled on this worker (PITBOSS_ARCHIVE_URL)")
    where = store.location(settings.archive_url)
    try:
        conn = await store.connect(settings.archive_url, settings.archive_schema, timeout=3)
    except ValueError as exc:
        raise ArchiveUnavailable(str(exc)) from exc
    except (psycopg.Error, OSError) as exc:
        raise ArchiveUnavailable(
            f"the archive's PostgreSQL at {where} cannot be reached: {first_line(exc)}"
        ) from exc
    try:
        yield conn
    except psycopg.errors.UndefinedTable as exc:
        raise ArchiveUnavailable(
            f"the archive schema {settings.archive_schema} at {where} has no tables yet: "
            "start `pitboss archive` or run `pitboss archive-migrate`"
        ) from exc
    except psycopg.OperationalError as exc:
        raise ArchiveUnavailable(
            f"the archive's PostgreSQL at {where} failed: {first_line(exc)}"
        ) from exc
    finally:
        await conn.close()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unavailable(view: View, exc: ArchiveUnavailable) -> Response:
    return view.json({"error": str(exc), "archive": "unavailable"}, status=503)


def player_tier(player_id: str) -> str | None:
    """The VIP tier of the player's latest profile on this worker (it owns the player)."""
    key = player_id.encode()
    partition = partition_for(player_id, settings.partitions)
    raw = player_profiles.get_many(partition, [key]).get(key)
    return orjson.loads(raw)["vip_tier"] if raw else None


# -- views ---------------------------------------------------------------------------------


@app.page("/pitboss/timeline/{player_id}/")
@requires("timeline.read")
class TimelineView(View):
    """A player's journal, newest first, a page at a time (``next`` → ``before``)."""

    @app.table_route(table=player_profiles, match_info="player_id")
    async def get(self, request: Request, player_id: str) -> Response:
        hidden = (await authorize_player(request, player_tier(player_id))).fields_hidden
        try:
            query = timeline_query(player_id, request.query)
        except BadRequest as exc:
            return self.json({"error": str(exc)}, status=400)
        try:
            async with archive_connection() as conn:
                page = await store.timeline(conn, query, erasure_key(settings))
        except ArchiveUnavailable as exc:
            return unavailable(self, exc)
        return self.json(
            {
                "player_id": player_id,
                "erased": page.erased,
                "count": len(page.items),
                "items": strip_fields(redact_entries(page.items, hidden), hidden),
                "next": encode_cursor(page.next) if page.next else None,
            }
        )


def neutralised(value: Any) -> Any:
    """``value``, with a leading ``'`` if a spreadsheet would read it as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_fields(item: dict[str, Any]) -> list[Any]:
    """One CSV row; a field left out for the caller (``strip_fields``) is an empty cell."""
    reward = item.get("reward") or {}
    cooldown = item.get("cooldown") or {}
    return [
        neutralised(value)
        for value in (
            item["entry_id"],
            item["event_time"],
            item["recorded_at"],
            item["decision"],
            item["rule_id"],
            item["rule_version"],
            item["reason"],
            " ".join(item["event_ids"]),
            item["reward_id"],
            reward.get("kind"),
            reward.get("amount"),
            reward.get("currency"),
            reward.get("message"),
            cooldown.get("reason"),
            cooldown.get("ends_at"),
            orjson.dumps(item.get("details"), option=orjson.OPT_SORT_KEYS).decode(),
        )
    ]


def render(
    fmt: str, items: list[dict[str, Any]], header: bool = False, hidden: tuple[str, ...] = ()
) -> bytes:
    """Export lines, without the ``hidden`` fields: CSV rows (with the header first) or one
    JSON document per line."""
    items = strip_fields(redact_entries(items, hidden), hidden)
    if fmt == "jsonl":
        return b"".join(orjson.dumps(i) + b"\n" for i in items)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_fields(i) for i in items)
    return out.getvalue().encode()


@app.page("/pitboss/timeline/{player_id}/export")
@requires("timeline.read")
class ExportView(View):
    """A player's journal in a time range, oldest first, streamed as CSV or JSON lines."""

    @app.table_route(table=player_profiles, match_info="player_id")
    async def get(self, request: Request, player_id: str) -> Any:
        hidden = (await authorize_player(request, player_tier(player_id))).fields_hidden
        fmt = request.query.get("format", "jsonl")
        try:
            if fmt not in FORMATS:
                raise BadRequest(f"format: csv or jsonl, got {fmt!r}")
            query = timeline_query(player_id, request.query)
        except BadRequest as exc:
            return self.json({"error": str(exc)}, status=400)
        response: web.StreamResponse | None = None
        try:
            async with archive_connection() as conn:
                rows = store.export(conn, query)
                try:
                    # the first row proves the query runs, before the 200 is sent
                    first = await anext(rows, None)
                    response = await self._start(request, player_id, fmt)
                    await response.write(
                        render(fmt, [first] if first else [], header=True, hidden=hidden)
                    )
                    chunk: list[dict[str, Any]] = []
                    async for entry in rows:
                        chunk.append(entry)
                        if len(chunk) >= FLUSH_EVERY:
                            await response.write(render(fmt, chunk, hidden=hidden))
                            chunk.clear()
                    await response.write(render(fmt, chunk, hidden=hidden))
                finally:
                    await rows.aclose()
        except ArchiveUnavailable as exc:
            if response is None:
                return unavailable(self, exc)
            hidden_id = pseudonym(player_id, erasure_key(settings))
            log.warning("export of player %s cut short: %s", hidden_id, exc)
            raise  # the response ends unterminated, so the client sees it is incomplete
        await response.write_eof()
        return response

    @staticmethod
    async def _start(request: Request, player_id: str, fmt: str) -> web.StreamResponse:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", player_id)
        response = web.StreamResponse(
            headers={
                "Content-Type": FORMATS[fmt],
                "Content-Disposition": f'attachment; filename="{name}-timeline.{fmt}"',
            }
        )
        await response.prepare(request)  # type: ignore[arg-type]
        return response
