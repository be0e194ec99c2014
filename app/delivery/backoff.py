"""How long to wait before the next attempt: exponential, capped, with jitter, so endpoints
that failed together (a restart of the operator's API) are not all retried at one moment."""

from __future__ import annotations

import random


def backoff(attempt: int, first_delay: float, max_delay: float, rand: random.Random) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): the ceiling
    ``min(max_delay, first_delay * 2 ** (attempt - 1))``, jittered into its upper half."""
    ceiling = min(max_delay, first_delay * 2.0 ** min(attempt - 1, 64))
    return ceiling / 2 + rand.random() * ceiling / 2
