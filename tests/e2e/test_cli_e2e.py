"""The ``pitboss`` command line as an operator meets it, run as a subprocess: its own help and
version, expected errors as one line without a traceback and with the documented exit code
(docs/operations.md#exit-codes), and ``tail --limit N`` printing N lines."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.devtools.deployment import Deployment, wait_for
from tests.support.factories import natural

pytestmark = [pytest.mark.broker, pytest.mark.slow]

PITBOSS = str(Path(sys.executable).with_name("pitboss"))


def pitboss(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PITBOSS, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def one_line_error(run: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    """Exit ``code``, no traceback, and the error in one line that says ``words``."""
    assert run.returncode == code, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    # click's usage hint ("Usage: ...", "Try ... --help") may precede a usage error
    hint = ("Usage: ", "Try '")
    lines = [line for line in run.stderr.splitlines() if line.strip() and not line.startswith(hint)]
    assert any(all(w in line for w in words) for line in lines), run.stderr
    assert len(lines) <= 2, run.stderr  # rules validate: a heading and the problem


def test_help_and_version_describe_pitboss(dep: Deployment):
    help_text = pitboss(dep.env, "--help")
    assert help_text.returncode == 0
    assert "Pitboss" in help_text.stdout and "faust-streaming.github.io" not in help_text.stdout
    assert "Exit codes" in " ".join(help_text.stdout.split())
    version = pitboss(dep.env, "--version")
    assert version.returncode == 0 and version.stdout.startswith("pitboss ")
    assert "Faust" not in version.stdout


def test_expected_errors_are_one_line_and_a_distinct_exit_code(dep: Deployment, tmp_path: Path):
    one_line_error(pitboss(dep.env, "replay", "--from-time", "yesterday"), 2, "--from-time")
    one_line_error(
        pitboss(dep.env, "replay", "--what-if", str(tmp_path / "missing.yaml")), 2, "missing.yaml"
    )
    latin1 = tmp_path / "rules.yaml"
    latin1.write_bytes("rule_id: caf\xe9\n".encode("latin-1"))
    one_line_error(pitboss(dep.env, "rules", "validate", str(latin1)), 1, "not UTF-8")
    wrong = {**dep.env, "PITBOSS_PARTITIONS": str(dep.settings.partitions * 2)}
    one_line_error(pitboss(wrong, "replay"), 2, "partitions", "PITBOSS_PARTITIONS")
    down = {**dep.env, "PITBOSS_BROKER_URL": "kafka://127.0.0.1:9"}
    for args in (("replay",), ("tail", "--limit", "1"), ("topics", "list")):
        one_line_error(pitboss(down, *args), 2, "Kafka")


def test_tail_limit_prints_that_many_lines(dep: Deployment):
    dep.start_worker()
    now = int(time.time() * 1000) - 60_000
    players = [f"p-tail-{n}" for n in range(5)]
    dep.produce_events(natural(player_id=p, occurred_at=now) for p in players)
    wait_for(
        lambda: dep.view("/pitboss/stats/")["totals"]["rewards"] >= len(players),
        what="the worker to issue a reward per player",
    )
    run = pitboss(dep.env, "tail", "--from-beginning", "--limit", "3")
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == 3, run.stdout
