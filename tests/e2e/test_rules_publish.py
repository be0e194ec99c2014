"""Publishing rulesets to a real crm-rules topic and reading them back, as workers will."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from app.operations.admin import admin_client, ensure_topics, list_topics
from app.operations.topics import topic_specs
from app.rules import DEFAULT_RULESET_PATH
from app.rules.loader import RulesFileError
from app.rules.publish import (
    RulesTopicMissingError,
    StaleRevisionError,
    fetch_all_live,
    fetch_live,
    list_live,
    push,
    withdraw,
)
from app.settings import Settings

pytestmark = pytest.mark.broker


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


def fresh_settings() -> Settings:
    """The environment's settings (its broker) with topic names of their own."""
    return Settings.from_env({**os.environ, "PITBOSS_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:10]}-"})


@pytest.fixture
def settings() -> Iterator[Settings]:
    """Settings with a crm-rules topic of their own, created the way `pitboss topics` does."""
    s = fresh_settings()
    rules_topics = (s.topics.crm_rules, s.topics.crm_rules_history)
    run(ensure_topics(s, [t for t in topic_specs(s) if t.name in rules_topics]))
    yield s

    async def delete() -> None:
        async with admin_client(s) as client:
            await client.delete_topics(list(rules_topics))

    with contextlib.suppress(Exception):
        run(delete())


def edited_copy(tmp_path: Path, old: str, new: str, ruleset: str = "default") -> Path:
    text = DEFAULT_RULESET_PATH.read_text()
    assert old in text
    path = tmp_path / f"{ruleset}-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(text.replace(old, new).replace("ruleset: default", f"ruleset: {ruleset}"))
    return path


def test_push_fetch_repush_change_list_and_withdraw(settings: Settings, tmp_path: Path) -> None:
    assert run(fetch_live(settings)) is None

    first, diff = run(push(settings, DEFAULT_RULESET_PATH, now_ms=1000, source="test"))
    assert first is not None and first["revision"] == 1
    assert len(diff.of("added")) == len(first["rules"])
    assert run(fetch_live(settings, "default")) == first

    again, same = run(push(settings, DEFAULT_RULESET_PATH))
    assert again is None and not same.has_changes
    assert run(fetch_live(settings))["revision"] == 1  # nothing new on the topic

    changed = edited_copy(tmp_path, "length: 5", "length: 6")
    second, diff = run(push(settings, changed))
    assert second["revision"] == 2
    assert {r.rule_id for r in diff.of("changed")} == {"loss-streak-5"}
    live = run(fetch_live(settings))
    assert live == second
    assert {r["id"]: r["version"] for r in live["rules"]}["loss-streak-5"] == 2

    other = edited_copy(tmp_path, "length: 5", "length: 5", ruleset="vip-tables")
    run(push(settings, other))
    listed = run(list_live(settings))
    assert [(d["ruleset"], d["revision"]) for d in listed] == [("default", 2), ("vip-tables", 1)]

    assert run(withdraw(settings, "default")) is True
    assert run(fetch_live(settings)) is None
    assert set(run(fetch_all_live(settings))) == {"vip-tables"}
    assert run(withdraw(settings, "default")) is False


def test_a_push_with_if_revision_refuses_to_overwrite_a_push_it_has_not_seen(
    settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(StaleRevisionError, match="at revision 0, not 1"):
        run(push(settings, DEFAULT_RULESET_PATH, if_revision=1))
    first, _ = run(push(settings, DEFAULT_RULESET_PATH, if_revision=0))
    assert first is not None and first["revision"] == 1
    mine = edited_copy(tmp_path, "length: 5", "length: 6")
    theirs = edited_copy(tmp_path, "length: 5", "length: 7")
    run(push(settings, theirs, if_revision=1))  # a colleague publishes revision 2 first
    with pytest.raises(StaleRevisionError, match="at revision 2, not 1"):
        run(push(settings, mine, if_revision=1))
    assert run(fetch_live(settings))["revision"] == 2  # theirs stands
    second, _ = run(push(settings, mine, if_revision=2))
    assert second is not None and second["revision"] == 3


def test_an_invalid_file_publishes_nothing(settings: Settings, tmp_path: Path) -> None:
    broken = edited_copy(tmp_path, "length: 5", "length: 0")
    with pytest.raises(RulesFileError, match=r"trigger\.length"):
        run(push(settings, broken))
    assert run(fetch_all_live(settings)) == {}


def test_a_record_written_by_hand_is_read_back_as_is(settings: Settings) -> None:
    """Workers read whatever the topic holds: the wire format is key=id, value=JSON."""

    async def write() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
        await producer.start()
        try:
            for value in ({"ruleset": "x", "revision": 1}, {"ruleset": "x", "revision": 2}):
                await producer.send_and_wait(
                    settings.topics.crm_rules, orjson.dumps(value), key=b"x"
                )
        finally:
            await producer.stop()

    run(write())
    assert run(fetch_live(settings, "x")) == {"ruleset": "x", "revision": 2}


def test_a_missing_topic_is_refused_not_auto_created() -> None:
    s = fresh_settings()
    with pytest.raises(RulesTopicMissingError, match="pitboss topics"):
        run(fetch_live(s))
    assert s.topics.crm_rules not in run(list_topics(s))
