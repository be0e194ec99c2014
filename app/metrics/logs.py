"""JSON log lines (``PITBOSS_LOG_FORMAT=json``): one object per line with the time, level,
logger, message and the worker id, plus whatever the call passed in ``extra=`` (``partition``,
``batch``, ...). The standard library's Formatter and orjson are enough for this: a log
aggregator needs one parseable object per line, nothing a library would add."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

#: Attributes every LogRecord has; anything else on a record came in through ``extra=``.
STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``worker_id`` on each; times in UTC."""

    converter = time.gmtime

    def __init__(self, worker_id: str = "") -> None:
        super().__init__()
        self.worker_id = worker_id

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "worker_id": self.worker_id,
        }
        line.update((k, v) for k, v in record.__dict__.items() if k not in STANDARD)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def logging_config(log_format: str, worker_id: str) -> dict[str, Any] | None:
    """Faust's ``logging_config`` for ``log_format``: None (Faust's own text lines) or the
    JSON formatter in place of the formatters Faust's handlers use (merged into its config)."""
    if log_format == "text":
        return None
    json_formatter = {"()": JsonFormatter, "worker_id": worker_id}
    return {
        "version": 1,
        "merge": True,
        "formatters": {"default": json_formatter, "colored": json_formatter},
    }
