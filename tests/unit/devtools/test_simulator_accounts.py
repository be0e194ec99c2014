"""The simulator's account events: what the operator's platform sends for the simulated
players (app/devtools/simulator/accounts.py), merged with the table events in time order.

Tolerances on shares are about four standard errors of the sample at hand, as in
test_simulator.py; seeds are fixed, so the tests are repeatable.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict

import pytest
from fastavro import parse_schema
from fastavro.validation import validate

from app.devtools.simulator.accounts import DEPOSIT_AMOUNTS, KYC_PENDING_SHARE, PAYMENT_METHODS
from app.devtools.simulator.producer import RunOptions
from app.devtools.simulator.studio import (
    ACCOUNT_EVENT,
    PERSONAS,
    TABLE_EVENT,
    StudioConfig,
    StudioSimulator,
)
from app.pipeline.inputs import account_event
from app.rules import default_document
from app.settings import PROJECT_ROOT as ROOT
from scripts.calibrate import calibrate, report

START = 1_795_000_000_000  # 2026-11-18T11:06:40Z
HOUR = 3_600_000
CONFIG = StudioConfig(players=400, harmful_share=0.1, accounts=True)


def _records(hours: float, config: StudioConfig = CONFIG, seed: int = 7) -> list[tuple[str, dict]]:
    end = START + int(hours * HOUR)
    sim = StudioSimulator(config, seed, START)
    return list(itertools.takewhile(lambda r: r[1]["occurred_at"] <= end, sim.records()))


@pytest.fixture(scope="module")
def two_hours() -> tuple[StudioSimulator, list[tuple[str, dict]]]:
    sim = StudioSimulator(CONFIG, 7, START)
    end = START + 2 * HOUR
    return sim, list(itertools.takewhile(lambda r: r[1]["occurred_at"] <= end, sim.records()))


def _accounts(records: list[tuple[str, dict]]) -> list[dict]:
    return [r for name, r in records if name == ACCOUNT_EVENT]


def test_records_are_schema_valid_in_time_order_with_unique_ids(two_hours):
    _, records = two_hours
    schema = parse_schema(json.loads((ROOT / "schemas" / "AccountEvent.avsc").read_text()))
    times = [r["occurred_at"] for _, r in records]
    assert times == sorted(times)
    accounts = _accounts(records)
    assert {name for name, _ in records} == {TABLE_EVENT, ACCOUNT_EVENT}
    assert len({a["event_id"] for a in accounts}) == len(accounts) > 1000
    for a in accounts:
        validate(a, schema, raise_errors=True)
        assert account_event(a)[1] is None  # the worker takes every one of them


def test_the_table_events_are_the_same_with_or_without_account_events():
    plain = StudioSimulator(StudioConfig(players=400, harmful_share=0.1), 7, START).take(20_000)
    mixed = [r for name, r in _records(1.0) if name == TABLE_EVENT][:20_000]
    assert len(mixed) == 20_000 and mixed == plain
    assert _records(0.5) == _records(0.5)  # and a seed replays the account events exactly


def test_a_player_registers_and_gets_a_kyc_status_then_logs_in_before_playing(two_hours):
    _, records = two_hours
    first: dict[str, list[str]] = defaultdict(list)
    for name, r in records:
        if r["player_id"] is not None and len(first[r["player_id"]]) < 4:
            first[r["player_id"]].append(r["type"] if name == ACCOUNT_EVENT else r["event_type"])
    assert len(first) > 300
    for kinds in first.values():
        assert kinds[:3] == ["REGISTRATION", "KYC_STATUS_CHANGED", "LOGIN"], kinds
        assert kinds[3] in ("DEPOSIT", "PLAYER_JOINED")
    kyc = Counter(a["kyc_status"] for a in _accounts(records) if a["type"] == "KYC_STATUS_CHANGED")
    assert set(kyc) == {"VERIFIED", "PENDING"}
    n = sum(kyc.values())
    assert abs(kyc["PENDING"] / n - KYC_PENDING_SHARE) < 4 * (0.08 * 0.92 / n) ** 0.5


def test_harmful_personas_deposit_far_more_often_and_fail_and_cancel_more(two_hours):
    sim, records = two_hours
    counts: dict[bool, Counter] = {True: Counter(), False: Counter()}
    for a in _accounts(records):
        counts[a["player_id"] in sim.personas][(a["type"], a["status"])] += 1
    harmful, normal = len(sim.personas), len(sim.players) - len(sim.personas)
    per_player = {
        h: counts[h][("DEPOSIT", "COMPLETED")] / (harmful if h else normal) for h in (True, False)
    }
    assert per_player[True] >= 5  # enough in two hours for deposit_frequency (5 in a day)
    assert per_player[False] < 1.5
    for kind in (("DEPOSIT", "FAILED"), ("WITHDRAWAL_CANCELLED", "CANCELLED")):
        assert counts[True][kind] / harmful > 3 * counts[False][kind] / normal, kind
    assert counts[False][("WITHDRAWAL", "COMPLETED")] > 0  # normal players cash out now and then


def test_deposits_are_realistic_and_the_labels_stay_out(two_hours):
    sim, records = two_hours
    currency = {p.player_id: p.currency for p in sim.players}
    deposits = [a for a in _accounts(records) if a["type"] == "DEPOSIT"]
    assert {a["amount_minor"] // 100 for a in deposits} <= set(DEPOSIT_AMOUNTS)
    assert all(a["currency"] == currency[a["player_id"]] for a in deposits)
    methods = Counter(a["payment_method"] for a in deposits)
    assert methods.most_common(1)[0][0] == "CARD"
    assert len(methods) >= len(PAYMENT_METHODS) - 1
    for a in _accounts(records):
        text = json.dumps(a)
        assert not any(persona in text for persona in PERSONAS)


def test_calibrate_reports_the_deposit_markers():
    found = calibrate(default_document(), hours=1.5, players=150, seed=5, harmful=0.2)
    frequent = found["deposit_markers"]["deposit_frequency"]
    harmful = {p for ids in found["personas"].values() for p in ids}
    assert len(frequent & harmful) > len(harmful) / 3  # about half of them in 1.5 h
    assert not frequent - harmful  # a normal player does not deposit five times in 1.5 h
    text = report(found, 1.5)
    assert "deposit markers (account events)" in text
    assert "deposit_frequency    normal 0 (0.00%/h); chaser " in text
    plain = calibrate(default_document(), 0.25, 60, 3, 0.0, accounts=False)
    assert "deposit markers" not in report(plain, 0.25)


def test_paced_runs_send_account_events_and_preloads_only_when_asked():
    assert RunOptions().with_accounts and RunOptions(rate=50, realtime_clock=False).with_accounts
    assert not RunOptions(rate=0).with_accounts  # a preload: the topics would not keep in step
    assert RunOptions(rate=0, accounts=True).with_accounts
    assert not RunOptions(accounts=False).with_accounts
