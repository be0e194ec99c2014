"""``pitboss intake`` (the HTTP intake, its own process), ``pitboss intake-amqp`` (the
RabbitMQ source) and ``pitboss mappings test MAPPING SAMPLE`` (what a sample becomes, before a
studio sends it)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

import click
from aiohttp import web
from faust.cli import option
from faust.cli.base import cli

from app.intake.amqp import AmqpIntake
from app.intake.mapping import load_mapping
from app.intake.outlet import Outlet
from app.intake.server import Intake
from app.intake.settings import AmqpSettings, IntakeSettings
from app.intake.sources import Sources, new_key
from app.intake.translate import BatchRefused, Translator
from app.operations.cli import COULD_NOT_RUN, Command
from app.operations.signals import stop_on_signals
from app.security.documents import SecurityFileError
from app.security.erasure_key import erasure_key
from app.streaming.faust_app import app, security, settings

#: The erasure key ``mappings test`` pseudonymizes an e-mail id with: its letters are shown,
#: never produced, so the deployment's key is not needed.
_TEST_KEY = b"pitboss mappings test"


def _fail(message: str) -> NoReturn:
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(COULD_NOT_RUN)


@app.command(
    option(
        "--new-key",
        "make_key",
        is_flag=True,
        default=False,
        help="Print a new API key and its hash.",
    ),
    base=Command,
)
async def intake(self: object, make_key: bool) -> None:
    """Run the HTTP intake: POST /intake/v1/{source}/events (docs/integration.md)."""
    if make_key:
        key, stored = new_key()
        print(f"API key (give it to the studio once): {key}\nfor the sources file: '{stored}'")
        return
    config = IntakeSettings.from_env(os.environ)
    server = Intake(settings, config, _sources(config), security, erasure_key(settings))
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.bind, config.port).start()
    print(f"intake listening on http://{config.bind}:{config.port}", flush=True)
    try:
        await stop_on_signals().wait()
    finally:
        await runner.cleanup()


@app.command(base=Command)
async def intake_amqp(self: object) -> None:
    """Consume the RabbitMQ queue PITBOSS_AMQP_QUEUE into Kafka, acking each message only once
    Kafka has it (docs/integration.md)."""
    config, amqp = IntakeSettings.from_env(os.environ), AmqpSettings.from_env(os.environ)
    source = _sources(config).sources.get(amqp.source)
    if source is None or not source.mappings:
        _fail(f"Error: PITBOSS_AMQP_SOURCE {amqp.source!r} is not a source with a mapping")
    translator = Translator(amqp.source, source.mappings, erasure_key(settings))
    outlet = Outlet(settings, security.kafka, "intake-amqp")
    await outlet.start()
    stop, intake = asyncio.Event(), AmqpIntake(amqp, translator, outlet)
    consumer = asyncio.ensure_future(intake.run(stop))
    try:
        consuming = asyncio.ensure_future(intake.consuming.wait())
        await asyncio.wait([consumer, consuming], return_when=asyncio.FIRST_COMPLETED)
        if consumer.done():
            consumer.result()  # it could not connect: say why
        print(f"intake-amqp consuming {amqp.queue} into Kafka", flush=True)
        await stop_on_signals().wait()
        stop.set()
        await consumer
    finally:
        await outlet.stop()


def _sources(config: IntakeSettings) -> Sources:
    if not config.sources_file:
        _fail("Error: set PITBOSS_INTAKE_SOURCES_FILE to the sources file (docs/integration.md)")
    try:
        return Sources.load(config.sources_file, config.signature_tolerance)
    except SecurityFileError as exc:
        _fail(str(exc))


@click.group()
def mappings() -> None:
    """Intake mappings: test a MAPPING file on a SAMPLE batch."""


def test_mapping(mapping: str, sample: str) -> None:
    """Show what each item of SAMPLE becomes under MAPPING (one TableEvent as JSON per line),
    or why it is refused (exit 2)."""
    try:
        loaded = load_mapping(mapping)
        body = Path(sample).read_bytes()
    except SecurityFileError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"Error: {exc.filename}: {exc.strerror}")
    translator = Translator("test", {loaded.format: loaded}, _TEST_KEY)
    try:
        outcomes = translator.translate(loaded.format, body, int(time.time() * 1000), False)
    except BatchRefused as exc:
        _fail(f"{sample}: refused: {exc}")
    for outcome in outcomes:
        if outcome.reason is None:
            print(json.dumps(outcome.event, sort_keys=True), flush=True)
        else:
            print(f"{sample}: item {outcome.index + 1} refused: {outcome.reason}", flush=True)
    if any(o.reason for o in outcomes):
        raise SystemExit(COULD_NOT_RUN)


mappings.add_command(
    click.Command(
        "test",
        callback=test_mapping,
        params=[
            click.Argument(["mapping"], type=click.Path(dir_okay=False)),
            click.Argument(["sample"], type=click.Path(dir_okay=False)),
        ],
        help=test_mapping.__doc__,
    )
)
cli.add_command(mappings)
