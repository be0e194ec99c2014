"""``pitboss experiments report`` against the real PostgreSQL: a journal the real engine
decided (sealed as the worker seals it), the rewards, the players' keys, their interactions
and a synthetic outcome stream in which arm B lifts GGR by 10 % over the holdout and arm A
lifts nothing. The report finds B's lift inside its interval and calls B the winner; A is
"not yet"; outcomes outside each player's window and of erased players do not count."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest

from app.archive import store
from app.archive.store import Batch, Origin
from app.contract.codec import AvroCodec
from app.contract.errors import DecodeError
from app.core import Decisions, Engine, PlayerState, outputs
from app.core.experiments import HOLDOUT
from app.experiments.outcomes import OutcomeCodec
from app.experiments.report import ReportProblem, experiment_report, render
from app.security.player_keys import Sealer
from tests.support.factories import ERASURE_KEY, table_event
from tests.support.rulesets import PLAYER, ruleset
from tests.unit.archive.test_archive import pg, rows, run  # noqa: F401 (fixtures)

T0 = 1_795_521_600_000  # 2026-11-24T12:00:00Z
DAY0 = date(2026, 11, 24)
PLAYERS = [f"p-{i:05d}" for i in range(1500)]
RULES = """
rules:
  - id: welcome-ab
    events: [PLAYER_JOINED]
    holdout: 0.3
    reward: {kind: POINTS, amount: 10}
    variants:
      - {name: A, weight: 1}
      - {name: B, weight: 1, reward: {amount: 20}}
"""
#: GGR per player-day in each arm over the holdout's (deposits: no lift anywhere)
LIFT = {HOLDOUT: 1.0, "A": 1.0, "B": 1.10}


def secret(player: str) -> bytes:
    return hashlib.sha256(player.encode()).digest()


def outcome(player: str, day: date, ggr: int, deposits: int, at: int = T0) -> dict:
    codec = OutcomeCodec()
    record = {
        "player_id": player,
        "day": day.isoformat(),
        "deposits_minor": deposits,
        "ggr_minor": ggr,
        "currency": "EUR",
        "occurred_at": at,
    }
    return codec.decode(codec.encode(record))


def located(topic: str, items: list) -> list:
    return [(item, Origin(topic, 0, offset)) for offset, item in enumerate(items)]


def experiment() -> tuple[Batch, dict[str, str]]:
    """Every player joins once at T0 (their first exposure); the worker's records, and each
    player's arm as the journal says."""
    engine = Engine(ruleset(RULES))
    out = Decisions()
    for player in PLAYERS:
        event = table_event(event_type="PLAYER_JOINED", bet=None, player_id=player, occurred_at=T0)
        engine.decide(PlayerState(), [event], PLAYER, T0 + 5, out)
    arms = {e["player_id"]: e["details"]["arm"] for e in out.journal if e["decision"] == "EXPOSED"}
    journal = list(out.journal)
    for n, reward in enumerate(out.rewards):  # every reward shown; one in four clicked
        for action in ("SHOWN", "CLICKED") if n % 4 == 0 else ("SHOWN",):
            interaction = {"action": action, "rule_id": "welcome-ab",
                           "reward_id": reward["reward_id"],
                           "variant": arms[reward["player_id"]]}  # fmt: skip
            event = {"event_id": f"ia-{n}-{action}", "player_id": reward["player_id"],
                     "occurred_at": T0 + 60_000, "interaction": interaction}  # fmt: skip
            journal.append(outputs.interaction_recorded(event, {"action": action}, T0))
    rng = random.Random(14)
    outcomes = []
    for player in PLAYERS:
        level = rng.uniform(800, 1200)  # what this player usually brings in a day
        for d in range(7):
            ggr = round(rng.gauss(level, 300) * LIFT[arms[player]])
            outcomes.append(outcome(player, DAY0 + timedelta(d), ggr, round(rng.gauss(2000, 500))))
        # outside the window: the day before the first exposure, and the eighth day
        outcomes.append(outcome(player, DAY0 - timedelta(1), 10**6, 10**6))
        outcomes.append(outcome(player, DAY0 + timedelta(7), 10**6, 10**6))
    sealer = Sealer({p: secret(p) for p in PLAYERS}, ERASURE_KEY)
    batch = Batch(
        journal=located("journal", [sealer.entry(e) for e in journal]),
        rewards=located("rewards", list(out.rewards)),
        player_keys=[(p, secret(p)) for p in PLAYERS],
        outcomes=located("player-outcomes", outcomes),
    )
    return batch, arms


@pytest.fixture(scope="module")
def written() -> tuple[Batch, dict[str, str]]:
    return experiment()


def test_the_report_finds_b_lifting_ggr_by_ten_percent_over_the_holdout(run, written):  # noqa: F811
    batch, arms = written

    async def scenario(conn):
        await store.write(conn, batch, ERASURE_KEY)
        return await experiment_report(conn, "welcome-ab", 7, 0.95, "UTC")

    report = run(scenario)
    by_name = {a.name: a for a in report.arms}
    assert [a.name for a in report.arms] == [HOLDOUT, "A", "B"]
    for name, figures in by_name.items():
        players = sum(1 for arm in arms.values() if arm == name)
        assert figures.players == figures.exposures == players
    assert by_name[HOLDOUT].grants == 0 and by_name[HOLDOUT].amounts == {}
    assert by_name["B"].amounts == {"POINTS": 20 * by_name["B"].grants}
    assert by_name["A"].answered["SHOWN"] == by_name["A"].grants > by_name["A"].answered["CLICKED"]
    assert report.currency == "EUR"

    verdicts = {(c.arm, c.metric): c.difference for c in report.comparisons}
    lift, low, high = verdicts["B", "ggr"].relative
    assert verdicts["B", "ggr"].verdict == "better" and low < 0.10 < high
    assert abs(lift - 0.10) < 0.05
    assert verdicts["A", "ggr"].verdict == "not yet"
    assert verdicts["A", "deposits"].verdict == verdicts["B", "deposits"].verdict == "not yet"
    # the days outside each player's window (10**6 each) were not counted
    assert by_name[HOLDOUT].samples["ggr"].mean < 7 * 1300
    assert report.winner == "B"
    text = render(report)
    assert f"B beats holdout on GGR/player: {lift:+.1%} [{low:+.1%}, {high:+.1%}], 95%" in text
    assert "A vs holdout on GGR/player: not yet" in text and "winner: B (GGR/player)" in text


def test_later_figures_replace_earlier_ones_and_erasure_takes_the_outcomes(run):  # noqa: F811
    async def scenario(conn):
        first = outcome("p-x", DAY0, 100, 50, at=T0)
        newer = outcome("p-x", DAY0, 300, 70, at=T0 + 1000)
        older = outcome("p-x", DAY0, 999, 999, at=T0 - 1000)
        for record in (first, newer, older):
            await store.write(conn, Batch(outcomes=located("o", [record])), ERASURE_KEY)
        kept = await rows(conn, "SELECT ggr_minor, deposits_minor FROM player_outcomes")
        erase = Batch(player_keys=[("p-x", secret("p-x")), ("p-x", None)])
        await store.write(conn, erase, ERASURE_KEY)
        late = await store.write(conn, Batch(outcomes=located("o", [newer])), ERASURE_KEY)
        return kept, late, await rows(conn, "SELECT count(*) FROM player_outcomes")

    kept, late, left = run(scenario)
    assert kept == [(300, 70)]
    assert left == [(0,)] and late.erased_dropped == 1


def test_an_unexposed_rule_or_mixed_currencies_is_a_clear_problem(run, written):  # noqa: F811
    batch, _ = written

    async def scenario(conn):
        await store.write(conn, batch, ERASURE_KEY)
        problems = []
        for rule in ("no-such-rule", "welcome-ab"):
            try:
                await experiment_report(conn, rule, 7, 0.95, "UTC")
            except ReportProblem as exc:
                problems.append(str(exc))
            if rule == "no-such-rule":
                usd = {**outcome(PLAYERS[0], DAY0, 1, 1, at=T0 + 1), "currency": "USD"}
                await store.write(conn, Batch(outcomes=located("o", [usd])), ERASURE_KEY)
        return problems

    problems = run(scenario)
    assert problems == [
        "no exposures of rule 'no-such-rule' in the archive",
        "the outcome figures of rule 'welcome-ab''s players come in EUR, USD: "
        "send them in one currency",
    ]


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [("day", "24/11/2026", "is not a date"), ("currency", "euro", "is not an ISO 4217 code")],
)
def test_an_outcome_the_archive_cannot_file_is_refused_with_its_reason(field, value, why):
    record = {**outcome("p-1", DAY0, 1, 1), field: value}
    data = AvroCodec("PlayerOutcome").encode(record)
    with pytest.raises(DecodeError, match=why):
        OutcomeCodec().decode(data)


def test_the_command_prints_json_and_says_in_one_line_what_it_cannot_report(
    run,  # noqa: F811
    pg,  # noqa: F811
    written,
):
    batch, _ = written

    async def scenario(conn):
        await store.write(conn, batch, ERASURE_KEY)
        cursor = await conn.execute("SHOW search_path")
        return (await cursor.fetchone())[0].strip('"')

    schema = run(scenario)
    env = {**os.environ, "PITBOSS_ARCHIVE_URL": pg, "PITBOSS_ARCHIVE_SCHEMA": schema}

    def pitboss(*args: str) -> subprocess.CompletedProcess:
        command = [str(Path(sys.executable).with_name("pitboss")), "experiments", "report", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    done = pitboss("welcome-ab", "--json")
    assert done.returncode == 0, done.stderr
    doc = orjson.loads(done.stdout)
    assert doc["winner"] == "B" and [a["arm"] for a in doc["arms"]] == [HOLDOUT, "A", "B"]
    [b_ggr] = [c for c in doc["comparisons"] if c["arm"] == "B" and c["metric"] == "ggr"]
    assert (
        b_ggr["verdict"] == "better" and b_ggr["relative"]["low"] < 0.10 < b_ggr["relative"]["high"]
    )
    missing = pitboss("no-such-rule")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "Error: no exposures of rule 'no-such-rule' in the archive"
    env["PITBOSS_ARCHIVE_URL"] = ""
    disabled = pitboss("welcome-ab")
    assert disabled.returncode == 2 and disabled.stdout == ""
    assert disabled.stderr.strip() == "Error: the archive is disabled: PITBOSS_ARCHIVE_URL is empty"
