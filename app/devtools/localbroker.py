"""The local development broker: noida-db's Kafka service, started, checked and stopped.

Apache Kafka cannot be installed on our development and CI machines; noida-db (a static
binary from PyPI) speaks the Kafka protocol and keeps its data across restarts. This module
wraps its command line so that ``scripts/broker.py``, the run orchestrator and the tests
share one way to start it, wait for it and stop it.

noida-db keeps one server per data directory: ``up`` starts it in the background (and says
"already running" if it is), ``status`` exits non-zero when it is not running, ``down`` stops
it and keeps the data, ``reset kafka`` deletes the Kafka data (one ``kafka.json`` file).

``broker_answers`` speaks the Kafka protocol itself (a Metadata v0 request over a plain
socket), so it works inside or outside an event loop and needs no client library.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from app.security.masking import mask_secrets
from app.settings import LOCAL_BROKER_HOST, PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

NOIDA_DB = "noida-db"
INSTALL_HINT = "install it into the project's venv with `make install` (pip install noida-db)"
#: noida-db's binary warns about an optional glibc symbol on older distributions; harmless.
_NOISE = ("weak version `GLIBC_",)


class BrokerError(RuntimeError):
    """The local broker could not be found, started, reached or stopped."""


def find_noida_db() -> str:
    """Path of the ``noida-db`` command: next to this interpreter (its venv), else on PATH."""
    candidate = Path(sys.executable).parent / NOIDA_DB
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(NOIDA_DB)
    if found:
        return found
    raise BrokerError(
        f"the {NOIDA_DB} command was not found next to {sys.executable} nor on PATH; "
        + INSTALL_HINT
    )


def _clean(text: str) -> str:
    lines = [ln for ln in text.splitlines() if not any(n in ln for n in _NOISE)]
    return "\n".join(lines).strip()


# --- Kafka protocol probe -----------------------------------------------------------------


def _metadata_request(correlation_id: int) -> bytes:
    client_id = b"pitboss-probe"
    body = struct.pack(">hhih", 3, 0, correlation_id, len(client_id)) + client_id
    body += struct.pack(">i", 0)  # Metadata v0 with an empty topic list
    return struct.pack(">i", len(body)) + body


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        buf += chunk
    return bytes(buf)


def probe_metadata(host: str, port: int, timeout: float = 2.0) -> list[tuple[int, str, int]]:
    """Send one Kafka Metadata request; return the brokers it lists as (id, host, port).

    Raises ``OSError`` (or ``ConnectionError``/``ValueError``) when nothing answers, or when
    what answers does not speak Kafka.
    """
    correlation_id = int(time.monotonic_ns() & 0x7FFFFFFF)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(_metadata_request(correlation_id))
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        if not 8 <= size <= 64 * 1024 * 1024:
            raise ValueError(f"not a Kafka response (frame size {size})")
        payload = _recv_exact(sock, size)
    got_id, count = struct.unpack_from(">ii", payload, 0)
    if got_id != correlation_id:
        raise ValueError("not a Kafka response (correlation id mismatch)")
    brokers, offset = [], 8
    for _ in range(count):
        node_id, hlen = struct.unpack_from(">ih", payload, offset)
        offset += 6
        bhost = payload[offset : offset + hlen].decode()
        offset += hlen
        (bport,) = struct.unpack_from(">i", payload, offset)
        offset += 4
        brokers.append((node_id, bhost, bport))
    if not brokers:
        raise ValueError("the broker answered but listed no brokers")
    return brokers


def _split(server: str) -> tuple[str, int]:
    server = server.split("://", 1)[-1]
    host, _, port = server.rpartition(":")
    return (host.strip("[]") or LOCAL_BROKER_HOST), int(port or 9092)


def broker_answers(servers: str | Iterable[str], timeout: float = 2.0) -> bool:
    """True when at least one of ``servers`` ("host:port") answers a Kafka Metadata request."""
    if isinstance(servers, str):
        servers = [s for s in servers.replace(";", ",").split(",") if s.strip()]
    for server in servers:
        host, port = _split(server.strip())
        try:
            probe_metadata(host, port, timeout)
            return True
        except (OSError, ValueError, struct.error):
            continue
    return False


def wait_until_answering(
    servers: str | Iterable[str], timeout: float = 30.0, interval: float = 0.1
) -> float:
    """Block until the broker answers; return the seconds waited. Raises ``BrokerError``."""
    servers = list(servers) if not isinstance(servers, str) else servers
    start = time.monotonic()
    while True:
        if broker_answers(servers, timeout=min(2.0, max(timeout, 0.1))):
            return time.monotonic() - start
        if time.monotonic() - start >= timeout:
            raise BrokerError(
                f"no Kafka broker answered a metadata request at {servers} within {timeout:.0f} s"
            )
        time.sleep(interval)


def free_port(host: str = LOCAL_BROKER_HOST) -> int:
    """A TCP port that is free right now (for a throw-away broker in tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# --- noida-db ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokerStatus:
    running: bool  # a noida-db server runs for this data dir
    kafka_address: str | None  # "host:port" its Kafka service listens on, if it is on
    answering: bool  # that address answers a Kafka metadata request
    detail: str  # noida-db's own words


@dataclass
class LocalBroker:
    """One noida-db server running only its Kafka service, with data in ``data_dir``."""

    port: int
    data_dir: Path
    host: str = LOCAL_BROKER_HOST
    binary: str | None = None
    _resolved: str | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalBroker:
        return cls(port=settings.local_broker_port, data_dir=settings.broker_dir)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "noida.log"

    def _cmd(self, *args: str, check: bool = False, timeout: float = 60.0) -> tuple[int, str]:
        if self._resolved is None:
            self._resolved = self.binary or find_noida_db()
        argv = [self._resolved, *args, "--data-dir", str(self.data_dir)]
        log.debug("running %s", " ".join(argv))
        try:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BrokerError(f"`{NOIDA_DB} {args[0]}` did not finish in {timeout:.0f} s") from exc
        out = _clean(proc.stdout + "\n" + proc.stderr)
        if check and proc.returncode != 0:
            raise BrokerError(f"`{NOIDA_DB} {' '.join(args)}` failed: {out}")
        return proc.returncode, out

    def status(self) -> BrokerStatus:
        if not (self.data_dir / "noida.control.json").exists():
            return BrokerStatus(False, None, False, f"not running (data dir {self.data_dir})")
        rc, out = self._cmd("status")
        if rc != 0:
            return BrokerStatus(False, None, False, out)
        kafka = None
        for line in out.splitlines():
            parts = line.split()
            # "  ✔ kafka          127.0.0.1:19092"   /   "  ○ kafka   stopped · ..."
            if len(parts) >= 3 and parts[1] == "kafka" and parts[0] == "✔":
                kafka = parts[2]
        answering = bool(kafka) and broker_answers([kafka], timeout=1.0)
        return BrokerStatus(True, kafka, answering, out)

    def is_running(self) -> bool:
        return self.status().running

    def start(self, timeout: float = 30.0) -> str:
        """Start the broker unless it runs; wait until it answers. Returns what happened."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        st = self.status()
        if st.running and st.kafka_address and st.kafka_address != self.address:
            raise BrokerError(
                f"the broker for {self.data_dir} is already running, but on "
                f"{st.kafka_address}, not {self.address}; stop it first "
                f"(scripts/broker.py stop) or set PITBOSS_LOCAL_BROKER_PORT to match"
            )
        if st.running and st.kafka_address is None:
            log.info("noida-db runs for %s without Kafka; starting Kafka", self.data_dir)
            self._cmd("start", "kafka", check=True)
        elif st.running:
            waited = wait_until_answering([self.address], timeout=timeout)
            return f"local broker already running at {self.address} (data in {self.data_dir})" + (
                f"; answered after {waited:.1f} s" if waited > 0.5 else ""
            )
        else:
            if broker_answers([self.address], timeout=1.0):
                # Another checkout's (or an earlier run's) broker holds the port. It speaks
                # Kafka, and deployments isolate themselves by topic prefix, so use it
                # rather than fail: a fresh clone must work on a machine that has one.
                return (
                    f"a Kafka broker already answers at {self.address} (not the one with data "
                    f"in {self.data_dir}); using it. Set PITBOSS_LOCAL_BROKER_PORT for a "
                    f"broker of this checkout's own"
                )
            rc, out = self._cmd(
                "up", "--only", "kafka", "--kafka-port", str(self.port), "--host", self.host
            )
            if rc != 0:
                raise BrokerError(f"noida-db did not start the broker on {self.address}:\n{out}")
        try:
            waited = wait_until_answering([self.address], timeout=timeout)
        except BrokerError as exc:
            raise BrokerError(f"{exc}; the end of {self.log_file}:\n{self.log_tail()}") from exc
        return f"started local broker at {self.address} in {waited:.1f} s (data in {self.data_dir})"

    def stop(self, timeout: float = 15.0) -> str:
        """Stop the broker (its data is kept). Returns what happened."""
        if not self.status().running:
            return f"local broker was not running (data dir {self.data_dir})"
        self._cmd("down", check=True)
        deadline = time.monotonic() + timeout
        while broker_answers([self.address], timeout=0.5):
            if time.monotonic() > deadline:
                raise BrokerError(f"the broker at {self.address} still answers after `down`")
            time.sleep(0.1)
        return f"stopped local broker at {self.address}; its data is kept in {self.data_dir}"

    def wipe(self) -> str:
        """Delete the broker's Kafka data. Stop it first: a running broker is refused."""
        if self.is_running():
            raise BrokerError("refusing to wipe the data of a running broker; stop it first")
        if not self.data_dir.exists():
            return f"no broker data to delete in {self.data_dir}"
        self._cmd("reset", "kafka", "--yes", check=True)
        return f"deleted the broker's Kafka data in {self.data_dir}"

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no log file)"
        return _clean("\n".join(text.splitlines()[-lines:]))


def start_unless_answering(settings: Settings, timeout: float = 30.0) -> LocalBroker | None:
    """Start the local broker when nothing answers at the configured address.

    Returns the broker it started, which the caller stops when done; None when a broker
    already answered or was starting (another terminal's, which must outlive the caller)
    or an external Kafka is configured.
    """
    if not settings.uses_local_broker or broker_answers(settings.bootstrap_servers):
        return None
    broker = LocalBroker.from_settings(settings)
    ours = not broker.is_running()
    log.info(broker.start(timeout=timeout))
    return broker if ours else None


def _check_deletable(path: Path) -> None:
    path = path.resolve()
    forbidden = {Path("/"), Path.home().resolve(), PROJECT_ROOT.resolve()}
    if path in forbidden or path in PROJECT_ROOT.resolve().parents or len(path.parts) < 3:
        raise BrokerError(f"refusing to delete {path}: it does not look like a state directory")


def wipe_worker_state(settings: Settings) -> str:
    """Delete every local worker's RocksDB state (and ``PITBOSS_DATA_DIR`` if set elsewhere)."""
    deleted = []
    for path in dict.fromkeys([settings.workers_dir, settings.data_dir]):
        if path.exists():
            _check_deletable(path)
            shutil.rmtree(path)
            deleted.append(str(path))
    if not deleted:
        return f"no worker state to delete in {settings.workers_dir}"
    return "deleted the workers' local state in " + ", ".join(deleted)


def reset_local(settings: Settings, *, restart: bool = False, timeout: float = 30.0) -> list[str]:
    """Stop the local broker, delete its data and the workers' state together, maybe restart.

    The two go together: a worker whose RocksDB state outlives its changelog topics crashes
    with ``ConsistencyError``. Stop the workers before calling this.
    """
    if not settings.uses_local_broker:
        raise BrokerError(
            f"PITBOSS_BROKER_URL is set ({mask_secrets(settings.broker_url)}): refusing to reset; "
            "this only resets the local development broker"
        )
    broker = LocalBroker.from_settings(settings)
    done = [broker.stop(), broker.wipe(), wipe_worker_state(settings)]
    if restart:
        done.append(broker.start(timeout=timeout))
    return done


@contextlib.contextmanager
def temporary_broker(data_dir: Path, port: int | None = None, timeout: float = 30.0):
    """A throw-away broker on a free port (tests); stopped on exit, data left in ``data_dir``."""
    broker = LocalBroker(port=port or free_port(), data_dir=Path(data_dir))
    broker.start(timeout=timeout)
    try:
        yield broker
    finally:
        try:
            broker.stop()
        except BrokerError as exc:  # pragma: no cover - best effort cleanup
            log.warning("could not stop the temporary broker: %s", exc)
