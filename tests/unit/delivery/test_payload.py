"""Bodies and headers: the default body, templates, the idempotency key and the signature."""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest

from app.delivery.config import _TEMPLATES, Endpoint, Filter, Retry
from app.delivery.payload import IDEMPOTENCY_HEADER, PayloadError, body, headers, record_id
from app.intake.sources import SIGNATURE_HEADER, Source, Sources

REWARD = {
    "reward_id": "rw-9",
    "player_id": "p-1",
    "kind": "CASHBACK_OFFER",
    "amount": 500,
    "currency": "EUR",
}


def endpoint(template: str | None = None, content_type: str = "application/json", secret=None):
    return Endpoint(
        name="crm",
        url="http://127.0.0.1:9/",
        method="POST",
        topics=("rewards",),
        filter=Filter(),
        template=_TEMPLATES.from_string(template) if template else None,
        content_type=content_type,
        headers={"X-Tenant": "riga"},
        auth_header=None,
        oauth2=None,
        signing_secret=secret,
        timeout=1.0,
        retry=Retry(),
    )


def test_the_default_body_is_the_record_with_its_type_and_id():
    sent = orjson.loads(body(endpoint(), "rewards", REWARD))
    assert sent == {"type": "rewards", "id": "rw-9", "record": REWARD}
    assert record_id("journal", {"entry_id": "je-1"}) == "je-1"
    assert record_id("rg-alerts", {"alert_id": "je-2"}) == "je-2"


def test_a_template_renders_the_records_fields_escaped_as_json():
    template = '{"player": {{ player_id|tojson }}, "cents": {{ amount }}, "key": {{ id|tojson }}}'
    tricky = {**REWARD, "player_id": 'p-"1"</x>'}
    sent = orjson.loads(body(endpoint(template), "rewards", tricky))
    assert sent == {"player": 'p-"1"</x>', "cents": 500, "key": "rw-9"}


def test_a_template_naming_a_missing_field_or_rendering_bad_json_is_a_payload_error():
    with pytest.raises(PayloadError, match="'nope' is undefined"):
        body(endpoint('{"x": {{ nope }}}'), "rewards", REWARD)
    with pytest.raises(PayloadError, match="did not render JSON"):
        body(endpoint("player {{ player_id }}"), "rewards", REWARD)
    plain = endpoint("player {{ player_id }}", content_type="text/plain")
    assert body(plain, "rewards", REWARD) == b"player p-1"


def test_the_sandbox_keeps_a_template_away_from_python():
    with pytest.raises(PayloadError):
        body(endpoint("{{ record.__class__.__mro__ }}"), "rewards", REWARD)


def test_headers_carry_the_id_and_a_signature_the_intakes_verifier_accepts():
    data = body(endpoint(), "rewards", REWARD)
    sent = headers(endpoint(secret=b"s3cret"), "rw-9", data, 1_700_000_000.5)
    assert sent[IDEMPOTENCY_HEADER] == "rw-9" and sent["X-Tenant"] == "riga"
    t, v1 = (part.split("=", 1)[1] for part in sent[SIGNATURE_HEADER].split(","))
    expected = hmac.new(b"s3cret", f"{t}.".encode() + data, hashlib.sha256).hexdigest()
    assert (t, v1) == ("1700000000", expected)
    verifier = Sources({"crm": Source("crm", {}, (), b"s3cret")}, tolerance_s=300)
    crm, signature = verifier.sources["crm"], sent[SIGNATURE_HEADER]
    assert verifier._signed(crm, signature, data, 1_700_000_010)
    assert not verifier._signed(crm, signature, data + b" ", 1_700_000_010)
    assert SIGNATURE_HEADER not in headers(endpoint(), "rw-9", data, 0)
