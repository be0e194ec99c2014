"""The HTTP intake's settings, from the environment, each with its documented default
(README settings table, docs/integration.md)."""

from __future__ import annotations

from dataclasses import dataclass

from app.settings import Environ, env_count, env_float, env_text


@dataclass(frozen=True)
class IntakeSettings:
    #: the sources file: who may send, with which mappings and credentials (required)
    sources_file: str
    bind: str
    port: int
    #: events handed to Kafka and not yet acknowledged, across requests, before a 429
    max_in_flight: int
    #: the largest request body, in bytes (larger: 413)
    max_body: int
    #: how far a signature's timestamp may be from the intake's clock, in seconds
    signature_tolerance: float

    @classmethod
    def from_env(cls, env: Environ) -> IntakeSettings:
        return cls(
            sources_file=env_text(env, "PITBOSS_INTAKE_SOURCES_FILE", ""),
            bind=env_text(env, "PITBOSS_INTAKE_BIND", "127.0.0.1"),
            port=env_count(env, "PITBOSS_INTAKE_PORT", 6070),
            max_in_flight=env_count(env, "PITBOSS_INTAKE_MAX_IN_FLIGHT", 20_000),
            max_body=env_count(env, "PITBOSS_INTAKE_MAX_BODY", 4 * 1024 * 1024),
            signature_tolerance=env_float(env, "PITBOSS_INTAKE_SIGNATURE_TOLERANCE", 300.0),
        )


@dataclass(frozen=True)
class AmqpSettings:
    """``pitboss intake-amqp``: the queue, and the source (in the sources file) whose
    mappings its messages are in; RabbitMQ's own credentials (in the URL) are its door."""

    url: str
    queue: str
    source: str
    #: messages delivered and not yet acked (RabbitMQ's prefetch): the back-pressure
    prefetch: int

    @classmethod
    def from_env(cls, env: Environ) -> AmqpSettings:
        return cls(
            url=env_text(env, "PITBOSS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
            queue=env_text(env, "PITBOSS_AMQP_QUEUE", "pitboss-table-events"),
            source=env_text(env, "PITBOSS_AMQP_SOURCE", ""),
            prefetch=env_count(env, "PITBOSS_AMQP_PREFETCH", 64),
        )
