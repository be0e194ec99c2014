#!/usr/bin/env python
"""Create and inspect Pitboss's Kafka topics.

    python scripts/topics.py create            # every topic, with partitions and configs
    python scripts/topics.py describe [NAME..] # partitions and configs (default: ours)
    python scripts/topics.py list [--all]      # topic names on the broker

Exit codes: 0 fine; 1 a topic exists with the wrong partition count (or a topic is
missing, for ``describe``); 2 the broker could not be reached or refused a request.
Brokers, topic names and partition counts come from the environment (app/settings.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from app.operations.admin import (
    AdminError,
    TopicMismatchError,
    describe_topics,
    ensure_topics,
    list_topics,
)
from app.operations.topics import topic_specs
from app.settings import Settings

log = logging.getLogger("pitboss.topics")


async def _create(settings: Settings, timeout: float) -> int:
    log.info(
        "ensuring %d topics on %s", len(topic_specs(settings)), ",".join(settings.bootstrap_servers)
    )
    results = await ensure_topics(settings, strict=False, timeout=timeout)
    created = sum(r.outcome == "created" for r in results)
    existing = sum(r.outcome == "exists" for r in results)
    bad = [r for r in results if not r.ok]
    log.info(
        "%d created, %d already there, %d with the wrong partition count",
        created,
        existing,
        len(bad),
    )
    return 1 if bad else 0


async def _describe(settings: Settings, names: list[str]) -> int:
    infos = await describe_topics(settings, names or None)
    wanted = {s.name: s for s in topic_specs(settings)}
    missing = 0
    width = max(len(i.name) for i in infos) if infos else 10
    for info in infos:
        if not info.exists:
            missing += 1
            print(f"{info.name:<{width}}  MISSING")
            continue
        spec = wanted.get(info.name)
        note = ""
        if spec and spec.partitions != info.partitions:
            note = f"  (wanted {spec.partitions} partitions)"
        configs = (
            "configs not available"
            if info.configs is None
            else ", ".join(f"{k}={v}" for k, v in sorted(info.configs.items())) or "defaults"
        )
        print(f"{info.name:<{width}}  {info.partitions:>3} partitions  {configs}{note}")
    return 1 if missing else 0


async def _list(settings: Settings, include_internal: bool) -> int:
    for name in await list_topics(settings, include_internal=include_internal):
        print(name)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create every topic that does not exist yet")
    create.add_argument("--timeout", type=float, default=30.0)
    describe = sub.add_parser("describe", help="partitions and configs per topic")
    describe.add_argument("names", nargs="*", help="topics (default: Pitboss's own)")
    lst = sub.add_parser("list", help="topic names on the broker")
    lst.add_argument("--all", action="store_true", help="include internal (__) topics")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s topics: %(message)s")
    settings = Settings.from_env()
    try:
        if args.command == "create":
            return asyncio.run(_create(settings, args.timeout))
        if args.command == "describe":
            return asyncio.run(_describe(settings, args.names))
        return asyncio.run(_list(settings, args.all))
    except TopicMismatchError as exc:  # pragma: no cover - strict=False above
        log.error("%s", exc)
        return 1
    except AdminError as exc:
        log.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
