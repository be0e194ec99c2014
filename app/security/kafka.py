"""Kafka transport security, the same for every client: Faust's (``broker_credentials``) and
each aiokafka consumer, producer and admin client the commands, archive, replay and benchmarks
create (``aiokafka_options``). Settings: app/security/settings.py; docs/security.md."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import faust
from aiokafka.abc import AbstractTokenProvider

from app.security.settings import KafkaSecurity


class TokenFile(AbstractTokenProvider):
    """The OAUTHBEARER token in a file, read afresh at every (re)authentication, so whatever
    renews it (a sidecar, a cron job) needs no restart of Pitboss."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def token(self) -> str:
        return self.path.read_text(encoding="utf-8").strip()


def ssl_context(kafka: KafkaSecurity) -> ssl.SSLContext | None:
    """The client TLS context (brokers' certificates and host names checked), or None."""
    if not kafka.uses_tls:
        return None
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(kafka.ca_file) if kafka.ca_file else None
    )
    if kafka.cert_file and kafka.key_file:
        context.load_cert_chain(kafka.cert_file, kafka.key_file)
    return context


def aiokafka_options(kafka: KafkaSecurity) -> dict[str, Any]:
    """The keyword arguments every AIOKafkaConsumer, AIOKafkaProducer and AIOKafkaAdminClient
    takes for these settings."""
    options: dict[str, Any] = {"security_protocol": kafka.protocol}
    context = ssl_context(kafka)
    if context is not None:
        options["ssl_context"] = context
    if not kafka.uses_sasl:
        return options
    options["sasl_mechanism"] = kafka.sasl_mechanism
    if kafka.sasl_mechanism == "OAUTHBEARER":
        assert kafka.oauth_token_file is not None  # KafkaSecurity.from_env checks it
        options["sasl_oauth_token_provider"] = TokenFile(kafka.oauth_token_file)
    else:
        options["sasl_plain_username"] = kafka.username
        options["sasl_plain_password"] = kafka.password
    return options


def faust_broker_credentials(kafka: KafkaSecurity) -> faust.auth.Credentials | None:
    """Faust's ``broker_credentials`` for these settings; None for PLAINTEXT."""
    context = ssl_context(kafka)
    if not kafka.uses_sasl:
        return faust.SSLCredentials(context) if context is not None else None
    if kafka.sasl_mechanism == "OAUTHBEARER":
        assert kafka.oauth_token_file is not None
        return faust.OAuthCredentials(
            oauth_cb=TokenFile(kafka.oauth_token_file), ssl_context=context
        )
    return faust.SASLCredentials(
        username=kafka.username,
        password=kafka.password,
        ssl_context=context,
        mechanism=kafka.sasl_mechanism,
    )
