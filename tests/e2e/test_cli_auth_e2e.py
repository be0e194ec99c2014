"""The commands that change things (`topics create`, `rules push`, `forget`) against a real
broker: refused in one line without a token or the permission, run with one, and the access log
and the published ruleset name the authenticated identity, not the OS user."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.ids import pseudonym
from app.rules import DEFAULT_RULESET_PATH
from app.rules.publish import fetch_live
from app.security.erasure_key import erasure_key

pytestmark = pytest.mark.broker

PITBOSS = str(Path(sys.executable).with_name("pitboss"))


def pitboss(dep, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in dep.env.items() if k not in ("PITBOSS_TOKEN", "PITBOSS_TOKEN_FILE")}
    if token is not None:
        env["PITBOSS_TOKEN"] = token
    return subprocess.run(
        [PITBOSS, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def refused(out: subprocess.CompletedProcess, reason: str) -> None:
    """Exit code 2 and one clear line naming ``reason``, no traceback."""
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if "WARNING" not in line]
    assert len(lines) == 1 and reason in lines[0], out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_changing_commands_authenticate_and_are_access_logged(dep):
    refused(pitboss(dep, "topics", "create"), "needs PITBOSS_TOKEN or PITBOSS_TOKEN_FILE")
    refused(pitboss(dep, "topics", "create", token="not-a-token"), "malformed")
    support = dep.token("support", subject="sam")
    refused(pitboss(dep, "topics", "create", token=support), "grants topics.admin")
    created = pitboss(dep, "topics", "create", token=dep.token("admin", subject="ada"))
    assert created.returncode == 0, created.stderr

    refused(pitboss(dep, "rules", "push", str(DEFAULT_RULESET_PATH)), "PITBOSS_TOKEN")
    refused(
        pitboss(dep, "rules", "push", str(DEFAULT_RULESET_PATH), token=support),
        "grants rules.push",
    )
    assert asyncio.run(fetch_live(dep.settings)) is None  # nothing published when refused
    manager = dep.token("crm_manager", subject="carol")
    pushed = pitboss(dep, "rules", "push", str(DEFAULT_RULESET_PATH), token=manager)
    assert pushed.returncode == 0, pushed.stderr
    live = asyncio.run(fetch_live(dep.settings))
    assert live["source"] == f"{DEFAULT_RULESET_PATH.name} by carol"

    refused(pitboss(dep, "forget", "p-cli-1", token=support), "grants player.forget")
    forgot = pitboss(
        dep, "forget", "p-cli-1", "--force", "--yes", token=dep.token("admin", subject="ada")
    )
    assert forgot.returncode == 0, forgot.stderr

    entries = dep.consume(dep.settings.topics.access_log, "AccessLogEntry", lambda es: len(es) >= 6)
    seen = {(e["subject"], e["kind"], e["permission"], e["allowed"]) for e in entries}
    assert seen == {
        ("sam", "CLI", "topics.admin", False),
        ("ada", "CLI", "topics.admin", True),
        ("sam", "CLI", "rules.push", False),
        ("carol", "CLI", "rules.push", True),
        ("sam", "CLI", "player.forget", False),
        ("ada", "CLI", "player.forget", True),
    }
    [erasure] = [e for e in entries if e["permission"] == "player.forget" and e["allowed"]]
    # named by the erasure marker (a command holds no player's secret), never by the id
    marker = pseudonym("p-cli-1", erasure_key(dep.settings))
    assert erasure["player_id"] == marker and erasure["action"] == "pitboss forget"
