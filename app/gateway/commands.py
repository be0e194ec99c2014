"""``pitboss gateway``: the player gateway, its own process (docs/player-channel.md)."""

from __future__ import annotations

import os

from aiohttp import web

from app.gateway.feed import PlayerFeed
from app.gateway.follower import Follower
from app.gateway.interactions import InteractionOutlet
from app.gateway.server import Gateway, interaction_schema
from app.gateway.settings import GatewaySettings
from app.gateway.tokens import player_verifier
from app.operations.cli import Command
from app.operations.signals import stop_on_signals
from app.security.erasure_key import erasure_key
from app.settings import Settings
from app.streaming.faust_app import app, security, settings


def build(config: GatewaySettings, deployment: Settings) -> Gateway:
    """The gateway of this deployment, not yet started."""
    feed = PlayerFeed(
        deployment.partitions,
        erasure_key(deployment),
        deployment.operator_timezone,
        config.rewards_kept,
    )
    verifier = player_verifier(config, config.dev_key_dir(deployment.state_dir))
    follower = Follower(deployment, security.kafka, feed)
    outlet = InteractionOutlet(deployment, security.kafka, interaction_schema())
    return Gateway(config, verifier, feed, follower, outlet, deployment, security)


@app.command(base=Command)
async def gateway(self: object) -> None:
    """Run the player gateway: a player's view, stream and interactions
    (docs/player-channel.md)."""
    config = GatewaySettings.from_env(os.environ)
    runner = web.AppRunner(build(config, settings).app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.bind, config.port).start()
    if not config.issuer:
        print(
            "gateway: development player tokens (python -m app.gateway mint-token); "
            "set PITBOSS_PLAYER_TOKEN_ISSUER in production",
            flush=True,
        )
    print(f"gateway listening on http://{config.bind}:{config.port}", flush=True)
    try:
        await stop_on_signals().wait()
    finally:
        await runner.cleanup()
