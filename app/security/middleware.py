"""The door of every web surface: an aiohttp middleware that authenticates each request,
authorizes it against the route's declared permission, and hands every decision to the
access log before anything is served.

Fail closed: a route that declares no permission is refused (so a new view cannot ship
open by accident), only the health routes answer without credentials, and a decision the
access log cannot record is not acted on (503). Responses say why in one line of JSON, never
with a traceback. A view that serves one player's data asks ``authorize_player`` once it knows
the player's tier (the VIP restriction, the fields to hide).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from app.security.access import AccessPolicy, Decision
from app.security.access_log import access_entry
from app.security.authenticate import Authenticator
from app.security.principal import AuthenticationError, Principal
from app.security.tokens import KeysUnavailable

log = logging.getLogger(__name__)

#: Answer without credentials: liveness and readiness probes carry none.
HEALTH_ROUTES = frozenset({"/health", "/livez", "/readyz"})
#: Records one decision in the access log (AccessLogUnavailable if it cannot).
Record = Callable[[Principal | None, str | None, Decision], Awaitable[None]]
#: The attribute ``requires`` sets on a handler.
PERMISSION_ATTRIBUTE = "required_permission"
REALM = "pitboss"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

#: Receives each AccessLogEntry record; may be a coroutine function.
OnAccess = Callable[[dict[str, Any]], Awaitable[None] | None]
Handler = TypeVar("Handler")


def requires(permission: str) -> Callable[[Handler], Handler]:
    """Declare the permission a handler (function or class-based view) needs."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, PERMISSION_ATTRIBUTE, permission)
        return handler

    return mark


class AccessLogUnavailable(Exception):
    """The access log refused an entry: the decision is not acted on."""


@dataclass
class RequestAccess:
    """What the middleware decided about a request, for the view to refine per player."""

    principal: Principal
    permission: str
    decision: Decision
    policy: AccessPolicy
    record: Record


#: ``request[ACCESS]``: the RequestAccess of an authorized request.
ACCESS = web.RequestKey("pitboss.access", RequestAccess)


def _json(
    status: int, error: str, detail: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": error, "detail": detail}, status=status, headers=headers)


def _challenge(error: str | None = None, description: str = "") -> dict[str, str]:
    """RFC 6750's ``WWW-Authenticate: Bearer`` (RFC 9470's error for a step-up)."""
    value = f'Bearer realm="{REALM}"'
    if error:
        safe = re.sub(r'[^ -~]|["\\]', "", description)
        value += f', error="{error}", error_description="{safe}"'
    return {"WWW-Authenticate": value}


def forbidden(decision: Decision) -> web.HTTPException:
    """The response to a refusal: 401 asking for a stronger login (``step_up``), else 403."""
    if decision.step_up:
        return web.HTTPUnauthorized(
            text=_json(401, "insufficient_user_authentication", decision.reason).text,
            content_type="application/json",
            headers=_challenge("insufficient_user_authentication", decision.reason),
        )
    return web.HTTPForbidden(
        text=_json(403, "forbidden", decision.reason).text, content_type="application/json"
    )


async def authorize_player(request: web.Request, player_tier: str | None) -> Decision:
    """The request's decision for one player of ``player_tier``, recorded in the access log;
    raises the 401/403 response when refused. ``fields_hidden`` is what to strip
    (``app.security.access.strip_fields``) from what the view returns."""
    access: RequestAccess = request[ACCESS]
    decision = access.policy.authorize(access.principal, access.permission, player_tier)
    await access.record(access.principal, access.permission, decision)
    access.decision = decision
    if not decision.allowed:
        raise forbidden(decision)
    return decision


def auth_middleware(
    authenticator: Authenticator,
    policy: AccessPolicy,
    on_access: OnAccess,
    routes: Mapping[str, str] | None = None,
    open_routes: frozenset[str] = HEALTH_ROUTES,
    cookie: tuple[str, str] | None = None,
) -> Any:
    """The middleware for an aiohttp application.

    ``routes`` maps a route's path pattern (``/pitboss/players/{player_id}/``), or a method and
    pattern (``POST /pitboss/rules/``), to its permission, for views that cannot carry
    ``@requires`` (Faust's); the method-specific entry wins, then the pattern, then the handler's
    own declaration.

    ``cookie`` (a route prefix and a cookie name): on routes under the prefix only, a request
    without an ``Authorization`` header may carry its bearer token in that cookie (the
    console's session, ``app.console.session``); it is judged and logged like the header.
    """
    declared = dict(routes or {})

    def permission_of(request: web.Request, pattern: str | None) -> str | None:
        return (
            declared.get(f"{request.method} {pattern}")
            or declared.get(pattern or "")
            or getattr(request.match_info.route.handler, PERMISSION_ATTRIBUTE, None)
        )

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        resource = request.match_info.route.resource
        pattern = resource.canonical if resource is not None else None
        if pattern in open_routes:
            return await handler(request)
        header_id = request.headers.get("X-Request-Id", "")
        request_id = header_id if _REQUEST_ID.fullmatch(header_id) else uuid.uuid4().hex
        action = f"{request.method} {pattern or request.path[:200]}"

        async def record(who: Principal | None, permission: str | None, decision: Decision) -> None:
            entry = access_entry(
                request_id=request_id,
                occurred_at=int(time.time() * 1000),
                principal=who,
                permission=permission,
                action=action,
                decision=decision,
                player_id=request.match_info.get("player_id"),
                remote=request.remote,
            )
            try:
                result = on_access(entry)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                log.exception("the access log refused an entry for request %s", request_id)
                raise AccessLogUnavailable from exc

        try:
            return await decide(request, handler, pattern, record)
        except AccessLogUnavailable:
            return _json(503, "unavailable", "the access log cannot record this request")
        except KeysUnavailable as exc:
            return _json(503, "unavailable", str(exc))

    async def decide(
        request: web.Request, handler: Any, pattern: str | None, record: Record
    ) -> web.StreamResponse:
        header = request.headers.get("Authorization")
        if header is None and cookie and (pattern or "").startswith(cookie[0]):
            session = request.cookies.get(cookie[1])
            header = f"Bearer {session}" if session else None
        try:
            if authenticator.fetches:
                principal = await asyncio.to_thread(authenticator.authenticate, header)
            else:
                principal = authenticator.authenticate(header)
        except AuthenticationError as exc:
            await record(None, None, Decision(False, str(exc)))
            challenge = _challenge("invalid_token", str(exc)) if header else _challenge()
            return _json(401, "unauthenticated", str(exc), challenge)
        if request.match_info.http_exception is not None:  # no such route, or method
            await record(principal, None, Decision(False, "no such route"))
            return await handler(request)
        permission = permission_of(request, pattern)
        if permission is None:
            decision = Decision(False, "this route declares no permission, so it is refused")
        else:
            decision = policy.authorize(principal, permission)
        await record(principal, permission, decision)
        if not decision.allowed or permission is None:
            raise forbidden(decision)
        request[ACCESS] = RequestAccess(principal, permission, decision, policy, record)
        return await handler(request)

    return middleware
