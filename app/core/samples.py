"""Complete sample records, one per event type: what a rule's expressions are dry-run on
when it compiles, so a misspelled field or a wrong type is refused at push time instead of
silently never matching. Every field of the schemas is present (a test checks it)."""

from __future__ import annotations

from app.core.events import ACCOUNT_TYPES, TABLE_FIELDS

SAMPLE_PROFILE: dict = {
    "player_id": "p-sample",
    "vip_tier": "GOLD",
    "country": "GB",
    "time_zone": "Europe/London",
    "segments": ["high-roller"],
    "consents": [
        {"product": "casino", "channel": "widget", "granted": True},
        {"product": "casino", "channel": "chat", "granted": True},
    ],
    "self_excluded": False,
    "harm_flags": [],
    "last_deposit": {"amount_minor": 5000, "currency": "GBP", "at": 1_795_000_000_000},
    "updated_at": 1_795_000_000_000,
    "language": "en-GB",
}

SAMPLE_STATE: dict = {
    "xp": 120,
    "points": 3400,
    "level": 2,
    "kyc": "VERIFIED",
    "balance": 2900,
    "badges": ["explorer:blackjack"],
    "missions": {"completed": ["welcome"], "progress": {"baccarat-banker-x3": 1}},
}

#: ``money`` for the sample event and profile: whole house units (app/core/money.py).
SAMPLE_MONEY: dict = {"stake": 25.0, "payout": 50.0, "deposit": 50.0}


def sample_account_event(event_type: str) -> dict:
    """An account event of ``event_type`` as the core sees it (``app.pipeline.inputs``)."""
    return {
        "event_id": f"acct:sample-{event_type.lower()}",
        "event_type": event_type,
        "occurred_at": 1_795_000_000_000,
        "player_id": "p-sample",
        **dict.fromkeys(TABLE_FIELDS),
        "attributes": {},
        "account": {
            "amount_minor": 5000,
            "currency": "EUR",
            "payment_method": "E_WALLET",
            "status": "COMPLETED",
            "kyc_status": "VERIFIED",
            "attributes": {"provider": "sample"},
        },
    }


def sample_event(event_type: str) -> dict:
    """A TableEvent of ``event_type`` with every optional part filled in (an account event's
    record for an account event type)."""
    if event_type in ACCOUNT_TYPES:
        return sample_account_event(event_type)
    return {
        "event_id": f"sample-{event_type.lower()}",
        "event_type": event_type,
        "occurred_at": 1_795_000_000_000,
        "studio_id": "riga-1",
        "table_id": "bj-01",
        "dealer_id": "dealer-7",
        "game": "BLACKJACK",
        "game_variant": "Infinite Blackjack",
        "round_id": "r-1",
        "player_id": "p-sample",
        "bet": {"bet_type": "main", "stake_minor": 2500, "currency": "EUR"},
        "settlement": {"outcome": "WIN", "payout_minor": 5000, "hand": "natural_blackjack"},
        "chat_text": "good luck everyone",
        "device": "mobile",
        "attributes": {"seat": "3"},
    }
