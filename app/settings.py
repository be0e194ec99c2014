"""Settings read from the environment, each with a documented default.

One frozen object serves the worker, the commands, the scripts and the tests, so a
setting means the same thing everywhere. docs/operations.md's settings table is this module.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_BROKER_HOST = "127.0.0.1"


Environ = Mapping[str, str]


def env_text(env: Environ, name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def _env_int(env: Environ, name: str, default: int) -> int:
    raw = env_text(env, name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"setting {name} must be a whole number, got {raw!r}") from exc


def env_count(env: Environ, name: str, default: int, least: int = 1) -> int:
    """A whole number of at least ``least`` (a port, a bound, a count)."""
    value = env_float(env, name, default)
    if value < least or not value.is_integer():
        raise ValueError(
            f"setting {name} must be a whole number of at least {least}, got {value:g}"
        )
    return int(value)


def _env_bool(env: Environ, name: str, default: bool) -> bool:
    raw = env_text(env, name, "").lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"setting {name} must be true or false (1/0, yes/no, on/off), got {raw!r}")


def env_float(env: Environ, name: str, default: float) -> float:
    raw = env_text(env, name, str(default))
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"setting {name} must be a number, got {raw!r}") from exc


def _env_choice(env: Environ, name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first is the default)."""
    raw = env_text(env, name, choices[0]).lower()
    if raw not in choices:
        raise ValueError(f"setting {name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


@dataclass(frozen=True)
class TopicNames:
    """Kafka topic names; each can be overridden, and all share an optional prefix."""

    table_events: str
    player_profiles: str
    crm_rules: str
    #: every published revision, kept forever (crm-rules is compacted), for the audit replay
    crm_rules_history: str
    rewards: str
    cooldowns: str
    journal: str
    dead_letters: str
    rekeyed: str
    leaderboard_scores: str
    #: every web access decision (app/security/middleware.py), kept for ever
    access_log: str
    #: each player's secret (compacted; key: player id): crypto-shredding, docs/security.md
    player_keys: str
    #: each money-like reward's fulfilment (pending, credited, failed, ...): ``pitboss fulfil``
    reward_lifecycle: str
    #: what players did with what they were shown (shown, clicked, ...): ``pitboss gateway``
    player_interactions: str
    #: players raised to the high risk level, for the RG team (``app.pipeline.plan``)
    rg_alerts: str
    #: the operator platform's account events (deposits, logins, KYC): Avro AccountEvent
    account_events: str
    #: what players ask of their points (store purchases, spins): Avro PlayerCommand
    player_commands: str
    #: tournament prizes for the winners' partitions to decide: Avro TournamentPrize
    tournament_prizes: str
    #: each player command's outcome (a COMMAND_APPLIED or COMMAND_REFUSED JournalEntry)
    command_outcomes: str
    #: what each player brought in per day (deposits, GGR): Avro PlayerOutcome, for experiments
    player_outcomes: str

    @classmethod
    def from_env(cls, env: Environ) -> TopicNames:
        prefix = env_text(env, "PITBOSS_TOPIC_PREFIX", "")
        defaults = {
            "table_events": "table-events",
            "player_profiles": "player-profiles",
            "crm_rules": "crm-rules",
            "crm_rules_history": "crm-rules-history",
            "rewards": "rewards",
            "cooldowns": "cooldowns",
            "journal": "journal",
            "dead_letters": "dead-letters",
            "rekeyed": "pitboss-rekeyed-events",
            "leaderboard_scores": "pitboss-leaderboard-scores",
            "access_log": "access-log",
            "player_keys": "player-keys",
            "reward_lifecycle": "reward-lifecycle",
            "player_interactions": "player-interactions",
            "account_events": "account-events",
            "player_commands": "player-commands",
            "tournament_prizes": "tournament-prizes",
            "command_outcomes": "command-outcomes",
            "rg_alerts": "rg-alerts",
            "player_outcomes": "player-outcomes",
        }
        return cls(
            **{
                name: prefix + env_text(env, f"PITBOSS_TOPIC_{name.upper()}", default)
                for name, default in defaults.items()
            }
        )


@dataclass(frozen=True)
class Settings:
    """Everything a worker, command or script needs to know about its deployment."""

    #: Kafka bootstrap URL(s), e.g. ``kafka://broker1:9092;broker2:9092``. Empty means the
    #: local development broker that ``make`` starts (see ``local_broker_port``).
    broker_url: str
    local_broker_port: int
    #: Where local state lives: the local broker's data and the workers' RocksDB tables.
    state_dir: Path
    app_id: str
    worker_id: str
    store_url: str
    data_dir: Path
    partitions: int
    replication_factor: int
    web_host: str
    web_port: int
    operator_timezone: str
    schema_registry_url: str
    session_timeout: float
    heartbeat_interval: float
    batch_max: int
    #: Pause consumers briefly after an empty fetch the broker answered at once (the local
    #: broker does; Kafka holds it): on by default with the local broker only
    #: (``app/streaming/pacing.py``).
    pace_empty_fetches: bool
    shutdown_timeout: float
    #: boards of a day or week are deleted this many days after their period ended ...
    leaderboard_retention_days: int
    #: ... by a sweep this often (seconds)
    leaderboard_sweep_interval: float
    #: how often (seconds) a board's keeper looks for tournaments to finalise
    tournament_close_interval: float
    #: a tournament board on a partition that received no score record for this long
    #: (seconds) closes by the wall clock once it passes end + grace + this
    tournament_idle_seconds: float
    #: the ruleset (key on crm-rules) this deployment runs
    ruleset_id: str
    #: the per-country policy file that rules are checked against (app/rules/policy.py)
    jurisdictions_path: Path
    #: the timeline archive's PostgreSQL (empty: no archive) and its schema (app/archive/)
    archive_url: str
    archive_schema: str
    #: log lines as Faust's text (``text``) or one JSON object per line (``json``,
    #: app/metrics/logs.py)
    log_format: str
    #: the secret of the keyed hash that stands for a player id in logs, dead letters and
    #: erasure markers (app/security/erasure_key.py); empty: read or made in the key file
    erasure_key: str = field(repr=False)
    erasure_key_file: Path
    #: the version player states are written at (app/core/state.py): 3, or 2 while a rollback
    #: to a release before 3 (which reads version 2 only) must stay possible
    state_write_version: int
    #: the secret mini-game outcomes derive from (app/core/games.py): set it in production,
    #: the same on every worker and the replay; empty: outcomes players could compute
    game_salt: str = field(repr=False)
    topics: TopicNames = field(repr=False)

    @classmethod
    def from_env(cls, environ: Environ | None = None) -> Settings:
        """Settings from ``environ`` (default: this process's environment)."""
        env = os.environ if environ is None else environ
        state_dir = Path(env_text(env, "PITBOSS_STATE_DIR", str(PROJECT_ROOT / ".state"))).resolve()
        web_port = _env_int(env, "PITBOSS_WEB_PORT", 6066)
        worker_id = env_text(env, "PITBOSS_WORKER_ID", f"{socket.gethostname()}-{web_port}")
        broker_url = env_text(env, "PITBOSS_BROKER_URL", "")
        return cls(
            broker_url=broker_url,
            local_broker_port=_env_int(env, "PITBOSS_LOCAL_BROKER_PORT", 19092),
            state_dir=state_dir,
            app_id=env_text(env, "PITBOSS_APP_ID", "pitboss"),
            worker_id=worker_id,
            store_url=env_text(env, "PITBOSS_STORE_URL", "rocksdb://"),
            data_dir=Path(
                env_text(env, "PITBOSS_DATA_DIR", str(state_dir / "workers" / worker_id))
            ).resolve(),
            partitions=_env_int(env, "PITBOSS_PARTITIONS", 8),
            replication_factor=_env_int(env, "PITBOSS_REPLICATION_FACTOR", 1),
            web_host=env_text(env, "PITBOSS_WEB_HOST", "127.0.0.1"),
            web_port=web_port,
            operator_timezone=env_text(env, "PITBOSS_OPERATOR_TIMEZONE", "UTC"),
            schema_registry_url=env_text(env, "PITBOSS_SCHEMA_REGISTRY_URL", ""),
            session_timeout=env_float(env, "PITBOSS_SESSION_TIMEOUT", 6.0),
            heartbeat_interval=env_float(env, "PITBOSS_HEARTBEAT_INTERVAL", 2.0),
            batch_max=_env_int(env, "PITBOSS_BATCH_MAX", 2000),
            pace_empty_fetches=_env_bool(env, "PITBOSS_PACE_EMPTY_FETCHES", not broker_url),
            shutdown_timeout=env_float(env, "PITBOSS_SHUTDOWN_TIMEOUT", 20.0),
            leaderboard_retention_days=_env_int(env, "PITBOSS_LEADERBOARD_RETENTION_DAYS", 35),
            leaderboard_sweep_interval=env_float(env, "PITBOSS_LEADERBOARD_SWEEP_SECONDS", 3600),
            tournament_close_interval=env_float(env, "PITBOSS_TOURNAMENT_CLOSE_SECONDS", 5.0),
            tournament_idle_seconds=env_float(env, "PITBOSS_TOURNAMENT_IDLE_SECONDS", 60.0),
            ruleset_id=env_text(env, "PITBOSS_RULESET", "default"),
            jurisdictions_path=Path(
                env_text(
                    env,
                    "PITBOSS_JURISDICTIONS",
                    str(PROJECT_ROOT / "app" / "rules" / "jurisdictions.yaml"),
                )
            ).resolve(),
            archive_url=env.get("PITBOSS_ARCHIVE_URL", "postgresql://127.0.0.1:5432/test").strip(),
            archive_schema=env_text(env, "PITBOSS_ARCHIVE_SCHEMA", "pitboss"),
            log_format=_env_choice(env, "PITBOSS_LOG_FORMAT", ("text", "json")),
            erasure_key=env_text(env, "PITBOSS_ERASURE_KEY", ""),
            erasure_key_file=Path(
                env_text(env, "PITBOSS_ERASURE_KEY_FILE", str(state_dir / "erasure.key"))
            ).resolve(),
            state_write_version=int(_env_choice(env, "PITBOSS_STATE_WRITE_VERSION", ("3", "2"))),
            game_salt=env_text(env, "PITBOSS_GAME_SALT", ""),
            topics=TopicNames.from_env(env),
        )

    @property
    def uses_local_broker(self) -> bool:
        return not self.broker_url

    @property
    def kafka_url(self) -> str:
        """The Faust broker URL: the configured one, else the local broker's."""
        return self.broker_url or f"kafka://{LOCAL_BROKER_HOST}:{self.local_broker_port}"

    @property
    def bootstrap_servers(self) -> list[str]:
        """The same brokers as ``host:port`` strings, for plain aiokafka clients."""
        servers = []
        for part in self.kafka_url.replace(";", ",").split(","):
            part = part.strip()
            if part:
                servers.append(part.split("://", 1)[-1])
        return servers

    @property
    def broker_dir(self) -> Path:
        return self.state_dir / "broker"

    @property
    def workers_dir(self) -> Path:
        """Where every local worker keeps its RocksDB state, one folder per worker id."""
        return self.state_dir / "workers"

    def describe(self) -> dict[str, str]:
        """Settings as printable text, for logs and the ``settings`` command."""
        out = {f.name: str(getattr(self, f.name)) for f in fields(self) if f.name != "topics"}
        out["erasure_key"] = "***" if self.erasure_key else ""
        out["game_salt"] = "***" if self.game_salt else ""
        out.update({f"topic.{f.name}": getattr(self.topics, f.name) for f in fields(self.topics)})
        return out
