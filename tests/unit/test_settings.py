"""PITBOSS_STATE_WRITE_VERSION: the player-state version written, for a rollout that may be
rolled back (docs/operations.md, "Rolling upgrades")."""

from __future__ import annotations

import pytest

from app.core.state import STATE_VERSION
from app.settings import Settings


def test_the_state_write_version_defaults_to_the_current_one_and_accepts_only_2_or_3():
    assert Settings.from_env({}).state_write_version == STATE_VERSION == 3
    assert Settings.from_env({"PITBOSS_STATE_WRITE_VERSION": " 2 "}).state_write_version == 2
    assert Settings.from_env({"PITBOSS_STATE_WRITE_VERSION": "3"}).state_write_version == 3
    for bad in ("1", "4", "v2", "2.0"):
        with pytest.raises(ValueError, match="PITBOSS_STATE_WRITE_VERSION must be one of 3, 2"):
            Settings.from_env({"PITBOSS_STATE_WRITE_VERSION": bad})
