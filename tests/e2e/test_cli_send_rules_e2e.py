"""``pitboss send`` as docs/contract.md shows it sends Avro, never the raw JSON; and
``pitboss rules diff --exit-code`` says by its exit code whether a ruleset file would change
what is live (like ``git diff --exit-code``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.contract.codec import AvroCodec
from app.devtools.deployment import Deployment
from app.rules import DEFAULT_RULESET_PATH
from app.rules.publish import push
from tests.e2e.test_cli_e2e import one_line_error, pitboss
from tests.support.factories import table_event

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_send_encodes_the_json_value_with_the_contract_codec(dep: Deployment):
    topic = dep.settings.topics.table_events
    event = table_event(player_id="p-send-1")
    args = ("send", topic, "--key", "p-send-1", "--value-serializer", "avro.TableEvent")
    sent = pitboss(dep.env, *args, json.dumps(event))
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["topic"] == topic
    [record] = dep.read_all(topic)
    assert record.key == b"p-send-1"
    assert AvroCodec("TableEvent").decode(record.value) == event


def test_send_refuses_what_it_cannot_encode_and_sends_nothing(dep: Deployment):
    topic = dep.settings.topics.table_events
    event = json.dumps(table_event())
    one_line_error(
        pitboss(dep.env, "send", topic, "--value-serializer", "avro.NoSuch", event),
        2,
        "avro.NoSuch",
        "unknown schema",
    )
    one_line_error(
        pitboss(dep.env, "send", topic, "--value-serializer", "avro.TableEvent", '{"a": 1}'),
        2,
        "TableEvent",
    )
    one_line_error(pitboss(dep.env, "send", topic, "--value-serializer", "nosuch", event), 2)
    assert dep.read_all(topic) == []


def test_rules_diff_exit_code_says_whether_the_file_would_change_the_live_ruleset(
    dep: Deployment, tmp_path: Path
):
    asyncio.run(push(dep.settings, DEFAULT_RULESET_PATH))
    same = pitboss(dep.env, "rules", "diff", "--exit-code", str(DEFAULT_RULESET_PATH))
    assert same.returncode == 0, same.stderr
    assert "no changes from revision 1" in same.stdout
    changed = tmp_path / "rules.yaml"
    text = DEFAULT_RULESET_PATH.read_text()
    assert "length: 5" in text
    changed.write_text(text.replace("length: 5", "length: 6", 1))
    differs = pitboss(dep.env, "rules", "diff", "--exit-code", str(changed))
    assert differs.returncode == 1, differs.stderr
    assert "revision 1 -> 2" in differs.stdout and "length 5 -> 6" in differs.stdout
    assert pitboss(dep.env, "rules", "diff", str(changed)).returncode == 0  # no flag: 0
