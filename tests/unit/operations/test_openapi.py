"""The OpenAPI description and the worker's router agree: every route the worker serves is
described, with its methods, and nothing described is missing from the worker."""

from __future__ import annotations

from app.operations.api_views import OPENAPI
from app.security.middleware import HEALTH_ROUTES
from tests.support.web import served_routes

METHODS = {"get", "put", "post", "delete", "patch", "options"}


def described() -> dict[str, set[str]]:
    return {
        path: {m.upper() for m in operations if m in METHODS}
        for path, operations in OPENAPI["paths"].items()
    }


def test_every_served_route_is_described_and_vice_versa():
    assert served_routes() == described()


def test_only_the_health_routes_are_described_as_open():
    open_routes = {
        path
        for path, operations in OPENAPI["paths"].items()
        for op in operations.values()
        if op.get("security", OPENAPI["security"]) == []
    }
    assert open_routes and open_routes <= HEALTH_ROUTES


def test_every_route_but_health_declares_a_known_permission():
    from app.security.permissions import CATALOGUE
    from app.streaming.faust_app import app
    from app.streaming.web import declared_permissions

    declared = declared_permissions(app.web)
    assert set(declared) == set(served_routes()) - HEALTH_ROUTES
    assert set(declared.values()) <= set(CATALOGUE)
