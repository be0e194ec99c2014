"""The console's routes on the worker's web server: the session (log in with a pasted staff
token, log out), the live overview and its JSON, player lookup with the archived timeline in
words (the Rules are ``app.console.rules_views``).

Every route declares its permission (``@requires``) and passes the same door, roles and access
log as the JSON views; the session cookie is accepted under ``/console/`` only. A player page is
answered by the worker that holds the player's profile (Faust's table routing, which forwards
the cookie), because the VIP restriction and the fields to hide need the player's tier.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web
from faust.web import Request, Response, View

from app.archive import store
from app.archive.store import ArchiveUnavailable
from app.archive.views import BadRequest, archive_connection, encode_cursor, timeline_query
from app.console import words
from app.console.group import Group, peer_urls
from app.console.overview import overview
from app.console.pages import NAVIGATION, page
from app.console.session import close_session, open_session
from app.metrics.definitions import REGISTRY
from app.pipeline.ingest import partition_for
from app.pipeline.keys import COOLDOWN_INDEX
from app.security.access import redact_entries, strip_fields
from app.security.erasure_key import erasure_key
from app.security.middleware import ACCESS, authorize_player, requires
from app.security.principal import Kind
from app.streaming.diagnostics import consumer_state
from app.streaming.faust_app import app, settings
from tables.players import player_profiles, player_state

#: Fields whose absence means the viewer has no responsible-gaming access.
RG_FIELDS = frozenset({"harm_flags", "self_excluded", "cooldown"})
TIMELINE_PAGE = "50"


def pages_for(request: Request) -> list[tuple[str, str]]:
    """The console pages the viewer's roles admit: the navigation they see."""
    access = request[ACCESS]
    return [
        (href, title)
        for href, title, permission in NAVIGATION
        if access.policy.authorize(access.principal, permission).allowed
    ]


def viewer(request: Request) -> dict[str, Any]:
    """What every page shows of the viewer: who, with which roles, and where they may go."""
    principal = request[ACCESS].principal
    pages = pages_for(request)
    return {
        "subject": principal.subject,
        "roles": sorted(principal.roles),
        "pages": pages,
        "home": pages[0][0] if pages else None,
    }


@app.page("/console/session")
@requires("api.read")
class SessionView(View):
    """GET: who the session is; POST (with ``Authorization: Bearer <token>``): the token
    becomes the session cookie; DELETE: the cookie is cleared (log out)."""

    async def get(self, request: Request) -> Response:
        return self.json(viewer(request))

    async def post(self, request: Request) -> Response:
        if request[ACCESS].principal.kind is not Kind.STAFF:
            return self.json(
                {"error": "bad_request", "detail": "log in with a staff token, not an API key"},
                status=400,
            )
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self.json(
                {"error": "bad_request", "detail": "send the token as Authorization: Bearer"},
                status=400,
            )
        response = self.json(viewer(request))
        open_session(response, token.strip(), secure=request.secure)
        return response

    async def delete(self, request: Request) -> Response:
        response = self.json({"status": "logged out"})
        close_session(response)
        return response


def cooldowns_running() -> int:
    """Players with a cool-down running on this worker's partitions (their cool-down index)."""
    partitions = {
        tp.partition
        for tp in app.assignor.assigned_actives()
        if tp.topic == settings.topics.table_events
    }
    running: set[str] = set()
    for partition in partitions:
        raw = player_state.get_many(partition, [COOLDOWN_INDEX]).get(COOLDOWN_INDEX)
        running.update(orjson.loads(raw) if raw else ())
    return len(running)


GROUP = Group()


def own_overview() -> dict[str, Any]:
    """This worker's overview document."""
    return overview(REGISTRY, consumer_state(app), cooldowns_running(), settings.worker_id)


@app.page("/console/api/overview")
@requires("stats.read")
class OverviewDataView(View):
    """The live overview's figures on this worker: counters since it started, lag, cool-downs."""

    async def get(self, request: Request) -> Response:
        return self.json(own_overview())


@app.page("/console/api/overview/group")
@requires("stats.read")
class GroupOverviewView(View):
    """The overview of every worker: this one's figures, each other worker's (asked at the URL
    it advertises, with the viewer's credentials), their total, and who did not answer."""

    async def get(self, request: Request) -> Response:
        advertised = [*app.assignor.tables_metadata(), *app.assignor.external_topics_metadata()]
        peers = peer_urls(advertised, str(app.conf.canonical_url))
        return self.json(
            await GROUP.overview(own_overview(), peers, app.http_client, request.headers)
        )


@app.page("/console/")
@requires("stats.read")
class OverviewPage(View):
    async def get(self, request: Request) -> Response:
        return page("overview.html", viewer=viewer(request), worker_id=settings.worker_id)


@app.page("/console/players/")
@requires("timeline.read")
class PlayerLookupPage(View):
    """The lookup form; ``?player_id=`` goes to that player's page."""

    async def get(self, request: Request) -> Any:
        player_id = request.query.get("player_id", "").strip()
        if player_id and "\x00" not in player_id:
            raise web.HTTPSeeOther(f"/console/players/{quote(player_id, safe='')}/")
        return page("players.html", viewer=viewer(request), player_id=player_id)


def stored_profile(player_id: str) -> dict[str, Any] | None:
    """The player's latest profile on this worker (it owns the player)."""
    key = player_id.encode()
    raw = player_profiles.get_many(partition_for(player_id, settings.partitions), [key]).get(key)
    return orjson.loads(raw) if raw else None


@app.page("/console/players/{player_id}/")
@requires("timeline.read")
class PlayerPage(View):
    """The player's profile and archived timeline, newest first, every decision in words;
    fields the viewer may not see are left out, and so are the words that would reveal them."""

    @app.table_route(table=player_profiles, match_info="player_id")
    async def get(self, request: Request, player_id: str) -> Any:
        profile = stored_profile(player_id)
        decision = await authorize_player(request, profile["vip_tier"] if profile else None)
        hidden = decision.fields_hidden
        rg_visible = not RG_FIELDS & set(hidden)
        context: dict[str, Any] = {
            "viewer": viewer(request),
            "player_id": player_id,
            "profile": strip_fields(profile, hidden) if profile else None,
            "rg_visible": rg_visible,
            "items": [],
            "next": None,
            "erased": False,
            "problem": None,
        }
        try:
            query = timeline_query(player_id, {**request.query, "limit": TIMELINE_PAGE})
            async with archive_connection() as conn:
                found = await store.timeline(conn, query, erasure_key(settings))
        except BadRequest as exc:
            return page("player.html", status=400, **{**context, "problem": str(exc)})
        except ArchiveUnavailable as exc:
            return page("player.html", status=503, **{**context, "problem": str(exc)})
        context["items"] = [
            {
                **entry,
                "decision_words": words.decision_words(entry["decision"]),
                "why": words.explain(entry, rg_visible),
            }
            for entry in strip_fields(redact_entries(found.items, hidden), hidden)
        ]
        context["next"] = encode_cursor(found.next) if found.next else None
        context["erased"] = found.erased
        return page("player.html", **context)
