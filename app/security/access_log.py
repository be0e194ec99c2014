"""The access log: one AccessLogEntry (schemas/AccessLogEntry.avsc) per access decision, so
every read of a player's data and every change can be traced to who, when and from where."""

from __future__ import annotations

from typing import Any

from app.security.access import Decision
from app.security.principal import Principal


def access_entry(
    *,
    request_id: str,
    occurred_at: int,
    principal: Principal | None,
    permission: str | None,
    action: str,
    decision: Decision,
    player_id: str | None = None,
    remote: str | None = None,
) -> dict[str, Any]:
    """The AccessLogEntry record of one decision; ``principal`` None means no credentials
    verified (the entry is ANONYMOUS), ``occurred_at`` is epoch milliseconds."""
    return {
        "request_id": request_id,
        "occurred_at": occurred_at,
        "subject": principal.subject if principal else None,
        "kind": principal.kind.value if principal else "ANONYMOUS",
        "roles": sorted(principal.roles) if principal else [],
        "permission": permission,
        "action": action,
        "player_id": player_id,
        "allowed": decision.allowed,
        "reason": decision.reason,
        "fields_hidden": list(decision.fields_hidden),
        "remote": remote,
    }
