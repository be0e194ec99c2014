"""What an endpoint is sent for a record: the body (the endpoint's template, or the record as
JSON) and the headers that make it safe to receive: the record's id as the idempotency key
(receivers de-duplicate on it: delivery is at least once) and, where the endpoint has a
signing secret, an HMAC-SHA256 signature over the body with a timestamp, the same scheme the
intake checks on what studios send (``app.intake.sources.sign``)."""

from __future__ import annotations

import orjson
from jinja2 import TemplateError

from app.delivery.config import Endpoint
from app.intake.sources import SIGNATURE_HEADER, sign

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: The record's id field on each topic: what a receiver de-duplicates on.
RECORD_IDS = {
    "rewards": "reward_id",
    "cooldowns": "cooldown_id",
    "journal": "entry_id",
    "rg-alerts": "alert_id",
}


class PayloadError(ValueError):
    """The endpoint's template cannot make a body of this record: a dead letter, not a retry."""


def record_id(topic: str, record: dict) -> str:
    return record[RECORD_IDS[topic]]


def body(endpoint: Endpoint, topic: str, record: dict) -> bytes:
    """The body for ``record``: by default ``{"type": topic, "id": …, "record": {…}}``; with
    a template, what it renders from the record's fields plus ``topic``, ``id`` and
    ``record``. A JSON content type must render JSON."""
    the_id = record_id(topic, record)
    if endpoint.template is None:
        return orjson.dumps({"type": topic, "id": the_id, "record": record})
    try:
        text = endpoint.template.render({**record, "topic": topic, "id": the_id, "record": record})
    except TemplateError as exc:
        raise PayloadError(f"the template cannot render this record: {exc}") from None
    if endpoint.content_type.split(";")[0].strip().endswith("json"):
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise PayloadError(f"the template did not render JSON: {exc}") from None
    return text.encode()


def headers(endpoint: Endpoint, the_id: str, data: bytes, now_s: float) -> dict[str, str]:
    """The headers of one attempt (a signature is made afresh, with the attempt's time)."""
    out = {**endpoint.headers, "Content-Type": endpoint.content_type, IDEMPOTENCY_HEADER: the_id}
    if endpoint.signing_secret is not None:
        out[SIGNATURE_HEADER] = sign(endpoint.signing_secret, int(now_s), data)
    return out
