"""The broker goes away mid-stream and comes back: the same worker process reconnects by
itself, catches up, and decides every event exactly as the reference says.

What happens meanwhile (measured with noida-db and aiokafka 0.14): the worker stays up and
answers its health check, while guarded views refuse with 503 (every read is logged to Kafka
before it is served); aiokafka logs a connection error about every 100 ms and retries; a
batch whose outputs were in flight waits for their acknowledgement (Faust's producer request
timeout is 20 minutes), so nothing is dropped. When the broker is back, the heartbeat finds
the group gone (noida-db keeps groups in memory), the worker rejoins with its static id, the
offset commits of the outage fail (IllegalGeneration) and the records since the last good
commit are re-delivered: the applied offsets (``app.pipeline.keys.APPLIED``) recognise them.

Uses a broker of its own on a free port (the shared one must never be stopped).
"""

from __future__ import annotations

import time
from urllib.error import HTTPError

import pytest

from app.devtools.deployment import Deployment, get_json, wait_for
from app.devtools.localbroker import BrokerError, find_noida_db, temporary_broker
from tests.support.reference import (
    MissingOutputs,
    acknowledged_before_lost,
    settle_and_compare,
    simulated_stream,
    start_with_profiles,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

#: long enough for every client timeout of ours to fire at least once (session 6 s)
OUTAGE_SECONDS = 12
EVENTS = 4000


#: what Faust's recovery says of a store ahead of its changelog
LOST_CHANGELOG = "is higher\nthan the last offset in that topic (highwater)"


@pytest.fixture
def own_broker(tmp_path):
    try:
        find_noida_db()
    except BrokerError as exc:
        pytest.skip(str(exc))
    with temporary_broker(tmp_path / "broker") as broker:
        yield broker


@pytest.mark.parametrize("when", ["between-batches", "mid-stream"])
def test_the_worker_rides_out_a_broker_outage_and_loses_nothing(tmp_path, own_broker, when):
    """``between-batches``: the worker has decided and written everything sent so far when
    the broker stops. ``mid-stream``: it is deciding and publishing. Outputs missing at the
    end fail the test unless the worker's own record proves the broker had acknowledged
    them (then it is an xfail: noida-db lost them, see the conformance test)."""
    dep = Deployment.create(
        tmp_path / "state",
        PITBOSS_BROKER_URL=f"kafka://{own_broker.address}",
        PITBOSS_BATCH_MAX="100",
    )
    try:
        stream = simulated_stream(EVENTS)
        start_with_profiles(dep, stream, "survivor")
        worker = dep.workers[0]
        half = EVENTS // 2
        dep.produce_events(stream.events[:half])
        if when == "mid-stream":
            wait_for(
                lambda: dep.view("/pitboss/stats/")["totals"]["events"] >= half // 4,
                what="the worker deciding the first events",
            )
        else:  # everything decided and written: noida-db keeps what was written before
            dep.wait_caught_up(dep.settings.topics.table_events)
            dep.wait_quiet()

        # Every partition's end: a broker that loses records it acknowledged (Apache Kafka
        # does not) shows it here, as an end that went back across the restart.
        t = dep.settings.topics
        topics = [t.table_events, t.player_profiles, *dep.written_topics()]
        ends_before = dep.end_offsets(topics)
        own_broker.stop()
        down_at = time.monotonic()
        while time.monotonic() - down_at < OUTAGE_SECONDS:
            assert worker.alive(), f"the worker died in the outage:\n{worker.tail()}"
            assert get_json(dep.web_url + "/health") == {"status": "ok"}  # still serving
            time.sleep(1.0)
        # Every read is logged before it is served: with the access log out of reach, a
        # guarded view refuses (fail closed) instead of serving an unrecorded read.
        with pytest.raises(HTTPError) as refused:
            dep.view("/pitboss/stats/")
        assert refused.value.code == 503
        assert "Unable connect" in worker.log(), "the worker never noticed the outage"
        own_broker.start()
        ends_after = dep.end_offsets(topics)
        shrunk = {
            f"{tp.topic}[{tp.partition}]": f"{end} -> {ends_after.get(tp, 0)}"
            for tp, end in ends_before.items()
            if ends_after.get(tp, 0) < end
        }
        print(f"end offsets across the outage: {ends_before} -> {ends_after}")  # on failure

        dep.produce_events(stream.events[half:])
        try:
            outcome = settle_and_compare(dep)
        except MissingOutputs as exc:
            assert acknowledged_before_lost(dep, exc), f"the worker lost outputs: {exc}"
            pytest.xfail(
                f"the broker lost {len(exc.records)} {exc.schema} records it had acknowledged "
                "(the worker's applied offsets, written only after the acknowledgement, passed "
                "their events): noida-db loses acknowledged writes around a stop and start "
                "under load (test_broker_conformance.py::"
                "test_acknowledged_writes_survive_a_stop_under_load)"
            )
        except AssertionError:
            if shrunk:
                # Inputs the worker had decided vanished (and their offsets went to new
                # records, which the applied offsets take for re-deliveries), or outputs
                # and state records did: the reference, replayed from what is left, then
                # disagrees with what the worker decided from what was there.
                pytest.xfail(
                    "the broker lost records it had acknowledged and reused their offsets "
                    f"(end offsets across the restart: {shrunk}); noida-db drops the last "
                    "batches it acknowledged before a stop (test_broker_conformance.py::"
                    "test_acknowledged_writes_survive_a_stop_under_load)"
                )
            # The same loss can hit a changelog: Faust then refuses to recover a store that
            # is ahead of its changelog rather than run on it, and the worker stops.
            if worker.alive() or LOST_CHANGELOG not in worker.log():
                raise
            pytest.xfail(
                "the broker lost changelog records it had acknowledged, so the worker's "
                "recovery after the rejoin found its store ahead of the changelog and stopped "
                "(Faust's ConsistencyError): noida-db loses acknowledged writes around a stop "
                "and start under load; a real Kafka with acks=all and replication keeps them"
            )
        assert dep.workers == [worker] and worker.alive(), "the same process, never restarted"
        assert outcome.players >= 40 and outcome.distinct_entries > 500, outcome
    finally:
        dep.stop_all()
