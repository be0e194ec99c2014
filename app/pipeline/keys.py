"""The reserved per-partition keys of the player-state table, beside the players' own.

Each starts with a NUL byte, which no player id does. They are written with the batch's
player states, in the same write, so the table never holds one without the other.
"""

from __future__ import annotations

#: {input topic: offset of the newest record of that topic's partition whose effects the
#: tables hold}: a record re-delivered after a crash, a cut-short SIGTERM or a broker outage
#: is recognised by its offset, however many events a player made since the last commit
#: (the 32 event ids a player's state remembers still catch a studio sending one twice).
APPLIED = b"\x00applied"
#: {player id: cool-down ends at} for the running cool-downs, so a player who went quiet has
#: theirs ended by the partition's event time.
COOLDOWN_INDEX = b"\x00cooldown-index"
#: Hashes of the players erased with ``pitboss forget`` (never their ids).
ERASED = b"\x00erased"
#: The partition's event time: the newest ``occurred_at`` of its accepted player events, in
#: record order. Cool-downs end by it, whatever the batches (docs/architecture.md).
WATERMARK = b"\x00watermark"
#: {store item id: sold in this partition}: each partition sells its share of an item's
#: overall stock (``app.core.store.Stock``), counted in record order like everything else.
STOCK = b"\x00store-stock"
