"""``pitboss show-settings`` (and ``--json``) never prints a password, in a URL or a setting;
the transport security it shows is what the settings ask for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.security.settings import SecuritySettings

PITBOSS = str(Path(sys.executable).with_name("pitboss"))
SECRETS = {
    "PITBOSS_BROKER_URL": "kafka://user:pass@kafka-1:9093;kafka-2:9093",
    "PITBOSS_ARCHIVE_URL": "postgresql://u:secret@db.example:5432/pitboss",
    "PITBOSS_SCHEMA_REGISTRY_URL": "https://reg:regpassword@registry.example",
    "PITBOSS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "PITBOSS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "PITBOSS_KAFKA_SASL_USERNAME": "pitboss",
    "PITBOSS_KAFKA_SASL_PASSWORD": "saslpassword",
    "PITBOSS_ERASURE_KEY": "erasurekey-" + "x" * 40,
}


def show_settings(tmp_path: Path, *args: str) -> str:
    env = {**os.environ, **SECRETS, "PITBOSS_STATE_DIR": str(tmp_path)}
    env.pop("PITBOSS_DATA_DIR", None)
    out = subprocess.run(
        [PITBOSS, "show-settings", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout + out.stderr


@pytest.mark.parametrize("args", [(), ("--json",)])
def test_show_settings_masks_every_secret(tmp_path, args):
    printed = show_settings(tmp_path, *args)
    for secret in ("pass@", "secret", "regpassword", "saslpassword", "erasurekey"):
        assert secret not in printed
    assert "kafka://user:***@kafka-1:9093" in printed
    assert "postgresql://u:***@db.example:5432/pitboss" in printed
    if args:
        shown = json.loads(printed[printed.index("{") :])
        assert shown["kafka.security_protocol"] == "SASL_SSL"
        assert shown["kafka.sasl_mechanism"] == "SCRAM-SHA-512"


def test_security_describe_leaves_the_password_out():
    described = SecuritySettings.from_env(SECRETS).describe()
    assert described["kafka.sasl_username"] == "pitboss"
    assert "saslpassword" not in json.dumps(described)
