"""Rendering the console's pages: Jinja2 templates (``templates/``, escaped by default) with
the stylesheet and scripts (``static/``) inlined under a per-response nonce, so the Content
Security Policy allows no other script or style, and nothing is fetched from elsewhere."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

STATIC = Path(__file__).with_name("static")

ENVIRONMENT = Environment(
    loader=PackageLoader("app.console", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def shown(value: Any, name: str = "") -> str:
    """A profile field as a person reads it: lists joined, records as compact JSON, a moment
    (``…_at``, epoch milliseconds) in ISO-8601."""
    if value is None:
        return "-"
    if name.endswith("_at") and isinstance(value, int) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value / 1000, UTC)
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value) or "none"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


ENVIRONMENT.filters["shown"] = shown

#: The console's pages, by path, for the navigation (each shown only to roles it admits).
NAVIGATION = (
    ("/console/", "Live overview", "stats.read"),
    ("/console/players/", "Player lookup", "timeline.read"),
    ("/console/rules/", "Rules", "rules.read"),
)


@cache
def static(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def policy(nonce: str) -> str:
    """Scripts and styles only from this response (the nonce), requests only to this origin."""
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def page(template: str, status: int = 200, **context: Any) -> web.Response:
    """``template`` rendered as a complete HTML response."""
    nonce = secrets.token_urlsafe(16)
    body = ENVIRONMENT.get_template(template).render(nonce=nonce, static=static, **context)
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        headers={
            "Content-Security-Policy": policy(nonce),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )
