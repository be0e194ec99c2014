"""The player gateway (``pitboss gateway``): a player's own view, their live stream of
decisions and their interactions back, over HTTP (docs/player-channel.md)."""
