"""The engine for whatever ruleset is live: recompiled only when the published bytes change."""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson

from app.core import Engine
from app.core.rules import Jurisdictions, Ruleset
from app.rules import compile_document, default_ruleset

log = logging.getLogger(__name__)


class LiveEngine:
    """Holds the Engine for the newest valid revision of one ruleset.

    Until a ruleset is published (or after it is withdrawn with a tombstone) the shipped
    default runs. A revision that fails to compile (push validates, so it should not) is
    logged and the previous one stays in force: a bad publish never stops the tables.
    """

    def __init__(
        self,
        operator_timezone: str,
        read: Callable[[], bytes | None],
        jurisdictions: Jurisdictions | None = None,
        game_salt: str = "",
    ) -> None:
        """``game_salt``: ``PITBOSS_GAME_SALT``, that mini-game outcomes derive from."""
        self.operator_timezone = operator_timezone
        self.game_salt = game_salt.encode()
        self.read = read
        self.jurisdictions = jurisdictions
        self.engine = self._engine(default_ruleset())
        self._raw: bytes | None = None

    def _engine(self, ruleset: Ruleset) -> Engine:
        return Engine(ruleset, self.operator_timezone, self.jurisdictions, self.game_salt)

    def current(self) -> Engine:
        raw = self.read()
        if raw == self._raw:
            return self.engine
        self._raw = raw
        if raw is None:
            self.engine = self._engine(default_ruleset())
            log.warning("the published ruleset was withdrawn; running the shipped default")
            return self.engine
        try:
            ruleset = compile_document(orjson.loads(raw))
        except Exception as exc:  # any failure here must leave the live ruleset running
            log.error("a published ruleset does not compile; keeping the previous one: %s", exc)
            return self.engine
        self.engine = self._engine(ruleset)
        log.info(
            "now running ruleset %s revision %s: %s",
            ruleset.ruleset_id,
            ruleset.revision,
            ", ".join(f"{r.rule_id} v{r.version}" for r in ruleset.rules),
        )
        return self.engine
