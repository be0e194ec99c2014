"""The Rules page's figures from the real archive (PostgreSQL): per rule and version, fires,
players reached, amounts, suppressions by reason and A/B arms over the chosen days; and the
flags: a day far above the rule's own trailing median, a mission nobody completes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.archive import store
from app.console import figures
from app.console.figures import BadRange, DayRange, day_range
from app.console.flags import MIN_HISTORY_DAYS, dead_missions, over_generous
from tests.unit.archive.test_archive import T0 as NOON  # 2026-11-18, 11:06 UTC
from tests.unit.archive.test_archive import batch, entry, pg, run  # noqa: F401  (fixtures)

DAY_MS = 86_400_000
DAYS = DayRange(date(2026, 11, 12), date(2026, 11, 18), "UTC")


def issued(player: str, n: int, amount: int, *, at: int = NOON, version: int = 1, **details):
    return entry(
        player,
        "REWARD_ISSUED",
        at,
        n,
        rule_id="first-natural-blackjack-of-day",
        rule_version=version,
        reward_id=f"r-{player}-{n}-{at}",
        reason="matched",
        details={"kind": "XP", "amount": str(amount), **details},
    )


def held(player: str, n: int, reason: str) -> dict:
    return entry(
        player,
        "REWARD_SUPPRESSED",
        NOON,
        n,
        rule_id="first-natural-blackjack-of-day",
        reward_id=f"s-{player}-{n}",
        reason=reason,
        details={"kind": "XP", "amount": "10", "wanted": "10"},
    )


def test_figures_per_rule_and_version_come_from_the_archive(run):  # noqa: F811
    journal = [
        issued("p-1", 1, 10, variant="A"),
        issued("p-1", 2, 10, variant="A", at=NOON - DAY_MS),
        issued("p-2", 3, 20, variant="B"),
        issued("p-3", 4, 30, version=2),
        issued("p-4", 5, 99, at=NOON - 30 * DAY_MS),  # before the range
        held("p-5", 6, "no_consent"),
        held("p-6", 7, "no_consent"),
        held("p-7", 8, "daily_cap"),
    ]

    async def scenario(conn):
        await store.write(conn, batch(journal=journal), b"k" * 32)
        return await figures.rule_figures(conn, DAYS)

    [v2, v1] = run(scenario)
    assert (v2.version, v2.fires, v2.players, v2.amounts, v2.arms) == (2, 1, 1, {"XP": 30}, {})
    assert (v1.rule_id, v1.version, v1.fires, v1.players) == (v2.rule_id, 1, 3, 2)
    assert v1.rule_id == "first-natural-blackjack-of-day"
    assert v1.amounts == {"XP": 40}
    assert v1.suppressed == {"no_consent": 2, "daily_cap": 1}
    assert v1.arms == {"A": {"fires": 2, "amount": 20}, "B": {"fires": 1, "amount": 20}}


def answered(player: str, n: int, action: str, reward_id: str, variant: str = "") -> dict:
    """An ``INTERACTION_RECORDED`` entry as the worker journals a player's interaction."""
    return entry(
        player,
        "INTERACTION_RECORDED",
        NOON + 1000,
        n,
        rule_id="first-natural-blackjack-of-day",
        rule_version=None,
        reward_id=reward_id,
        reason=action.lower(),
        details={
            "action": action,
            "variant": variant,
            "interaction_id": f"i-{n}",
            "surface": "toast",
            "message_id": "",
        },
    )


def test_click_through_per_rule_and_variant_comes_from_the_archive(run):  # noqa: F811
    rewards = [issued(f"p-{n}", n, 10, variant="A" if n < 4 else "B") for n in range(6)]
    reward = [r["reward_id"] for r in rewards]
    journal = [
        *rewards,
        issued("p-plain", 6, 10, version=2),  # no A/B variant
        # A: three of four shown (one twice, counted once), two clicked, one claimed
        *(answered(f"p-{n}", 10 + n, "SHOWN", reward[n], "A") for n in range(3)),
        answered("p-0", 20, "SHOWN", reward[0], "A"),
        answered("p-0", 21, "CLICKED", reward[0], "A"),
        answered("p-1", 22, "CLICKED", reward[1], "A"),
        answered("p-1", 23, "CLAIMED", reward[1], "A"),
        # B: two shown, one dismissed, none clicked
        answered("p-4", 30, "SHOWN", reward[4], "B"),
        answered("p-5", 31, "SHOWN", reward[5], "B"),
        answered("p-5", 32, "DISMISSED", reward[5], "B"),
        # another day: outside the range
        {**answered("p-3", 40, "SHOWN", reward[3], "A"), "event_time": NOON - 30 * DAY_MS},
    ]

    async def scenario(conn):
        await store.write(conn, batch(journal=journal), b"k" * 32)
        return await figures.engagement(conn, DAYS)

    plain, arm_a, arm_b = run(scenario)
    assert (plain.variant, plain.issued, plain.click_through) == ("", 1, None)
    assert (arm_a.variant, arm_a.issued) == ("A", 4)
    assert arm_a.answered == {"SHOWN": 3, "CLICKED": 2, "CLAIMED": 1}
    assert arm_a.click_through == 2 / 3
    assert (arm_b.variant, arm_b.issued, arm_b.count("CLICKED"), arm_b.count("DISMISSED")) == (
        "B",
        2,
        0,
        1,
    )
    assert arm_b.click_through == 0.0


def test_daily_amounts_and_missions_feed_the_flags(run):  # noqa: F811
    history = [issued("p-h", n, 10, at=NOON - n * DAY_MS) for n in range(1, 8)]
    journal = [*history, issued("p-big", 99, 100)]
    started = [entry(f"p-m{n}", "MISSION_PROGRESS", NOON, n) for n in range(3)]
    done_elsewhere = [
        entry("p-x", "MISSION_PROGRESS", NOON, 9, rule_id="other-mission"),
        entry("p-x", "MISSION_COMPLETED", NOON, 10, rule_id="other-mission"),
    ]

    async def scenario(conn):
        await store.write(conn, batch(journal=[*journal, *started, *done_elsewhere]), b"k" * 32)
        daily = await figures.daily_amounts(conn, DAYS, 28)
        missions = await figures.mission_progress(conn, DAYS, 7)
        return daily, missions

    daily, missions = run(scenario)
    amounts = daily[("first-natural-blackjack-of-day", "XP")]
    assert amounts[date(2026, 11, 18)] == 100 and amounts[date(2026, 11, 11)] == 10
    [flag] = over_generous(daily, DAYS.first, DAYS.last, 3.0, 28)
    assert (flag.day, flag.amount, flag.median) == (date(2026, 11, 18), 100, 10)
    assert "10.0 times its trailing daily median of 10" in flag.words()
    assert missions == {"baccarat-banker-x3": (3, 0), "other-mission": (1, 1)}
    [dead] = dead_missions(missions, 3, 7)
    assert dead.rule_id == "baccarat-banker-x3" and "completed by nobody" in dead.words()
    assert dead_missions(missions, 4, 7) == []


def test_a_rule_is_judged_only_against_its_own_earlier_days():
    first = date(2026, 11, 18)
    steady = {first - timedelta(days=n): 10 for n in range(1, 10)}
    daily = {
        ("steady", "XP"): {**steady, first: 30},  # 3 times: not above
        ("jump", "XP"): {**steady, first: 31},
        ("new", "XP"): {first - timedelta(days=n): 1 for n in range(1, MIN_HISTORY_DAYS)}
        | {first: 1000},
        ("old", "XP"): {first - timedelta(days=40): 1, first: 1000},  # outside the window
    }
    assert [f.rule_id for f in over_generous(daily, first, first, 3.0, 28)] == ["jump"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, (date(2026, 11, 11), date(2026, 11, 18))),
        ({"to": "2026-11-10"}, (date(2026, 11, 3), date(2026, 11, 10))),
        ({"from": "2026-11-01", "to": "2026-11-02"}, (date(2026, 11, 1), date(2026, 11, 2))),
    ],
)
def test_the_range_defaults_to_today_and_the_seven_days_before(query, expected):
    days = day_range(query, date(2026, 11, 18), "Europe/Malta")
    assert (days.first, days.last) == expected
    assert days.start().isoformat() == f"{expected[0]}T00:00:00+01:00"
    assert days.end().date() == expected[1] + timedelta(days=1)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"from": "yesterday"}, "YYYY-MM-DD"),
        ({"from": "2026-11-19", "to": "2026-11-18"}, "after"),
        ({"from": "2026-01-01", "to": "2026-11-18"}, "at most"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "years"),
        ({"to": "9999-12-31"}, "years"),
    ],
)
def test_a_range_that_cannot_be_used_says_why(query, says):
    with pytest.raises(BadRange, match=says):
        day_range(query, date(2026, 11, 18), "UTC")
