"""Show rewards and cool-downs live in a terminal, as they arrive on their topics."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from app.contract.codec import AvroCodec
from app.contract.errors import DecodeError
from app.security import kafka_clients
from app.settings import Settings

GREEN, YELLOW, DIM, RESET = "\033[32m", "\033[33m", "\033[2m", "\033[0m"


def _clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S")


def format_reward(reward: dict, color: bool = True) -> str:
    """One line a person can read: when, who, what, why, where."""
    green, dim, reset = (GREEN, DIM, RESET) if color else ("", "", "")
    amount = describe_grant(reward)
    where = f"{reward['game'].lower()} table {reward['table_id']}"
    if reward.get("dealer_id"):
        where += f", dealer {reward['dealer_id']}"
    return (
        f"{_clock(reward['event_time'])} {green}{reward['player_id']:<10} {amount:<16}{reset} "
        f"{reward['rule_id']} v{reward['rule_version']} {dim}({where}){reset}"
    )


def describe_grant(reward: dict) -> str:
    """What the player got, as a person says it: "+8.50 EUR cashback offer", "badge …"."""
    kind, amount = reward["kind"], reward["amount"]
    if kind == "CASHBACK_OFFER":
        return f"+{amount / 100:.2f} {reward.get('currency') or ''} cashback offer".replace(
            "  ", " "
        )
    if kind == "BADGE":
        return f"badge {reward['attributes'].get('badge', '')}"
    if kind == "CHAT_SHOUTOUT":
        return f"shout-out: {reward.get('message') or ''}"
    label = {"WHEEL_SPIN": "wheel spin", "FREE_SIDE_BET": "free side bet"}
    if kind == "MULTIPLIER":
        return f"{amount}x multiplier"
    return f"+{amount} {label.get(kind, kind)}"


def format_cooldown(cooldown: dict, color: bool = True) -> str:
    yellow, reset = (YELLOW, RESET) if color else ("", "")
    minutes = (cooldown["ends_at"] - cooldown["starts_at"]) // 60000
    return (
        f"{_clock(cooldown['starts_at'])} {yellow}{cooldown['player_id']:<10} COOL-DOWN "
        f"{minutes} min{reset} {cooldown['reason'].lower()}"
    )


async def tail(settings: Settings, from_beginning: bool = False, limit: int | None = None) -> int:
    """Print rewards and cool-downs until cancelled (or ``limit`` lines); returns the count."""
    codecs = {
        settings.topics.rewards: (AvroCodec("Reward"), format_reward),
        settings.topics.cooldowns: (AvroCodec("CoolDown"), format_cooldown),
    }
    consumer = kafka_clients.consumer(
        settings,
        *codecs,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    color = sys.stdout.isatty()
    shown = 0
    await consumer.start()
    try:
        while limit is None or shown < limit:
            batches = await consumer.getmany(timeout_ms=500)
            messages = [m for batch in batches.values() for m in batch]
            for message in messages[: None if limit is None else limit - shown]:
                codec, fmt = codecs[message.topic]
                try:
                    print(fmt(codec.decode(message.value), color), flush=True)
                except DecodeError as exc:
                    print(f"(undecodable record on {message.topic}: {exc})", flush=True)
                shown += 1
    except asyncio.CancelledError:
        pass
    finally:
        await consumer.stop()
    return shown
