"""How well the responsible-gaming markers and levels tell harmful play from normal play.

    python -m scripts.calibrate                 # 2 hours of event time, 2,000 players, seed 7
    python -m scripts.calibrate --hours 1 --players 200 --rules my-rules.yaml

Runs the simulated studio at a real studio's pace (rounds of 20-60 s) through the decision
core with the given ruleset (the shipped one by default). A labelled minority of players
(``--harmful``, default 10%) plays a harmful persona (app/devtools/simulator/studio.py,
``PERSONAS``); the labels stay in the simulator, never in the events. It reports, for the
normal players, the share reaching each level and set a level for by each marker, per game,
per hour of event time (false alarms), and the markers that set them at high; and, per
persona, the share caught (risk level medium or higher), caught within 15 minutes of their
first event, and the median minutes to it.

The players' account events (logins, deposits, withdrawals, KYC: app/devtools/simulator/
accounts.py) go through the core too, unless ``--no-accounts``: the deposit markers count
towards the risk level as in the worker, and the report lists, per deposit marker, the normal
players and the personas that showed it, and the deposits the shipped jurisdictions flag for
an AML team (DEPOSIT_FLAGGED).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from statistics import median

import yaml

from app.core import Decisions, Engine, PlayerState
from app.core.compile import compile_ruleset
from app.core.rules import RISK_LEVELS
from app.devtools.simulator.studio import ACCOUNT_EVENT, StudioConfig, StudioSimulator
from app.pipeline.inputs import account_event
from app.rules import default_document
from app.rules.policy import default_policies, runtime_view

START_MS = 1_795_000_000_000  # 2026-11-18T11:06:40Z: daytime in Europe
MEDIUM = RISK_LEVELS.index("medium")
#: The markers account events set (app/core/accounts.py).
DEPOSIT_MARKERS = ("deposit_frequency", "deposit_failed", "withdrawal_cancelled")
#: The "game" of an entry an account event triggered.
ACCOUNT = "account"


def calibrate(
    ruleset_doc: dict,
    hours: float,
    players: int,
    seed: int,
    harmful: float,
    accounts: bool = True,
) -> dict:
    """What fired for whom: normal players per level and per (marker, game); personas caught;
    with ``accounts``, who showed each deposit marker and the deposits flagged for AML."""
    engine = Engine(compile_ruleset(ruleset_doc), "UTC", runtime_view(default_policies()))
    config = StudioConfig(players=players, harmful_share=harmful, accounts=accounts)
    sim = StudioSimulator(config, seed, START_MS)
    profiles = {p["player_id"]: p for p in sim.profiles()}
    states: dict[str, PlayerState] = defaultdict(PlayerState)
    game_of: dict[str, str] = {}
    first: dict[str, int] = {}
    deposit_markers: dict[str, set[str]] = defaultdict(set)  # marker -> players it was set for
    out = Decisions()
    end = START_MS + int(hours * 3_600_000)
    for name, record in sim.records():
        if record["occurred_at"] > end:
            break
        if name == ACCOUNT_EVENT:
            event = account_event(record)[0]
        elif record["player_id"] is None:
            continue
        else:
            event = record
        player_id, state = event["player_id"], states[event["player_id"]]
        game_of[event["event_id"]] = event["game"] or ACCOUNT
        first.setdefault(player_id, event["occurred_at"])
        engine.decide(state, [event], profiles[player_id], 0, out)
        if name == ACCOUNT_EVENT:
            for marker in state.markers.keys() & set(DEPOSIT_MARKERS):
                deposit_markers[marker].add(player_id)
    by_marker: dict[tuple[str, str], set[str]] = defaultdict(set)
    to_high: dict[str, set[str]] = defaultdict(set)  # marker -> normal players it set high
    by_level: dict[str, set[str]] = defaultdict(set)
    caught: dict[str, int] = {}  # persona player -> minutes to medium
    flagged: set[str] = set()  # players with a deposit flagged for the AML team
    for entry in out.journal:
        if entry["decision"] == "DEPOSIT_FLAGGED":
            flagged.add(entry["player_id"])
        if entry["decision"] != "RISK_LEVEL_CHANGED" or entry["details"]["to"] == "none":
            continue
        player_id, level = entry["player_id"], entry["details"]["to"]
        if player_id in sim.personas:
            if RISK_LEVELS.index(level) >= MEDIUM and player_id not in caught:
                caught[player_id] = (entry["event_time"] - first[player_id]) // 60_000
            continue
        game = game_of[entry["event_ids"][0]]
        by_level[level].add(player_id)
        for marker in filter(None, entry["details"]["markers"].split(",")):
            by_marker[(marker, game)].add(player_id)
            if level == "high":
                to_high[marker].add(player_id)
    played = [p for p, state in states.items() if state.session]
    personas: dict[str, list[str]] = defaultdict(list)
    for player_id in played:
        if player_id in sim.personas:
            personas[sim.personas[player_id]].append(player_id)
    return {
        "markers": by_marker,
        "to_high": to_high,
        "levels": by_level,
        "players": len(played) - sum(map(len, personas.values())),
        "personas": personas,
        "caught": caught,
        "accounts": accounts,
        "deposit_markers": deposit_markers,
        "flagged": flagged,
    }


def report(found: dict, hours: float) -> str:
    pool = max(1, found["players"])

    def rate(ids: set[str]) -> str:
        return f"{len(ids)} ({100 * len(ids) / pool / hours:.2f}%/h)"

    lines = [f"{found['players']} normal players played in {hours:g} h of real-pace event time"]
    lines.append("normal players reaching each level (share of them per hour):")
    reached: set[str] = set()
    for level in reversed(RISK_LEVELS[1:]):
        reached |= found["levels"].get(level, set())
        lines.append(f"  {level:>6} or higher: {rate(reached)}")
    lines.append("markers that set a normal player's level, per game:")
    for (marker, game), ids in sorted(found["markers"].items()):
        lines.append(f"  {marker:<18} {game:<10} {rate(ids)}")
    lines.append("markers that set a normal player's level at high (alone or together):")
    for marker, ids in sorted(found["to_high"].items()):
        lines.append(f"  {marker:<18} {rate(ids)}")
    lines.append("harmful personas caught (medium or higher), minutes from their first event:")
    for persona, ids in sorted(found["personas"].items()):
        minutes = [found["caught"][p] for p in ids if p in found["caught"]]
        soon = sum(1 for m in minutes if m <= 15)
        typical = f"median {median(minutes):g} min" if minutes else "none caught"
        lines.append(
            f"  {persona:<10} {len(minutes)}/{len(ids)} caught, {soon} within 15 min"
            f" ({100 * soon / len(ids):.0f}%), {typical}"
        )
    if found["accounts"]:
        lines += _deposit_lines(found, rate)
    return "\n".join(lines)


def _deposit_lines(found: dict, rate: Callable[[set[str]], str]) -> list[str]:
    """Who showed each deposit marker, and who had a deposit flagged for the AML team: the
    normal players (share per hour) and the personas (caught of all)."""
    personas = found["personas"]
    harmful = {p for ids in personas.values() for p in ids}

    def split(ids: set[str]) -> str:
        per = ", ".join(
            f"{persona} {len(ids & set(members))}/{len(members)}"
            for persona, members in sorted(personas.items())
        )
        return f"normal {rate(ids - harmful)}; {per or 'no personas'}"

    lines = ["deposit markers (account events), players that showed each:"]
    for marker in DEPOSIT_MARKERS:
        lines.append(f"  {marker:<20} {split(found['deposit_markers'].get(marker, set()))}")
    lines.append("deposits flagged for an AML team (DEPOSIT_FLAGGED, shipped jurisdictions):")
    lines.append(f"  {'players':<20} {split(found['flagged'])}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--players", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--harmful", type=float, default=0.1, help="share of harmful personas")
    parser.add_argument("--rules", type=Path, help="a ruleset YAML (default: the shipped one)")
    parser.add_argument(
        "--no-accounts",
        dest="accounts",
        action="store_false",
        help="table events only: no logins, deposits or withdrawals",
    )
    args = parser.parse_args()
    doc = yaml.safe_load(args.rules.read_text()) if args.rules else default_document()
    found = calibrate(doc, args.hours, args.players, args.seed, args.harmful, args.accounts)
    print(report(found, args.hours))


if __name__ == "__main__":
    main()
