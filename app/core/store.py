"""The points store: may this player buy this item now? A pure check of the item's window,
countries, per-player limits, overall stock and the player's balance, in that order; the
first that says no is the refusal's reason.

Overall stock cannot live in one player's state, and the decision core never shares state
across partitions, so each partition sells its own share of an item's stock (``Stock``):
the total sold never exceeds the stock, and a replay that walks the same partitions sells
exactly the same; the price is that one partition can run out while another still has some.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.rules import StoreItem
from app.core.state import PlayerState

#: Reasons a purchase is refused (the journal's COMMAND_REFUSED reason).
UNKNOWN_ITEM = "unknown_item"
NOT_AVAILABLE = "not_available"
NOT_OFFERED = "not_offered_in_country"
OUT_OF_STOCK = "out_of_stock"
NO_POINTS = "insufficient_points"


@dataclass(slots=True)
class Stock:
    """One partition's count of each item sold, and its share of each item's stock."""

    #: item id -> sold in this partition (kept under a reserved key of the state table)
    sold: dict[str, int] = field(default_factory=dict)
    partition: int = 0
    partitions: int = 1

    def share(self, stock: int) -> int:
        """This partition's part of ``stock``: an even split, the first partitions taking
        the remainder one each, so the parts add up to the whole."""
        extra = 1 if self.partition < stock % self.partitions else 0
        return stock // self.partitions + extra

    def left(self, item: StoreItem) -> int | None:
        """How many of ``item`` this partition may still sell (None: no limit)."""
        if item.stock is None:
            return None
        return self.share(item.stock) - self.sold.get(item.item_id, 0)


def limit_key(item: StoreItem, period_kind: str, period: str) -> str:
    """The key of a player's purchases of ``item`` in a period, among their caps."""
    return f"{item.rule.rule_id}:bought:{period_kind}:{period}"


def refusal(
    item: StoreItem,
    state: PlayerState,
    country: str | None,
    t: int,
    period: Callable[[str], str],
    stock: Stock,
) -> tuple[str, str] | None:
    """Why ``item`` cannot be bought at event time ``t`` (reason, in words), or None.
    ``period`` gives the player's key of a period kind ("day", "week") at ``t``."""
    if item.available is not None and not item.available.contains(t):
        return NOT_AVAILABLE, f"{item.item_id} is not on sale at this time"
    if item.countries and (country or "").upper() not in item.countries:
        return NOT_OFFERED, f"{item.item_id} is not offered in {country or 'an unknown country'}"
    for cap in item.per_player:
        key = limit_key(item, cap.period, period(cap.period))
        if state.caps.get(key, 0) >= cap.amount:
            return (
                f"player_limit_{cap.period}",
                f"at most {cap.amount} of {item.item_id} a {cap.period} per player",
            )
    left = stock.left(item)
    if left is not None and left <= 0:
        return OUT_OF_STOCK, f"{item.item_id} is sold out"
    if state.balance < item.price:
        return (
            NO_POINTS,
            f"{item.item_id} costs {item.price} points; the balance is {state.balance}",
        )
    return None


def count_sale(
    item: StoreItem, state: PlayerState, period: Callable[[str], str], stock: Stock
) -> None:
    """Count a sale against the player's limits and the partition's stock."""
    for cap in item.per_player:
        state.add_capped(limit_key(item, cap.period, period(cap.period)), period(cap.period), 1)
    if item.stock is not None:
        stock.sold[item.item_id] = stock.sold.get(item.item_id, 0) + 1
