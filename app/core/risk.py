"""Risk markers beyond the loss detectors, and the player's risk level they add up to.

Markers are kept in the player's state as "last seen" event times; a marker counts for the
ruleset's risk window after it was last seen. The level is the highest level a live marker
sets (``Protection.marker_levels``), one step higher when ``risk_accumulate`` distinct
markers hold that top level (indicators accumulating, as the UKGC's customer interaction
guidance expects). Everything runs on the player's own events in record order, so the
level never depends on batching; it falls as markers age out at the player's next event.
"""

from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo

from app.core.days import local_hour
from app.core.money import Currencies, exponent
from app.core.rounds import PLACED, SETTLED, Round
from app.core.rules import RISK_LEVELS, Protection
from app.core.state import PlayerState

PLAY = PLACED | SETTLED
HIGH = RISK_LEVELS.index("high")
# The session's fields in ``PlayerState.session``: the baseline's round stakes and stakes
# per bet, the net loss, the last round's stake per bet and whether it lost, and the last
# rounds' raises after a loss (a bit each, newest lowest).
_START, _LAST, _BASE_SUM, _BASE_N, _NET, _BASE_PER_BET, _PREV, _PREV_LOST, _RAISES = range(9)
_FIELDS = 9


def observe_play(state: PlayerState, event: Mapping, p: Protection, tz: ZoneInfo) -> None:
    """A bet or a settlement: extend or start the session; mark long sessions and night play."""
    t = event["occurred_at"]
    session = state.session
    if not session or t - session[_LAST] >= p.session_break_ms:
        session = state.session = [t, t] + [0] * (_FIELDS - 2)
    elif t > session[_LAST]:
        session[_LAST] = t
    length = session[_LAST] - session[_START]
    if length >= p.session_long_ms:
        _seen(state, "session_long", t)
    if length >= p.session_marathon_ms:
        _seen(state, "session_marathon", t)
    if _in_hours(local_hour(t, tz), p.night_from, p.night_until):
        _seen(state, "night_play", t)


def observe_closed(state: PlayerState, played: Round, p: Protection) -> None:
    """A closed round: count it in the session; mark a stake far above the session's start
    and raises of the stake right after losing rounds. Stakes are compared per bet, like
    with like: a four-bet roulette spin does not stake "four times" a one-bet spin."""
    session = state.session
    if not session:
        return
    if len(session) < _FIELDS:  # a session kept before the per-bet fields
        session.extend([0] * (_FIELDS - len(session)))
    per_bet = played.stake // max(1, played.bets)
    session[_NET] += played.net
    if session[_BASE_N] < p.escalation_baseline:
        session[_BASE_SUM] += played.stake
        session[_BASE_PER_BET] += per_bet
        session[_BASE_N] += 1
    elif per_bet * session[_BASE_N] >= p.escalation_factor * session[_BASE_PER_BET] > 0:
        _seen(state, "stake_escalation", played.at)
    raised = session[_PREV_LOST] and per_bet >= p.chase_raise_factor * session[_PREV] > 0
    raises = ((session[_RAISES] << 1) | bool(raised)) & ((1 << p.chase_raises_within) - 1)
    session[_RAISES] = raises
    session[_PREV], session[_PREV_LOST] = per_bet, int(played.net > 0)
    if raised and raises.bit_count() >= p.chase_raises:
        _seen(state, "stake_chasing", played.at)


def typical_stake(state: PlayerState, p: Protection) -> int | None:
    """The mean round stake of the session's first rounds, once there are enough of them."""
    session = state.session
    if not session or session[_BASE_N] < p.escalation_baseline:
        return None
    return session[_BASE_SUM] // session[_BASE_N]


def mark(state: PlayerState, marker: str, t: int) -> None:
    """A marker a detector set at ``t`` (the loss detectors' trips)."""
    _seen(state, marker, t)


def level_now(state: PlayerState, t: int, p: Protection) -> tuple[int, list[str]]:
    """The risk level at ``t`` and the markers that set it; markers past the window go."""
    window = p.risk_window_ms
    markers = state.markers
    if any(t - seen >= window for seen in markers.values()):
        markers = state.markers = {m: seen for m, seen in markers.items() if t - seen < window}
    levels = [(p.marker_levels.get(m, 0), m) for m in markers]
    top = max((level for level, _ in levels), default=0)
    if not top:
        return 0, []
    setting = sorted(m for level, m in levels if level == top)
    if 0 < top < HIGH and len(setting) >= p.risk_accumulate:
        top += 1
    return top, setting


def reality_check(
    state: PlayerState, level: int, p: Protection, currencies: Currencies
) -> dict[str, str]:
    """What the player is told at ``level`` (low, medium): time played and net result."""
    session = state.session or [0] * _FIELDS
    minutes = (session[_LAST] - session[_START]) // 60_000
    result = -session[_NET]  # the player's result: wins minus stakes
    house = currencies.house
    digits = exponent(house or "")
    net = f"{result / 10**digits:+,.{digits}f}" + (f" {house}" if house else "")
    figures = {"session_minutes": str(minutes), "net_minor": str(result)}
    template = p.risk_messages.get(RISK_LEVELS[level])
    if template is not None:
        figures["message"] = template.replace("{minutes}", str(minutes)).replace("{net}", net)
    return figures


def _seen(state: PlayerState, marker: str, t: int) -> None:
    if t > state.markers.get(marker, -1):
        state.markers[marker] = t


def _in_hours(hour: int, start: int, until: int) -> bool:
    """``start`` <= hour < ``until``, wrapping past midnight when ``start`` > ``until``."""
    return start <= hour < until if start < until else hour >= start or hour < until
