"""How well the responsible-gaming markers and levels tell harmful play from normal play.

    python -m scripts.calibrate                 # 2 hours of event time, 500 players, seed 7
    python -m scripts.calibrate --hours 1 --players 200 --rules my-rules.yaml

Runs the simulated studio at a real studio's pace (rounds of 20-60 s) through the decision
core with the given ruleset (the shipped one by default). A labelled minority of players
(``--harmful``, default 10%) plays a harmful persona (app/devtools/simulator/studio.py,
``PERSONAS``); the labels stay in the simulator, never in the events. It reports, for the
normal players, the share reaching each level and set a level for by each marker, per game,
per hour of event time (false alarms); and, per persona, the share caught (risk level medium
or higher) and the median minutes from their first event to it.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from statistics import median

import yaml

from app.core import Decisions, Engine, PlayerState
from app.core.compile import compile_ruleset
from app.core.rules import RISK_LEVELS
from app.devtools.simulator.studio import StudioConfig, StudioSimulator
from app.rules import default_document

START_MS = 1_795_000_000_000  # 2026-11-18T11:06:40Z: daytime in Europe
MEDIUM = RISK_LEVELS.index("medium")


def calibrate(ruleset_doc: dict, hours: float, players: int, seed: int, harmful: float) -> dict:
    """What fired for whom: normal players per level and per (marker, game); personas caught."""
    engine = Engine(compile_ruleset(ruleset_doc), "UTC")
    sim = StudioSimulator(StudioConfig(players=players, harmful_share=harmful), seed, START_MS)
    profiles = {p["player_id"]: p for p in sim.profiles()}
    states: dict[str, PlayerState] = defaultdict(PlayerState)
    game_of: dict[str, str] = {}
    first: dict[str, int] = {}
    out = Decisions()
    end = START_MS + int(hours * 3_600_000)
    for event in sim:
        if event["occurred_at"] > end:
            break
        player_id = event["player_id"]
        if player_id is None:
            continue
        game_of[event["event_id"]] = event["game"]
        first.setdefault(player_id, event["occurred_at"])
        engine.decide(states[player_id], [event], profiles[player_id], 0, out)
    by_marker: dict[tuple[str, str], set[str]] = defaultdict(set)
    by_level: dict[str, set[str]] = defaultdict(set)
    caught: dict[str, int] = {}  # persona player -> minutes to medium
    for entry in out.journal:
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
    played = [p for p, state in states.items() if state.session]
    personas: dict[str, list[str]] = defaultdict(list)
    for player_id in played:
        if player_id in sim.personas:
            personas[sim.personas[player_id]].append(player_id)
    return {
        "markers": by_marker,
        "levels": by_level,
        "players": len(played) - sum(map(len, personas.values())),
        "personas": personas,
        "caught": caught,
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
    lines.append("harmful personas caught (medium or higher), minutes from their first event:")
    for persona, ids in sorted(found["personas"].items()):
        minutes = [found["caught"][p] for p in ids if p in found["caught"]]
        soon = sum(1 for m in minutes if m <= 15)
        typical = f"median {median(minutes):g} min" if minutes else "none caught"
        lines.append(
            f"  {persona:<10} {len(minutes)}/{len(ids)} caught, {soon} within 15 min, {typical}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--players", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--harmful", type=float, default=0.1, help="share of harmful personas")
    parser.add_argument("--rules", type=Path, help="a ruleset YAML (default: the shipped one)")
    args = parser.parse_args()
    doc = yaml.safe_load(args.rules.read_text()) if args.rules else default_document()
    found = calibrate(doc, args.hours, args.players, args.seed, args.harmful)
    print(report(found, args.hours))


if __name__ == "__main__":
    main()
