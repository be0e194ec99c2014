"""One compact state record per player, read and written once per micro-batch.

This record is rewritten (locally and to the changelog) every time a player plays, so it is
a msgpack array of the fields in their declared order, ``STATE_VERSION`` first: msgspec
Structs (``array_like``) encode and decode it in C, with no key per field and no dict in
between. Finished streaks, past mission periods, expired window entries and old leaderboard
periods are pruned as the player moves on. Records of versions 1 and 2 (JSON objects with
short keys) still load; version 2 can still be written (``PITBOSS_STATE_WRITE_VERSION``), so
a release before version 3 can read what this one wrote while a rollout may be rolled back.
"""

from __future__ import annotations

from base64 import b64decode, b64encode

import msgspec
import orjson

#: How many recent event ids a player's state remembers to drop re-deliveries: far more
#: than a player makes between two offset commits (a few seconds), which is what a
#: re-delivery after a crash replays.
SEEN_MAX = 32
#: Bytes per remembered event id (a 48-bit fingerprint: a false "seen" among 32 is ~1e-13).
SEEN_BYTES = 6
#: How many recent periods a once-per-period rule remembers (late events reach back this far).
ONCE_PERIODS_KEPT = 3
#: The most events one window keeps (older ones beyond it are dropped first).
WINDOW_MAX = 256
#: The most boosts a player holds at once; a grant beyond it ends the oldest (docs/rules.md).
BOOSTS_MAX = 4
#: Risk markers by their two-letter code in a JSON record (versions 1 and 2).
_MARKER_CODES = {
    "rapid_loss_amount": "ra",
    "rapid_loss_count": "rc",
    "loss_chasing": "lc",
    "stake_chasing": "sc",
    "stake_escalation": "se",
    "session_marathon": "sm",
    "session_long": "sl",
    "night_play": "np",
    "deposit_frequency": "df",
    "deposit_failed": "dx",
    "withdrawal_cancelled": "wc",
}
_MARKER_NAMES = {code: name for name, code in _MARKER_CODES.items()}
#: How many recent player command ids a state remembers (a re-sent command decides nothing).
COMMANDS_MAX = 8
#: The most badges a state keeps (the oldest earned go first beyond it).
BADGES_MAX = 64
#: The most completed mission ids a state keeps (the oldest go first beyond it).
MISSIONS_DONE_MAX = 64
#: The most rewards a player holds unclaimed, and claims settled it remembers (``claims``).
CLAIMS_MAX = 16
#: 3: a msgpack array (msgspec). 2: a JSON object, the re-delivery memory packed as base64 of
#: 48-bit fingerprints. 1: the same with a list of 63-bit ints, which cannot match new
#: fingerprints and are dropped on load.
STATE_VERSION = 3
#: The JSON version ``to_bytes`` still writes, for a release before STATE_VERSION to read.
JSON_VERSION = 2


class StreakState(msgspec.Struct, array_like=True):
    count: int = 0
    stakes_minor: int = 0
    currency: str | None = None
    event_ids: list[str] = []
    fired: bool = False


#: How a mission ended in its period (``MissionState.end``); 0: it is still running.
COMPLETED, EXPIRED, MISSED = 1, 2, 3


class MissionState(msgspec.Struct, array_like=True):
    """A mission in its latest period (an ended mission keeps neither its event ids, nor its
    tasks' steps, nor its deadline: the journal has its progress)."""

    period: str = ""
    #: steps done, every task's together
    steps: int = 0
    #: the one-task form's steps (its completion's ids derive from them); emptied at the end
    event_ids: list[str] = []
    #: 0 running, else COMPLETED, EXPIRED (time limit passed) or MISSED (window closed)
    end: int = 0
    #: named tasks: the steps done of each, in the ruleset's order
    tasks: list[int] = []
    #: when it ends unfinished (event time: its time limit or its window's end); 0: never
    ends: int = 0

    @property
    def completed(self) -> bool:
        return self.end == COMPLETED

    def finish(self, end: int) -> None:
        """End it (COMPLETED, EXPIRED, MISSED): what only a running mission needs goes."""
        self.end, self.event_ids, self.tasks, self.ends = end, [], [], 0


class CooldownState(msgspec.Struct, array_like=True):
    cooldown_id: str
    starts_at: int
    ends_at: int
    reason: str


class BoostState(msgspec.Struct, array_like=True):
    """A running boost: the MULTIPLIER reward that started it (its id is the boost's id),
    what it multiplies, and its end (event time, or bets left)."""

    boost_id: str
    rule_id: str
    rule_version: int
    factor: float
    kinds: list[str]
    games: list[str]
    table: str | None
    starts_at: int
    ends_at: int | None
    bets_left: int | None


class PlayerState(msgspec.Struct, array_like=True, tag=STATE_VERSION):
    """Everything the rules remember about a player.

    ``once`` maps a rule scope to the recent periods (local days, ISO weeks, ``ever``) in
    which it fired, so a once-per-period rule fires once even for a late event of an
    earlier period. ``windows`` holds ``[occurred_at, value, event_id]`` per rule scope.
    """

    once: dict[str, list[str]] = {}
    xp: int = 0
    points: int = 0
    level: int = 1
    streaks: dict[str, StreakState] = {}
    windows: dict[str, list[list]] = {}
    missions: dict[str, MissionState] = {}
    #: leaderboard scope key -> this player's score there
    boards: dict[str, int] = {}
    #: cap key ("daily:<day>", "<rule scope>:<period>") -> amount granted there so far
    caps: dict[str, int] = {}
    cooldown: CooldownState | None = None
    #: running boosts, in the order they started
    boosts: list[BoostState] = []
    #: the rapid-loss detector's recent minutes: [epoch minute, net loss, losing rounds]
    loss_minutes: list[list[int]] = []
    #: the loss-chasing detector's run of losing rounds: [rounds, first stake, last stake]
    chase: list[int] = []
    #: the round being played: [fingerprint of table and round id, bets open, bets settled,
    #: stake, net loss, last settled at]
    round: list = []
    #: the session (``app.core.risk``): [start, last play, baseline stake sum, baseline rounds,
    #: net loss, baseline stake-per-bet sum, last round's stake per bet, it lost, raises]
    session: list[int] = []
    #: risk marker -> when it was last seen (event time)
    markers: dict[str, int] = {}
    #: the risk level (0 none, 1 low, 2 medium, 3 high) as last journaled
    risk: int = 0
    seen: list[int] = []
    last_event_at: int = 0
    #: the points a player can spend (``app.core.wallet``): earned, less spent and expired
    balance: int = 0
    #: points of the balance that expire, per UTC period earned: [period index, amount]
    expiring: list[list[int]] = []
    #: badge ids earned, in the order earned
    badges: list[str] = []
    #: mini-game plays won and not yet played: [reward id, mini-game id, plays left]
    spins: list[list] = []
    #: mission rule ids completed (at least once), in the order first completed
    missions_done: list[str] = []
    #: fingerprints of the recent player command ids decided (``app.core.ids``)
    commands: list[int] = []
    #: the KYC status the account events last gave (None: none seen; ``app.core.accounts``)
    kyc: str | None = None
    #: the last completed deposit: [at, amount in minor units, currency] (house where set)
    last_deposit: list = []
    #: recent completed deposits, oldest first: [at, amount in house minor units]
    deposits: list[list[int]] = []
    #: rewards waiting for the player's CLAIM, oldest first: [claim by, the Reward record]
    claims: list[list] = []
    #: claims settled lately: [reward id, "claimed" or "expired"] (``app.core.claims``)
    settled: list[list[str]] = []

    # -- serialization -------------------------------------------------------------------

    def to_bytes(self, version: int = STATE_VERSION) -> bytes:
        """The record at ``version``: STATE_VERSION, or JSON_VERSION while a rollback to a
        release that reads only JSON must stay possible."""
        if version == STATE_VERSION:
            return _ENCODER.encode(self)
        if version == JSON_VERSION:
            return _to_json(self)
        raise ValueError(f"cannot write player states at version {version}")

    @classmethod
    def from_bytes(cls, data: bytes | None) -> PlayerState:
        if not data:
            return cls()
        if data[:1] == b"{":  # versions 1 and 2
            return _from_json(orjson.loads(data))
        return _DECODER.decode(data)

    # -- re-deliveries ---------------------------------------------------------------------
    # Fingerprints come from ``app.core.ids.event_fingerprint`` (48-bit).

    def remember(self, fingerprint: int) -> bool:
        """Record an event as seen; False if it was seen already (a re-delivery)."""
        if fingerprint in self.seen:
            return False
        self.seen.append(fingerprint)
        if len(self.seen) > SEEN_MAX:
            del self.seen[: len(self.seen) - SEEN_MAX]
        return True

    def decided_command(self, fingerprint: int) -> bool:
        """Record a player command as decided; False if it was decided already (re-sent)."""
        if fingerprint in self.commands:
            return False
        self.commands.append(fingerprint)
        del self.commands[:-COMMANDS_MAX]
        return True

    def earn_badge(self, badge: str) -> bool:
        """Keep a badge the player earned; False if they had it already."""
        if badge in self.badges:
            return False
        self.badges.append(badge)
        del self.badges[:-BADGES_MAX]
        return True

    def complete_mission(self, rule_id: str) -> None:
        """Remember that the player completed a mission (what ``requires`` checks)."""
        if rule_id not in self.missions_done:
            self.missions_done.append(rule_id)
            del self.missions_done[:-MISSIONS_DONE_MAX]

    # -- once-per limits -------------------------------------------------------------------

    def has_fired(self, scope: str, period: str) -> bool:
        return period in self.once.get(scope, ())

    def mark_fired(self, scope: str, period: str) -> None:
        periods = self.once.setdefault(scope, [])
        periods.append(period)
        periods.sort()
        if len(periods) > ONCE_PERIODS_KEPT:
            del periods[: len(periods) - ONCE_PERIODS_KEPT]

    # -- per-period totals (leaderboards, caps) ---------------------------------------------

    def add_score(self, board_key: str, period: str, amount: int) -> int:
        """Add to this player's score on a board; forget the board's older periods."""
        return _add_for_period(self.boards, board_key, period, amount)

    def add_capped(self, cap_key: str, period: str, amount: int) -> int:
        """Count ``amount`` against a cap for its period; forget the cap's older periods."""
        return _add_for_period(self.caps, cap_key, period, amount)


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(PlayerState)


def _from_json(doc: dict) -> PlayerState:
    """A version 1 or 2 record: a JSON object with short keys, empty fields left out."""
    return PlayerState(
        once=doc.get("o", {}),
        xp=doc.get("xp", 0),
        points=doc.get("pt", 0),
        level=doc.get("lv", 1),
        streaks={
            k: StreakState(n, stakes, cur, ids, bool(fired))
            for k, (n, stakes, cur, ids, fired) in doc.get("st", {}).items()
        },
        windows=doc.get("w", {}),
        missions={k: MissionState(*m) for k, m in doc.get("m", {}).items()},
        boards=doc.get("b", {}),
        caps=doc.get("c", {}),
        cooldown=CooldownState(*doc["cd"]) if "cd" in doc else None,
        boosts=[BoostState(*b) for b in doc.get("bo", ())],
        loss_minutes=doc.get("rl", []),
        chase=doc.get("lc", []),
        round=doc.get("rd", []),
        session=doc.get("ss", []),
        markers={_MARKER_NAMES.get(c, c): t for c, t in doc.get("mk", {}).items()},
        risk=doc.get("rk", 0),
        seen=_unpack_seen(doc.get("s", "")) if doc.get("v", 1) >= 2 else [],
        last_event_at=doc.get("t", 0),
        balance=doc.get("wb", 0),
        expiring=doc.get("wx", []),
        badges=doc.get("bg", []),
        spins=doc.get("sp", []),
        missions_done=doc.get("md", []),
        commands=_unpack_seen(doc.get("cm", "")),
        kyc=doc.get("ky"),
        last_deposit=doc.get("ld", []),
        deposits=doc.get("dp", []),
        claims=doc.get("cl", []),
        settled=doc.get("cs", []),
    )


def _to_json(state: PlayerState) -> bytes:
    """A version 2 record, byte for byte what releases before version 3 wrote."""
    doc: dict[str, object] = {"v": JSON_VERSION}
    if state.once:
        doc["o"] = state.once
    if state.xp:
        doc["xp"] = state.xp
    if state.points:
        doc["pt"] = state.points
    if state.level != 1:
        doc["lv"] = state.level
    if state.streaks:
        doc["st"] = {
            k: [s.count, s.stakes_minor, s.currency, s.event_ids, int(s.fired)]
            for k, s in state.streaks.items()
        }
    if state.windows:
        doc["w"] = state.windows
    if state.missions:
        doc["m"] = {k: _mission_list(m) for k, m in state.missions.items()}
    if state.boards:
        doc["b"] = state.boards
    if state.caps:
        doc["c"] = state.caps
    if state.cooldown is not None:
        doc["cd"] = msgspec.structs.astuple(state.cooldown)
    if state.boosts:
        doc["bo"] = [msgspec.structs.astuple(b) for b in state.boosts]
    if state.loss_minutes:
        doc["rl"] = state.loss_minutes
    if state.chase:
        doc["lc"] = state.chase
    if state.round:
        doc["rd"] = state.round
    if state.session:
        doc["ss"] = state.session
    if state.markers:
        doc["mk"] = {_MARKER_CODES.get(m, m): t for m, t in state.markers.items()}
    if state.risk:
        doc["rk"] = state.risk
    if state.seen:
        doc["s"] = _pack(state.seen)
    if state.last_event_at:
        doc["t"] = state.last_event_at
    if state.balance:
        doc["wb"] = state.balance
    if state.expiring:
        doc["wx"] = state.expiring
    if state.badges:
        doc["bg"] = state.badges
    if state.spins:
        doc["sp"] = state.spins
    if state.missions_done:
        doc["md"] = state.missions_done
    if state.commands:
        doc["cm"] = _pack(state.commands)
    if state.kyc is not None:
        doc["ky"] = state.kyc
    if state.last_deposit:
        doc["ld"] = state.last_deposit
    if state.deposits:
        doc["dp"] = state.deposits
    if state.claims:
        doc["cl"] = state.claims
    if state.settled:
        doc["cs"] = state.settled
    return orjson.dumps(doc)


def _mission_list(m: MissionState) -> list:
    """``[period, steps, event ids, end]``, then the tasks' steps and the deadline where set."""
    out = [m.period, m.steps, m.event_ids, m.end]
    if m.tasks or m.ends:
        out.append(m.tasks)
    if m.ends:
        out.append(m.ends)
    return out


def _pack(fingerprints: list[int]) -> str:
    return b64encode(b"".join(fp.to_bytes(SEEN_BYTES, "big") for fp in fingerprints)).decode()


def _unpack_seen(packed: str) -> list[int]:
    raw = b64decode(packed)
    return [int.from_bytes(raw[i : i + SEEN_BYTES], "big") for i in range(0, len(raw), SEEN_BYTES)]


def _add_for_period(totals: dict[str, int], key: str, period: str, amount: int) -> int:
    """``key`` ends with ``period``; older periods of the same prefix are dropped."""
    total = totals.get(key, 0) + amount
    totals[key] = total
    prefix = key[: -len(period)]
    for old in [k for k in totals if k.startswith(prefix) and k[len(prefix) :] < period]:
        del totals[old]
    return total
