"""The views about the web surface itself: the health probe, and the OpenAPI description of
every view (``openapi.yaml``, next to this module)."""

from __future__ import annotations

from pathlib import Path

import yaml
from faust.web import Request, Response, View

from app.security.middleware import requires
from app.streaming.faust_app import app

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
OPENAPI = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))


@app.page("/health")
class HealthView(View):
    """Open to all (probes carry no credentials), so it says nothing but that it answers."""

    async def get(self, request: Request) -> Response:
        return self.json({"status": "ok"})


@app.page("/pitboss/openapi.json")
@requires("api.read")
class OpenApiView(View):
    async def get(self, request: Request) -> Response:
        return self.json(OPENAPI)
