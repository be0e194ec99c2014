"""The console's session cookie: the staff token the person pasted at login, kept by the
browser so the pages need no script to send it.

HttpOnly (page scripts cannot read it), SameSite=Strict (no other site's page can make the
browser send it), Secure when served over HTTPS, and scoped to the console's path; the door
accepts it on console routes only (``app.security.middleware``). It lives as long as the
browser session; the token's own expiry still applies at every request.
"""

from __future__ import annotations

from aiohttp import web

#: Console routes start with this; the session cookie is sent and accepted under it only.
PREFIX = "/console/"
COOKIE = "pitboss_console"


def open_session(response: web.StreamResponse, token: str, secure: bool) -> None:
    response.set_cookie(COOKIE, token, path=PREFIX, httponly=True, samesite="Strict", secure=secure)


def close_session(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path=PREFIX, httponly=True, samesite="Strict")
