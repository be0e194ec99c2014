"""Rule versions: a rule's version changes exactly when what it does changes.

A reward's id derives from its rule's version (docs/architecture.md, "Deterministic
identities"), and analysts replay against "the rules in force at the time", so a version
must name one behaviour. The hash of a rule covers everything that changes what it does --
including the windows of the promos its multipliers name -- and nothing that does not: its
description, whether it is enabled (switching a rule off and on again gives the same rule
back), the order of its event types, or defaults written out. Levels have their own version.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.rules.problems import format_path

#: Fields push writes; a candidate's own values for them are ignored.
PUBLISHED_FIELDS = ("revision", "levels_version", "published_at", "source", "retired")
RULE_PUBLISHED_FIELDS = ("version", "hash")
#: Rule fields that change how a rule reads or whether it runs, not what it does.
_NOT_BEHAVIOUR = ("id", "description", "enabled", *RULE_PUBLISHED_FIELDS)
_MISSING = object()

Doc = Mapping[str, Any]


def _canonical(value: Any) -> Any:
    """The same value however it was written: no nulls or empty lists, 2.0 is 2."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items() if v not in (None, [], {})}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def behaviour(rule: Doc, promos: Doc | None = None) -> dict[str, Any]:
    """What a rule does, with defaults filled in and the promos it uses inlined."""
    out = _canonical({k: v for k, v in rule.items() if k not in _NOT_BEHAVIOUR})
    for key in ("events", "games"):
        if key in out:
            out[key] = sorted(set(out[key]))
    trigger = {"type": "event", **out.get("trigger", {})}
    if trigger["type"] == "mission":
        trigger.setdefault("period", "day")
    if not trigger.get("per_game", True):
        del trigger["per_game"]
    if trigger == {"type": "event"}:
        out.pop("trigger", None)
    else:
        out["trigger"] = trigger
    if "variants" in out:
        out["variants"] = [{"weight": 1, **v} for v in out["variants"]]
    used = sorted({m["promo"] for m in out.get("multipliers", ()) if "promo" in m})
    if used:
        out["promos"] = {name: _canonical((promos or {}).get(name)) for name in used}
    return out


def rule_hash(rule: Doc, promos: Doc | None = None) -> str:
    """A short, stable digest of ``behaviour(rule, promos)``."""
    blob = orjson.dumps(behaviour(rule, promos), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()[:16]


def _flatten(value: Any, path: tuple = ()) -> dict[str, Any]:
    """``{"trigger.length": 5, "multipliers[0].factor": 2, ...}``: what a diff compares."""
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, (*path, k)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, (*path, i)))
        return out
    return {format_path(path): value}


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(none)"
    return value if isinstance(value, int | float) else orjson.dumps(value).decode()


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any = _MISSING
    new: Any = _MISSING

    def __str__(self) -> str:
        if self.field == "enabled":
            return "switched off" if self.new is False else "switched on"
        return f"{self.field} {_show(self.old)} -> {_show(self.new)}"


def field_changes(old: Doc, new: Doc) -> tuple[FieldChange, ...]:
    """Every leaf that differs between two mappings, in the order they list them."""
    before, after = _flatten(_canonical(old)), _flatten(_canonical(new))
    return tuple(
        FieldChange(name, *pair)
        for name in dict.fromkeys([*before, *after])
        if (pair := (before.get(name, _MISSING), after.get(name, _MISSING)))[0] != pair[1]
    )


@dataclass(frozen=True)
class RuleChange:
    """One rule between the live document and a candidate."""

    rule_id: str
    #: "added", "re-added", "changed", "removed" or "unchanged"
    status: str
    #: the live version (for a re-added rule: its last version before removal)
    old_version: int | None
    #: the version the candidate's rule gets (a removed rule: its last version)
    new_version: int
    fields: tuple[FieldChange, ...] = ()

    def describe(self) -> str:
        """``loss-streak-5 v2 (changed: trigger.length 5 -> 6)``."""
        what = ", ".join(str(f) for f in self.fields)
        also = f"; {what}" if what else ""
        if self.status == "added":
            return f"{self.rule_id} v{self.new_version} (new{also})"
        if self.status == "re-added":
            return f"{self.rule_id} v{self.new_version} (back; it was v{self.old_version}{also})"
        if self.status == "removed":
            return f"{self.rule_id} v{self.old_version} (removed)"
        if self.old_version == self.new_version:
            return f"{self.rule_id} v{self.new_version} (same version; {what})"
        return f"{self.rule_id} v{self.old_version} -> v{self.new_version} (changed: {what})"


@dataclass(frozen=True)
class RulesetDiff:
    """What publishing a candidate would change, and the versions its rules would get."""

    ruleset_id: str
    #: the live revision, 0 when nothing is published yet
    live_revision: int
    rules: tuple[RuleChange, ...]
    #: changes outside the rules: description, levels, promos, leaderboards
    document: tuple[FieldChange, ...] = ()
    levels_version: int = 1
    #: the version of the responsible-gaming thresholds (journaled on cool-downs)
    protection_version: int = 1
    #: the version of the house currency and rates (journaled on cool-downs they convert)
    currencies_version: int = 1
    hashes: dict[str, str] = field(default_factory=dict, repr=False)
    retired: dict[str, int] = field(default_factory=dict, repr=False)

    def of(self, status: str) -> list[RuleChange]:
        return [r for r in self.rules if r.status == status]

    @property
    def has_changes(self) -> bool:
        return bool(self.document) or any(r.status != "unchanged" for r in self.rules)

    @property
    def versions(self) -> dict[str, int]:
        """The version of every rule the candidate has."""
        return {r.rule_id: r.new_version for r in self.rules if r.status != "removed"}

    def lines(self) -> list[str]:
        """One line per change, then the count of unchanged rules."""
        out = [r.describe() for r in self.rules if r.status != "unchanged"]
        out += [str(c) for c in self.document]
        unchanged = len(self.of("unchanged"))
        if unchanged:
            out.append(f"{unchanged} rule{'s' if unchanged != 1 else ''} unchanged")
        return out

    def render(self) -> str:
        """For people: what would change, rule by rule and field by field."""
        if not self.has_changes:
            return f"ruleset {self.ruleset_id}: no changes from revision {self.live_revision}"
        head = (
            f"ruleset {self.ruleset_id}: revision {self.live_revision} -> {self.live_revision + 1}"
            if self.live_revision
            else f"ruleset {self.ruleset_id}: first revision (nothing published yet)"
        )
        return "\n".join([head, *(f"  {line}" for line in self.lines())])


def _rules_by_id(doc: Doc | None) -> dict[str, Doc]:
    return {r["id"]: r for r in (doc or {}).get("rules") or ()}


def _without(doc: Doc, names: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in names}


def _levels(doc: Doc | None) -> list:
    return sorted(_canonical((doc or {}).get("levels") or []), key=lambda lv: lv.get("level", 0))


#: Sections with a version of their own, which push writes and bumps when they change.
VERSIONED_SECTIONS = ("protection", "currencies")


def _section(doc: Doc | None, name: str) -> Any:
    """What a document sets in a versioned section, without the version push writes on it."""
    return _canonical(_without((doc or {}).get(name) or {}, ("version",)))


def _section_version(candidate_doc: Doc, live_doc: Doc | None, name: str) -> int:
    """The version a section gets: the live one, plus one if what it sets changed."""
    if live_doc is None:
        return 1
    live = int((live_doc.get(name) or {}).get("version", 1))
    return live + (_section(candidate_doc, name) != _section(live_doc, name))


def _comparable(doc: Doc, ignored: tuple[str, ...]) -> dict[str, Any]:
    view = _without(doc, ignored)
    for name in VERSIONED_SECTIONS:
        if name in view:
            view[name] = _without(view[name], ("version",))
    return view


def diff_documents(candidate_doc: Doc, live_doc: Doc | None) -> RulesetDiff:
    """Compare a candidate (a validated file) with the live published document (or None)."""
    live = live_doc or {}
    live_rules, retired = _rules_by_id(live), dict(live.get("retired") or {})
    promos, live_promos = candidate_doc.get("promos") or {}, live.get("promos") or {}
    changes, hashes = [], {}
    for rule in candidate_doc.get("rules") or ():
        rule_id = rule["id"]
        hashes[rule_id] = digest = rule_hash(rule, promos)
        before = live_rules.get(rule_id)
        if before is None:
            last = retired.get(rule_id)
            status = "added" if last is None else "re-added"
            off = (FieldChange("enabled", True, False),) if rule.get("enabled") is False else ()
            changes.append(RuleChange(rule_id, status, last, (last or 0) + 1, off))
            continue
        old_version = int(before.get("version", 1))
        moved = rule_hash(before, live_promos) != digest
        fields = field_changes(_rule_view(before, live_promos), _rule_view(rule, promos))
        status = "changed" if fields or moved else "unchanged"
        changes.append(RuleChange(rule_id, status, old_version, old_version + int(moved), fields))
    for rule_id, before in live_rules.items():
        if rule_id not in hashes:
            version = int(before.get("version", 1))
            changes.append(RuleChange(rule_id, "removed", version, version))
            retired[rule_id] = version
    levels_moved = _levels(candidate_doc) != _levels(live_doc)
    live_levels_version = int(live.get("levels_version", 1))
    ignored = ("rules", "ruleset", *PUBLISHED_FIELDS)
    return RulesetDiff(
        ruleset_id=str(candidate_doc.get("ruleset")),
        live_revision=int(live.get("revision", 0)),
        rules=tuple(changes),
        document=field_changes(_comparable(live, ignored), _comparable(candidate_doc, ignored))
        if live_doc is not None
        else (),
        levels_version=live_levels_version + levels_moved if live_doc else 1,
        protection_version=_section_version(candidate_doc, live_doc, "protection"),
        currencies_version=_section_version(candidate_doc, live_doc, "currencies"),
        hashes=hashes,
        retired={k: v for k, v in retired.items() if k not in hashes},
    )


def _rule_view(rule: Doc, promos: Doc) -> dict[str, Any]:
    """What a manager sees change in a rule: its behaviour plus description and switch."""
    return {
        "description": rule.get("description"),
        "enabled": rule.get("enabled", True),
        **behaviour(rule, promos),
    }


def assign_versions(
    candidate_doc: Doc, live_doc: Doc | None, now_ms: int, source: str
) -> dict[str, Any]:
    """The document to publish: the candidate with each rule's version and hash, the next
    revision, the levels version, and the last version of every rule removed so far."""
    diff = diff_documents(candidate_doc, live_doc)
    candidate_doc = copy.deepcopy(candidate_doc)  # the published document shares nothing
    rules = [
        {
            "id": rule["id"],
            "version": diff.versions[rule["id"]],
            "hash": diff.hashes[rule["id"]],
            **_without(rule, ("id", *RULE_PUBLISHED_FIELDS)),
        }
        for rule in candidate_doc.get("rules") or ()
    ]
    published = {
        "ruleset": candidate_doc["ruleset"],
        "revision": diff.live_revision + 1,
        "published_at": now_ms,
        "source": source,
        "levels_version": diff.levels_version,
        **_without(candidate_doc, ("ruleset", "rules", *PUBLISHED_FIELDS)),
        "protection": {
            **_without(candidate_doc.get("protection") or {}, ("version",)),
            "version": diff.protection_version,
        },
        "rules": rules,
    }
    if candidate_doc.get("currencies"):
        published["currencies"] = {
            **_without(candidate_doc["currencies"], ("version",)),
            "version": diff.currencies_version,
        }
    if diff.retired:
        published["retired"] = dict(sorted(diff.retired.items()))
    return published
