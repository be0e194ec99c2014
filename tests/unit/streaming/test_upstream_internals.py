"""Every private Faust, mode and aiokafka name app/streaming overrides or reads still exists
with the parameters it is used with, so an upgrade fails here rather than in a worker.

Pinned: faust-streaming 0.15.3, mode-streaming 0.7.1, aiokafka 0.14.0 (constraints.txt).
Each name is listed, with why it is used, in app/streaming/README.md.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

import faust
import mode
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.consumer.subscription_state import Assignment, SubscriptionState, TopicPartitionState
from aiokafka.producer.message_accumulator import BatchBuilder
from faust.channels import Channel
from faust.sensors.monitor import Monitor
from faust.serializers import codecs
from faust.stores.memory import Store as MemoryStore
from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables.base import Collection
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.transport import base
from faust.transport import consumer as faust_consumer
from faust.transport.conductor import Conductor
from faust.transport.drivers import aiokafka as driver
from mode.utils.queues import FlowControlQueue, ThrowableQueue

#: (owner, callable, its parameter names): the methods overridden or called.
SIGNATURES = [
    # app/streaming/consumer.py
    (driver.Consumer, "_new_consumer_thread", ["self"]),
    (driver.Consumer, "seek_to_committed", ["self"]),
    (driver.Consumer, "_new_offset", ["self", "tp"]),
    (driver.Consumer, "_drain_messages", ["self", "fetcher"]),
    (driver.Consumer, "_wait_next_records", ["self", "timeout"]),
    (driver.Consumer, "_add_gap", ["self", "tp", "offset_from", "offset_to"]),
    (driver.Consumer, "_to_message", ["self", "tp", "record"]),
    (driver.Consumer, "perform_seek", ["self"]),
    (driver.Consumer, "earliest_offsets", ["self", "partitions"]),
    (driver.Consumer, "highwater", ["self", "tp"]),
    (driver.Consumer, "commit", ["self", "topics", "start_new_transaction"]),
    (driver.Consumer, "wait_first", ["self", "coros", "timeout"]),
    (driver.AIOKafkaConsumerThread, "_create_worker_consumer", ["self", "transport"]),
    (driver.AIOKafkaConsumerThread, "seek", ["self", "partition", "offset"]),
    (driver.AIOKafkaConsumerThread, "getmany", ["self", "active_partitions", "timeout"]),
    (
        driver.AIOKafkaConsumerThread,
        "_fetch_records",
        ["self", "consumer", "active_partitions", "timeout", "max_records"],
    ),
    (driver.AIOKafkaConsumerThread, "call_thread", ["self", "fun", "args", "kwargs"]),
    (base.Transport, "__init__", ["self", "url", "app", "loop"]),
    (
        Channel,
        "__init__",
        [
            "self",
            "app",
            "schema",
            "key_type",
            "value_type",
            "is_iterator",
            "queue",
            "maxsize",
            "root",
            "active_partitions",
            "loop",
        ],
    ),
    (
        FlowControlQueue,
        "__init__",
        ["self", "maxsize", "flow_control", "clear_on_resume", "kwargs"],
    ),
    (ThrowableQueue, "clear", ["self"]),
    (Recovery, "need_recovery", ["self"]),
    (Recovery, "flush_buffers", ["self"]),
    (Recovery, "_set_recovery_ended", ["self"]),
    (Monitor, "track_tp_end_offset", ["self", "tp", "offset"]),
    (Conductor, "acks_enabled_for", ["self", "topic"]),
    (faust.utils.functional, "consecutive_numbers", ["it"]),
    (mode.utils.futures, "notify", ["fut", "result"]),
    # app/streaming/faust_app.py
    (faust.App, "_new_transport", ["self"]),
    # app/streaming/web.py (through faust_app.py)
    (faust.App, "_new_web", ["self"]),
    # app/streaming/pacing.py
    (Fetcher, "_proc_fetch_request", ["self", "assignment", "node_id", "request"]),
    # app/streaming/outbox.py
    (driver.Producer, "_ensure_producer", ["self"]),
    (AIOKafkaProducer, "create_batch", ["self"]),
    (AIOKafkaProducer, "send_batch", ["self", "batch", "topic", "partition"]),
    (BatchBuilder, "append", ["self", "timestamp", "key", "value", "headers"]),
    (BatchBuilder, "close", ["self"]),
    (BatchBuilder, "record_count", ["self"]),
    # app/streaming/batch_table.py
    (RocksDBStore, "_db_for_partition", ["self", "partition"]),
    (RocksDBStore, "set_persisted_offset", ["self", "tp", "offset"]),
    (MemoryStore, "set_persisted_offset", ["self", "tp", "offset"]),
    (Collection, "_changelog_topic_name", ["self"]),  # overridden: a contract's changelog
    (TableManager, "on_start", ["self"]),  # overridden: no sleep first
    (TableManager, "_update_channels", ["self"]),
    # app/streaming/diagnostics.py
    (driver.AIOKafkaConsumerThread, "_ensure_consumer", ["self"]),
    (Assignment, "state_value", ["self", "tp"]),
    # app/streaming/codecs.py
    (codecs.Codec, "__init__", ["self", "children", "kwargs"]),
    (codecs.Codec, "_dumps", ["self", "s"]),
    (codecs.Codec, "_loads", ["self", "s"]),
    (codecs, "register", ["name", "codec"]),
]


@pytest.mark.parametrize(
    ("owner", "name", "parameters"),
    SIGNATURES,
    ids=[f"{owner.__name__}.{name}" for owner, name, _ in SIGNATURES],
)
def test_a_used_upstream_callable_keeps_its_parameters(owner, name, parameters):
    assert list(inspect.signature(getattr(owner, name)).parameters) == parameters


def assigned_on_self(function: Callable[..., Any]) -> set[str]:
    """The ``self.<name>`` attributes ``function``'s source assigns."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }


#: (where the attribute is set, the attributes read or written through it)
ASSIGNED = [
    (
        faust_consumer.Consumer.__init__,
        {
            "_gap",
            "_acked",
            "_acked_index",
            "_read_offset",
            "_committed_offset",
            "_unacked_messages",
            "_waiting_for_ack",
            "_commit_every",
            "callback",
            "suspend_flow",
        },
    ),
    (faust_consumer.Consumer._reset_state, {"_active_partitions", "_paused_partitions"}),
    (driver.Consumer.__init__, {"_thread"}),
    (Channel.__init__, {"_queue"}),
    (Recovery.__init__, {"active_tps", "tp_to_table", "active_offsets"}),
    (mode.Service.__init__, {"_stopped"}),
    (AIOKafkaConsumer.__init__, {"_fetcher", "_subscription", "_max_poll_records"}),
    (TopicPartitionState.__init__, {"_position", "_status", "_reset_strategy"}),
    (MemoryStore.__post_init__, {"data"}),
]


@pytest.mark.parametrize(
    ("function", "attributes"), ASSIGNED, ids=[f.__qualname__ for f, _ in ASSIGNED]
)
def test_a_used_upstream_attribute_is_still_set(function, attributes):
    assert attributes <= assigned_on_self(function)


def test_used_upstream_class_attributes_and_properties_exist():
    assert faust_consumer.Consumer._n_acked == 0
    assert faust_consumer.Consumer.flow_active is True
    assert driver.Consumer.consumer_stopped_errors
    assert driver.Transport.Consumer is driver.Consumer
    assert isinstance(inspect.getattr_static(Channel, "queue"), property)
    assert isinstance(inspect.getattr_static(Recovery, "signal_recovery_end"), property)
    assert isinstance(inspect.getattr_static(Recovery, "in_recovery"), bool)
    assert isinstance(inspect.getattr_static(TableManager, "changelog_topics"), property)
    assert isinstance(inspect.getattr_static(TableManager, "recovery"), property)
    assert isinstance(inspect.getattr_static(SubscriptionState, "subscription"), property)
    assert isinstance(inspect.getattr_static(TopicPartitionState, "paused"), property)
    assert isinstance(codecs.codecs, dict)
    codec = codecs.Codec()
    assert codec.children == () and codec.kwargs == {}


def test_the_ack_lock_is_a_lock():
    from faust.types.tuples import ack_lock

    with ack_lock:
        pass


def test_an_unstarted_aiokafka_consumer_has_the_fetcher_slot_pacing_fills():
    async def build() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9")

    consumer = asyncio.run(build())
    assert consumer._fetcher is None  # set by start(); start_paced wraps it after
    assert consumer._subscription.subscription is None


def test_the_batch_tables_keywords_are_faust_tables():
    table = set(inspect.signature(Collection.__init__).parameters)
    assert {"name", "default", "partitions", "key_type", "value_type", "help", "options"} <= table
    assert "beacon" in inspect.signature(mode.Service.__init__).parameters  # via **kwargs
