"""``pitboss`` / ``faust -A app.main`` commands besides ``worker``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
from typing import NoReturn

import click
import faust.cli.faust  # noqa: F401  Faust's own commands first: Pitboss's `send` replaces Faust's
from faust.cli import argument, option
from faust.serializers import codecs as faust_codecs

from app.contract.codec import AvroCodec
from app.operations.admin import AdminError, describe_topics, ensure_topics, list_topics
from app.operations.cli import Command
from app.operations.privacy import request_erasure, survey
from app.operations.tail import tail as tail_rewards
from app.operations.topics import topic_specs
from app.security import kafka_clients
from app.security.cli import admit, authorize_command, record
from app.security.masking import mask_secrets
from app.streaming.faust_app import app, security, settings

TOPIC_ACTIONS = ("create", "describe", "list")


@app.command(
    option("--from-beginning", is_flag=True, default=False, help="Replay what is on the topics."),
    option("--limit", type=click.IntRange(min=0), default=None, help="Stop after this many lines."),
    base=Command,
)
async def tail(self, from_beginning: bool, limit: int | None) -> None:
    """Show rewards and cool-downs live as the worker issues them (one line each on stdout;
    what it reads from on stderr)."""
    source = mask_secrets(settings.kafka_url)
    print(f"rewards and cool-downs from {source} (Ctrl-C stops)", file=sys.stderr, flush=True)
    with contextlib.suppress(asyncio.CancelledError):
        await tail_rewards(settings, from_beginning=from_beginning, limit=limit)


@app.command(
    argument("action", type=click.Choice(TOPIC_ACTIONS)),
    argument("names", nargs=-1),
    option("--all", "include_internal", is_flag=True, default=False, help="list: with __ topics"),
    option("--timeout", type=float, default=30.0, help="create: seconds to wait for the topics"),
    base=Command,
)
async def topics(
    self: object, action: str, names: tuple[str, ...], include_internal: bool, timeout: float
) -> None:
    """Topics: create every Pitboss topic (idempotent), describe them [NAME...], or list all.

    Exit codes: 0 fine; 1 a topic has the wrong partition count (or, for describe, is
    missing); 2 the broker could not be reached or refused a request.
    """
    try:
        if action == "create":
            # authorized first, recorded after: the access-log topic may be one it creates
            admission = admit("topics.admin", "topics create")
            if not admission.decision.allowed:
                await record(settings, admission)
            code = await _create_topics(timeout)
            await record(settings, admission)
        elif action == "describe":
            code = await _describe_topics(names)
        else:
            for name in await list_topics(settings, include_internal=include_internal):
                print(name, flush=True)
            code = 0
    except AdminError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        code = 2
    if code:
        raise SystemExit(code)


async def _create_topics(timeout: float) -> int:
    results = await ensure_topics(settings, strict=False, timeout=timeout)
    for r in results:
        print(f"{r.name}: {r.outcome} ({r.actual_partitions} partitions)", flush=True)
        for warning in r.warnings:
            print(f"  {warning}", flush=True)
    bad = [r for r in results if not r.ok]
    for r in bad:
        print(
            f"{r.name} has {r.actual_partitions} partitions, not {r.wanted_partitions}",
            file=sys.stderr,
            flush=True,
        )
    return 1 if bad else 0


async def _describe_topics(names: tuple[str, ...]) -> int:
    infos = await describe_topics(settings, list(names) or None)
    wanted = {spec.name: spec.partitions for spec in topic_specs(settings)}
    width = max((len(info.name) for info in infos), default=10)
    missing = 0
    for info in infos:
        if not info.exists:
            missing += 1
            print(f"{info.name:<{width}}  MISSING", flush=True)
            continue
        note = ""
        if wanted.get(info.name, info.partitions) != info.partitions:
            note = f"  (wanted {wanted[info.name]} partitions)"
        configs = (
            "configs not available"
            if info.configs is None
            else ", ".join(f"{k}={v}" for k, v in sorted(info.configs.items())) or "defaults"
        )
        print(f"{info.name:<{width}}  {info.partitions:>3} partitions  {configs}{note}", flush=True)
    return 1 if missing else 0


@app.command(
    option("--json", "as_json", is_flag=True, default=False, help="One JSON object."), base=Command
)
async def show_settings(self, as_json: bool) -> None:
    """Print the settings this process would run with, passwords and tokens masked."""
    described = {**settings.describe(), **security.describe()}
    shown = {name: mask_secrets(value) for name, value in described.items()}
    if as_json:
        print(json.dumps(shown, indent=2), flush=True)
        return
    for name, value in shown.items():
        self.say(f"{name:24} {value}")


@app.command(
    argument("player_id"),
    option("--dry-run", is_flag=True, default=False, help="Show what would be erased; erase none."),
    option("--force", is_flag=True, default=False, help="Erase an id Pitboss does not know."),
    option("--yes", is_flag=True, default=False, help="Do not ask for confirmation."),
    base=Command,
)
async def forget(self, player_id: str, dry_run: bool, force: bool, yes: bool) -> None:
    """Erase a player: state, profile, leaderboard places and archive rows; no rewards for
    the id from now on. Shows what there is to erase first, and asks.

    Exit codes: 0 requested (or dry run); 1 refused (an unknown id without --force, not
    confirmed, or no terminal to ask on without --yes).
    """
    # the access log names the player by a pseudonym: the action must not repeat the id
    principal = await authorize_command(settings, "player.forget", "forget", player_id=player_id)
    who = principal.subject
    found = await survey(settings, player_id)
    for line in found.lines():
        self.say(line)
    if dry_run:
        return
    if not (found.known or found.already_erased or force):
        _refuse(f"{player_id} is unknown to Pitboss: nothing erased (--force erases it anyway)")
    if not yes:
        if not sys.stdin.isatty():
            _refuse("no terminal to confirm on: nothing erased (--yes confirms)")
        if not click.confirm(f"erase {player_id} for good?", default=False):
            _refuse("not confirmed: nothing erased")
    partition = await request_erasure(settings, player_id, who)
    self.say(
        f"erasure of {player_id} requested by {who} (partition {partition}): the worker that "
        "owns the player tombstones their state and profile, takes them off every leaderboard "
        "and journals PLAYER_ERASED, by which the archive deletes their rows"
    )


def _encoder(flag: str, serializer: str) -> AvroCodec | None:
    """The Avro codec of an ``avro.<Schema>`` serializer; None for Faust's own codecs (``json``,
    ``raw`` ...), which send the text as given, as Faust's ``send`` does. An unknown name is a
    usage error, not a silently unencoded record."""
    if serializer.startswith("avro."):
        try:
            return AvroCodec(serializer.removeprefix("avro."), settings.schema_registry_url or None)
        except KeyError as exc:
            raise click.UsageError(f"{flag} {serializer}: {exc.args[0]}") from None
    try:
        faust_codecs.get_codec(serializer)
    except KeyError:
        raise click.UsageError(f"{flag} {serializer}: unknown serializer") from None
    return None


def _encode(flag: str, serializer: str, text: str) -> bytes:
    """``text`` as the record bytes ``serializer`` says: JSON text encoded as Avro for
    ``avro.<Schema>``, else the text itself."""
    codec = _encoder(flag, serializer)
    if codec is None:
        return text.encode()
    try:
        record = json.loads(text)
        return codec.encode(record)
    except (ValueError, AttributeError, TypeError) as exc:  # bad JSON, not an object, a bad field
        raise click.UsageError(f"not a {codec.name} as JSON: {exc}") from None


@app.command(
    option("--key-type", "-K", help="Not supported: Pitboss has no Faust models."),
    option("--key-serializer", help="Serializer for the key, e.g. raw (default) or avro.<Schema>."),
    option("--value-type", "-V", help="Not supported: Pitboss has no Faust models."),
    option("--value-serializer", help="avro.<Schema> (e.g. avro.TableEvent): VALUE is JSON."),
    option("--key", "-k", help="The key as text (JSON for an avro.<Schema> key serializer)."),
    option("--partition", type=int, default=None, help="Specific partition to send to."),
    option("--repeat", "-r", type=int, default=1, help="Send message n times.", show_default=True),
    option("--min-latency", type=float, default=0.0, help="Minimum delay between sending."),
    option("--max-latency", type=float, default=0.0, help="Maximum delay between sending."),
    argument("entity"),
    argument("value", default=None, required=False),
    base=Command,
)
async def send(
    self,
    entity: str,
    value: str | None,
    key: str | None,
    key_type: str | None,
    value_type: str | None,
    partition: int | None,
    repeat: int,
    min_latency: float,
    max_latency: float,
) -> None:
    """Send a record to a topic: ``send table-events --value-serializer avro.TableEvent
    '{json}'`` encodes it with the contract's codec (docs/contract.md). Prints its metadata."""
    if key_type or value_type:
        raise click.UsageError("--key-type/--value-type: Pitboss has no Faust models")
    if entity.startswith("@"):
        raise click.UsageError("send to a topic by name, not to an @agent")
    # Faust's AppCommand takes the serializer options (its defaults: the app's)
    key_bytes = None if key is None else _encode("--key-serializer", self.key_serializer, key)
    value_bytes = (
        None if value is None else _encode("--value-serializer", self.value_serializer, value)
    )
    producer = kafka_clients.producer(settings)
    await producer.start()
    try:
        for i in range(repeat):
            meta = await producer.send_and_wait(
                entity, value=value_bytes, key=key_bytes, partition=partition
            )
            sent = {"topic": meta.topic, "partition": meta.partition, "offset": meta.offset}
            print(json.dumps({**sent, "timestamp": meta.timestamp}), flush=True)
            if i + 1 < repeat and max_latency:
                await asyncio.sleep(random.uniform(min_latency, max_latency))
    finally:
        await producer.stop()


def _refuse(message: str) -> NoReturn:
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(1)


# registers `pitboss webhooks` and `pitboss fulfil`; `pitboss intake`, `intake-amqp` and
# `mappings test` (docs/integration.md); `pitboss gateway` (docs/player-channel.md)
import app.delivery.commands  # noqa: E402
import app.gateway.commands  # noqa: E402
import app.intake.commands  # noqa: E402
