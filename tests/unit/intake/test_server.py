"""The intake's OpenAPI document describes exactly the routes the server has."""

from __future__ import annotations

import pytest
import yaml

from app.intake.server import OPENAPI_PATH, Intake
from app.intake.settings import AmqpSettings, IntakeSettings
from app.intake.sources import Sources
from app.security.settings import SecuritySettings
from app.settings import Settings
from tests.support.factories import ERASURE_KEY


def test_the_openapi_document_lists_every_route_the_intake_serves():
    intake = Intake(
        Settings.from_env({}),
        IntakeSettings.from_env({}),
        Sources({}, 300),
        SecuritySettings.from_env({}),
        ERASURE_KEY,
    )
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in intake.app().router.routes()
        if route.method != "HEAD"
    }
    document = yaml.safe_load(OPENAPI_PATH.read_text())
    described = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert served == described


def test_intake_settings_have_their_documented_defaults_and_refuse_nonsense():
    config = IntakeSettings.from_env({})
    assert (config.bind, config.port, config.max_in_flight) == ("127.0.0.1", 6070, 20_000)
    assert (config.max_body, config.signature_tolerance) == (4 * 1024 * 1024, 300.0)
    with pytest.raises(ValueError, match="PITBOSS_INTAKE_MAX_IN_FLIGHT must be a whole number"):
        IntakeSettings.from_env({"PITBOSS_INTAKE_MAX_IN_FLIGHT": "0"})


def test_amqp_settings_have_their_documented_defaults():
    amqp = AmqpSettings.from_env({"PITBOSS_AMQP_SOURCE": "croupier"})
    assert (amqp.url, amqp.queue) == ("amqp://guest:guest@127.0.0.1:5672/", "pitboss-table-events")
    assert (amqp.source, amqp.prefetch) == ("croupier", 64)
