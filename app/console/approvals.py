"""Pushes waiting for a second crm_manager (``second_approver: [rules.push]`` in access.yaml),
kept in the archive's PostgreSQL (``console_push_requests``, migration 0005) so that every
worker's console lists them, any worker approves them, and a restart forgets nothing.

A request holds the ruleset text and the live revision it was diffed against; the approval
publishes exactly that text, only if that revision is still live (``push``'s
``if_revision``), so nobody approves a change on top of a push they did not see. The person
who asked cannot approve their own request. An approval first claims the row (one UPDATE, so
two people approving at once on two workers cannot both publish), then publishes, then
deletes it; a claim whose worker died is taken over after ``CLAIM_EXPIRES_S``, when
``if_revision`` still stops a second publication of a push that did go out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

#: After this long, a claim whose approval never finished may be taken by another approval.
CLAIM_EXPIRES_S = 60


class ApprovalRefused(ValueError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PendingPush:
    request_id: str
    requester: str
    text: str
    live_revision: int
    lines: tuple[str, ...]
    requested_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "requester": self.requester,
            "live_revision": self.live_revision,
            "lines": list(self.lines),
            "requested_at": self.requested_at,
        }


_COLUMNS = (
    "request_id, requester, text, live_revision, lines,"
    " (extract(epoch FROM requested_at) * 1000)::bigint"
)
ADD = f"""
INSERT INTO console_push_requests (request_id, ruleset_id, requester, text, live_revision, lines)
VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}
"""
CLAIM = f"""
UPDATE console_push_requests SET claimed_by = %(approver)s, claimed_at = now()
 WHERE request_id = %(request_id)s AND ruleset_id = %(ruleset_id)s
   AND requester <> %(approver)s
   AND (claimed_at IS NULL OR claimed_at < now() - make_interval(secs => %(expires)s))
RETURNING {_COLUMNS}
"""
WHY_NOT = """
SELECT requester, claimed_by FROM console_push_requests
 WHERE request_id = %s AND ruleset_id = %s
"""
LISTED = f"""
SELECT {_COLUMNS} FROM console_push_requests WHERE ruleset_id = %s ORDER BY requested_at
"""


def _pending(row: tuple[Any, ...]) -> PendingPush:
    request_id, requester, text, live_revision, lines, requested_at = row
    return PendingPush(request_id, requester, text, live_revision, tuple(lines), requested_at)


async def add(
    conn: AsyncConnection,
    ruleset_id: str,
    requester: str,
    text: str,
    live_revision: int,
    lines: list[str],
) -> PendingPush:
    cursor = await conn.execute(
        ADD, (uuid.uuid4().hex[:16], ruleset_id, requester, text, live_revision, lines)
    )
    row = await cursor.fetchone()
    assert row is not None
    return _pending(row)


async def claim(
    conn: AsyncConnection, ruleset_id: str, request_id: str, approver: str
) -> PendingPush:
    """The request, now claimed by ``approver`` (ApprovalRefused: none such, their own, or
    another approval of it under way)."""
    asked = {
        "approver": approver,
        "request_id": request_id,
        "ruleset_id": ruleset_id,
        "expires": CLAIM_EXPIRES_S,
    }
    row = await (await conn.execute(CLAIM, asked)).fetchone()  # one statement: atomic
    if row is not None:
        return _pending(row)
    found = await (await conn.execute(WHY_NOT, (request_id, ruleset_id))).fetchone()
    if found is None:
        raise ApprovalRefused(f"no push request {request_id[:40]!r} is waiting", 404)
    requester, claimed_by = found
    if requester == approver:
        raise ApprovalRefused(
            "a push needs a second person: another crm_manager must approve it", 403
        )
    raise ApprovalRefused(f"{claimed_by} is approving this push request right now", 409)


async def release(conn: AsyncConnection, request_id: str) -> None:
    """The claimed request waits again (its publication could not be tried)."""
    await conn.execute(
        "UPDATE console_push_requests SET claimed_by = NULL, claimed_at = NULL"
        " WHERE request_id = %s",
        (request_id,),
    )


async def drop(conn: AsyncConnection, request_id: str) -> None:
    await conn.execute("DELETE FROM console_push_requests WHERE request_id = %s", (request_id,))


async def listed(conn: AsyncConnection, ruleset_id: str) -> list[PendingPush]:
    cursor = await conn.execute(LISTED, (ruleset_id,))
    return [_pending(row) for row in await cursor.fetchall()]
