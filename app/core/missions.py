"""Missions players own: which task an event advances, when a mission may start, and when it
ends unfinished. Pure functions over a rule's ``Mission`` and the player's ``MissionState``;
the engine journals what they decide (``app.core.engine``).

A mission runs per period (day, week or ever). It starts on its first step, or for an opt-in
mission on the player's OPT_IN, once every mission it ``requires`` is completed and inside
the rule's ``active`` window. It ends completed, expired (its time limit passed) or missed
(the window closed first); until its next period nothing more counts.
"""

from __future__ import annotations

from app.core.outputs import journal_entry
from app.core.rules import Mission, Rule, Task
from app.core.state import COMPLETED, EXPIRED, MISSED, MissionState, PlayerState

Record = dict
#: The journal's names of how a mission ended unfinished (MISSION_PROGRESS ``details.state``).
END_NAMES = {EXPIRED: "expired", MISSED: "missed"}
#: How a mission stands in its period, in words (``MissionState.end``).
STANDING = {0: "running", COMPLETED: "completed", **END_NAMES}


def missing(spec: Mission, state: PlayerState) -> list[str]:
    """The missions ``spec`` requires that the player has not completed."""
    return [m for m in spec.requires if m not in state.missions_done]


def start(rule: Rule, period: str, t: int) -> MissionState:
    """A mission's state for ``period``, begun at event time ``t``: its deadline is the
    earlier of its time limit and the end of its window."""
    spec = rule.mission
    assert spec is not None
    deadlines = []
    if spec.time_limit_ms is not None:
        deadlines.append(t + spec.time_limit_ms)
    if rule.active is not None:
        deadlines.append(rule.active.end)
    named = len(spec.tasks) > 1 or bool(spec.tasks[0].task_id)
    tasks = [0] * len(spec.tasks) if named else []
    return MissionState(period=period, tasks=tasks, ends=min(deadlines, default=0))


def _matches(task: Task, event: dict, activation: object) -> bool:
    if task.event_types and event["event_type"] not in task.event_types:
        return False
    return task.when is None or bool(task.when(activation))


def advance(spec: Mission, mission: MissionState, event: dict, activation: object) -> list[int]:
    """Count the event towards the tasks it advances (in order: the current task only; in
    any order: every unfinished task it meets) and return their indices."""
    if not mission.tasks:  # the one-task form
        mission.steps += 1
        return [0]
    advanced = []
    for index, task in enumerate(spec.tasks):
        if mission.tasks[index] >= task.count:
            continue
        if _matches(task, event, activation):
            mission.tasks[index] += 1
            mission.steps += 1
            advanced.append(index)
        if spec.in_order:
            break  # only the first unfinished task counts
    return advanced


def done(spec: Mission, mission: MissionState) -> bool:
    """Every task finished."""
    if not mission.tasks:
        return mission.steps >= spec.steps
    return all(n >= task.count for n, task in zip(mission.tasks, spec.tasks, strict=True))


def how_ended(rule: Rule | None, mission: MissionState) -> int:
    """MISSED where the deadline was the window's end, else EXPIRED (the time limit)."""
    if rule is not None and rule.active is not None and mission.ends >= rule.active.end:
        return MISSED
    return EXPIRED


def rule_of(scope: str) -> str:
    """The rule id of a mission's state key (``rule`` or ``rule:GAME``)."""
    return scope.split(":", 1)[0]


def view(state: PlayerState) -> dict[str, object]:
    """What CEL reads as ``state.missions``: the mission ids completed, and the steps done
    of each mission running in its latest period (by state key)."""
    return {
        "completed": state.missions_done,
        "progress": {k: m.steps for k, m in state.missions.items() if not m.end},
    }


def task_step(rule: Rule, event: Record, index: int, step: int, period: str, now_ms: int) -> Record:
    """A step of a named task (MISSION_PROGRESS, ``details.task``); the one-task form keeps
    ``app.core.outputs.mission_step``."""
    spec = rule.mission
    assert spec is not None
    task = spec.tasks[index]
    return journal_entry(
        decision="MISSION_PROGRESS",
        player_id=event["player_id"],
        rule_id=rule.rule_id,
        rule_version=rule.version,
        reason=f"task {task.task_id}: step {step} of {task.count} of {rule.rule_id} ({period})",
        event_ids=[event["event_id"]],
        reward_id=None,
        details={
            "task": task.task_id,
            "step": str(step),
            "steps": str(task.count),
            "period": period,
        },
        event_time=event["occurred_at"],
        now_ms=now_ms,
        discriminator=task.task_id,
    )


def ended(
    player_id: str,
    scope: str,
    rule: Rule | None,
    mission: MissionState,
    how: int,
    now_ms: int,
) -> Record:
    """A mission that ended unfinished (MISSION_PROGRESS, ``details.state`` expired or
    missed), dated by its deadline, not by the input that found it over."""
    name = END_NAMES[how]
    total = "?" if rule is None or rule.mission is None else str(rule.mission.steps)
    why = "its time limit passed" if how == EXPIRED else "its window closed"
    return journal_entry(
        decision="MISSION_PROGRESS",
        player_id=player_id,
        rule_id=rule_of(scope),
        rule_version=None if rule is None else rule.version,
        reason=f"{scope} {name} at step {mission.steps} of {total}: {why}",
        event_ids=[],
        reward_id=None,
        details={
            "state": name,
            "scope": scope,
            "step": str(mission.steps),
            "steps": total,
            "period": mission.period,
        },
        event_time=mission.ends,
        now_ms=now_ms,
        discriminator=f"{scope}:{mission.period}:{name}",
    )
