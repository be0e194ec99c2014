"""Delivery settings: their documented defaults, per command, and nonsense refused."""

from __future__ import annotations

import pytest

from app.delivery.settings import DeliverySettings


def test_each_command_reads_its_own_prefix_with_documented_defaults():
    env = {"PITBOSS_WEBHOOKS_FILE": "hooks.yaml", "PITBOSS_FULFIL_GROUP": "wallet-credits"}
    hooks = DeliverySettings.from_env(env, "webhooks", "pitboss")
    fulfil = DeliverySettings.from_env(env, "fulfil", "pitboss")
    assert hooks == DeliverySettings("hooks.yaml", "pitboss-webhooks", 500, "127.0.0.1", 0)
    assert fulfil == DeliverySettings("", "wallet-credits", 500, "127.0.0.1", 0)
    served = DeliverySettings.from_env({"PITBOSS_FULFIL_METRICS_PORT": "6092"}, "fulfil", "p")
    assert served.metrics_port == 6092
    with pytest.raises(ValueError, match="PITBOSS_FULFIL_MAX_QUEUED must be a whole number"):
        DeliverySettings.from_env({"PITBOSS_FULFIL_MAX_QUEUED": "1.5"}, "fulfil", "pitboss")
