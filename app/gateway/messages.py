"""The stream's messages: a journal entry the player may see, as the widgets read it.

Only decisions about what the player got or is in are pushed (rewards issued, mission
progress and completion, level ups, cool-downs, boosts, reality checks), and of each only
player-facing fields: never a suppressed reward (it would tell why: a cap, a cool-down, a harm
signal), a cool-down's reason or figures, a risk level or its markers, or an A/B variant.
"""

from __future__ import annotations

from typing import Any

from app.gateway.cursor import Cursor

#: journal decision -> (message type, the details it shows)
PUSHED: dict[str, tuple[str, tuple[str, ...]]] = {
    "REWARD_ISSUED": ("reward_issued", ("kind", "amount")),
    "MISSION_PROGRESS": ("mission_progress", ("step", "steps", "period", "task", "state")),
    "MISSION_COMPLETED": ("mission_completed", ("period",)),
    "LEVEL_UP": ("level_up", ("from", "to", "xp")),
    "COOLDOWN_STARTED": ("cooldown_started", ("ends_at",)),
    "COOLDOWN_ENDED": ("cooldown_ended", ()),
    "BOOST_STARTED": ("boost_started", ("factor", "ends_at", "bets_left")),
    "BOOST_USED": ("boost_used", ("boost_id", "factor", "kind", "before", "after", "bets_left")),
    "BOOST_ENDED": ("boost_ended", ("factor",)),
    # only a rise to low or medium carries a message; the level's name and markers stay RG data
    "RISK_LEVEL_CHANGED": ("reality_check", ("message", "session_minutes", "net_minor")),
}
#: details that are numbers on the wire (the journal keeps every detail as a string)
_NUMBERS = frozenset(
    {
        "amount",
        "step",
        "steps",
        "from",
        "to",
        "xp",
        "ends_at",
        "bets_left",
        "before",
        "after",
        "session_minutes",
        "net_minor",
    }
)
#: a rule id is shown where the widget needs it: which mission, which reward
_WITH_RULE = frozenset({"REWARD_ISSUED", "MISSION_PROGRESS", "MISSION_COMPLETED"})


def _value(name: str, raw: str) -> Any:
    if name in _NUMBERS:
        try:
            return int(raw)
        except ValueError:
            return raw
    if name == "factor":
        return float(raw)
    return raw


def stream_message(entry: dict[str, Any], cursor: Cursor) -> dict[str, Any] | None:
    """The message for a decoded JournalEntry of the player, or None if it is not pushed."""
    pushed = PUSHED.get(entry["decision"])
    if pushed is None:
        return None
    kind, shown = pushed
    details = entry["details"]
    if kind == "reality_check" and "message" not in details:
        return None  # a fall, or a rise to high (the cool-down speaks then)
    message: dict[str, Any] = {"cursor": str(cursor), "type": kind, "at": entry["event_time"]}
    if entry["decision"] in _WITH_RULE:
        message["rule_id"] = entry["rule_id"]
    if entry["reward_id"] and not entry["decision"].startswith("COOLDOWN"):
        message["reward_id"] = entry["reward_id"]
    if entry["decision"].startswith("COOLDOWN") and "cooldown_id" in details:
        message["message_id"] = details["cooldown_id"]
    if kind == "reality_check":
        message["message_id"] = entry["entry_id"]
    message.update({name: _value(name, details[name]) for name in shown if name in details})
    return message
