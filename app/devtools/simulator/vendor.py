"""The simulator's events in the two example vendor formats the intake ships mappings for
(``app/intake/examples/``), as a studio that cannot produce Avro would send them:

- **DealerStream JSON**: ``{"events": [...]}``, short codes (``BJ``, ``BET``, ``W``), ISO-8601
  times, decimal amounts;
- **CroupierML XML**: ``<batch studio="...">`` of ``<event>`` elements, lower-case words
  (``bet-settled``, ``won``), epoch seconds with milliseconds, decimal amounts.

Each is the inverse of its mapping, so a simulated batch sent over HTTP must become exactly
the simulated TableEvents (tests/unit/intake). ``python -m app.devtools.simulator.vendor
json|xml COUNT`` prints a batch.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from itertools import groupby
from typing import Any

import orjson
from lxml import etree

from app.devtools.simulator.studio import StudioConfig, StudioSimulator
from app.intake.units import exponent

FORMATS = ("json", "xml")

DEALERSTREAM_KINDS = {
    "PLAYER_JOINED": "JOIN",
    "PLAYER_LEFT": "LEAVE",
    "ROUND_STARTED": "ROUND_OPEN",
    "ROUND_ENDED": "ROUND_CLOSE",
    "BET_PLACED": "BET",
    "BET_SETTLED": "SETTLE",
    "SIDE_BET_PLACED": "SIDE_BET",
    "SIDE_BET_SETTLED": "SIDE_SETTLE",
    "CHAT_MESSAGE": "CHAT",
}
DEALERSTREAM_GAMES = {
    "BLACKJACK": "BJ",
    "ROULETTE": "RL",
    "BACCARAT": "BAC",
    "POKER": "PKR",
    "GAME_SHOW": "GS",
}
DEALERSTREAM_OUTCOMES = {"WIN": "W", "LOSS": "L", "PUSH": "P"}
CROUPIER_OUTCOMES = {"WIN": "won", "LOSS": "lost", "PUSH": "tie"}


def _amount(minor: int, currency: str) -> str:
    """Minor units as the decimal amount a vendor writes: 1250 EUR -> ``12.50``."""
    places = exponent(currency)
    return f"{Decimal(minor).scaleb(-places):.{places}f}"


def _iso(ms: int) -> str:
    when = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=(ms % 1000) * 1000)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _word(symbol: str) -> str:
    """``BET_SETTLED`` -> ``bet-settled``."""
    return symbol.lower().replace("_", "-")


def _optional(**values: object) -> dict:
    return {k: v for k, v in values.items() if v is not None}


def dealerstream_item(event: dict) -> dict:
    """One TableEvent as a DealerStream JSON event."""
    bet, settlement = event["bet"], event["settlement"]
    currency = bet["currency"] if bet else None
    item = _optional(
        id=event["event_id"],
        kind=DEALERSTREAM_KINDS[event["event_type"]],
        ts=_iso(event["occurred_at"]),
        studio=event["studio_id"],
        table=_optional(
            id=event["table_id"],
            game=DEALERSTREAM_GAMES.get(event["game"], "OTHER"),
            variant=event["game_variant"],
        ),
        dealer=event["dealer_id"],
        round=event["round_id"],
        player=_optional(ref=event["player_id"], device=event["device"])
        if event["player_id"]
        else None,
        wager={
            "spot": bet["bet_type"],
            "amount": _amount(bet["stake_minor"], bet["currency"]),
            "ccy": currency,
        }
        if bet
        else None,
        result=_optional(
            code=DEALERSTREAM_OUTCOMES[settlement["outcome"]],
            paid=_amount(settlement["payout_minor"], currency or "EUR"),
            hand=settlement["hand"],
        )
        if settlement
        else None,
        chat=event["chat_text"],
    )
    if event["attributes"]:
        item["extra"] = dict(event["attributes"])
    return item


def dealerstream_batch(events: Iterable[dict]) -> bytes:
    return orjson.dumps({"feed": "dealerstream", "events": [dealerstream_item(e) for e in events]})


def _croupier_event(parent: Any, event: dict) -> None:
    seconds = f"{Decimal(event['occurred_at']).scaleb(-3):.3f}"
    node = etree.SubElement(
        parent, "event", id=event["event_id"], type=_word(event["event_type"]), at=seconds
    )
    table = etree.SubElement(node, "table", id=event["table_id"], game=_word(event["game"]))
    if event["game_variant"]:
        table.set("variant", event["game_variant"])
    for tag, value in (("dealer", event["dealer_id"]), ("round", event["round_id"])):
        if value is not None:
            etree.SubElement(node, tag).text = value
    if event["player_id"]:
        player = etree.SubElement(node, "player", id=event["player_id"])
        if event["device"]:
            player.set("device", event["device"])
    bet, settlement = event["bet"], event["settlement"]
    if bet:
        amount = _amount(bet["stake_minor"], bet["currency"])
        etree.SubElement(node, "bet", kind=bet["bet_type"], stake=amount, currency=bet["currency"])
    if settlement:
        result = etree.SubElement(
            node,
            "result",
            outcome=CROUPIER_OUTCOMES[settlement["outcome"]],
            payout=_amount(settlement["payout_minor"], bet["currency"] if bet else "EUR"),
        )
        if settlement["hand"]:
            result.set("hand", settlement["hand"])
    if event["chat_text"] is not None:
        etree.SubElement(node, "chat").text = event["chat_text"]
    for name, value in event["attributes"].items():
        etree.SubElement(node, "attr", name=name).text = value


def croupier_batches(events: Iterable[dict]) -> list[bytes]:
    """CroupierML batches: one ``<batch>`` per run of one studio's events (the studio is a
    batch attribute, as the vendor sends it)."""
    out = []
    for studio, run in groupby(events, key=lambda e: e["studio_id"]):
        root = etree.Element("batch", studio=studio)
        for event in run:
            _croupier_event(root, event)
        out.append(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return out


def main(argv: list[str] | None = None) -> int:
    """Print a batch of COUNT simulated events in FORMAT (one XML batch per studio run)."""
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2 or args[0] not in FORMATS or not args[1].isdigit():
        print("usage: python -m app.devtools.simulator.vendor json|xml COUNT", file=sys.stderr)
        return 2
    sim = StudioSimulator(
        StudioConfig(tables=4, players=40), 7, int(datetime.now(UTC).timestamp() * 1000)
    )
    events = sim.take(int(args[1]))
    if args[0] == "json":
        sys.stdout.buffer.write(dealerstream_batch(events) + b"\n")
    else:
        sys.stdout.buffer.write(b"\n".join(croupier_batches(events)) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
