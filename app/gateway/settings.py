"""The player gateway's settings, from the environment, each with its documented default
(README settings table, docs/player-channel.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.gateway.cors import parse_origins
from app.settings import Environ, env_count, env_float, env_text


@dataclass(frozen=True)
class GatewaySettings:
    bind: str
    port: int
    #: PITBOSS_PLAYER_TOKEN_ISSUER: the ``iss`` of the operator's player tokens (empty: the
    #: development key pair in ``dev_keys`` signs and verifies them)
    issuer: str
    #: PITBOSS_PLAYER_TOKEN_AUDIENCE: the ``aud`` player tokens must carry
    audience: str
    #: PITBOSS_PLAYER_TOKEN_JWKS_URL / PITBOSS_PLAYER_TOKEN_KEYS_FILE: the public keys (one)
    jwks_url: str
    keys_file: Path | None
    algorithms: tuple[str, ...]
    #: seconds of clock difference tolerated on ``exp``, ``nbf`` and ``iat``
    leeway: float
    #: PITBOSS_PLAYER_DEV_KEYS: the development key pair's directory (default:
    #: ``<PITBOSS_STATE_DIR>/dev-player-identity``)
    dev_keys: Path | None
    #: recent rewards kept per player for ``GET …/rewards`` (from the rewards topic's week)
    rewards_kept: int
    #: stream messages waiting for a slow client before it is told to reconnect with its cursor
    stream_queue: int
    #: PITBOSS_GATEWAY_CORS_ORIGINS: the origins whose pages may call the gateway (default
    #: none: same-origin only); credentials are never allowed
    cors_origins: tuple[str, ...] = ()

    def dev_key_dir(self, state_dir: Path) -> Path:
        """Where the development player key pair is (made on first use)."""
        return self.dev_keys or state_dir / "dev-player-identity"

    @classmethod
    def from_env(cls, env: Environ) -> GatewaySettings:
        keys_file = env_text(env, "PITBOSS_PLAYER_TOKEN_KEYS_FILE", "")
        dev_keys = env_text(env, "PITBOSS_PLAYER_DEV_KEYS", "")
        config = cls(
            bind=env_text(env, "PITBOSS_GATEWAY_BIND", "127.0.0.1"),
            port=env_count(env, "PITBOSS_GATEWAY_PORT", 6080),
            issuer=env_text(env, "PITBOSS_PLAYER_TOKEN_ISSUER", ""),
            audience=env_text(env, "PITBOSS_PLAYER_TOKEN_AUDIENCE", "pitboss-gateway"),
            jwks_url=env_text(env, "PITBOSS_PLAYER_TOKEN_JWKS_URL", ""),
            keys_file=Path(keys_file) if keys_file else None,
            algorithms=tuple(
                a.strip()
                for a in env_text(
                    env, "PITBOSS_PLAYER_TOKEN_ALGORITHMS", "RS256,ES256,EdDSA"
                ).split(",")
                if a.strip()
            ),
            leeway=env_float(env, "PITBOSS_PLAYER_TOKEN_LEEWAY", 30.0),
            dev_keys=Path(dev_keys) if dev_keys else None,
            rewards_kept=env_count(env, "PITBOSS_GATEWAY_REWARDS_KEPT", 100),
            stream_queue=env_count(env, "PITBOSS_GATEWAY_STREAM_QUEUE", 1000),
            cors_origins=parse_origins(env_text(env, "PITBOSS_GATEWAY_CORS_ORIGINS", "")),
        )
        if config.issuer and not (bool(config.jwks_url) ^ bool(config.keys_file)):
            raise ValueError(
                "PITBOSS_PLAYER_TOKEN_ISSUER needs the operator's public keys: set "
                "PITBOSS_PLAYER_TOKEN_JWKS_URL or PITBOSS_PLAYER_TOKEN_KEYS_FILE (one of them)"
            )
        return config
