"""Mapping files: every mistake named with file, line and field; value maps, defaults and
required fields applied to items as the file says."""

from __future__ import annotations

import textwrap

import orjson
import pytest

from app.intake.mapping import Refused, load_mapping
from app.security.documents import SecurityFileError

BASE = """\
version: 2
format: json
items: "$.events[*]"
fields:
  event_id: {path: "$.id", required: true}
  event_type: {path: "$.kind", map: {BET: BET_PLACED, SETTLE: BET_SETTLED}}
  occurred_at: {path: "$.at", convert: epoch_seconds}
  studio_id: {value: acme}
  table_id: {path: "$.table"}
  game: {path: "$.game", map: {BJ: BLACKJACK}, otherwise: OTHER, default: OTHER}
  player_id: {path: "$.player"}
  bet.bet_type: {path: "$.bet.spot", default: main}
  bet.currency: {path: "$.bet.ccy"}
  bet.stake_minor: {path: "$.bet.amount", convert: minor_units}
"""


def write(tmp_path, text: str, name: str = "m.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path, text: str) -> list[str]:
    with pytest.raises(SecurityFileError) as caught:
        load_mapping(write(tmp_path, text))
    return [str(p) for p in caught.value.problems]


def item(**overrides) -> dict:
    base = {
        "id": "e-1",
        "kind": "BET",
        "at": "1764000016.528",
        "table": "bj-1",
        "game": "BJ",
        "player": "p-1",
        "bet": {"ccy": "JPY", "amount": "1500"},
    }
    return {**base, **overrides}


def test_an_item_becomes_a_table_event(tmp_path):
    mapping = load_mapping(write(tmp_path, BASE))
    assert (mapping.version, mapping.format) == (2, "json")
    event = mapping.event(item())
    assert event == {
        "event_id": "e-1",
        "event_type": "BET_PLACED",
        "occurred_at": 1_764_000_016_528,
        "studio_id": "acme",
        "table_id": "bj-1",
        "game": "BLACKJACK",
        "player_id": "p-1",
        "bet": {"bet_type": "main", "currency": "JPY", "stake_minor": 1500},
        "settlement": None,
        "attributes": {},
        "dealer_id": None,
        "game_variant": None,
        "round_id": None,
        "chat_text": None,
        "device": None,
    }
    doc = orjson.loads(orjson.dumps({"events": [item(), item(id="e-2")]}))
    assert [i["id"] for i in mapping.split(doc)] == ["e-1", "e-2"]


def test_value_maps_otherwise_and_defaults(tmp_path):
    mapping = load_mapping(write(tmp_path, BASE))
    assert mapping.event(item(game="XX"))["game"] == "OTHER"  # otherwise
    assert mapping.event(item(game=None))["game"] == "OTHER"  # default
    assert mapping.event(item(bet={"ccy": "EUR", "amount": "2.5"}))["bet"]["stake_minor"] == 250
    with pytest.raises(Refused, match="event_type: 'TIP' is not in its map"):
        mapping.event(item(kind="TIP"))


def test_a_missing_required_field_and_a_partial_bet_are_refused(tmp_path):
    mapping = load_mapping(write(tmp_path, BASE))
    with pytest.raises(Refused, match="event_id: missing"):
        mapping.event(item(id=None))
    with pytest.raises(Refused, match="event_id: missing"):
        mapping.event(item(id=""))
    with pytest.raises(Refused, match="bet: stake_minor, currency missing"):
        mapping.event(item(bet={"spot": "main"}))
    with pytest.raises(Refused, match=r"bet\.stake_minor: 1500\.5 has more decimals than JPY.s 0"):
        mapping.event(item(bet={"ccy": "JPY", "amount": "1500.5"}))
    assert mapping.event(item(bet=None))["bet"] is None
    with pytest.raises(Refused, match="table_id: its path finds an object or a list"):
        mapping.event(item(table={"id": "bj-1"}))


def test_mistakes_name_file_line_and_field(tmp_path):
    text = BASE.replace("convert: epoch_seconds", "convert: epoch_secs")
    text = text.replace('  table_id: {path: "$.table"}', '  table_id: {path: "$.table["}')
    text += "  dealer: {path: $.dealer}\n"
    found = problems(tmp_path, text)
    source = str(tmp_path / "m.yaml")
    assert any(
        p.startswith(f"{source}:7: fields.occurred_at.convert: 'epoch_secs' is not one of")
        and "did you mean 'epoch_seconds'" in p
        for p in found
    ), found
    assert any(
        p.startswith(f"{source}:15: fields.dealer: unknown field (did you mean 'dealer_id'?)")
        for p in found
    ), found
    # the path's syntax is checked once the shape is right
    text = BASE.replace('  table_id: {path: "$.table"}', '  table_id: {path: "$.table["}')
    [problem] = problems(tmp_path, text)
    assert problem.startswith(f"{source}:9: fields.table_id.path: '$.table[' is not a JSONPath")


def test_what_only_code_can_check(tmp_path):
    source = str(tmp_path / "m.yaml")
    text = BASE.replace('  bet.currency: {path: "$.bet.ccy"}\n', "")
    text = text.replace('{path: "$.table"}', '{path: "$.table", convert: iso8601}')
    text += "  round_id: {required: true}\n"
    found = problems(tmp_path, text)
    assert f"{source}:9: fields.table_id.convert: iso8601 does not give text" in found
    assert f"{source}:14: fields.round_id: needs a path or a value" in found
    assert any("fields.bet.stake_minor.currency: bet.currency is not mapped" in p for p in found)
    assert any("bet needs bet.currency" in p for p in found)
    missing = problems(tmp_path, BASE.replace("version: 2\n", ""))
    assert missing == [f"{source}:1: version: is required but missing"]


def test_an_xml_mapping_reads_attributes_text_and_the_parent(tmp_path):
    mapping = load_mapping(
        write(
            tmp_path,
            """\
            version: 1
            format: xml
            items: /batch/event
            fields:
              event_id: {path: "@id"}
              event_type: {path: "@type", map: {bet: BET_PLACED}}
              occurred_at: {path: "@at", convert: iso8601}
              studio_id: {path: "../@studio"}
              table_id: {path: "table"}
              chat_text: {path: "chat"}
            attributes: {path: "attr", key: "@name"}
            """,
        )
    )
    doc = mapping.parse(
        b'<batch studio="s1"><event id="x" type="bet" at="2025-11-24T16:00:16.528Z">'
        b'<table>t-1</table><attr name="seat">3</attr><attr name="box">b</attr></event></batch>'
    )
    [element] = mapping.split(doc)
    event = mapping.event(element)
    assert (event["event_id"], event["studio_id"], event["table_id"]) == ("x", "s1", "t-1")
    assert event["occurred_at"] == 1_764_000_016_528
    assert event["attributes"] == {"seat": "3", "box": "b"}
    assert event["chat_text"] is None
    assert mapping.item_bytes(element).startswith(b'<event id="x"')
    with pytest.raises(ValueError, match="not well-formed XML"):
        mapping.parse(b"<batch><event></batch>")
