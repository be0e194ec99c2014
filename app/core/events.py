"""The event types of the player inputs that are not table events (``app.pipeline.inputs``
normalizes them into the player's event stream). A leaf module: the samples that rule
expressions are checked against, the compiler and the handlers all name them from here."""

from __future__ import annotations

#: Account events from the operator's platform; their records have an ``account`` part.
ACCOUNT_TYPES = (
    "DEPOSIT",
    "WITHDRAWAL",
    "WITHDRAWAL_CANCELLED",
    "LOGIN",
    "REGISTRATION",
    "KYC_STATUS_CHANGED",
)
#: Account events that move money: they carry an amount and a currency.
MONEY_TYPES = frozenset({"DEPOSIT", "WITHDRAWAL", "WITHDRAWAL_CANCELLED"})
KYC_CHANGE = "KYC_STATUS_CHANGED"
#: The table fields a normalized input has, all None (the core reads them on any event).
TABLE_FIELDS = (
    "studio_id",
    "table_id",
    "dealer_id",
    "game",
    "game_variant",
    "round_id",
    "bet",
    "settlement",
    "chat_text",
    "device",
)
#: A player's interaction with a reward or message; its record has an ``interaction`` part.
INTERACTION = "INTERACTION"
#: A player command (a store purchase, a spin); its record has a ``command`` part.
COMMAND = "COMMAND"
