"""Every script runs from the repository root and answers ``--help`` with its usage, and
starts nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.devtools.localbroker import free_port
from app.settings import PROJECT_ROOT

#: each script and what its help must mention
SCRIPTS = {
    "run": ("Ctrl-C",),
    "simulate": ("--realtime-clock", "--preload"),
    "broker": ("start", "reset"),
}


@pytest.mark.parametrize(("script", "mentions"), SCRIPTS.items(), ids=SCRIPTS)
def test_help_answers_without_starting_anything(script, mentions, tmp_path):
    # Were the stack started, it would be on a port and in a directory nobody else uses.
    env = {
        **os.environ,
        "PITBOSS_STATE_DIR": str(tmp_path),
        "PITBOSS_LOCAL_BROKER_PORT": str(free_port()),
    }
    out = subprocess.run(
        [sys.executable, f"scripts/{script}.py", "--help"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: {script}.py")
    assert all(m in out.stdout for m in mentions), out.stdout
    assert list(tmp_path.iterdir()) == []  # no logs, no broker data
