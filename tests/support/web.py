"""The worker's web routes, read from the app's own router, for the tests that must cover
every route (a route added without auth or without documentation fails them)."""

from __future__ import annotations

import re

SAMPLE_PATH_VALUES = {"player_id": "p-route", "board_key": "points-per-game-daily:X:2026-01-01"}


def served_routes() -> dict[str, set[str]]:
    """Every route pattern the worker's web server answers, and its methods (without HEAD,
    which aiohttp adds to every GET)."""
    import app.main
    from app.streaming.faust_app import app

    routes: dict[str, set[str]] = {}
    for route in app.web.web_app.router.routes():
        if route.resource is not None and route.method != "HEAD":
            routes.setdefault(route.resource.canonical, set()).add(route.method)
    return routes


def sample_path(pattern: str) -> str:
    """``pattern`` with each ``{name}`` filled in."""
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES.get(m.group(1), "x"), pattern)
