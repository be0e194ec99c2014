"""``python -m app.gateway mint-token --player P [--ttl N]``: a development player token
from the gateway's development key pair (made on first use), on stdout. The operator's
backend mints the real ones with its own key (docs/player-channel.md).

Exit codes: 0 done, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys

from app.gateway.settings import GatewaySettings
from app.gateway.tokens import mint_player_token
from app.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.gateway", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    mint = commands.add_parser("mint-token", help="a development player token")
    mint.add_argument("--player", required=True, help="the player id (the token's sub)")
    mint.add_argument("--ttl", type=int, default=900, help="seconds (default 900)")
    args = parser.parse_args(argv)
    config = GatewaySettings.from_env(os.environ)
    if config.issuer:
        parser.error("PITBOSS_PLAYER_TOKEN_ISSUER is set: the operator's backend mints tokens")
    keys = config.dev_key_dir(Settings.from_env(os.environ).state_dir)
    print(mint_player_token(keys, args.player, config.audience, ttl=args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
