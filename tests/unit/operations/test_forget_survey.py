"""What ``pitboss forget`` tells an operator before it erases: the survey in words, and
which holdings make an id known."""

from __future__ import annotations

from app.operations.privacy import Holdings, changelog
from app.settings import Settings


def test_an_id_with_nothing_but_access_log_rows_is_unknown():
    # the forget command's own request is an access-log row: it must not make an id known
    assert not Holdings("p-typo", archive_rows={"journal": 0, "access_log": 3}).known
    assert Holdings("p-1", archive_rows={"journal": 2, "access_log": 0}).known
    assert Holdings("p-1", has_state=True).known
    assert Holdings("p-1", has_secret=True).known  # the journal names them by it
    assert Holdings("p-1", boards=["points:BLACKJACK:2026-11-22"]).known


def test_the_survey_says_what_there_is_to_erase_one_fact_a_line():
    found = Holdings(
        "p-1",
        has_profile=True,
        boards=["points:BLACKJACK:2026-11-22"],
        archive_rows={"journal": 4, "rewards": 1, "cooldowns": 0, "access_log": 2},
    )
    assert found.lines() == [
        "player p-1: known",
        "  state: no",
        "  profile: yes",
        "  secret (the journal and dead letters name the player by it): no",
        "  leaderboards: points:BLACKJACK:2026-11-22",
        "  archive rows: journal 4, rewards 1, cooldowns 0, access_log 2",
    ]
    gone = Holdings("p-2", already_erased=True, archive_note="no archive")
    assert gone.lines()[0] == "player p-2: already erased"
    assert gone.lines()[-1] == "  archive rows: no archive"


def test_the_changelogs_surveyed_are_the_workers_tables():
    settings = Settings.from_env({"PITBOSS_APP_ID": "pb"})
    assert changelog(settings, "player-state") == "pb-player-state-changelog"
