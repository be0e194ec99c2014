"""Player tokens: short-lived JWTs the operator's backend mints per player (``sub`` = the
player id), verified with the staff tokens' machinery (``app.security.tokens``: asymmetric
algorithms only, keys from a file or a JWKS URL) under the player tokens' own issuer,
audience and keys, so a staff token is never a player's and the other way round.

Without an issuer the development key pair (``app.security.dev_identity``'s generator, in a
directory of its own) signs and verifies them: ``python -m app.gateway mint-token``.
"""

from __future__ import annotations

from pathlib import Path

from app.gateway.settings import GatewaySettings
from app.security.dev_identity import ALGORITHM, JWKS, ensure_dev_identity
from app.security.tokens import IdentityProvider, JwksUrl, KeyFile, KeySource, TokenVerifier

#: The development player tokens' issuer and audience.
DEV_ISSUER = "pitboss-dev-players"


def player_verifier(config: GatewaySettings, dev_keys: Path) -> TokenVerifier:
    """The verifier of the operator's player tokens, or of the development ones."""
    if not config.issuer:
        ensure_dev_identity(dev_keys)
        provider = IdentityProvider(DEV_ISSUER, config.audience, (ALGORITHM,), leeway=config.leeway)
        return TokenVerifier(provider, KeyFile(dev_keys / JWKS))
    keys: KeySource = JwksUrl(config.jwks_url) if config.jwks_url else KeyFile(config.keys_file)
    provider = IdentityProvider(
        config.issuer, config.audience, config.algorithms, leeway=config.leeway
    )
    return TokenVerifier(provider, keys)


def mint_player_token(
    dev_keys: Path, player_id: str, audience: str, ttl: float = 900, now: float | None = None
) -> str:
    """A development player token for ``player_id``, valid ``ttl`` seconds (the key pair is
    made on first use). The operator's backend mints the real ones with its own key."""
    return ensure_dev_identity(dev_keys).sign(DEV_ISSUER, audience, player_id, ttl, now)
