"""Privacy in the batch procedure: keyed pseudonyms, an e-mail id refused without being kept,
the requester on the erasure marker, every leaderboard told to drop the erased player, and
the records of a known player sealed under their secret (an erased player's never)."""

from __future__ import annotations

import logging

import pytest

from app.contract.codec import AvroCodec
from app.core.ids import pseudonym
from app.leaderboards.board import ERASURE_KEY as BOARD_ERASURE_KEY
from app.leaderboards.board import BadScore, encode_score, parse_erasure
from app.pipeline.ingest import PERSONAL_ID, RawRecord, partition_for
from app.pipeline.keys import ERASED
from app.pipeline.plan import OutputCodecs, needs_secrets, output_plan
from app.security.player_keys import Sealer, unseal
from tests.support.factories import ERASURE_KEY, natural, profile, settled
from tests.unit.pipeline.records import PARTITIONS, TOPICS, Log
from tests.unit.pipeline.test_batch import ENGINE, NOW, T0, Tables, X, decisions

EMAIL = "jane.doe@example.com"


def test_a_pseudonym_is_keyed_stable_and_not_the_id():
    one = pseudonym("p-000001", ERASURE_KEY)
    assert one == pseudonym("p-000001", ERASURE_KEY)
    assert one != pseudonym("p-000001", b"another-key-of-enough-length-0123456789")
    assert one != pseudonym("p-000002", ERASURE_KEY)
    assert "p-000001" not in one and len(one) == 32


def test_an_email_as_player_id_is_refused_without_keeping_it_anywhere():
    event = natural(player_id=EMAIL, occurred_at=T0)
    record = RawRecord(
        TOPICS.table_events, 0, 0, EMAIL.encode(), AvroCodec("TableEvent").encode(event), T0
    )
    result = Tables().run([record])
    [(key, letter)] = result.dead_letters
    assert key == letter["key"] == pseudonym(EMAIL, ERASURE_KEY).encode()
    assert letter["value"] is None and letter["reason"].startswith(PERSONAL_ID)
    [rejected] = result.journal
    assert rejected["decision"] == "EVENT_REJECTED" and rejected["player_id"] is None
    published = output_plan(result, OutputCodecs(), Sealer({}, ERASURE_KEY), PARTITIONS)
    assert {o.role for o in published} == {"dead_letters", "journal"}
    for output in published:  # neither the key nor the encoded value holds the address
        assert EMAIL.encode() not in (output.key or b"") + (output.value or b"")
        assert b"jane.doe" not in (output.value or b"")


def test_the_same_email_is_refused_alike_on_a_replay():
    event = natural(player_id=EMAIL, occurred_at=T0)
    value = AvroCodec("TableEvent").encode(event)
    record = RawRecord(TOPICS.table_events, 0, 0, EMAIL.encode(), value, T0)
    assert Tables().run([record]).journal == Tables().run([record]).journal


def test_erasure_names_its_requester_logs_a_pseudonym_and_clears_every_board(caplog):
    tables = Tables()
    log = Log()
    log.event(natural(player_id=X, occurred_at=T0))
    log.forget(X, T0 + 1, by="dpo@casino")
    with caplog.at_level(logging.INFO, logger="app.pipeline.batch"):
        result = tables.run(log.records)
    [erased] = decisions(result, "PLAYER_ERASED")
    assert erased["details"] == {"requested_by": "dpo@casino"}
    marker = pseudonym(X, ERASURE_KEY)
    assert tables.key(0, ERASED) == [marker]
    assert marker in caplog.text and X not in caplog.text
    erasures = result.leaderboard_erasures
    assert sorted(p for _, _, p in erasures) == list(range(PARTITIONS))
    assert {parse_erasure(value) for key, value, _ in erasures if key == BOARD_ERASURE_KEY} == {X}
    sealer = Sealer({X: b"s" * 32}, ERASURE_KEY)
    plan = output_plan(result, OutputCodecs(), sealer, PARTITIONS)
    plan = [o for o in plan if o.role == "leaderboard_scores"]
    scores = [encode_score(*s)[0] for s in result.decisions.scores]
    # the player's last scores first, then the order to drop them, on every partition
    assert [o.key for o in plan] == [*scores, *[BOARD_ERASURE_KEY] * PARTITIONS]
    assert [o.partition for o in plan[len(scores) :]] == list(range(PARTITIONS))


def test_an_erasure_without_a_requester_still_erases():
    log = Log()
    log.forget(X, T0)
    [erased] = decisions(Tables().run(log.records), "PLAYER_ERASED")
    assert erased["details"] == {}


def test_a_failure_log_line_names_the_pseudonym(caplog, monkeypatch):
    tables = Tables()
    log = Log()
    log.event(natural(player_id=X, occurred_at=T0))

    def boom(*_args, **_kwargs):
        raise RuntimeError("core failed")

    monkeypatch.setattr(ENGINE, "decide", boom)
    with caplog.at_level(logging.ERROR, logger="app.pipeline.batch"):
        result = tables.run(log.records, now_ms=NOW)
    assert [pid for pid, _ in result.player_letters] == [X]
    assert pseudonym(X, ERASURE_KEY) in caplog.text and X not in caplog.text


@pytest.mark.parametrize("value", [b"", b"[]", b'{"erase": 3}', b"{"])
def test_a_malformed_board_erasure_is_a_bad_record(value):
    with pytest.raises(BadScore):
        parse_erasure(value)


def test_a_consent_change_is_journaled_dated_with_its_old_and_new_value_and_source():
    tables = Tables()
    log = Log()
    both = [
        {"product": "casino", "channel": "widget", "granted": True},
        {"product": "casino", "channel": "email", "granted": True},
    ]
    log.profile(X, profile(X, consents=both, updated_at=T0), T0)
    first = decisions(tables.run(log.records), "CONSENT_CHANGED")
    assert [(e["details"]["channel"], e["details"]["from"], e["details"]["to"]) for e in first] == [
        ("email", "none", "granted"),
        ("widget", "none", "granted"),
    ]
    assert {e["details"]["source"] for e in first} == {TOPICS.player_profiles}
    assert {e["event_time"] for e in first} == {T0}
    withdrawn = [both[0], {**both[1], "granted": False}]
    later = Log()
    later._offsets = dict(log._offsets)
    later.profile(X, profile(X, consents=withdrawn, updated_at=T0 + 60_000), T0 + 60_000)
    later.profile(X, profile(X, consents=withdrawn, updated_at=T0 + 120_000), T0 + 120_000)
    later.profile(X, None, T0 + 180_000)  # a deleted profile is no withdrawal
    [change] = decisions(tables.run(later.records), "CONSENT_CHANGED")
    assert change["player_id"] == X and change["event_time"] == T0 + 60_000
    assert change["details"] == {
        "product": "casino",
        "channel": "email",
        "from": "granted",
        "to": "withdrawn",
        "source": TOPICS.player_profiles,
    }
    assert change["reason"] == "consent for casino by email: granted -> withdrawn"


def test_an_erased_players_profile_is_neither_kept_nor_journaled():
    tables = Tables()
    log = Log()
    log.forget(X, T0)
    log.profile(X, profile(X, updated_at=T0 + 1), T0 + 1)
    result = tables.run(log.records)
    assert not decisions(result, "CONSENT_CHANGED")
    assert result.profiles[0][X.encode()] is None


def test_a_consent_change_reads_back_through_the_journal_schema():
    log = Log()
    log.profile(X, profile(X, updated_at=T0), T0)
    [entry, *_] = decisions(Tables().run(log.records), "CONSENT_CHANGED")
    codec = AvroCodec("JournalEntry")
    assert codec.decode(codec.encode(entry))["decision"] == "CONSENT_CHANGED"


def _invalid(player_id: str, at: int) -> dict:
    bad = settled("WIN", player_id=player_id, occurred_at=at)
    bad["settlement"]["payout_minor"] = -1
    return bad


def test_an_invalid_event_of_a_known_player_is_sealed_under_their_secret():
    log = Log()
    bad = log.event(_invalid(X, T0))
    result = Tables().run(log.records)
    [(player, letter)] = result.player_letters
    assert player == X and not result.dead_letters and letter["error"] == "INVALID"
    [rejected] = result.journal
    assert rejected["decision"] == "EVENT_REJECTED" and rejected["player_id"] == X
    sealer = Sealer({X: b"s" * 32}, ERASURE_KEY)
    published = output_plan(result, OutputCodecs(), sealer, PARTITIONS)
    assert {o.role for o in published} == {"dead_letters", "journal"}
    for output in published:
        assert X.encode() not in (output.key or b"") + (output.value or b"")
        assert output.partition == partition_for(X, PARTITIONS)
    [sent] = [
        OutputCodecs().dead_letter.decode(o.value) for o in published if o.role == "dead_letters"
    ]
    assert AvroCodec("TableEvent").decode(unseal(sent["value"], b"s" * 32)) == bad


def test_an_invalid_event_on_another_partition_is_forwarded_to_the_players():
    bad = _invalid(X, T0)
    wrong = (partition_for(X, PARTITIONS) + 1) % PARTITIONS
    record = RawRecord(
        TOPICS.table_events, wrong, 0, b"table-9", AvroCodec("TableEvent").encode(bad), T0
    )
    result = Tables().run([record])
    assert [(f[0], f[2]) for f in result.batch.forwards] == [
        (X.encode(), partition_for(X, PARTITIONS))
    ]
    assert not result.journal and not result.player_letters and not result.dead_letters


def test_an_erased_players_invalid_event_is_refused_unkept_and_their_secret_shredded():
    tables = Tables()
    log = Log()
    log.event(natural(player_id=X, occurred_at=T0))
    log.forget(X, T0 + 1)
    first = tables.run(log.records)
    assert first.shredded == {X}
    later = Log()
    later._offsets = dict(log._offsets)
    bad = later.event(_invalid(X, T0 + 2))
    result = tables.run(later.records)
    marker = pseudonym(X, ERASURE_KEY)
    [(key, letter)] = result.dead_letters
    assert key == letter["key"] == marker.encode() and letter["value"] is None
    [refused] = result.journal
    assert refused["player_id"] is None and refused["details"]["player"] == marker
    assert refused["event_ids"] == [bad["event_id"]] and X not in str(refused)
    # no secret is needed (none may be made for an erased id); one a crash left goes now
    assert needs_secrets(result) == set() and result.shredded == {X}
    assert result.erased_events == 1
