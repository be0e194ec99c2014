"""Baseline (3): the loss-streak work as a Quix Streams app with RocksDB state.

``sdf.apply(..., stateful=True)`` keeps each player's streak in Quix's RocksDB store (with
its changelog topic), keyed by the record key as Quix does; offers go to the output topic.
Configured by ``BENCH_*`` variables; run by ``scripts/bench/`` as
``python -m scripts.bench.quix``.
"""

from __future__ import annotations

import os
from pathlib import Path

from quixstreams import Application, State

from app.contract.codec import AvroCodec
from scripts.bench.common import Tally, loss_streak, offer_value

KEY = "streak"


def main() -> None:
    env = os.environ
    app = Application(
        broker_address=env["BENCH_BROKER"].split("://", 1)[-1],
        consumer_group=env["BENCH_APP_ID"],
        auto_offset_reset="earliest",
        state_dir=env["BENCH_DATA_DIR"],
        loglevel="INFO",
    )
    source = app.topic(env["BENCH_INPUT"], key_deserializer="bytes", value_deserializer="bytes")
    sink = app.topic(env["BENCH_OUTPUT"], key_serializer="bytes", value_serializer="bytes")
    decode = AvroCodec("TableEvent").decode
    tally = Tally(int(env["BENCH_EXPECT"]), Path(env["BENCH_RESULT"]))

    def decide(value: bytes, state: State) -> bytes | None:
        event = decode(value)
        step = loss_streak(state.get(KEY), event)
        offer = None
        if step is not None:
            if step.streak is None:
                state.delete(KEY)
            else:
                state.set(KEY, step.streak)
            if step.offer is not None:
                offer = offer_value(event, step.offer)
        tally.seen(offer is not None)
        return offer

    sdf = app.dataframe(source)
    sdf = sdf.apply(decide, stateful=True).filter(lambda offer: offer is not None)
    sdf.to_topic(sink)
    app.run()


if __name__ == "__main__":
    main()
