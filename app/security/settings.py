"""Security settings read from the environment, each with a documented default.

Authentication (who may call the web views and the commands that change things), Kafka
transport security (TLS, SASL), PostgreSQL TLS, and the web server's address and HTTPS.
docs/security.md has the table; a bad combination is refused when the settings are read,
naming the setting, never at the first connection.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from app.security.access import DEFAULT_ACCESS_FILE
from app.settings import Environ, env_float, env_text

KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
PG_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def _path(env: Environ, name: str) -> Path | None:
    value = env_text(env, name, "")
    return Path(value).expanduser().resolve() if value else None


def _choice(env: Environ, name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_text(env, name, default)
    if value not in choices:
        raise ValueError(f"setting {name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _secret(env: Environ, name: str) -> str:
    """``NAME`` or the content of the file ``NAME_FILE`` (a mounted secret), not both."""
    value, path = env.get(name, ""), _path(env, f"{name}_FILE")
    if value and path:
        raise ValueError(f"set {name} or {name}_FILE, not both")
    return path.read_text(encoding="utf-8").strip() if path else value


def _pair(cert: Path | None, key: Path | None, what: str) -> None:
    if bool(cert) != bool(key):
        raise ValueError(f"{what}: a certificate and its key go together; set both or neither")


@dataclass(frozen=True)
class AuthSettings:
    """Who the identity provider is, where machine keys and the access policy are."""

    #: PITBOSS_AUTH_ISSUER: the ``iss`` tokens must carry (empty: no identity provider)
    issuer: str
    #: PITBOSS_AUTH_AUDIENCE: the ``aud`` tokens must carry
    audience: str
    #: PITBOSS_AUTH_JWKS_URL: the provider's keys, fetched and cached ...
    jwks_url: str
    #: PITBOSS_AUTH_KEYS_FILE: ... or read from a PEM public key or JWKS file
    keys_file: Path | None
    #: PITBOSS_AUTH_ALGORITHMS: accepted signature algorithms, asymmetric only
    algorithms: tuple[str, ...]
    #: PITBOSS_AUTH_ROLES_CLAIM: the claim with the roles, dotted when nested
    roles_claim: str
    #: PITBOSS_AUTH_LEEWAY: seconds of clock skew tolerated
    leeway: float
    #: PITBOSS_API_KEYS_FILE: machine keys (empty: no API keys accepted)
    api_keys_file: Path | None
    #: PITBOSS_ACCESS_FILE: roles and permissions (default: the shipped access.default.yaml)
    access_file: Path
    #: PITBOSS_DEV_IDENTITY: a directory for the development identity, instead of a provider
    dev_identity: Path | None

    @classmethod
    def from_env(cls, env: Environ) -> AuthSettings:
        auth = cls(
            issuer=env_text(env, "PITBOSS_AUTH_ISSUER", ""),
            audience=env_text(env, "PITBOSS_AUTH_AUDIENCE", "pitboss"),
            jwks_url=env_text(env, "PITBOSS_AUTH_JWKS_URL", ""),
            keys_file=_path(env, "PITBOSS_AUTH_KEYS_FILE"),
            algorithms=tuple(
                a.strip()
                for a in env_text(env, "PITBOSS_AUTH_ALGORITHMS", "RS256,PS256,ES256,EdDSA").split(
                    ","
                )
                if a.strip()
            ),
            roles_claim=env_text(env, "PITBOSS_AUTH_ROLES_CLAIM", "roles"),
            leeway=env_float(env, "PITBOSS_AUTH_LEEWAY", 30.0),
            api_keys_file=_path(env, "PITBOSS_API_KEYS_FILE"),
            access_file=_path(env, "PITBOSS_ACCESS_FILE") or DEFAULT_ACCESS_FILE,
            dev_identity=_path(env, "PITBOSS_DEV_IDENTITY"),
        )
        if auth.issuer and not (bool(auth.jwks_url) ^ bool(auth.keys_file)):
            raise ValueError(
                "PITBOSS_AUTH_ISSUER needs the provider's keys: set PITBOSS_AUTH_JWKS_URL or "
                "PITBOSS_AUTH_KEYS_FILE (one of them)"
            )
        if auth.issuer and auth.dev_identity:
            raise ValueError("set PITBOSS_AUTH_ISSUER or PITBOSS_DEV_IDENTITY, not both")
        return auth


@dataclass(frozen=True)
class KafkaSecurity:
    """How every Kafka client (Faust's and each aiokafka client) reaches the brokers."""

    #: PITBOSS_KAFKA_SECURITY_PROTOCOL: PLAINTEXT (default), SSL, SASL_PLAINTEXT, SASL_SSL
    protocol: str
    #: PITBOSS_KAFKA_SSL_CAFILE: CA bundle the brokers' certificates are checked against
    #: (default: the system's)
    ca_file: Path | None
    #: PITBOSS_KAFKA_SSL_CERTFILE / _KEYFILE: a client certificate (mutual TLS)
    cert_file: Path | None
    key_file: Path | None
    #: PITBOSS_KAFKA_SASL_MECHANISM: PLAIN (default), SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER
    sasl_mechanism: str
    #: PITBOSS_KAFKA_SASL_USERNAME, PITBOSS_KAFKA_SASL_PASSWORD (or _PASSWORD_FILE)
    username: str
    password: str = field(repr=False)
    #: PITBOSS_KAFKA_OAUTH_TOKEN_FILE: the OAUTHBEARER token, re-read at every
    #: (re)authentication so that a sidecar can refresh it
    oauth_token_file: Path | None

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @classmethod
    def from_env(cls, env: Environ) -> KafkaSecurity:
        kafka = cls(
            protocol=_choice(env, "PITBOSS_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", KAFKA_PROTOCOLS),
            ca_file=_path(env, "PITBOSS_KAFKA_SSL_CAFILE"),
            cert_file=_path(env, "PITBOSS_KAFKA_SSL_CERTFILE"),
            key_file=_path(env, "PITBOSS_KAFKA_SSL_KEYFILE"),
            sasl_mechanism=_choice(env, "PITBOSS_KAFKA_SASL_MECHANISM", "PLAIN", SASL_MECHANISMS),
            username=env_text(env, "PITBOSS_KAFKA_SASL_USERNAME", ""),
            password=_secret(env, "PITBOSS_KAFKA_SASL_PASSWORD"),
            oauth_token_file=_path(env, "PITBOSS_KAFKA_OAUTH_TOKEN_FILE"),
        )
        _pair(kafka.cert_file, kafka.key_file, "PITBOSS_KAFKA_SSL_CERTFILE/KEYFILE")
        if not kafka.uses_sasl:
            return kafka
        if kafka.sasl_mechanism == "OAUTHBEARER" and not kafka.oauth_token_file:
            raise ValueError("SASL OAUTHBEARER needs PITBOSS_KAFKA_OAUTH_TOKEN_FILE")
        if kafka.sasl_mechanism != "OAUTHBEARER" and not (kafka.username and kafka.password):
            raise ValueError(
                f"SASL {kafka.sasl_mechanism} needs PITBOSS_KAFKA_SASL_USERNAME and "
                "PITBOSS_KAFKA_SASL_PASSWORD (or PITBOSS_KAFKA_SASL_PASSWORD_FILE)"
            )
        return kafka


@dataclass(frozen=True)
class PostgresTLS:
    """libpq's TLS parameters for the archive's PostgreSQL; empty ones are left to libpq
    (whose own default sslmode is ``prefer``: encrypted if the server offers it, unchecked)."""

    #: PITBOSS_PG_SSLMODE: disable, allow, prefer, require, verify-ca, verify-full
    sslmode: str
    #: PITBOSS_PG_SSLROOTCERT: the CA the server's certificate is checked against
    sslrootcert: Path | None
    #: PITBOSS_PG_SSLCERT / PITBOSS_PG_SSLKEY: a client certificate
    sslcert: Path | None
    sslkey: Path | None

    @classmethod
    def from_env(cls, env: Environ) -> PostgresTLS:
        mode = env_text(env, "PITBOSS_PG_SSLMODE", "")
        if mode and mode not in PG_SSLMODES:
            raise ValueError(
                f"setting PITBOSS_PG_SSLMODE must be one of {', '.join(PG_SSLMODES)}, got {mode!r}"
            )
        pg = cls(
            sslmode=mode,
            sslrootcert=_path(env, "PITBOSS_PG_SSLROOTCERT"),
            sslcert=_path(env, "PITBOSS_PG_SSLCERT"),
            sslkey=_path(env, "PITBOSS_PG_SSLKEY"),
        )
        _pair(pg.sslcert, pg.sslkey, "PITBOSS_PG_SSLCERT/SSLKEY")
        return pg


@dataclass(frozen=True)
class WebSettings:
    """Where the web views listen, how other workers reach them, and their HTTPS."""

    #: PITBOSS_WEB_BIND: the interface the web server listens on (default loopback only)
    bind: str
    #: PITBOSS_WEB_ADVERTISED_URL: how other workers reach this one to forward a request
    #: (default: http(s)://PITBOSS_WEB_HOST:PITBOSS_WEB_PORT)
    advertised_url: str
    #: PITBOSS_WEB_CERTFILE / PITBOSS_WEB_KEYFILE: serve HTTPS only (plain HTTP is refused)
    cert_file: Path | None
    key_file: Path | None

    @property
    def uses_tls(self) -> bool:
        return self.cert_file is not None

    @classmethod
    def from_env(cls, env: Environ) -> WebSettings:
        web = cls(
            bind=env_text(env, "PITBOSS_WEB_BIND", "127.0.0.1"),
            advertised_url=env_text(env, "PITBOSS_WEB_ADVERTISED_URL", ""),
            cert_file=_path(env, "PITBOSS_WEB_CERTFILE"),
            key_file=_path(env, "PITBOSS_WEB_KEYFILE"),
        )
        _pair(web.cert_file, web.key_file, "PITBOSS_WEB_CERTFILE/KEYFILE")
        return web


@dataclass(frozen=True)
class SecuritySettings:
    auth: AuthSettings
    kafka: KafkaSecurity
    postgres: PostgresTLS
    web: WebSettings

    def describe(self) -> dict[str, str]:
        """The transport and identity settings as printable text for ``show-settings``: the
        Kafka password is left out (masking does the rest)."""
        kafka, pg, web = self.kafka, self.postgres, self.web
        return {
            "kafka.security_protocol": kafka.protocol,
            "kafka.sasl_mechanism": kafka.sasl_mechanism if kafka.uses_sasl else "",
            "kafka.sasl_username": kafka.username,
            "kafka.ssl_cafile": str(kafka.ca_file or ""),
            "kafka.ssl_certfile": str(kafka.cert_file or ""),
            "pg.sslmode": pg.sslmode,
            "pg.sslrootcert": str(pg.sslrootcert or ""),
            "web.bind": web.bind,
            "web.advertised_url": web.advertised_url,
            "web.https": str(web.uses_tls),
            "auth.issuer": self.auth.issuer,
            "auth.dev_identity": str(self.auth.dev_identity or ""),
            "auth.access_file": str(self.auth.access_file),
        }

    @classmethod
    def from_env(cls, environ: Environ | None = None) -> SecuritySettings:
        """Settings from ``environ`` (default: this process's environment)."""
        env = os.environ if environ is None else environ
        return cls(
            auth=AuthSettings.from_env(env),
            kafka=KafkaSecurity.from_env(env),
            postgres=PostgresTLS.from_env(env),
            web=WebSettings.from_env(env),
        )
