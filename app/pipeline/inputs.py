"""The player inputs beyond table events: account events, interactions (and more kinds as
they come), each read from its own topic and normalized into a per-player record of the
same event stream, so the core walks a player's table events and other inputs in record
order, drops re-deliveries by id, and indexes rules by their ``event_type``.

A normalized record has the event's common fields (``event_id`` prefixed per kind, so ids
never collide with table events; ``event_type``; ``occurred_at``; ``player_id``), the
table fields as None (``game``, ``table_id``, ``bet``, ...: rounds, detectors and rewards
read them), and the kind's own fields in a sub-dict named after the kind (``account``,
``interaction``). Pure functions, shared by the worker and the replay.

Adding a kind: a ``TopicNames`` field for its topic, an ``InputKind`` in ``INPUTS``, its
topic in ``app.operations.topics``, and a handler for its event types in the core
(``app.core.engine.HANDLERS``); the worker, the replay and ingest take it from ``INPUTS``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from app.core.compile import REWARD_KINDS
from app.core.events import (
    ACCOUNT_TYPES,
    COMMAND,
    INTERACTION,
    KYC_CHANGE,
    MONEY_TYPES,
    TABLE_FIELDS,
)
from app.core.rewards import QUANTITY_KINDS
from app.core.tournaments import TOURNAMENT_PRIZE

#: What a normalizer gives: the normalized record (None: nothing to decide, only a dead
#: letter), and why it is refused (None: accepted).
Normalized = tuple[dict | None, str | None]

_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True)
class InputKind:
    """One input topic: its ``TopicNames`` field, the Avro record it carries (also the
    re-keyed topic's record-type header), and how a decoded record becomes an event."""

    role: str
    record: str
    normalize: Callable[[dict], Normalized]

    @property
    def tag(self) -> bytes:
        return self.record.encode()


def normalized(
    prefix: str, record_id: str, event_type: str, occurred_at: int, player_id: str, **parts: dict
) -> dict:
    """A record of the player's event stream: ``event_id`` is ``prefix:record_id``."""
    event = {
        "event_id": f"{prefix}:{record_id}" if record_id else "",
        "event_type": event_type,
        "occurred_at": occurred_at,
        "player_id": player_id or None,
        **dict.fromkeys(TABLE_FIELDS),
        "attributes": {},
    }
    event.update(parts)
    return event


# -- account events ----------------------------------------------------------------------


def account_event(record: dict) -> Normalized:
    """An ``AccountEvent`` as a record of the player's stream (``account`` sub-dict)."""
    kind = record["type"]
    account = {
        "amount_minor": record.get("amount_minor"),
        "currency": record.get("currency"),
        "payment_method": record.get("payment_method"),
        "status": record.get("status") or ("COMPLETED" if kind in MONEY_TYPES else None),
        "kyc_status": record.get("kyc_status"),
        "attributes": dict(record.get("attributes") or {}),
    }
    event = normalized(
        "acct",
        record["event_id"],
        kind,
        record["occurred_at"],
        record["player_id"],
        account=account,
    )
    return event, _account_problem(event)


def _account_problem(event: dict) -> str | None:
    kind, account = event["event_type"], event["account"]
    if kind not in ACCOUNT_TYPES:
        return f"account event type {kind} is not one Pitboss knows"
    if kind in MONEY_TYPES:
        amount, currency = account["amount_minor"], account["currency"]
        if amount is None or amount <= 0:
            return f"{kind} needs a positive amount_minor, got {amount}"
        if currency is None or not _CURRENCY.fullmatch(currency):
            return f"{kind} needs an ISO-4217 currency, got {currency!r}"
    if kind == KYC_CHANGE and account["kyc_status"] is None:
        return f"{KYC_CHANGE} needs kyc_status"
    return None


# -- interactions ------------------------------------------------------------------------


def interaction(record: dict) -> Normalized:
    """A ``PlayerInteraction`` as a record of the player's stream (``interaction``
    sub-dict). Dated by when the gateway took it (its clock, not the client's)."""
    part = {
        name: record.get(name)
        for name in (
            "interaction_id",
            "action",
            "reward_id",
            "message_id",
            "rule_id",
            "variant",
            "surface",
            "occurred_at",
        )
    }
    event = normalized(
        "ia",
        record["interaction_id"],
        INTERACTION,
        record["recorded_at"],
        record["player_id"],
        interaction=part,
    )
    problem = None
    if not part["reward_id"] and not part["message_id"]:
        problem = "an interaction must name the reward_id or message_id it is about"
    return event, problem


# -- player commands (the points store, mini-games) ------------------------------------


def player_command(record: dict) -> Normalized:
    """A ``PlayerCommand`` as a record of the player's stream (``command`` sub-dict), dated
    by when the player asked."""
    part = {
        name: record.get(name)
        for name in ("command_id", "type", "item_id", "reward_id", "target_id")
    }
    part["attributes"] = dict(record.get("attributes") or {})
    event = normalized(
        "cmd",
        record["command_id"],
        COMMAND,
        record["occurred_at"],
        record["player_id"],
        command=part,
    )
    problem = None
    if not part["command_id"]:
        problem = "a player command needs a command_id"
    elif part["type"] == "PURCHASE" and not part["item_id"]:
        problem = "a PURCHASE command needs an item_id"
    return event, problem


# -- tournament prizes (app.core.tournaments) --------------------------------------------

#: The fields of a ``TournamentPrize`` the core reads (``prize`` sub-dict).
PRIZE_FIELDS = ("prize_id", "tournament_id", "tournament_version", "occurrence", "rank", "score",
                "kind", "amount", "currency", "ended_at")  # fmt: skip


def tournament_prize(record: dict) -> Normalized:
    """A ``TournamentPrize`` as a record of the winner's stream (``prize`` sub-dict), dated
    by when the board's keeper finalised it: the guards apply as of the payout."""
    part = {name: record.get(name) for name in PRIZE_FIELDS}
    event = normalized(
        "prize",
        record["prize_id"],
        TOURNAMENT_PRIZE,
        record["awarded_at"],
        record["player_id"],
        prize=part,
    )
    problem = None
    if not part["prize_id"] or not part["tournament_id"]:
        problem = "a tournament prize needs a prize_id and a tournament_id"
    elif part["kind"] not in REWARD_KINDS:
        problem = f"a prize's kind must be a reward kind, got {part['kind']!r}"
    elif part["kind"] in QUANTITY_KINDS and part["amount"] <= 0:
        problem = f"a {part['kind']} prize needs a positive amount, got {part['amount']}"
    elif part["currency"] is not None and not _CURRENCY.fullmatch(part["currency"]):
        problem = f"a prize's currency must be ISO-4217, got {part['currency']!r}"
    return event, problem


#: Every input kind beside table events and profiles, by ``TopicNames`` field.
INPUTS: tuple[InputKind, ...] = (
    InputKind("account_events", "AccountEvent", account_event),
    InputKind("player_interactions", "PlayerInteraction", interaction),
    InputKind("player_commands", "PlayerCommand", player_command),
    InputKind("tournament_prizes", "TournamentPrize", tournament_prize),
)
