"""Empty-fetch pacing applies only where the setting asks for it (app.streaming.pacing);
tests/e2e/test_pacing.py measures it against the broker."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from app.settings import Settings
from app.streaming.pacing import EMPTY_FETCH_PAUSE, start_paced


class FakeFetcher:
    """aiokafka's ``Fetcher`` as pacing sees it: one fetch request that finds ``has_data``."""

    def __init__(self, has_data: bool) -> None:
        self.has_data = has_data
        self.requests = 0

    async def _proc_fetch_request(self, assignment, node_id, request) -> bool:
        self.requests += 1
        return self.has_data


def consumer_with(fetcher: FakeFetcher) -> SimpleNamespace:
    consumer = SimpleNamespace(started=False, _fetcher=None)

    async def start() -> None:
        consumer.started = True
        consumer._fetcher = fetcher  # as aiokafka's start() creates it

    consumer.start = start
    return consumer


def test_pacing_off_only_starts_the_consumer():
    fetcher = FakeFetcher(has_data=False)
    own = fetcher._proc_fetch_request
    consumer = consumer_with(fetcher)
    asyncio.run(start_paced(consumer, pace=False))
    assert consumer.started
    assert "_proc_fetch_request" not in vars(fetcher) and fetcher._proc_fetch_request == own


def test_pacing_on_pauses_after_a_hasty_empty_fetch_only():
    async def one_fetch(has_data: bool) -> tuple[bool, float, FakeFetcher]:
        fetcher = FakeFetcher(has_data)
        await start_paced(consumer_with(fetcher), pace=True)
        loop = asyncio.get_running_loop()
        began = loop.time()
        found = await fetcher._proc_fetch_request(None, 0, None)
        return found, loop.time() - began, fetcher

    found, waited, fetcher = asyncio.run(one_fetch(True))
    assert "_proc_fetch_request" in vars(fetcher)  # wrapped on the instance
    assert found and fetcher.requests == 1 and waited < EMPTY_FETCH_PAUSE
    found, waited, fetcher = asyncio.run(one_fetch(False))
    assert not found and fetcher.requests == 1 and waited >= EMPTY_FETCH_PAUSE * 0.9


@pytest.mark.parametrize(
    ("env", "paced"),
    [
        ({}, True),  # the local development broker: it answers empty fetches at once
        ({"PITBOSS_BROKER_URL": "kafka://kafka-1:9092"}, False),
        ({"PITBOSS_BROKER_URL": "kafka://kafka-1:9092", "PITBOSS_PACE_EMPTY_FETCHES": "on"}, True),
        ({"PITBOSS_PACE_EMPTY_FETCHES": "0"}, False),
        ({"PITBOSS_PACE_EMPTY_FETCHES": " False "}, False),
    ],
)
def test_pacing_is_on_by_default_with_the_local_broker_only(env, paced):
    assert Settings.from_env(env).pace_empty_fetches is paced


def test_a_pacing_setting_that_is_not_a_yes_or_no_is_refused():
    with pytest.raises(ValueError, match="PITBOSS_PACE_EMPTY_FETCHES"):
        Settings.from_env({"PITBOSS_PACE_EMPTY_FETCHES": "sometimes"})
