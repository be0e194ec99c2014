"""Every Kafka client the project creates carries the deployment's TLS/SASL settings: aiokafka
clients come from app/security/kafka_clients.py only (read from the source with ``ast``), its
clients carry the settings, and every Faust app is given ``broker_credentials``."""

from __future__ import annotations

import ast
import asyncio
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from app.security import kafka_clients
from app.security.settings import KafkaSecurity
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
#: Everything that may create a client against a deployment's brokers (tests/e2e talk to the
#: local plaintext broker on purpose and are not scanned).
SCANNED = ("app", "agents", "tables", "scripts", "tests/support")
CLIENTS = {"AIOKafkaConsumer", "AIOKafkaProducer", "AIOKafkaAdminClient"}
FACTORY = ROOT / "app" / "security" / "kafka_clients.py"

SCRAM = {
    "PITBOSS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "PITBOSS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "PITBOSS_KAFKA_SASL_USERNAME": "pitboss",
    "PITBOSS_KAFKA_SASL_PASSWORD": "s3cret",
}


def sources() -> list[Path]:
    return [path for top in SCANNED for path in sorted((ROOT / top).rglob("*.py"))]


def callee(node: ast.Call, aliases: dict[str, str]) -> str:
    """The called name, through ``import ... as`` aliases."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return aliases.get(name, name)


def aliases_of(tree: ast.Module) -> dict[str, str]:
    return {
        alias.asname: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname
    }


def test_aiokafka_clients_are_created_by_the_factory_only():
    direct = []
    for path in sources():
        if path == FACTORY:
            continue
        tree = ast.parse(path.read_text(), str(path))
        aliases = aliases_of(tree)
        direct += [
            f"{path.relative_to(ROOT)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and callee(node, aliases) in CLIENTS
        ]
    assert not direct, (
        f"aiokafka clients created without the security settings at {direct}: use "
        "app.security.kafka_clients.consumer/producer/admin"
    )


def test_every_faust_app_gets_broker_credentials():
    apps = []
    for path in sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and callee(node, {}) == "App":
                keywords = {k.arg for k in node.keywords}
                apps.append((f"{path.relative_to(ROOT)}:{node.lineno}", keywords))
    assert len(apps) >= 2  # the worker's and the stock-Faust benchmark's
    missing = [where for where, keywords in apps if "broker_credentials" not in keywords]
    assert not missing, f"Faust apps without broker_credentials: {missing}"


def test_the_worker_app_carries_the_credentials(tmp_path):
    """Faust's own clients (consumer, producer, admin) are built from ``broker_credentials``."""
    code = (
        "from app.streaming.faust_app import app\n"
        "c = app.conf.broker_credentials\n"
        "print(type(c).__name__, c.mechanism.value, c.username)\n"
    )
    env = {**os.environ, **SCRAM, "PITBOSS_STATE_DIR": str(tmp_path)}
    env.pop("PITBOSS_DATA_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["SASLCredentials", "SCRAM-SHA-512", "pitboss"]


def built(kafka: KafkaSecurity | None) -> list:
    """The internal client of each factory client (constructing needs a loop, not a broker)."""
    settings = Settings.from_env({"PITBOSS_BROKER_URL": "kafka://broker-1:9093;broker-2:9093"})

    async def build() -> list:
        consumer = kafka_clients.consumer(settings, "journal", kafka=kafka, group_id=None)
        producer = kafka_clients.producer(settings, kafka=kafka, acks="all")
        admin = kafka_clients.admin(settings, kafka=kafka, security_protocol="PLAINTEXT")
        return [consumer._client, producer.client, admin._client]

    return asyncio.run(build())


def test_factory_clients_carry_sasl_and_tls():
    for client in built(KafkaSecurity.from_env(SCRAM)):
        assert client._bootstrap_servers == ["broker-1:9093", "broker-2:9093"]
        assert client._security_protocol == "SASL_SSL"  # a caller's PLAINTEXT cannot win
        assert client._sasl_mechanism == "SCRAM-SHA-512"
        assert (client._sasl_plain_username, client._sasl_plain_password) == ("pitboss", "s3cret")
        assert isinstance(client._ssl_context, ssl.SSLContext)
        assert client._ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_factory_reads_the_process_environment_by_default(monkeypatch):
    for name, value in SCRAM.items():
        monkeypatch.setenv(name, value)
    assert {client._security_protocol for client in built(None)} == {"SASL_SSL"}
    monkeypatch.setenv("PITBOSS_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    for client in built(None):
        assert client._security_protocol == "PLAINTEXT" and client._ssl_context is None


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_the_scan_sees_an_aliased_client(name):
    tree = ast.parse(f"from aiokafka import {name} as K\nK(bootstrap_servers='x')\n")
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    assert callee(calls[0], aliases_of(tree)) == name
