"""The endpoints file: a valid one is read whole; every mistake names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.delivery.config import load_endpoints
from app.security.documents import SecurityFileError

VALID = """\
endpoints:
  crm:
    url: https://crm.example/hooks/pitboss
    topics: [rewards, journal]
    filter: {kinds: [CASHBACK_OFFER], decisions: [REWARD_ISSUED]}
    template: '{"player": {{ player_id|tojson }}, "id": {{ id|tojson }}}'
    auth: {header: {name: X-Api-Key, value_file: crm.key}}
    signing_secret_file: crm.hmac
    timeout: 5
    retry: {attempts: 4, first_delay: 0.25, max_delay: 10}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "crm.key").write_text("key-123\n")
    (tmp_path / "crm.hmac").write_text("shared-secret\n")
    path = tmp_path / "endpoints.yaml"
    path.write_text(text)
    return path


def problems(path: Path, use: str = "webhooks") -> list[str]:
    with pytest.raises(SecurityFileError) as caught:
        load_endpoints(path, use)
    return [str(p) for p in caught.value.problems]


def test_a_valid_file_is_read_with_its_secrets_and_defaults(tmp_path):
    (crm,) = load_endpoints(write(tmp_path, VALID), "webhooks")
    assert (crm.name, crm.method, crm.topics) == ("crm", "POST", ("rewards", "journal"))
    assert crm.filter.kinds == {"CASHBACK_OFFER"} and crm.filter.rules is None
    assert crm.auth_header == ("X-Api-Key", "key-123")
    assert crm.signing_secret == b"shared-secret"
    assert (crm.timeout, crm.retry.attempts, crm.retry.max_delay) == (5.0, 4, 10.0)
    assert crm.content_type == "application/json" and crm.oauth2 is None


def test_an_unknown_reward_kind_is_named_with_its_line_and_a_hint(tmp_path):
    path = write(tmp_path, VALID.replace("[CASHBACK_OFFER]", "[CASHBAK_OFFER]"))
    (found,) = problems(path)
    assert str(path) in found and ":5" in found
    assert "endpoints.crm.filter.kinds[0]" in found
    assert "did you mean 'CASHBACK_OFFER'" in found


def test_a_template_that_does_not_compile_is_refused_with_its_field(tmp_path):
    path = write(tmp_path, VALID.replace("{{ id|tojson }}}", "{{ id|tojson }"))
    (found,) = problems(path)
    assert "endpoints.crm.template" in found and "does not compile" in found and ":6" in found


def test_an_unreadable_secret_file_and_an_unknown_field_are_both_reported(tmp_path):
    path = write(tmp_path, VALID.replace("crm.hmac", "missing.hmac").replace("timeout", "timout"))
    found = "\n".join(problems(path))
    assert "endpoints.crm.timout" in found and "did you mean 'timeout'" in found
    # the schema's problems come first: fixed, the file's next problem is the secret
    path = write(tmp_path, VALID.replace("crm.hmac", "missing.hmac"))
    (found,) = problems(path)
    assert "endpoints.crm.signing_secret_file" in found and "missing.hmac" in found


def test_a_webhook_must_name_its_topics_and_reads_no_answer(tmp_path):
    text = VALID.replace("    topics: [rewards, journal]\n", "") + (
        "    answer: {field: status, states: {OK: credited}}\n"
    )
    found = "\n".join(problems(write(tmp_path, text)))
    assert "names no topics" in found and "only fulfilment adapters read the answer" in found


FULFIL = """\
endpoints:
  wallet:
    url: http://127.0.0.1:9/credit
    filter: {kinds: [CASHBACK_OFFER, FREE_SIDE_BET]}
    auth:
      oauth2:
        token_url: 'http://127.0.0.1:9/token'
        client_id: pitboss
        client_secret_file: crm.key
    answer: {field: state, states: {DONE: credited, OFFERED: claimable}}
  bonus:
    url: http://127.0.0.1:9/bonus
    filter: {kinds: [FREE_SIDE_BET]}
"""


def test_a_fulfilment_adapter_reads_rewards_and_one_adapter_credits_a_kind(tmp_path):
    found = "\n".join(problems(write(tmp_path, FULFIL), "fulfil"))
    assert "endpoints.bonus.filter.kinds[0]" in found
    assert "FREE_SIDE_BET is credited by wallet already" in found
    text = FULFIL.replace("[FREE_SIDE_BET]}", "[WHEEL_SPIN]}\n    topics: [journal]")
    (found,) = problems(write(tmp_path, text), "fulfil")
    assert "endpoints.bonus.topics" in found and "reads rewards only" in found


def test_a_fulfilment_adapter_gets_rewards_its_kinds_and_oauth2(tmp_path):
    text = FULFIL.replace("[FREE_SIDE_BET]}", "[WHEEL_SPIN]}")
    wallet, bonus = load_endpoints(write(tmp_path, text), "fulfil")
    assert wallet.topics == bonus.topics == ("rewards",)
    assert wallet.oauth2 is not None and wallet.oauth2.client_secret == "key-123"
    assert wallet.answer_field == "state" and wallet.answer_states["OFFERED"] == "claimable"
    text = FULFIL.replace("    filter: {kinds: [FREE_SIDE_BET]}\n", "")
    (found,) = problems(write(tmp_path, text), "fulfil")
    assert "endpoints.bonus" in found and "needs filter.kinds" in found


def test_the_rg_team_can_subscribe_to_rg_alerts_and_an_unknown_topic_is_refused(tmp_path):
    desk = "  rg-desk:\n    url: https://rg.example/pitboss\n    topics: [rg-alerts]\n"
    _, rg_desk = load_endpoints(write(tmp_path, VALID + desk), "webhooks")
    assert rg_desk.topics == ("rg-alerts",)
    path = write(tmp_path, VALID + desk.replace("[rg-alerts]", "[rg_alert]"))
    (found,) = problems(path)
    assert "endpoints.rg-desk.topics[0]" in found
