"""Refusals of console pages as pages: a browser asking for a console page without a usable
session gets the login form (still 401, with the door's reason), one whose roles do not admit
the page gets a short explanation and the pages it may open (403). Programs, which do not ask
for HTML, keep the door's one-line JSON."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from app.console.pages import page
from app.console.session import COOKIE, PREFIX


def _detail(body: Any) -> str:
    try:
        return str(json.loads(body)["detail"])
    except (TypeError, ValueError, KeyError):
        return ""


def wants_page(request: web.Request) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and request.path.startswith(PREFIX)
        and "text/html" in request.headers.get("Accept", "")
    )


@web.middleware
async def console_refusals(request: web.Request, handler: Any) -> web.StreamResponse:
    """Outside the door: turns its 401 and 403 on a console page into the login or the
    forbidden page."""
    if not wants_page(request):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status not in (401, 403):
            raise
        response = exc
    if response.status == 401:
        # why a session was refused (expired, MFA needed); nothing when there was none
        sent = COOKIE in request.cookies
        detail = _detail(getattr(response, "text", None)) if sent else ""
        refused = page("login.html", status=401, detail=detail)
        refused.headers["WWW-Authenticate"] = response.headers.get("WWW-Authenticate", "")
        return refused
    if response.status == 403:
        return page("forbidden.html", status=403, detail=_detail(getattr(response, "text", None)))
    return response
