"""PITBOSS_LOG_FORMAT=json: one JSON object per line, with the worker id and the call's extras."""

from __future__ import annotations

import logging
import sys

import orjson
import pytest

from app.metrics.logs import JsonFormatter, logging_config
from app.settings import Settings


def test_a_line_is_one_object_with_the_worker_id_and_the_extras():
    record = logging.makeLogRecord(
        {"name": "agents.decide", "levelname": "WARNING", "msg": "retrying %s", "args": ("x",)}
    )
    record.partition, record.batch = 3, 17
    line = orjson.loads(JsonFormatter("pitboss-0").format(record))
    assert line["message"] == "retrying x" and line["level"] == "WARNING"
    assert (line["worker_id"], line["partition"], line["batch"]) == ("pitboss-0", 3, 17)
    assert line["ts"].endswith("Z") and "args" not in line and "msg" not in line


def test_an_exception_is_inside_the_object():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    text = JsonFormatter("w").format(record)
    assert "\n" not in text and "RuntimeError: boom" in orjson.loads(text)["exc"]


def test_the_setting_chooses_the_config_and_refuses_anything_else():
    assert logging_config("text", "w") is None
    config = logging_config("json", "w")
    assert config["merge"] and set(config["formatters"]) == {"default", "colored"}
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"PITBOSS_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ValueError, match="PITBOSS_LOG_FORMAT must be one of text, json"):
        Settings.from_env({"PITBOSS_LOG_FORMAT": "xml"})
