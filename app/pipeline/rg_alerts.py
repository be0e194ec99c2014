"""The RG team's alerts: a projection of the journal, never a decision of its own.

A player raised to the high risk level gets one ``RgAlert`` per triggering event: from the
``RISK_LEVEL_CHANGED`` entry to high and the ``COOLDOWN_STARTED`` entry of the same event
(joined into one alert), or from a ``COOLDOWN_STARTED`` alone (a detector tripping while the
level was already high). The alert's id is the first of those entries' id as the journal
keeps it, so a receiver de-duplicates on it and finds the entry by it; the player is named in
clear (docs/security.md: the RG team acts on the player; the topic keeps a week)."""

from __future__ import annotations

from collections.abc import Iterable

#: what a COOLDOWN_STARTED entry's details hold besides the detector's figures
_NOT_FIGURES = frozenset({"cooldown_id", "ends_at", "markers", "revision"})


def rg_alerts(entries: Iterable[tuple[dict, dict]]) -> list[dict]:
    """The alerts of a batch's journal, given as (entry, entry as the journal keeps it)
    pairs in journal order."""
    alerts: list[dict] = []
    for entry, kept in entries:
        decision, details = entry["decision"], entry["details"]
        raised = decision == "RISK_LEVEL_CHANGED" and details.get("to") == "high"
        if not raised and decision != "COOLDOWN_STARTED":
            continue
        last = alerts[-1] if alerts else None
        if (
            decision == "COOLDOWN_STARTED"
            and last is not None
            and last["cooldown_id"] is None
            and last["player_id"] == entry["player_id"]
            and last["trigger_event_ids"] == entry["event_ids"]
        ):
            _with_cooldown(last, entry, kept)  # the same event raised them and paused them
            continue
        alert = {
            "alert_id": kept["entry_id"],
            "player_id": entry["player_id"],
            "level": "HIGH",
            "previous_level": details.get("from", "high").upper(),
            "rule_id": entry["rule_id"],
            "reason": entry["reason"],
            "markers": [m for m in details.get("markers", "").split(",") if m],
            "figures": {},
            "cooldown_id": None,
            "cooldown_ends_at": None,
            "event_time": entry["event_time"],
            "trigger_event_ids": list(entry["event_ids"]),
            "issued_at": entry["recorded_at"],
        }
        if decision == "COOLDOWN_STARTED":
            _with_cooldown(alert, entry, kept)
        alerts.append(alert)
    return alerts


def _with_cooldown(alert: dict, entry: dict, kept: dict) -> None:
    """The cool-down's id (as the cooldowns topic names it), end, detector and figures."""
    details = entry["details"]
    alert["cooldown_id"] = kept["details"]["cooldown_id"]
    alert["cooldown_ends_at"] = int(details["ends_at"])
    alert["rule_id"], alert["reason"] = entry["rule_id"], entry["reason"]
    alert["figures"] = {k: v for k, v in details.items() if k not in _NOT_FIGURES}
    if not alert["markers"]:
        alert["markers"] = [m for m in details.get("markers", "").split(",") if m]
