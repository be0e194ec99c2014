"""Markers, the hypothesis profile, the broker check and the end-to-end deployment.

Tests under tests/unit need no broker; tests under tests/e2e are marked ``broker`` and get
a clear failure, not a hang, when no broker answers where the environment's settings say.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.devtools.deployment import Deployment
from app.devtools.localbroker import broker_answers
from app.settings import Settings
from tests.support import hypothesis_profiles

UNIT = Path(__file__).parent / "unit"
E2E = Path(__file__).parent / "e2e"
MARKERS = (
    "broker: talks to a Kafka-compatible broker (the one the environment's settings name)",
    "slow: takes more than a few seconds (worker processes, restarts)",
    "deployment(partitions=4, **env): how the `dep` fixture's deployment is created",
)


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    hypothesis_profiles.load()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything in tests/e2e needs the broker; nothing in tests/unit may."""
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.broker)
        elif item.path.is_relative_to(UNIT) and item.get_closest_marker("broker"):
            raise pytest.UsageError(f"{item.nodeid} needs a broker: move it to tests/e2e")


def pytest_report_header() -> str:
    return f"hypothesis profile: {hypothesis_profiles.active()}"


@pytest.fixture(scope="session")
def broker() -> Settings:
    """The environment's settings, once a broker answers at their bootstrap servers."""
    settings = Settings.from_env()
    if not broker_answers(settings.bootstrap_servers, timeout=3.0):
        pytest.fail(
            f"no Kafka broker answers at {','.join(settings.bootstrap_servers)}: start the local "
            "one with `make broker` (or run `make test`), or set PITBOSS_BROKER_URL / "
            "PITBOSS_LOCAL_BROKER_PORT to one that runs",
            pytrace=False,
        )
    return settings


@pytest.fixture(autouse=True)
def _broker_tests_need_a_broker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("broker"):
        request.getfixturevalue("broker")


@pytest.fixture
def dep(request: pytest.FixtureRequest, tmp_path: Path, broker: Settings) -> Iterator[Deployment]:
    """An isolated deployment in ``tmp_path``; its workers are killed and its topics deleted
    afterwards. ``@pytest.mark.deployment(partitions=2, PITBOSS_BATCH_MAX="100")`` sets it up."""
    marker = request.node.get_closest_marker("deployment")
    deployment = Deployment.create(tmp_path, **(marker.kwargs if marker else {}))
    yield deployment
    deployment.stop_all()
