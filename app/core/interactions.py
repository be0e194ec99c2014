"""Player interactions in the core (shown, clicked, dismissed, claimed; normalized by
``app.pipeline.inputs``, an ``interaction`` part): journaled, never granting anything and
never touching rewards, caps or the risk level. An acknowledgement of a take-a-break or a
reality-check message is told apart by the message's id: a cool-down's id (``cd-``) or the
id of the journal entry that carried the reality check (``je-``), the ids the player
gateway shows those messages under.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Actions that acknowledge a message (SHOWN only says it was on screen).
ACKNOWLEDGING = frozenset({"DISMISSED", "CLAIMED", "CLICKED"})
#: A message id's prefix -> what its acknowledgement acknowledges.
ACKNOWLEDGED = {"cd-": "cooldown", "je-": "reality_check"}


def details(interaction: Mapping) -> dict[str, str]:
    """What the journal keeps of an interaction (the console counts click-through from these
    names), and ``acknowledges`` when it acknowledges a responsible-gaming message."""
    out = {
        name: interaction.get(name) or ""
        for name in ("action", "variant", "interaction_id", "surface", "message_id")
    }
    message_id = out["message_id"]
    if out["action"] in ACKNOWLEDGING and message_id:
        acknowledges = ACKNOWLEDGED.get(message_id[:3])
        if acknowledges is not None:
            out["acknowledges"] = acknowledges
    return out
