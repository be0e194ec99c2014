"""Baseline (2): the loss-streak work the stock Faust way, for ``scripts/bench/``.

One agent iterates the stream an event at a time and writes a RocksDB-backed table per
event that changes a streak (each write also goes to the changelog), which is what Faust's
documentation shows and what Pitboss's micro-batches replace. Only what the local broker
needs differs from Faust's defaults: a 6 s session (a ~1 s join instead of ~30 s) and no
web server. Configured by ``BENCH_*`` variables; run as
``faust -A scripts.bench.faust_stock worker``.
"""

from __future__ import annotations

import os
from pathlib import Path

import faust
from faust.types import StreamT

from app.contract.codec import AvroCodec
from app.security.kafka import faust_broker_credentials
from app.security.settings import KafkaSecurity
from scripts.bench.common import Tally, loss_streak, offer_value

env = os.environ
partitions = int(env["BENCH_PARTITIONS"])

app = faust.App(
    env["BENCH_APP_ID"],
    broker=env["BENCH_BROKER"],
    broker_credentials=faust_broker_credentials(KafkaSecurity.from_env(env)),
    store="rocksdb://",
    datadir=env["BENCH_DATA_DIR"],
    topic_partitions=partitions,
    topic_allow_declare=True,
    broker_session_timeout=6.0,
    broker_heartbeat_interval=2.0,
    stream_wait_empty=False,
    web_enabled=False,
    autodiscover=False,
)
raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
source = app.topic(env["BENCH_INPUT"], **raw)
offers = app.topic(env["BENCH_OUTPUT"], **raw)
streaks = app.Table("loss-streaks", default=None, partitions=partitions, key_type=bytes)
decode = AvroCodec("TableEvent").decode
tally = Tally(int(env["BENCH_EXPECT"]), Path(env["BENCH_RESULT"]))


@app.agent(source)
async def decide(stream: StreamT) -> None:
    async for key, value in stream.items():
        event = decode(value)
        step = loss_streak(streaks.get(key), event)
        if step is not None:
            if step.streak is None:
                del streaks[key]
            else:
                streaks[key] = list(step.streak)
            if step.offer is not None:
                await offers.send(key=key, value=offer_value(event, step.offer))
        tally.seen(step is not None and step.offer is not None)
