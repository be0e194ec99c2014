"""The pure decision core: no Faust, Kafka, clock or I/O, so the worker, the replay and
the tests run the very same decisions."""

from app.core.engine import Decisions, Engine
from app.core.state import PlayerState

__all__ = ["Decisions", "Engine", "PlayerState"]
