"""Player tokens: the player's own id as subject; expired, forged, another audience's or a
staff token are refused; a production issuer needs its keys."""

from __future__ import annotations

import time

import pytest

from app.gateway.settings import GatewaySettings
from app.gateway.tokens import mint_player_token, player_verifier
from app.security.dev_identity import ensure_dev_identity
from app.security.principal import AuthenticationError

AUDIENCE = "pitboss-gateway"


@pytest.fixture
def config() -> GatewaySettings:
    return GatewaySettings.from_env({})


def test_a_minted_token_names_its_player(tmp_path, config):
    token = mint_player_token(tmp_path / "keys", "p-1", AUDIENCE)
    assert player_verifier(config, tmp_path / "keys").verify(token).subject == "p-1"


def test_an_expired_token_is_refused(tmp_path, config):
    token = mint_player_token(tmp_path / "keys", "p-1", AUDIENCE, ttl=60, now=time.time() - 600)
    with pytest.raises(AuthenticationError, match="expired"):
        player_verifier(config, tmp_path / "keys").verify(token)


def test_a_token_signed_with_another_key_is_refused(tmp_path, config):
    ensure_dev_identity(tmp_path / "keys")
    forged = mint_player_token(tmp_path / "other", "p-1", AUDIENCE)
    with pytest.raises(AuthenticationError):
        player_verifier(config, tmp_path / "keys").verify(forged)


def test_a_token_for_another_audience_is_refused(tmp_path, config):
    token = mint_player_token(tmp_path / "keys", "p-1", "pitboss")
    with pytest.raises(AuthenticationError, match="audience"):
        player_verifier(config, tmp_path / "keys").verify(token)


def test_a_staff_token_of_the_same_machine_is_not_a_player_token(tmp_path, config):
    staff = ensure_dev_identity(tmp_path / "keys").mint("p-1", ["admin"])
    with pytest.raises(AuthenticationError):
        player_verifier(config, tmp_path / "keys").verify(staff)


def test_an_operator_issuer_needs_its_public_keys():
    with pytest.raises(ValueError, match="PITBOSS_PLAYER_TOKEN_JWKS_URL"):
        GatewaySettings.from_env({"PITBOSS_PLAYER_TOKEN_ISSUER": "https://casino.example"})


def test_an_operator_issuer_verifies_with_its_key_file(tmp_path):
    ensure_dev_identity(tmp_path / "keys")
    config = GatewaySettings.from_env(
        {
            "PITBOSS_PLAYER_TOKEN_ISSUER": "pitboss-dev-players",
            "PITBOSS_PLAYER_TOKEN_KEYS_FILE": str(tmp_path / "keys" / "jwks.json"),
        }
    )
    token = mint_player_token(tmp_path / "keys", "p-9", AUDIENCE)
    assert player_verifier(config, tmp_path / "unused").verify(token).subject == "p-9"
