"""``pitboss rules`` is a command group: its help lists the actions, each action has its own
help and options, and an unknown action is a usage error (exit 2). No broker needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.rules import DEFAULT_RULESET_PATH

PITBOSS = str(Path(sys.executable).with_name("pitboss"))


def pitboss(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PITBOSS, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_rules_help_lists_every_action_and_each_action_has_its_own_options():
    group = pitboss("rules", "--help")
    assert group.returncode == 0, group.stderr
    commands = group.stdout.split("Commands:")[1].split()
    assert {"validate", "diff", "push", "list"} <= set(commands)
    push = pitboss("rules", "push", "--help")
    assert push.returncode == 0, push.stderr
    assert "Usage: pitboss rules push [OPTIONS] FILE" in push.stdout
    assert "--if-revision" in push.stdout and "--exit-code" not in push.stdout
    diff = pitboss("rules", "diff", "--help")
    assert "--exit-code" in diff.stdout and "--if-revision" not in diff.stdout
    assert "FILE" not in pitboss("rules", "list", "--help").stdout.splitlines()[0]


def test_actions_are_under_rules_only_and_misuse_is_a_usage_error():
    top = pitboss("--help").stdout
    assert "validate" not in top.split("Commands:")[1].split()
    assert pitboss("rules", "nope").returncode == 2
    assert pitboss("rules", "push").returncode == 2  # push needs the FILE
    valid = pitboss("rules", "validate", str(DEFAULT_RULESET_PATH))
    assert valid.returncode == 0 and "is valid" in valid.stdout, valid.stderr
