"""The door of the commands that change things (app/security/cli.py), without a broker: who
gets through, the one-line refusals (exit 2), and the access-log entry naming the token's
subject; an allowed change the access log cannot take is refused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.security import cli
from app.settings import Settings

SETTINGS = Settings.from_env({})


class Log:
    """Stands in for AccessLogProducer: keeps the entries, or fails like a broker that is down."""

    entries: list[dict[str, Any]] = []
    fail = False

    def __init__(self, settings: Settings, kafka: object) -> None:
        pass

    async def __call__(self, entry: dict[str, Any]) -> None:
        if Log.fail:
            raise ConnectionError("broker down")
        Log.entries.append(entry)

    async def stop(self) -> None:
        pass


@pytest.fixture(autouse=True)
def log(monkeypatch):
    Log.entries, Log.fail = [], False
    monkeypatch.setattr(cli, "AccessLogProducer", Log)
    return Log


def env(identity, token: str | None = None) -> dict[str, str]:
    out = {"PITBOSS_DEV_IDENTITY": str(identity.directory)}
    return {**out, "PITBOSS_TOKEN": token} if token is not None else out


def authorize(environ: dict[str, str], permission: str = "player.forget"):
    return asyncio.run(
        cli.authorize_command(SETTINGS, permission, "forget p-1", player_id="p-1", environ=environ)
    )


def refusal(capsys, environ: dict[str, str], permission: str = "player.forget") -> str:
    with pytest.raises(SystemExit) as exit_:
        authorize(environ, permission)
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    return lines[0]


def test_the_token_subject_is_allowed_and_recorded(identity):
    principal = authorize(env(identity, identity.mint("ada", ["admin"])))
    assert principal.subject == "ada"
    [entry] = Log.entries
    assert entry["subject"] == "ada" and entry["kind"] == "CLI" and entry["allowed"]
    assert entry["permission"] == "player.forget" and entry["player_id"] == "p-1"
    assert entry["action"] == "pitboss forget p-1"


def test_no_token_a_forged_one_or_no_identity_provider_is_one_line(capsys, identity):
    assert "needs PITBOSS_TOKEN" in refusal(capsys, env(identity))
    assert "malformed" in refusal(capsys, env(identity, "nonsense"))
    assert "no identity provider" in refusal(capsys, {"PITBOSS_TOKEN": "x"})
    assert Log.entries == []  # nobody to record


def test_a_denial_is_recorded_then_refused(capsys, identity):
    line = refusal(capsys, env(identity, identity.mint("sam", ["support"])))
    assert "no role of sam grants player.forget" in line
    [entry] = Log.entries
    assert entry["subject"] == "sam" and not entry["allowed"]


def test_an_allowed_change_that_cannot_be_recorded_is_refused(capsys, identity):
    Log.fail = True
    line = refusal(capsys, env(identity, identity.mint("ada", ["admin"])))
    assert "access log" in line and "could not be written" in line
