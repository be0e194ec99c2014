"""Hypothesis profiles: ``full`` (what ``make test`` and CI run) and ``fast`` (``make
test-fast``), chosen by ``PITBOSS_HYPOTHESIS_PROFILE``.

A test that asks for its own example count (``@settings(max_examples=...)``) overrides any
profile, so such tests ask through ``examples(n)``: ``n`` under ``full``, a tenth of it
(at least ``FAST_FLOOR``) under ``fast``. See docs/operations.md, "Development".
"""

from __future__ import annotations

import os

from hypothesis import settings

PROFILE_ENV = "PITBOSS_HYPOTHESIS_PROFILE"
PROFILES = ("full", "fast")
#: Under ``fast`` a test runs a tenth of its examples, but never fewer than this.
FAST_SHARE = 10
FAST_FLOOR = 10


def active() -> str:
    """The profile named by the environment (``full`` when unset)."""
    name = os.environ.get(PROFILE_ENV, "full")
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_ENV}={name!r}: choose one of {', '.join(PROFILES)}")
    return name


def _fast(full: int) -> int:
    return min(full, max(FAST_FLOOR, full // FAST_SHARE))


def examples(full: int) -> int:
    """How many examples a test that wants ``full`` of them runs under the active profile."""
    return full if active() == "full" else _fast(full)


def load() -> str:
    """Register both profiles and load the active one; returns its name."""
    settings.register_profile("full")
    settings.register_profile("fast", max_examples=_fast(settings.default.max_examples))
    name = active()
    settings.load_profile(name)
    return name
