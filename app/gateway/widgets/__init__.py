"""The table-screen widgets (``pitboss-widgets.js``, its themes and a demo page), served by the
gateway under ``/widgets/`` as they are, without a token: they are code and styles, never a
player's data (the widgets fetch that with the player's token), like ``/health``.

Only the files shipped here are served (a fixed list, so no path reaches elsewhere), with a
strict Content Security Policy: the demo page runs only these scripts and styles and talks only
to its own origin.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

HERE = Path(__file__).parent
#: the served files by their path under /widgets/
FILES = {
    path.relative_to(HERE).as_posix(): path
    for path in sorted(HERE.rglob("*"))
    if path.suffix in {".js", ".css", ".html"}
}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # the demo page carries a token in its query: never send it on as a referrer
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
ROUTE = "/widgets/{name:.+}"


async def widget_file(request: web.Request) -> web.StreamResponse:
    """One shipped file (conditional requests answered by aiohttp), or 404."""
    path = FILES.get(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound(reason="No such widget file")
    return web.FileResponse(path, headers=HEADERS)
