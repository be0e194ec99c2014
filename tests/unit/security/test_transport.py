"""Transport security settings: read from the environment, refused when incoherent, and
turned into exactly what aiokafka, Faust, libpq and the web server take."""

from __future__ import annotations

import asyncio
import logging
import ssl

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from app.archive import store
from app.security.https import faust_web_options
from app.security.kafka import TokenFile, aiokafka_options, faust_broker_credentials
from app.security.masking import mask_log_records, mask_secrets
from app.security.postgres import tls_params, with_tls
from app.security.settings import KafkaSecurity, PostgresTLS, SecuritySettings, WebSettings


def kafka(**env: str) -> KafkaSecurity:
    return KafkaSecurity.from_env(env)


def test_defaults(tmp_path):
    settings = SecuritySettings.from_env({})
    assert settings.kafka.protocol == "PLAINTEXT" and not settings.kafka.uses_tls
    assert settings.web.bind == "127.0.0.1" and not settings.web.uses_tls
    assert settings.postgres.sslmode == ""
    assert settings.auth.issuer == "" and settings.auth.audience == "pitboss"
    assert settings.auth.access_file.name == "access.default.yaml"
    assert settings.auth.algorithms == ("RS256", "PS256", "ES256", "EdDSA")
    assert aiokafka_options(settings.kafka) == {"security_protocol": "PLAINTEXT"}
    assert faust_broker_credentials(settings.kafka) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PITBOSS_KAFKA_SECURITY_PROTOCOL": "TLS"}, "must be one of PLAINTEXT"),
        ({"PITBOSS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs PITBOSS_KAFKA_SASL_USERNAME"),
        (
            {
                "PITBOSS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "PITBOSS_KAFKA_SASL_MECHANISM": "GSSAPI",
            },
            "must be one of PLAIN",
        ),
        (
            {
                "PITBOSS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "PITBOSS_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
            },
            "needs PITBOSS_KAFKA_OAUTH_TOKEN_FILE",
        ),
        ({"PITBOSS_KAFKA_SSL_CERTFILE": "/c.pem"}, "set both or neither"),
        ({"PITBOSS_PG_SSLMODE": "on"}, "PITBOSS_PG_SSLMODE must be one of"),
        ({"PITBOSS_PG_SSLKEY": "/k.pem"}, "set both or neither"),
        ({"PITBOSS_WEB_CERTFILE": "/c.pem"}, "set both or neither"),
        ({"PITBOSS_AUTH_ISSUER": "https://idp"}, "needs the provider's keys"),
        (
            {
                "PITBOSS_AUTH_ISSUER": "https://idp",
                "PITBOSS_AUTH_JWKS_URL": "https://idp/jwks",
                "PITBOSS_DEV_IDENTITY": "/tmp/x",
            },
            "not both",
        ),
        (
            {"PITBOSS_KAFKA_SASL_PASSWORD": "a", "PITBOSS_KAFKA_SASL_PASSWORD_FILE": "/p"},
            "not both",
        ),
        ({"PITBOSS_AUTH_LEEWAY": "soon"}, "must be a number"),
    ],
)
def test_incoherent_settings_are_refused_naming_the_setting(env, message):
    with pytest.raises(ValueError, match=message):
        SecuritySettings.from_env(env)


def test_the_password_is_never_in_the_repr(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("hunter2\n")
    settings = kafka(
        PITBOSS_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        PITBOSS_KAFKA_SASL_USERNAME="pitboss",
        PITBOSS_KAFKA_SASL_PASSWORD_FILE=str(secret),
    )
    assert settings.password == "hunter2"
    assert "hunter2" not in repr(settings) and "hunter2" not in repr(SecuritySettings)


def every_client(options: dict) -> None:
    """Every aiokafka client the project creates accepts these options (no connection made)."""

    async def build() -> None:  # each constructor validates its security options
        AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", **options)
        AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", **options)
        AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:1", **options)

    asyncio.run(build())


def test_ssl_with_a_client_certificate(certificate):
    cert, key = certificate
    settings = kafka(
        PITBOSS_KAFKA_SECURITY_PROTOCOL="SSL",
        PITBOSS_KAFKA_SSL_CAFILE=str(cert),
        PITBOSS_KAFKA_SSL_CERTFILE=str(cert),
        PITBOSS_KAFKA_SSL_KEYFILE=str(key),
    )
    options = aiokafka_options(settings)
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1
    every_client(options)
    credentials = faust_broker_credentials(settings)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials_to_aiokafka_auth(credentials)["security_protocol"] == "SSL"


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_reaches_aiokafka_and_faust_alike(mechanism, protocol):
    settings = kafka(
        PITBOSS_KAFKA_SECURITY_PROTOCOL=protocol,
        PITBOSS_KAFKA_SASL_MECHANISM=mechanism,
        PITBOSS_KAFKA_SASL_USERNAME="pitboss",
        PITBOSS_KAFKA_SASL_PASSWORD="s3cret",
    )
    options = aiokafka_options(settings)
    every_client(options)
    faust_options = credentials_to_aiokafka_auth(faust_broker_credentials(settings))
    for name in (
        "security_protocol",
        "sasl_mechanism",
        "sasl_plain_username",
        "sasl_plain_password",
    ):
        assert options[name] == faust_options[name], name
    assert ("ssl_context" in options) == (protocol == "SASL_SSL")
    assert (faust_options["ssl_context"] is not None) == (protocol == "SASL_SSL")


def test_oauthbearer_reads_the_token_file_at_each_authentication(tmp_path):
    token = tmp_path / "token"
    token.write_text("first\n")
    settings = kafka(
        PITBOSS_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        PITBOSS_KAFKA_SASL_MECHANISM="OAUTHBEARER",
        PITBOSS_KAFKA_OAUTH_TOKEN_FILE=str(token),
    )
    options = aiokafka_options(settings)
    every_client(options)
    provider = options["sasl_oauth_token_provider"]
    assert isinstance(provider, TokenFile)
    assert asyncio.run(provider.token()) == "first"
    token.write_text("renewed")
    assert asyncio.run(provider.token()) == "renewed"
    faust_options = credentials_to_aiokafka_auth(faust_broker_credentials(settings))
    assert faust_options["sasl_mechanism"] == "OAUTHBEARER"
    assert faust_options["security_protocol"] == "SASL_SSL"


def test_postgres_tls_parameters(tmp_path):
    pg = PostgresTLS.from_env(
        {
            "PITBOSS_PG_SSLMODE": "verify-full",
            "PITBOSS_PG_SSLROOTCERT": str(tmp_path / "ca.pem"),
        }
    )
    assert tls_params(pg) == {"sslmode": "verify-full", "sslrootcert": str(tmp_path / "ca.pem")}
    conninfo = with_tls("postgresql://u@db.example:5432/test?sslmode=disable", pg)
    assert "sslmode=verify-full" in conninfo and "disable" not in conninfo
    unchanged = "postgresql://127.0.0.1/test"
    assert with_tls(unchanged, PostgresTLS.from_env({})) == unchanged


def test_every_archive_connection_gets_the_tls_settings(monkeypatch):
    """app/archive/store.connect is the archive's one way to PostgreSQL (the follower, the
    commands and the timeline view): it applies the environment's TLS settings."""
    seen: list[str] = []

    async def connect(conninfo: str, **_: object) -> object:
        seen.append(conninfo)
        raise ConnectionRefusedError  # stop before any SQL

    monkeypatch.setattr(store.AsyncConnection, "connect", connect)
    monkeypatch.setenv("PITBOSS_PG_SSLMODE", "verify-full")
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(store.connect("postgresql://u@db.example/test?sslmode=disable", "pitboss"))
    assert "sslmode=verify-full" in seen[0] and "disable" not in seen[0]


def test_faust_web_options(certificate):
    plain = faust_web_options(WebSettings.from_env({}), "worker-1.internal", 6066)
    assert plain["web_bind"] == "127.0.0.1"
    assert plain["canonical_url"] == "http://worker-1.internal:6066"
    assert plain["web_ssl_context"] is None
    cert, key = certificate
    web = WebSettings.from_env(
        {
            "PITBOSS_WEB_BIND": "0.0.0.0",
            "PITBOSS_WEB_CERTFILE": str(cert),
            "PITBOSS_WEB_KEYFILE": str(key),
        }
    )
    secure = faust_web_options(web, "worker-1.internal", 6066)
    assert secure["canonical_url"] == "https://worker-1.internal:6066"
    assert secure["web_ssl_context"].minimum_version >= ssl.TLSVersion.TLSv1_2
    advertised = WebSettings.from_env({"PITBOSS_WEB_ADVERTISED_URL": "https://w1.example:443"})
    assert faust_web_options(advertised, "h", 1)["canonical_url"] == "https://w1.example:443"
    faust.App("web-options-check", **secure)  # Faust takes every option


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("kafka://pitboss:hunter2@broker:9092", "kafka://pitboss:***@broker:9092"),
        (
            "postgresql://archive:p%40ss:w0rd@db:5432/test",
            "postgresql://archive:***@db:5432/test",
        ),
        (
            "host=db user=u password=hunter2 sslmode=require",
            "host=db user=u password=*** sslmode=require",
        ),
        ("https://x/cb?token=abc.def&page=2", "https://x/cb?token=***&page=2"),
        ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer ***"),
        ("got eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig_- here", "got *** here"),
        ("key pbk_a1b2c3d4e5f6_Zm9v-YmFy_baz used", "key pbk_a1b2c3d4e5f6_*** used"),
        ("kafka://broker1:9092;broker2:9092", "kafka://broker1:9092;broker2:9092"),
        ("postgresql://127.0.0.1:5432/test", "postgresql://127.0.0.1:5432/test"),
        ("PITBOSS_KAFKA_SASL_PASSWORD='a b c'", "PITBOSS_KAFKA_SASL_PASSWORD=***"),
        ("sasl_plain_password: 'hunter2'", "sasl_plain_password: ***"),
        ("PITBOSS_KAFKA_OAUTH_TOKEN_FILE=/run/token", "PITBOSS_KAFKA_OAUTH_TOKEN_FILE=/run/token"),
        ("tokens=5 passwords_changed=2", "tokens=5 passwords_changed=2"),
    ],
)
def test_mask_secrets(text, masked):
    assert mask_secrets(text) == masked


def test_log_records_are_masked_whoever_logs_them(caplog):
    before = logging.getLogRecordFactory()
    plain = getattr(before, "inner", before)  # importing the worker app installs it already
    try:
        logging.setLogRecordFactory(plain)
        mask_log_records()
        mask_log_records()  # idempotent: one wrapper
        assert logging.getLogRecordFactory().inner is plain
        with caplog.at_level(logging.INFO):
            logging.getLogger("aiokafka.test").info("to %s", "kafka://u:hunter2@b:9093")
            logging.getLogger("pitboss.test").warning("plain %d", 7)
        broken = logging.getLogRecordFactory()("t", logging.INFO, "p", 1, "bad %d", ("x",), None)
        assert broken.msg == "bad %d"  # a broken format is left for logging to report
    finally:
        logging.setLogRecordFactory(before)
    assert caplog.records[0].getMessage() == "to kafka://u:***@b:9093"
    assert caplog.records[1].getMessage() == "plain 7"
    assert "hunter2" not in caplog.text
