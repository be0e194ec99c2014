"""Choosing and using the authenticator: an identity provider, else the development identity
(loudly), else no start at all; Authorization headers and CLI tokens."""

from __future__ import annotations

import logging
import stat
import time

import pytest

from app.security.apikeys import mint_api_key
from app.security.authenticate import Authenticator, NoIdentityProvider, authenticator_from_settings
from app.security.dev_identity import ensure_dev_identity
from app.security.principal import AuthenticationError, Kind
from app.security.settings import AuthSettings


def auth(**env: str) -> AuthSettings:
    return AuthSettings.from_env(env)


def test_no_identity_provider_means_no_start():
    with pytest.raises(NoIdentityProvider, match="PITBOSS_DEV_IDENTITY"):
        authenticator_from_settings(auth())


def test_the_development_identity_is_announced(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="app.security.authenticate"):
        authenticator = authenticator_from_settings(auth(PITBOSS_DEV_IDENTITY=str(tmp_path / "d")))
    assert "DEVELOPMENT IDENTITY" in caplog.text and str(tmp_path / "d") in caplog.text
    token = ensure_dev_identity(tmp_path / "d").mint("dev", ["admin"])
    assert authenticator.authenticate(f"Bearer {token}").roles == {"admin"}


def test_the_development_identity_is_made_once_and_kept_private(tmp_path):
    identity = ensure_dev_identity(tmp_path / "d")
    private = identity.directory / "private.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(identity.directory.stat().st_mode) == 0o700
    before = private.read_bytes()
    token = identity.mint("dev", ["support"])
    assert ensure_dev_identity(tmp_path / "d").verifier().verify(token).subject == "dev"
    assert private.read_bytes() == before


def test_an_identity_provider_with_a_keys_file_and_api_keys(identity, tmp_path):
    key, line = mint_api_key("exporter", ["analyst"])
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys:\n" + line + "\n")
    authenticator = authenticator_from_settings(
        auth(
            PITBOSS_AUTH_ISSUER="pitboss-dev",  # the development identity's key, as a provider
            PITBOSS_AUTH_KEYS_FILE=str(identity.directory / "jwks.json"),
            PITBOSS_AUTH_ALGORITHMS="ES256",
            PITBOSS_API_KEYS_FILE=str(keys),
        )
    )
    assert not authenticator.fetches
    staff = authenticator.authenticate("Bearer " + identity.mint("alice", ["support"]))
    assert staff.kind is Kind.STAFF and staff.roles == {"support"}
    machine = authenticator.authenticate(f"bearer  {key} ")
    assert machine.kind is Kind.MACHINE and machine.roles == {"analyst"}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "no credentials"),
        ("", "no credentials"),
        ("   ", "no credentials"),
        ("Basic dXNlcjpwYXNz", "use Authorization: Bearer"),
        ("Bearer", "use Authorization: Bearer"),
        ("Bearer pbk_abc_def", "API keys are not accepted"),
    ],
)
def test_headers_that_carry_no_usable_credentials(identity, header, message):
    with pytest.raises(AuthenticationError, match=message):
        Authenticator(identity.verifier()).authenticate(header)


def test_the_cli_authenticates_from_the_environment_or_a_file(identity, tmp_path):
    authenticator = Authenticator(identity.verifier())
    token = identity.mint("carol", ["admin"])
    principal = authenticator.authenticate_cli({"PITBOSS_TOKEN": token})
    assert principal.subject == "carol" and principal.kind is Kind.CLI
    path = tmp_path / "token"
    path.write_text(token + "\n")
    assert authenticator.authenticate_cli({"PITBOSS_TOKEN_FILE": str(path)}).subject == "carol"
    with pytest.raises(AuthenticationError, match="needs PITBOSS_TOKEN"):
        authenticator.authenticate_cli({})
    with pytest.raises(AuthenticationError, match="cannot be read"):
        authenticator.authenticate_cli({"PITBOSS_TOKEN_FILE": str(tmp_path / "missing")})
    expired = identity.mint("carol", ["admin"], ttl=1, now=time.time() - 600)
    with pytest.raises(AuthenticationError, match="expired"):
        authenticator.authenticate_cli({"PITBOSS_TOKEN": expired})


def test_the_command_line(tmp_path, capsys):
    from app.security.__main__ import main

    directory = tmp_path / "dev"
    assert main(["mint-token", "--dir", str(directory), "--sub", "eve", "--role", "auditor"]) == 0
    token = capsys.readouterr().out.strip()
    principal = ensure_dev_identity(directory).verifier().verify(token)
    assert principal.roles == {"auditor"} and principal.amr == {"pwd", "mfa"}
    assert main(["new-api-key", "--name", "bot", "--role", "analyst"]) == 0
    key, _, line = capsys.readouterr().out.strip().split("\n")
    assert key.startswith("pbk_") and "bot" in line and key.split("_", 2)[2] not in line
    assert main(["check-access"]) == 0
    broken = tmp_path / "access.yaml"
    broken.write_text("roles: {}\n")
    assert main(["check-access", str(broken)]) == 1
