"""Secrets never printed: what ``show-settings`` and every log record pass text through first."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host  (kafka://, postgresql://, http(s)://, ...)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+(@)"), rf"\1{MASK}\2"),
    # password=..., sslpassword: ..., SASL_PASSWORD=..., access_token=..., api_key=...
    # (query strings, libpq conninfo, environment and settings listings)
    (
        re.compile(
            r"(?i)\b([\w.-]*(?:password|passwd|secret|token|api[_-]?key))"
            r"(\s*[=:]\s*)(?:'[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)"
        ),
        rf"\1\2{MASK}",
    ),
    # Authorization: Bearer <anything>
    (re.compile(r"(?i)\b(bearer\s+)\S+"), rf"\1{MASK}"),
    # a bare JWT (three base64url parts, the first a JSON header)
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    # an API key keeps its public id, loses its secret
    (re.compile(r"\b(pbk_[A-Za-z0-9]+_)[A-Za-z0-9_-]+"), rf"\1{MASK}"),
)


def mask_secrets(text: str) -> str:
    """``text`` with passwords in URLs, ``password=``-style values, bearer tokens, JWTs and API
    key secrets replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _MaskingRecordFactory:
    """Wraps the log record factory: a record whose message holds a secret gets it masked."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format: logging reports it when the record is emitted
            return record
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return record


def mask_log_records() -> None:
    """From now on every log line of the process (ours, Faust's, aiokafka's; text or JSON) has
    its message masked, whatever handler or formatter prints it. Idempotent."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _MaskingRecordFactory):
        logging.setLogRecordFactory(_MaskingRecordFactory(factory))
