"""Start and stop Pitboss processes (workers, the simulator) as children of a script.

``make run`` and the end-to-end tests both drive real processes; this is the one place
that knows how to start them, tell when a worker is ready, and stop them within a bound.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.settings import PROJECT_ROOT

#: What Faust logs once a worker has joined its group and recovered its tables.
READY_LINE = "[^Worker]: Ready"
WORKER_COMMAND = (sys.executable, "-m", "faust", "-A", "app.main", "worker", "-l", "info")


@dataclass
class Child:
    """A child process whose output goes to a log file."""

    name: str
    proc: subprocess.Popen
    log_path: Path
    #: how many Ready lines the log held before this process started
    ready_before: int = 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout: float = 90.0, line: str = READY_LINE) -> None:
        """Wait until the process logs ``line`` (a worker's Ready), or raise with the end of
        its log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(line) > (self.ready_before if line == READY_LINE else 0):
                return
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}"
                )
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n{self.tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> float:
        """Send ``sig``, wait for the exit (SIGKILL after ``timeout``); seconds it took."""
        started = time.monotonic()
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(
                    f"{self.name} ignored signal {sig} for {timeout:.0f} s"
                ) from None
        return time.monotonic() - started


def spawn(name: str, command: Sequence[str], env: Mapping[str, str], log_path: Path) -> Child:
    """Start ``command`` in its own session (Ctrl-C reaches only the parent) with its log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    before = log_path.read_text(errors="replace").count(READY_LINE) if log_path.exists() else 0
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            list(command),
            cwd=PROJECT_ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Child(name, proc, log_path, before)


def spawn_worker(env: Mapping[str, str], worker_id: str, log_dir: Path) -> Child:
    return spawn(
        f"worker {worker_id}",
        WORKER_COMMAND,
        {**env, "PITBOSS_WORKER_ID": worker_id},
        log_dir / f"{worker_id}.log",
    )
