"""The access log, for auditors: who read or changed what, when, from where, and whether it
was allowed, queried from the archive by player, by subject and by time, newest first, a
page at a time (``next`` -> ``before``)."""

from __future__ import annotations

import re

from faust.web import Request, Response, View

from app.archive import store
from app.archive.store import AccessQuery, ArchiveUnavailable, Cursor
from app.archive.views import (
    BadRequest,
    archive_connection,
    decode_cursor,
    encode_cursor,
    parse_limit,
    parse_text,
    time_range,
    unavailable,
)
from app.core.ids import pseudonym
from app.security.erasure_key import erasure_key
from app.security.middleware import requires
from app.streaming.faust_app import app, settings

_ROW_ID = re.compile(r"[0-9]{1,18}")


def access_query(params: dict[str, str], erasure_key: bytes) -> AccessQuery:
    """The query a request's parameters ask for; BadRequest saying which one is wrong.
    ``erasure_key`` makes the player's marker, the name of entries recorded without their
    secret."""
    since, until = time_range(params)
    cursor = decode_cursor(params.get("before"))
    if cursor is not None and not _ROW_ID.fullmatch(cursor.entry_id):
        raise BadRequest("before: not a cursor from a previous page of the access log")
    player_id = parse_text("player_id", params.get("player_id"))
    return AccessQuery(
        player_id=player_id,
        player_marker=None if player_id is None else pseudonym(player_id, erasure_key),
        subject=parse_text("subject", params.get("subject")),
        limit=parse_limit(params.get("limit")),
        before=(cursor.event_time, int(cursor.entry_id)) if cursor else None,
        since=since,
        until=until,
    )


@app.page("/pitboss/access-log/")
@requires("access_log.read")
class AccessLogView(View):
    """Access-log entries, newest first: ``player_id``, ``subject``, ``from``, ``to``,
    ``limit`` and ``before`` narrow them down."""

    async def get(self, request: Request) -> Response:
        try:
            query = access_query(dict(request.query), erasure_key(settings))
        except BadRequest as exc:
            return self.json({"error": str(exc)}, status=400)
        try:
            async with archive_connection() as conn:
                items, after = await store.access_entries(conn, query)
        except ArchiveUnavailable as exc:
            return unavailable(self, exc)
        return self.json(
            {
                "count": len(items),
                "items": items,
                "next": encode_cursor(Cursor(after[0], str(after[1]))) if after else None,
            }
        )
