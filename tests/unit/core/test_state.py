"""The player state's record: the current msgpack layout, and the JSON layouts it replaced
(versions 1 and 2), which stay readable for the states already stored."""

from base64 import b64encode

import msgspec
import orjson
import pytest

from app.core.state import (
    STATE_VERSION,
    BoostState,
    CooldownState,
    MissionState,
    PlayerState,
    StreakState,
)

FINGERPRINTS = [2**48 - 1, 5]


def packed(fingerprints: list[int]) -> str:
    """Version 2's re-delivery memory: base64 of 6-byte big-endian fingerprints."""
    return b64encode(b"".join(fp.to_bytes(6, "big") for fp in fingerprints)).decode()


#: a version 2 record with every field, as the JSON writer stored it
V2 = {
    "v": 2,
    "o": {"first-natural:BLACKJACK": ["2026-11-21", "2026-11-22"]},
    "xp": 10,
    "pt": 404,
    "lv": 2,
    "st": {"loss-streak-5": [3, 1500, "EUR", ["e1", "e2", "e3"], 1]},
    "w": {"three-in-a-minute": [[1000, 5, "e4"]]},
    "m": {
        "one-task": ["2026-11-22", 2, ["e1", "e2"], 0],
        "named-tasks": ["2026-W47", 4, [], 0, [1, 3], 9000],
        "done": ["2026-11-21", 3, [], 1],
    },
    "b": {"points-daily:2026-11-22": 404},
    "c": {"daily:2026-11-22": 404},
    "cd": ["cd-1", 1000, 2000, "LOSS_CHASING"],
    "bo": [["rw-1", "boost", 1, 2.0, ["POINTS"], ["ROULETTE"], None, 10, None, 3]],
    "rl": [[29922360, -8740, 0]],
    "lc": [1, 2300, 2300],
    "rd": [275982315419702, 3, 0, 0, 0, 0],
    "ss": [1, 2, 38180, 8, 15755, 27600, 2300, 1, 2],
    "mk": {"np": 1795341846491, "sc": 1795341846000},
    "rk": 1,
    "s": packed(FINGERPRINTS),
    "t": 1795341846491,
    "wb": 300,
    "wx": [[10, 50]],
    "bg": ["explorer:baccarat"],
    "sp": [["rw-2", "wheel", 1]],
    "md": ["done"],
    "cm": packed([7]),
    "ky": "verified",
    "ld": [1000, 5000, "EUR"],
    "dp": [[1000, 5000]],
    "cl": [[7000, {"reward_id": "rw-3", "amount": 50, "message": None}]],
    "cs": [["rw-0", "claimed"]],
}

EXPECTED = PlayerState(
    once={"first-natural:BLACKJACK": ["2026-11-21", "2026-11-22"]},
    xp=10,
    points=404,
    level=2,
    streaks={"loss-streak-5": StreakState(3, 1500, "EUR", ["e1", "e2", "e3"], True)},
    windows={"three-in-a-minute": [[1000, 5, "e4"]]},
    missions={
        "one-task": MissionState("2026-11-22", 2, ["e1", "e2"]),
        "named-tasks": MissionState("2026-W47", 4, tasks=[1, 3], ends=9000),
        "done": MissionState("2026-11-21", 3, end=1),
    },
    boards={"points-daily:2026-11-22": 404},
    caps={"daily:2026-11-22": 404},
    cooldown=CooldownState("cd-1", 1000, 2000, "LOSS_CHASING"),
    boosts=[BoostState("rw-1", "boost", 1, 2.0, ["POINTS"], ["ROULETTE"], None, 10, None, 3)],
    loss_minutes=[[29922360, -8740, 0]],
    chase=[1, 2300, 2300],
    round=[275982315419702, 3, 0, 0, 0, 0],
    session=[1, 2, 38180, 8, 15755, 27600, 2300, 1, 2],
    markers={"night_play": 1795341846491, "stake_chasing": 1795341846000},
    risk=1,
    seen=FINGERPRINTS,
    last_event_at=1795341846491,
    balance=300,
    expiring=[[10, 50]],
    badges=["explorer:baccarat"],
    spins=[["rw-2", "wheel", 1]],
    missions_done=["done"],
    commands=[7],
    kyc="verified",
    last_deposit=[1000, 5000, "EUR"],
    deposits=[[1000, 5000]],
    claims=[[7000, {"reward_id": "rw-3", "amount": 50, "message": None}]],
    settled=[["rw-0", "claimed"]],
)


def test_a_version_2_json_record_reads_to_the_same_state_and_is_rewritten_in_the_new_one():
    state = PlayerState.from_bytes(orjson.dumps(V2))
    assert state == EXPECTED
    data = state.to_bytes()
    assert data[:1] != b"{" and msgspec.msgpack.decode(data)[0] == STATE_VERSION
    assert PlayerState.from_bytes(data) == EXPECTED
    assert len(data) < len(orjson.dumps(V2))


def test_an_empty_json_record_reads_as_a_new_player():
    assert PlayerState.from_bytes(b'{"v":2}') == PlayerState() == PlayerState.from_bytes(None)


def test_values_keep_their_types_through_the_record():
    # untyped lists hold what the core put there: an int stays an int, a bool a bool
    state = PlayerState(round=[2**48 - 1, True, 0.5, None], last_deposit=[1, 2, "EUR"])
    state.boosts.append(BoostState("rw-1", "r", 1, 1.5, [], [], "t-1", 0, 10, None))
    again = PlayerState.from_bytes(state.to_bytes())
    assert again == state
    assert [type(v) for v in again.round] == [int, bool, float, type(None)]


def test_a_record_of_another_version_fails_loudly():
    data = bytearray(PlayerState(xp=1).to_bytes())
    assert data[3] == STATE_VERSION  # after the array's 3-byte header
    data[3] = STATE_VERSION + 1
    with pytest.raises(msgspec.ValidationError):
        PlayerState.from_bytes(bytes(data))


#: states beside EXPECTED, with the version 2 record a release before version 3 wrote for each
#: (the layout's corners: a mission's optional tail, an unfired streak, a marker with no code)
WRITTEN_BEFORE = [
    (PlayerState(), {"v": 2}),
    (EXPECTED, V2),
    (
        PlayerState(
            level=1,
            streaks={"s": StreakState(1, 200, None, ["e9"])},
            missions={
                "deadline-only": MissionState("2026-W48", 1, ["e9"], ends=500),
                "tasks-only": MissionState("2026-W48", 1, tasks=[1, 0]),
            },
            markers={"a_new_marker": 7, "session_long": 8},
            boosts=[BoostState("rw-9", "r", 2, 1.5, [], ["BLACKJACK"], "t-1", 0, 10, None)],
            kyc="",
            round=[1, True, None],
        ),
        {
            "v": 2,
            "st": {"s": [1, 200, None, ["e9"], 0]},
            "m": {
                "deadline-only": ["2026-W48", 1, ["e9"], 0, [], 500],
                "tasks-only": ["2026-W48", 1, [], 0, [1, 0]],
            },
            "bo": [["rw-9", "r", 2, 1.5, [], ["BLACKJACK"], "t-1", 0, 10, None]],
            "rd": [1, True, None],
            "mk": {"a_new_marker": 7, "sl": 8},
            "ky": "",
        },
    ),
]


@pytest.mark.parametrize(("state", "written"), WRITTEN_BEFORE)
def test_version_2_is_written_byte_for_byte_as_releases_before_version_3_wrote_it(state, written):
    assert state.to_bytes(2) == orjson.dumps(written)


@pytest.mark.parametrize("version", [2, STATE_VERSION])
@pytest.mark.parametrize("state", [state for state, _ in WRITTEN_BEFORE])
def test_each_written_version_reads_back_to_an_equal_state(state, version):
    data = state.to_bytes(version)
    assert (data[:1] == b"{") == (version == 2)
    assert PlayerState.from_bytes(data) == state


def test_a_version_no_release_reads_is_not_written():
    with pytest.raises(ValueError, match="version 1"):
        PlayerState().to_bytes(1)
