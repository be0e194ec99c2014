"""The permissions Pitboss knows: what a route or command may require, and access.yaml grant.

Permissions are named in code because the surfaces that require them are code; which role holds
which is data (access.yaml, see docs/security.md). A name access.yaml does not know is a
mistake in the file, and a name a surface requires that is not here is refused (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    """One thing a principal may do; ``changes`` marks what alters the deployment or a player
    (an auditor reads everything and changes nothing)."""

    name: str
    what: str
    changes: bool = False


CATALOGUE: dict[str, Permission] = {
    p.name: p
    for p in (
        Permission("player.read", "a player's live state and profile, restricted fields hidden"),
        Permission("player.read.rg", "responsible-gaming fields: harm flags, self-exclusion"),
        Permission("player.read.consents", "a player's marketing consents"),
        Permission("player.read.deposits", "a player's deposits"),
        Permission("timeline.read", "a player's journal (the timeline and its export)"),
        Permission("rg.write", "set or lift cool-downs, harm flags, self-exclusion", True),
        Permission("player.forget", "erase a player", True),
        Permission("rules.read", "live rulesets: list, validate, diff"),
        Permission("rules.whatif", "a what-if replay of a candidate ruleset"),
        Permission("rules.push", "publish or withdraw a ruleset", True),
        Permission("stats.read", "aggregates: counters, leaderboards"),
        Permission("replay.run", "the audit replay of the journal"),
        Permission("access_log.read", "the access log"),
        Permission("settings.read", "the deployment's settings, secrets masked"),
        Permission("topics.admin", "create or change Kafka topics", True),
        Permission("debug.read", "the consumer debugger and Faust's table and router views"),
        Permission("api.read", "the OpenAPI description of the web views"),
        Permission("metrics.read", "the Prometheus metrics (a scraper's API key)"),
    )
}
