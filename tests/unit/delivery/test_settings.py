"""Delivery settings: their documented defaults, per command, and nonsense refused."""

from __future__ import annotations

import pytest

from app.delivery.settings import DeliverySettings


def test_each_command_reads_its_own_prefix_with_documented_defaults():
    env = {"PITBOSS_WEBHOOKS_FILE": "hooks.yaml", "PITBOSS_FULFIL_GROUP": "wallet-credits"}
    hooks = DeliverySettings.from_env(env, "webhooks", "pitboss")
    fulfil = DeliverySettings.from_env(env, "fulfil", "pitboss")
    assert hooks == DeliverySettings("hooks.yaml", "pitboss-webhooks", 500)
    assert fulfil == DeliverySettings("", "wallet-credits", 500)
    with pytest.raises(ValueError, match="PITBOSS_FULFIL_MAX_QUEUED must be a whole number"):
        DeliverySettings.from_env({"PITBOSS_FULFIL_MAX_QUEUED": "1.5"}, "fulfil", "pitboss")
