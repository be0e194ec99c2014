"""Faust's ``avro.<Record>`` serializers are the contract's codec (app.streaming.codecs)."""

from __future__ import annotations

import json

import pytest
from faust.serializers import codecs as faust_codecs

from app.contract.codec import AvroCodec
from app.contract.errors import DecodeError
from app.contract.schemas import catalog, get_schema
from app.streaming.codecs import FaustAvroCodec, register_faust_codecs
from tests.support.factories import settled

EVENT = settled()
GOOD = AvroCodec("TableEvent").encode(EVENT)


@pytest.fixture
def faust_registry(monkeypatch) -> dict:
    """Faust's global codec table, restored after the test."""
    table = dict(faust_codecs.codecs)
    monkeypatch.setattr(faust_codecs, "codecs", table)
    return table


def test_faust_codecs_registered_for_every_schema(faust_registry):
    registered = register_faust_codecs()
    expected = {f"avro.{name}" for name in catalog().names()}
    assert {"avro.TableEvent", "avro.JournalEntry", "avro.AccessLogEntry"} <= expected
    assert set(registered) == expected
    assert expected <= set(faust_registry)
    assert all(isinstance(faust_registry[n], FaustAvroCodec) for n in expected)


def test_faust_codec_accepts_dict_and_json_text(faust_registry):
    register_faust_codecs()
    from_dict = faust_codecs.dumps("avro.TableEvent", EVENT)
    assert from_dict == GOOD
    assert faust_codecs.dumps("avro.TableEvent", json.dumps(EVENT)) == GOOD
    assert faust_codecs.dumps("avro.TableEvent", json.dumps(EVENT).encode()) == GOOD
    assert faust_codecs.loads("avro.TableEvent", from_dict) == AvroCodec("TableEvent").decode(GOOD)
    with pytest.raises(ValueError, match="JSON object text"):
        faust_codecs.dumps("avro.TableEvent", "{not json")
    with pytest.raises(ValueError, match=r"pitboss\.TableEvent.*table_id"):
        faust_codecs.dumps("avro.TableEvent", json.dumps(dict(EVENT, table_id=1)))
    with pytest.raises(DecodeError):
        faust_codecs.loads("avro.TableEvent", b"junk")


def test_faust_registration_is_idempotent(faust_registry):
    first = register_faust_codecs()
    again = register_faust_codecs()
    assert all(again[name] is codec for name, codec in first.items())
    other = register_faust_codecs("http://127.0.0.1:9/")
    assert other["avro.Reward"] is not first["avro.Reward"]
    assert faust_registry["avro.Reward"] is other["avro.Reward"]


def test_faust_codec_clones_keep_their_schema(faust_registry):
    codec = register_faust_codecs()["avro.TableEvent"]
    chained = codec | faust_codecs.get_codec("binary")
    assert faust_codecs.get_codec("binary").loads(chained.dumps(EVENT))[:10] == (
        get_schema("TableEvent").header
    )
