"""``make run`` (scripts/run.py) stops on Ctrl-C the local broker it started, and only that
one: a broker that was already running may be serving another terminal's ``make test``.

Each test gives the run a local broker of its own (a free port, data under ``tmp_path``), so
the shared broker is never at stake.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.devtools.localbroker import LocalBroker, broker_answers, free_port, temporary_broker
from app.settings import PROJECT_ROOT, Settings

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The run's environment: its own local broker port and state directory, no archive (the
    shared PostgreSQL stays untouched); whatever broker it leaves running is stopped after."""
    env = {
        **os.environ,
        "PITBOSS_STATE_DIR": str(tmp_path / "state"),
        "PITBOSS_LOCAL_BROKER_PORT": str(free_port()),
        "PITBOSS_WEB_PORT": str(free_port()),
        "PITBOSS_GATEWAY_PORT": str(free_port()),
        "PITBOSS_ARCHIVE_URL": "",
    }
    env.pop("PITBOSS_BROKER_URL", None)
    yield env
    LocalBroker.from_settings(Settings.from_env(env)).stop()


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupted_run(env: dict[str, str], log: Path, after: str, timeout: float = 120) -> str:
    """Run scripts/run.py until it logs ``after``, Ctrl-C it, and return its whole log."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "scripts/run.py"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Ctrl-C as from a terminal, even where this test runs as a background job (which
            # inherits SIGINT ignored, and so would its Python)
            preexec_fn=_interruptible,
        )
    try:
        deadline = time.monotonic() + timeout
        while after not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, f"no {after!r} in {timeout} s: {log.read_text()}"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return log.read_text(errors="replace")


def test_ctrl_c_leaves_a_broker_that_was_already_running(env: dict[str, str], tmp_path: Path):
    settings = Settings.from_env(env)
    with temporary_broker(settings.broker_dir, port=settings.local_broker_port) as broker:
        text = interrupted_run(env, tmp_path / "run.log", after="Ctrl-C stops")
        assert "stopping" in text and "local broker" not in text
        assert broker.status().answering
    # what a new user sees: the console (with a token to paste) and the player gateway
    state = Path(env["PITBOSS_STATE_DIR"])
    assert "the console: " in text and (state / "console-token").stat().st_mode & 0o077 == 0
    assert "player gateway" in text and "gateway stopped" in text
    assert "/widgets/demo.html?player=p-000001&token=ey" in text
    assert "gateway listening" in (state / "logs" / "gateway.log").read_text()


def test_ctrl_c_stops_the_broker_the_run_started(env: dict[str, str], tmp_path: Path):
    text = interrupted_run(env, tmp_path / "run.log", after="starting worker")
    assert "started local broker" in text and "stopped local broker" in text
    assert not broker_answers(Settings.from_env(env).bootstrap_servers)
