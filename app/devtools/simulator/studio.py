"""A deterministic live-casino studio: tables, dealers and players as ``TableEvent`` dicts.

Pure: one ``random.Random(seed)`` per concern and no wall clock, so a seed and a start time
replay the same stream exactly (tests, benchmarks, bug reports). The caller passes the start
in epoch ms; event time advances with the simulated rounds. Each table plays rounds of
20-60 s; a heap of per-table schedules interleaves the tables so the stream is ordered by
``occurred_at``.

Events are plain dicts matching ``schemas/TableEvent.avsc`` (enum symbols as strings,
timestamps as int epoch ms), and profiles match ``PlayerProfile.avsc``. Treat them as
read-only; the generator hands out fresh dicts but does not copy defensively. With
``StudioConfig.accounts``, ``records()`` merges the players' ``AccountEvent`` dicts
(``accounts``) into the stream by time.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import islice
from operator import itemgetter
from typing import Any

from app.devtools.simulator import games
from app.devtools.simulator.accounts import AccountDesk
from app.devtools.simulator.games import (
    BACCARAT_BETS,
    BACCARAT_SIDE_BETS,
    BLACKJACK_SIDE_BETS,
    LIGHTNING_BETS,
    ROULETTE_BETS,
    deal_baccarat_coup,
    deal_blackjack_hand,
    lightning_label,
    roulette_pick,
    settle_baccarat,
    settle_blackjack,
    settle_roulette,
    settle_side_bet,
    spin_roulette,
    weighted_picker,
)

Event = dict[str, Any]
#: The Avro record names ``StudioSimulator.records()`` tags its records with.
TABLE_EVENT, ACCOUNT_EVENT = "TableEvent", "AccountEvent"

# --- players ------------------------------------------------------------------------------

#: (currency, country, IANA zones, weight): regulated markets a European studio serves.
REGIONS: tuple[tuple[str, str, tuple[str, ...], float], ...] = (
    ("GBP", "GB", ("Europe/London",), 0.30),
    ("EUR", "DE", ("Europe/Berlin",), 0.10),
    ("EUR", "NL", ("Europe/Amsterdam",), 0.06),
    ("EUR", "IE", ("Europe/Dublin",), 0.05),
    ("EUR", "ES", ("Europe/Madrid", "Atlantic/Canary"), 0.06),
    ("EUR", "IT", ("Europe/Rome",), 0.06),
    ("EUR", "FI", ("Europe/Helsinki",), 0.04),
    ("EUR", "AT", ("Europe/Vienna",), 0.03),
    ("EUR", "MT", ("Europe/Malta",), 0.02),
    ("EUR", "PT", ("Europe/Lisbon", "Atlantic/Azores"), 0.03),
    ("EUR", "LV", ("Europe/Riga",), 0.02),
    ("EUR", "EE", ("Europe/Tallinn",), 0.02),
    ("EUR", "LT", ("Europe/Vilnius",), 0.02),
    ("EUR", "GR", ("Europe/Athens",), 0.03),
    ("USD", "US", ("America/New_York", "America/Detroit"), 0.10),
)
#: The language a player of each country reads messages in (BCP 47).
LANGUAGES = {"GB": "en-GB", "IE": "en-IE", "MT": "en", "US": "en-US", "DE": "de", "AT": "de-AT",
             "NL": "nl", "ES": "es", "IT": "it", "FI": "fi", "PT": "pt", "LV": "lv", "EE": "et",
             "LT": "lt", "GR": "el"}  # fmt: skip
DEVICES = (("mobile", 0.62), ("desktop", 0.30), ("tablet", 0.08))
#: Chip values in minor units; stakes snap to them as real bets do.
CHIPS = (100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 25000, 50000)
MIN_STAKE, MAX_STAKE = 100, 50000  # 1.00 - 500.00


@dataclass(frozen=True, slots=True)
class Player:
    """A pseudonymous player; ``stakes`` are the chip amounts they usually bet."""

    player_id: str
    currency: str
    country: str | None
    time_zone: str | None
    device: str
    base_stake: int
    stakes: tuple[int, ...]


def _snap(amount: float) -> int:
    """The chip nearest in ratio, so 3.40 becomes 2.50 and 40.00 becomes 50.00."""
    amount = min(max(amount, MIN_STAKE), MAX_STAKE)
    return min(CHIPS, key=lambda c: abs(math.log(c / amount)))


def make_players(count: int, seed: int) -> list[Player]:
    """The player pool, ``p-000001`` on; stable for a seed whatever the table count."""
    rng = random.Random(f"players:{seed}")
    region = weighted_picker(tuple((str(i), w) for i, (*_, w) in enumerate(REGIONS)))
    device = weighted_picker(DEVICES)
    players = []
    for i in range(1, count + 1):
        currency, country, zones, _ = REGIONS[int(games.pick(rng, region))]
        zone: str | None = zones[int(rng.random() * len(zones))]
        u = rng.random()
        if u < 0.02:  # unknown to the operator: the operator's day applies
            country = zone = None  # type: ignore[assignment]
        elif u < 0.03:
            zone = None
        # stakes are log-normal: median 5.00, a long tail of high rollers
        base = _snap(rng.lognormvariate(math.log(500), 1.1))
        stakes = tuple(_snap(base * f) for f in (0.5, 1, 1, 1, 1, 2, 2, 5))
        players.append(
            Player(f"p-{i:06d}", currency, country, zone, games.pick(rng, device), base, stakes)
        )
    return players


# --- harmful personas ---------------------------------------------------------------------

#: Harmful patterns a labelled minority plays (docs/responsible-gaming.md, "Calibration"):
#: doubling the stake after every losing round, raising it every round, never leaving the
#: table, and a marathon in the small hours of the player's own day. Every persona keeps
#: their seat: a harmful episode is continuous play.
PERSONAS = ("chaser", "escalator", "marathon", "night_owl")


def assign_personas(players: list[Player], share: float, seed: int) -> dict[str, str]:
    """Player id -> persona for about ``share`` of the pool; stable for a seed."""
    if share <= 0:
        return {}
    rng = random.Random(f"personas:{seed}")
    chosen = [p.player_id for p in players if rng.random() < share]
    return {pid: PERSONAS[i % len(PERSONAS)] for i, pid in enumerate(chosen)}


def _at_night(player: Player, start_ms: int) -> Player:
    """The player in a whole-hour zone where ``start_ms`` is 02:00-02:59 local time."""
    utc_hour = start_ms // 3_600_000 % 24
    offset = (2 - utc_hour + 12) % 24 - 12  # -12..+11 hours from UTC
    # POSIX-style names: Etc/GMT+8 is eight hours *behind* UTC
    zone = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
    return replace(player, time_zone=zone)


# --- profiles -----------------------------------------------------------------------------

VIP_TIERS = (  # (tier, share of the pool by stake rank, top first)
    ("DIAMOND", 0.01),
    ("PLATINUM", 0.03),
    ("GOLD", 0.08),
    ("SILVER", 0.15),
    ("BRONZE", 0.25),
)
CONSENT_CHANNELS = (
    ("widget", 0.92),
    ("chat", 0.85),
    ("email", 0.60),
    ("push", 0.50),
    ("sms", 0.30),
)
HARM_FLAGS = (
    "loss_chasing",
    "deposit_spike",
    "late_night_play",
    "affordability_check",
    "long_session",
)
FAVOURITES = ("blackjack_fan", "roulette_fan", "baccarat_fan")


def player_profiles(players: list[Player], seed: int, updated_at_ms: int) -> list[dict]:
    """One ``PlayerProfile`` per player; VIP tier follows the stake rank, as operators do."""
    rng = random.Random(f"profiles:{seed}")
    r = rng.random
    ranked = sorted(players, key=lambda p: (-p.base_stake, p.player_id))
    tier_of: dict[str, str] = {}
    start = 0
    for tier, share in VIP_TIERS:
        end = start + max(1, round(share * len(players))) if players else 0
        for p in ranked[start:end]:
            tier_of[p.player_id] = tier
        start = end
    day = 86_400_000
    profiles = []
    for p in players:
        tier = tier_of.get(p.player_id, "NONE")
        segments = [FAVOURITES[int(r() * 3)]]
        if tier in ("DIAMOND", "PLATINUM"):
            segments.append("high_roller")
        if r() < 0.10:
            segments.append("new_player")
        elif r() < 0.06:
            segments.append("reactivated")
        if p.device == "mobile":
            segments.append("mobile_first")
        if r() < 0.2:
            segments.append("bonus_sensitive")
        consents = [
            {"product": "casino", "channel": ch, "granted": r() < pr} for ch, pr in CONSENT_CHANNELS
        ]
        if r() < 0.3:
            consents.append({"product": "sports", "channel": "email", "granted": r() < 0.5})
        harm: list[str] = []
        if r() < 0.04:
            harm = sorted(set(HARM_FLAGS[int(r() * 5)] for _ in range(1 + int(r() * 2))))
        deposit = None
        if r() < 0.9:
            amount = max(1000, round(p.base_stake * (5 + r() * 45) / 500) * 500)
            deposit = {
                "amount_minor": amount,
                "currency": p.currency,
                "at": updated_at_ms - int(r() * 30 * day),
            }
        profiles.append(
            {
                "player_id": p.player_id,
                "vip_tier": tier,
                "country": p.country,
                "time_zone": p.time_zone,
                "segments": segments,
                "consents": consents,
                "self_excluded": r() < 0.01,
                "harm_flags": harm,
                "last_deposit": deposit,
                "updated_at": updated_at_ms,
                "language": LANGUAGES.get(p.country),
            }
        )
    return profiles


# --- tables -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table's fixed traits; ``seats`` is None where any number of players can bet."""

    studio_id: str
    table_id: str
    game: str
    game_variant: str | None
    seats: int | None
    popularity: float
    round_ms: tuple[int, int]


#: (code, game, variant, seats, popularity, round length in s): repeated round-robin.
TABLE_KINDS: tuple[tuple[str, str, str | None, int | None, float, tuple[int, int]], ...] = (
    ("bj", "BLACKJACK", None, 7, 1.0, (35, 60)),
    ("rl", "ROULETTE", None, None, 3.0, (35, 50)),
    ("bc", "BACCARAT", None, None, 3.0, (25, 40)),
    ("lr", "ROULETTE", "Lightning Roulette", None, 5.0, (45, 60)),
    ("bj", "BLACKJACK", "Blackjack VIP", 7, 0.5, (40, 60)),
    ("sb", "BACCARAT", "Speed Baccarat", None, 3.0, (20, 30)),
)
STUDIOS = ("riga", "tbilisi", "malta", "bucharest")


def make_tables(count: int, studios: tuple[str, ...] = STUDIOS) -> list[TableSpec]:
    """``count`` tables: a fixed game mix spread round-robin over the studios."""
    specs = []
    for i in range(count):
        code, game, variant, seats, pop, (lo, hi) = TABLE_KINDS[i % len(TABLE_KINDS)]
        studio = studios[i % len(studios)]
        specs.append(
            TableSpec(
                studio,
                f"{studio}-{code}-{i + 1:02d}",
                game,
                variant,
                seats,
                pop,
                (lo * 1000, hi * 1000),
            )
        )
    return specs


def seat_targets(specs: list[TableSpec], online: int) -> list[int]:
    """How many players each table holds in steady state: by popularity, seat limits kept."""
    targets = [0] * len(specs)
    left = online
    open_ = [i for i in range(len(specs))]
    while left > 0 and open_:
        total = sum(specs[i].popularity for i in open_)
        share = {i: left * specs[i].popularity / total for i in open_}
        given = 0
        for i in open_:
            room = (specs[i].seats or 10**9) - targets[i]
            add = min(room, int(share[i]))
            targets[i] += add
            given += add
        if given == 0:  # fewer players than tables: hand out the rest one by one
            for i in sorted(open_, key=lambda i: -specs[i].popularity)[:left]:
                targets[i] += 1
                given += 1
        left -= given
        open_ = [i for i in open_ if specs[i].seats is None or targets[i] < specs[i].seats]
    return targets


# --- chat ---------------------------------------------------------------------------------

CHAT_LINES = (
    "gl all",
    "good luck everyone",
    "come on red!!",
    "nice one",
    "ugh",
    "again??",
    "hi from Dublin",
    "hello dealer :)",
    "lets go",
    "ty dealer",
    "so close",
    "wow",
    "banker streak",
    "player player player",
    "17 please",
    "bet behind me",
    "lol",
    "that was fast",
    "gg",
    "one more round then bed",
    "no way",
    "finally a win",
    "dealer is on fire",
    "any tips?",
    "😂",
    "🔥🔥",
    "big win!!",
    "unlucky",
    "yesss",
    "can we get a new shoe",
    "love this table",
    "brb",
    "good evening all",
)
BIRTHDAY_LINES = (
    "It's my Birthday!",
    "birthday spin for me",
    "BIRTHDAY today, wish me luck",
    "it's my birthday 🎂",
    "Birthday vibes",
    "happy birthday to me",
)


# --- the generator ------------------------------------------------------------------------


@dataclass(frozen=True)
class StudioConfig:
    """Knobs of the simulation; defaults give realistic tables at real-time pace."""

    tables: int = 12
    players: int = 500
    studios: tuple[str, ...] = STUDIOS
    #: share of the pool seated at some table at any time (the rest rest or are offline)
    online_fraction: float = 0.6
    #: rounds a player stays on average before leaving the table
    mean_session_rounds: float = 25.0
    #: chance per round that an empty seat is taken
    join_rate: float = 0.35
    dealer_rotation_rounds: int = 30
    dealers_per_table: int = 3
    side_bet_rate: float = 0.10
    chat_rate: float = 0.03
    birthday_rate: float = 0.03
    #: >1 shortens rounds (and gaps) by that factor: more events per second of event time
    time_scale: float = 1.0
    #: share of players given a harmful persona (``PERSONAS``); their labels are in
    #: ``StudioSimulator.personas``, never in the events
    harmful_share: float = 0.0
    #: also make the players' account events (``accounts.AccountDesk``): iterate
    #: ``StudioSimulator.records()`` to get them merged with the table events
    accounts: bool = False


_by_time = itemgetter("occurred_at")


class _Seat:
    __slots__ = ("device", "label", "persona", "player", "round_net", "rounds", "seat_no", "stake")

    def __init__(
        self, player: Player, device: str, seat_no: int | None, persona: str | None = None
    ) -> None:
        self.player = player
        self.device = device
        self.seat_no = seat_no
        self.label = str(seat_no) if seat_no is not None else None
        self.persona = persona
        #: a harmful persona's stake for its next bets (its base stake to start with)
        self.stake = player.base_stake
        self.rounds = 0
        self.round_net = 0

    def pick(self, drawn: int) -> int:
        """The stake of a bet: ``drawn`` (the chip a normal player picks at random), or what
        a chasing or escalating persona stakes now."""
        return self.stake if self.persona in ("chaser", "escalator") else drawn

    def round_over(self) -> None:
        """A chaser doubles after a losing round and starts again after a win; an escalator
        raises by a quarter every round."""
        self.rounds += 1
        if self.persona == "chaser":
            self.stake = _snap(self.stake * 2) if self.round_net < 0 else self.player.base_stake
        elif self.persona == "escalator":
            self.stake = _snap(self.player.base_stake * 1.25**self.rounds)
        self.round_net = 0


class _Table:
    __slots__ = (
        "dealer",
        "dealer_no",
        "dealers",
        "free_seats",
        "index",
        "pending",
        "pos",
        "round_no",
        "seated",
        "spec",
        "target",
    )

    def __init__(self, index: int, spec: TableSpec, target: int, dealers: tuple[str, ...]):
        self.index = index
        self.spec = spec
        self.target = target
        self.dealers = dealers
        self.dealer_no = 0
        self.dealer = dealers[0]
        self.round_no = 0
        self.seated: list[_Seat] = []
        self.free_seats = list(range(spec.seats, 0, -1)) if spec.seats else []
        self.pending: list[Event] = []
        self.pos = 0


class StudioSimulator:
    """An endless, deterministic stream of ``TableEvent`` dicts ordered by ``occurred_at``.

    Iterate it (``for event in sim``) or ``take(n)``. The same ``(config, seed, start_ms)``
    gives the same events; ids embed each round's start time, so runs started at different
    times never share an ``event_id`` (a worker would drop them as duplicates).
    """

    def __init__(
        self, config: StudioConfig, seed: int, start_ms: int, players: list[Player] | None = None
    ) -> None:
        if config.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if config.tables < 1:
            raise ValueError("a studio needs at least one table")
        self.config = config
        self.seed = seed
        self.start_ms = start_ms
        self.players = players if players is not None else make_players(config.players, seed)
        self.personas = assign_personas(self.players, config.harmful_share, seed)
        if self.personas:
            self.players = [_at_night(p, start_ms) if self.personas.get(p.player_id) ==
                            "night_owl" else p for p in self.players]  # fmt: skip
        self.tables = make_tables(config.tables, config.studios)
        self._rng = random.Random(f"studio:{seed}")
        self._k = 1.0 / config.time_scale
        self._p_leave = 1.0 / max(config.mean_session_rounds, 1.0)
        self._free = list(self.players)
        self._resting: list[tuple[int, int, Player]] = []  # (available_at, n, player)
        self._rest_n = 0
        self._pickers = {
            "ROULETTE": weighted_picker(ROULETTE_BETS),
            "LIGHTNING": weighted_picker(LIGHTNING_BETS),
            "BACCARAT": weighted_picker(BACCARAT_BETS),
        }
        online = min(len(self.players), round(len(self.players) * config.online_fraction))
        targets = seat_targets(self.tables, online)
        self._tables = [
            _Table(
                i,
                spec,
                targets[i],
                tuple(
                    f"dlr-{spec.studio_id}-{i * config.dealers_per_table + k + 1:03d}"
                    for k in range(max(1, config.dealers_per_table))
                ),
            )
            for i, spec in enumerate(self.tables)
        ]
        self._desk = (
            AccountDesk(seed, config.time_scale, self.personas) if config.accounts else None
        )
        self._accounts: list[tuple[int, int, dict]] = []  # (occurred_at, n, AccountEvent)
        self._queued = itertools.count()
        self._heap: list[tuple[int, int]] = []
        for t in self._tables:  # stagger the first rounds so tables do not run in lockstep
            lo = t.spec.round_ms[0]
            t.pending = self._play_round(
                t, start_ms + int(self._rng.random() * lo * self._k), first=True
            )
            self._heap.append((t.pending[0]["occurred_at"], t.index))
        heapq.heapify(self._heap)

    # public

    def __iter__(self) -> Iterator[Event]:
        heap, tables = self._heap, self._tables
        replace = heapq.heapreplace
        while True:
            i = heap[0][1]
            t = tables[i]
            event = t.pending[t.pos]
            t.pos += 1
            if t.pos == len(t.pending):
                t.pending = self._play_round(t, event["occurred_at"])
                t.pos = 0
            replace(heap, (t.pending[t.pos]["occurred_at"], i))
            yield event

    def take(self, n: int) -> list[Event]:
        """The next ``n`` events."""
        return list(islice(self, n))

    def records(self) -> Iterator[tuple[str, dict]]:
        """The table events and (with ``config.accounts``) the players' account events,
        merged in ``occurred_at`` order, as (Avro record name, record) pairs."""
        queued = self._accounts
        for event in self:
            at = event["occurred_at"]
            while queued and queued[0][0] <= at:
                yield ACCOUNT_EVENT, heapq.heappop(queued)[2]
            yield TABLE_EVENT, event

    def _queue(self, records: list[dict]) -> None:
        """Account events for ``records()``: by time, then in the order they were made."""
        for record in records:
            heapq.heappush(self._accounts, (record["occurred_at"], next(self._queued), record))

    def profiles(self, updated_at_ms: int | None = None) -> list[dict]:
        """Profiles of this simulation's players (``updated_at`` defaults to the start)."""
        return player_profiles(
            self.players, self.seed, self.start_ms if updated_at_ms is None else updated_at_ms
        )

    # a round

    def _take_player(self, now: int) -> Player | None:
        resting, free = self._resting, self._free
        while resting and resting[0][0] <= now:
            free.append(heapq.heappop(resting)[2])
        if not free:
            return None
        i = int(self._rng.random() * len(free))
        player = free[i]
        free[i] = free[-1]
        free.pop()
        return player

    def _play_round(self, t: _Table, t_start: int, first: bool = False) -> list[Event]:
        """Every event of one round at ``t``, sorted, from the gap before it to its end.

        Seating changes happen in the gap; whoever leaves rests a while before joining
        another table, so a player is never at two tables at once.
        """
        cfg = self.config
        r = self._rng.random
        k = self._k
        spec = t.spec
        studio, table, game, variant = spec.studio_id, spec.table_id, spec.game, spec.game_variant
        t.round_no += 1
        if t.round_no > 1 and (t.round_no - 1) % cfg.dealer_rotation_rounds == 0:
            t.dealer_no = (t.dealer_no + 1) % len(t.dealers)
            t.dealer = t.dealers[t.dealer_no]
        dealer = t.dealer
        gap = max(2, int((2000 + r() * 3000) * k))
        t0 = t_start + gap
        lo, hi = spec.round_ms
        dur = max(20, int((lo + r() * (hi - lo)) * k))
        t_end = t0 + dur
        rid = f"{table}-{t0}"
        desk = self._desk
        evs: list[Event] = []
        add = evs.append

        def ev(
            etype: str,
            at: int,
            seat: _Seat | None,
            round_id: str | None = rid,
            bet: dict | None = None,
            settlement: dict | None = None,
            chat: str | None = None,
            attrs: dict | None = None,
        ) -> Event:
            if seat is None:
                pid = device = None
                a = attrs or {}
            else:
                pid, device = seat.player.player_id, seat.device
                a = {"seat": seat.label} if seat.label else {}
                if attrs:
                    a.update(attrs)
            return {
                "event_id": "",
                "event_type": etype,
                "occurred_at": at,
                "studio_id": studio,
                "table_id": table,
                "dealer_id": dealer,
                "game": game,
                "game_variant": variant,
                "round_id": round_id,
                "player_id": pid,
                "bet": bet,
                "settlement": settlement,
                "chat_text": chat,
                "device": device,
                "attributes": a,
            }

        # seating changes in the gap before the round: leaves first, so a seat is free
        half = gap // 2
        if t.seated:
            stay = []
            for seat in t.seated:
                if r() < self._p_leave and seat.persona is None:  # harm is continuous play
                    left_at = t_start + int(r() * half)
                    add(ev("PLAYER_LEFT", left_at, seat, None))
                    if desk is not None:
                        self._queue(desk.left(seat.player, left_at))
                    if seat.seat_no is not None:
                        t.free_seats.append(seat.seat_no)
                    rest = int((60_000 + r() * 540_000) * k)  # 1-10 min off the tables
                    self._rest_n += 1
                    heapq.heappush(self._resting, (t_start + gap + rest, self._rest_n, seat.player))
                else:
                    stay.append(seat)
            t.seated = stay
        missing = t.target - len(t.seated)
        join_rate = 1.0 if first else cfg.join_rate
        for _ in range(missing):
            if r() < join_rate:
                player = self._take_player(t_start)
                if player is None:
                    break
                seat_no = None
                if spec.seats:
                    seat_no = t.free_seats.pop(int(r() * len(t.free_seats)))
                device = player.device if r() < 0.85 else DEVICES[int(r() * 3)][0]
                seat = _Seat(player, device, seat_no, self.personas.get(player.player_id))
                t.seated.append(seat)
                joined_at = t_start + half + int(r() * (gap - half))
                add(ev("PLAYER_JOINED", joined_at, seat, None))
                if desk is not None:
                    self._queue(desk.joined(player, device, (t_start, joined_at)))

        seated = t.seated
        add(
            ev(
                "ROUND_STARTED",
                t0,
                None,
                attrs={"players": str(len(seated)), "round": str(t.round_no)},
            )
        )
        betting = max(1, int(dur * 0.4))
        t_deal = t0 + betting + max(1, int(1500 * k))
        t_settle = max(t_deal + 1, t_end - max(1, int(1500 * k)))
        settle_spread = max(1, t_end - t_settle - 1)

        def bet_pair(
            seat: _Seat,
            bet_type: str,
            stake: int,
            placed: int,
            settled: Any,
            extra: dict | None = None,
            side: bool = False,
            at: int = 0,
        ) -> None:
            cur = seat.player.currency
            seat.round_net += settled[1] - stake
            add(
                ev(
                    "SIDE_BET_PLACED" if side else "BET_PLACED",
                    placed,
                    seat,
                    bet={"bet_type": bet_type, "stake_minor": stake, "currency": cur},
                    attrs=extra,
                )
            )
            add(
                ev(
                    "SIDE_BET_SETTLED" if side else "BET_SETTLED",
                    at or t_settle + int(r() * settle_spread),
                    seat,
                    bet={"bet_type": bet_type, "stake_minor": stake, "currency": cur},
                    settlement={
                        "outcome": settled[0],
                        "payout_minor": settled[1],
                        "hand": settled[2],
                    },
                    attrs=extra,
                )
            )

        side_rate = cfg.side_bet_rate
        result: dict[str, str] = {}
        if game == "BLACKJACK":
            decide = max(1, t_settle - t_deal)
            for seat in seated:
                stakes = seat.player.stakes
                stake = seat.pick(stakes[int(r() * len(stakes))])
                hand = deal_blackjack_hand(self._rng)
                placed = t0 + 1 + int(r() * betting)
                settled = settle_blackjack(hand, stake)
                bet_pair(seat, "main", stake, placed, settled)
                if hand.doubled:
                    bet_pair(seat, "double_down", stake, t_deal + int(r() * decide), settled)
                if r() < side_rate:
                    side = BLACKJACK_SIDE_BETS[0 if r() < 0.6 else 1]
                    side_stake = stakes[0]
                    bet_pair(
                        seat,
                        side,
                        side_stake,
                        t0 + 1 + int(r() * betting),
                        settle_side_bet(self._rng, side, side_stake),
                        side=True,
                        at=t_deal + int(r() * 300 * k),
                    )
            result["hands"] = str(len(seated))
        elif game == "ROULETTE":
            lightning = variant == "Lightning Roulette"
            spin = spin_roulette(self._rng, lightning)
            picker = self._pickers["LIGHTNING" if lightning else "ROULETTE"]
            for seat in seated:
                stakes = seat.player.stakes
                n = 1 + (r() < 0.45) + (r() < 0.2) + (r() < 0.1)
                for _ in range(n):
                    bet_type = games.pick(self._rng, picker)
                    number = roulette_pick(self._rng, bet_type)
                    stake = seat.pick(stakes[int(r() * len(stakes))])
                    bet_pair(
                        seat,
                        bet_type,
                        stake,
                        t0 + 1 + int(r() * betting),
                        settle_roulette(spin, bet_type, number, stake, lightning),
                        extra={"pick": number} if number else None,
                    )
            result["result"] = spin.label
            if lightning:
                result["lightning"] = lightning_label(spin)
        else:  # BACCARAT
            coup = deal_baccarat_coup(self._rng)
            picker = self._pickers["BACCARAT"]
            for seat in seated:
                stakes = seat.player.stakes
                bet_type = games.pick(self._rng, picker)
                stake = seat.pick(stakes[int(r() * len(stakes))])
                bet_pair(
                    seat,
                    bet_type,
                    stake,
                    t0 + 1 + int(r() * betting),
                    settle_baccarat(coup, bet_type, stake),
                )
                if bet_type != "tie" and r() < 0.08:  # a tie chip on top
                    bet_pair(
                        seat,
                        "tie",
                        stakes[0],
                        t0 + 1 + int(r() * betting),
                        settle_baccarat(coup, "tie", stakes[0]),
                    )
                if r() < side_rate:
                    side = BACCARAT_SIDE_BETS[int(r() * 2)]
                    bet_pair(
                        seat,
                        side,
                        stakes[0],
                        t0 + 1 + int(r() * betting),
                        settle_baccarat(coup, side, stakes[0]),
                        side=True,
                    )
            result["result"] = coup.result
            if coup.player_pair:
                result["player_pair"] = "true"
            if coup.banker_pair:
                result["banker_pair"] = "true"

        chat_rate, birthday = cfg.chat_rate, cfg.birthday_rate
        for seat in seated:
            if r() < chat_rate:
                lines = BIRTHDAY_LINES if r() < birthday else CHAT_LINES
                add(
                    ev(
                        "CHAT_MESSAGE",
                        t0 + 1 + int(r() * (dur - 2)),
                        seat,
                        chat=lines[int(r() * len(lines))],
                    )
                )
        add(ev("ROUND_ENDED", t_end, None, attrs=result))
        for seat in seated:
            if desk is not None:
                self._queue(desk.played(seat.player, seat.stake, seat.round_net, t_end))
            seat.round_over()

        evs.sort(key=_by_time)  # stable: equal times keep their logical order
        prefix = rid + "-"
        for n, e in enumerate(evs):
            e["event_id"] = prefix + str(n)
        return evs


def generate_events(count: int, *, seed: int, start_ms: int, **config: Any) -> list[Event]:
    """``count`` events of a fresh simulation; ``config`` overrides ``StudioConfig`` fields."""
    return StudioSimulator(StudioConfig(**config), seed, start_ms).take(count)


def event_rate(config: StudioConfig, seed: int = 0, sample_rounds: int = 20) -> float:
    """Events per second of event time the configuration produces in steady state.

    Measured on a throwaway run, so the producer can pick a ``time_scale`` that makes event
    time keep pace with the wall clock at a target rate.
    """
    sim = StudioSimulator(config, seed, 0)
    events = 0
    first = last = None
    horizon = None
    for e in sim:
        at = e["occurred_at"]
        if horizon is None:
            mean_round = sum(sum(s.round_ms) / 2 for s in sim.tables) / max(1, len(sim.tables))
            horizon = int(mean_round * sample_rounds / config.time_scale)
            first = at + horizon // 4  # skip the first joins
        if at < first:
            continue
        if at > first + horizon:
            last = at
            break
        events += 1
    assert first is not None and last is not None
    return events / ((last - first) / 1000) if last > first else 0.0
