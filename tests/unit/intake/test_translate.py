"""A batch through the contract's own checks: each item accepted as the Avro record the worker
reads, or refused with the reason the worker would give, its dead letter holding the item's
original bytes."""

from __future__ import annotations

import io
import time

import fastavro
import orjson
import pytest

from app.contract.codec import AvroCodec
from app.devtools.simulator.vendor import dealerstream_item
from app.intake.translate import BatchRefused, Translator
from app.pipeline.ingest import PERSONAL_ID
from tests.support.factories import ERASURE_KEY, natural, table_event
from tests.unit.intake.test_examples import MAPPINGS

CODEC = AvroCodec("TableEvent")


@pytest.fixture
def translator() -> Translator:
    return Translator("dealerstream", {"json": MAPPINGS["json"]}, ERASURE_KEY)


def now_ms() -> int:
    return int(time.time() * 1000)


def test_a_malformed_item_is_refused_with_its_reason_and_the_rest_accepted(translator):
    now = now_ms()
    good = [table_event(occurred_at=now), natural(occurred_at=now + 1)]
    items = [dealerstream_item(e) for e in good]
    unmappable = {**items[0], "id": "bad-1", "wager": {**items[0]["wager"], "amount": "5.001"}}
    no_player = {**items[0], "id": "bad-2"}
    del no_player["player"]
    body = orjson.dumps({"events": [items[0], unmappable, no_player, items[1]]})
    outcomes = translator.translate("json", body, now)
    assert [o.reason for o in outcomes] == [
        None,
        "bet.stake_minor: 5.001 has more decimals than EUR's 2",
        "BET_PLACED is a player event but player_id is missing",  # ingest's own words
        None,
    ]
    accepted = [o for o in outcomes if o.reason is None]
    assert [CODEC.decode(o.value) for o in accepted] == good
    assert [o.key for o in accepted] == [b"p-000001", b"p-000001"]
    letter = outcomes[2].letter
    assert orjson.loads(letter["value"]) == no_player  # the item's own bytes, not the Avro
    assert (letter["topic"], letter["error"], letter["record_timestamp"]) == (
        "intake/dealerstream",
        "INVALID",
        now,
    )
    assert orjson.loads(outcomes[1].letter["value"]) == unmappable
    assert [o.event_id for o in outcomes[1:3]] == ["bad-1", "bad-2"]


def test_event_times_are_checked_against_the_time_of_sending(translator):
    now = now_ms()
    old = dealerstream_item(table_event(occurred_at=now - 8 * 24 * 3600 * 1000))
    body = orjson.dumps({"events": [old]})
    [outcome] = translator.translate("json", body, now)
    assert "more than 7 days before it was sent" in outcome.reason
    [unstamped] = translator.translate("json", body, now, stamped=False)
    assert unstamped.reason is None


def test_an_email_as_player_id_is_refused_and_kept_nowhere(translator):
    item = dealerstream_item(table_event(occurred_at=now_ms(), player_id="jo@example.com"))
    [outcome] = translator.translate("json", orjson.dumps({"events": [item]}), now_ms())
    assert outcome.reason.startswith(PERSONAL_ID)
    assert outcome.letter["value"] is None
    assert b"example.com" not in outcome.key


@pytest.mark.parametrize(
    ("fmt", "body", "why"),
    [
        ("json", b"{not json", "not JSON"),
        ("json", b'{"feed": "x"}', "no items"),
        ("xml", b"<batch/>", "has no xml mapping"),
        ("avro", b"Obj\x01garbage", "not an Avro container file"),
    ],
)
def test_an_unreadable_body_is_refused_whole(translator, fmt, body, why):
    with pytest.raises(BatchRefused, match=why):
        translator.translate(fmt, body, now_ms())
    letter = translator.refused_body(body, why, now_ms())
    assert (letter["value"], letter["error"]) == (body, "UNDECODABLE")


def test_an_avro_container_of_table_events_is_read_against_the_current_schema(translator):
    now = now_ms()
    events = [table_event(occurred_at=now), natural(occurred_at=now, player_id=None)]
    out = io.BytesIO()
    fastavro.writer(out, CODEC.schema.parsed, events)
    outcomes = translator.translate("avro", out.getvalue(), now)
    assert outcomes[0].reason is None and CODEC.decode(outcomes[0].value) == events[0]
    assert outcomes[1].reason == "BET_SETTLED is a player event but player_id is missing"
    assert CODEC.decode(outcomes[1].letter["value"])["event_id"] == events[1]["event_id"]
