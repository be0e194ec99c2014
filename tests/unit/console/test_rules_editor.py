"""The editor's parts without a broker: the text is checked by the CLI's own validation (every
problem with its line), the ruleset in force round-trips through the editor, and a what-if
from the console is bounded (push requests and the jobs' archive: test_shared_work.py)."""

from __future__ import annotations

import asyncio
from datetime import date

import orjson
import pytest

from app.archive.store import ArchiveUnavailable
from app.audit.source import Progress
from app.console.candidate import MAX_BYTES, CandidateTooLarge, check, editor_text
from app.console.charts import daily_chart
from app.console.figures import DayRange, Engagement, RuleFigures
from app.console.flags import DeadMission
from app.console.limits import ConsoleLimits
from app.console.pages import page
from app.console.whatif import DAY_MS, WhatIfJob, WhatIfRefused, WhatIfRunner
from app.rules import DEFAULT_RULESET_PATH, default_document, default_ruleset
from app.rules.loader import RulesFileError
from app.rules.versioning import assign_versions, diff_documents
from app.settings import Settings

SETTINGS = Settings.from_env({})
SHIPPED = DEFAULT_RULESET_PATH.read_text(encoding="utf-8")


class no_archive:
    """A worker without the archive: its what-ifs are followed on the worker only."""

    async def __aenter__(self) -> None:
        raise ArchiveUnavailable("the archive is disabled on this worker (PITBOSS_ARCHIVE_URL)")

    async def __aexit__(self, *exc: object) -> None:
        """Never reached: entering already failed."""


def test_the_text_is_validated_as_the_cli_does_with_line_numbers():
    doc, _ = check(SETTINGS, SHIPPED)
    assert doc == default_document()
    broken = SHIPPED.replace("amount: 10\n", "amount: ten\n", 1)
    line = SHIPPED.splitlines().index("      amount: 10") + 1
    with pytest.raises(RulesFileError) as caught:
        check(SETTINGS, broken)
    [problem] = caught.value.problems
    assert (problem.source, problem.line) == ("rules.yaml", line)
    assert str(problem).startswith(f"rules.yaml:{line}: rule first-natural-blackjack-of-day")
    with pytest.raises(RulesFileError):
        check(SETTINGS, "rules: [")
    with pytest.raises(RulesFileError, match=r"rules\.yaml:2: not valid YAML: unacceptable char"):
        check(SETTINGS, "ruleset: x\n\x08")  # a control character, as the fuzz sent
    with pytest.raises(CandidateTooLarge):
        check(SETTINGS, "#" * (MAX_BYTES + 1))


def test_the_editor_shows_the_ruleset_in_force_without_what_a_push_writes():
    assert editor_text(None) == SHIPPED
    published = assign_versions(default_document(), None, 1_795_000_000_000, "alice")
    text = editor_text(orjson.dumps(published))
    assert "revision:" not in text and "hash:" not in text and "published_at" not in text
    candidate, _ = check(SETTINGS, text)
    assert not diff_documents(candidate, published).has_changes


def test_a_what_if_from_the_console_is_bounded():
    runner = WhatIfRunner(
        SETTINGS, ConsoleLimits(whatif_max_days=2, whatif_max_records=1000), no_archive
    )
    with pytest.raises(WhatIfRefused, match="at most 2 days"):
        runner.start(SHIPPED, 0, 2 * DAY_MS + 1, "alice")
    with pytest.raises(WhatIfRefused, match="after its start"):
        runner.start(SHIPPED, DAY_MS, DAY_MS, "alice")
    runner.jobs["busy"] = WhatIfJob("busy", "bob", 0, DAY_MS)
    with pytest.raises(WhatIfRefused, match=r"already running .*\(by bob\)") as busy:
        runner.start(SHIPPED, 0, DAY_MS, "alice")
    assert busy.value.status == 409
    # past the record cap the replay is told to stop, saying why
    job = runner.jobs["busy"]
    runner._progress(job, Progress(500, 999, 100.0, 5.0, 0))
    assert not job.stop.is_set() and job.to_json()["progress"]["records_done"] == 500
    runner._progress(job, Progress(600, 5000, 100.0, 44.0, 0))
    assert job.stop.is_set() and "5,000 records" in job.error and "pitboss replay" in job.error


def test_a_failed_replay_is_the_job_s_answer(tmp_path):
    """A broker that cannot be reached fails the job with the reason; nothing is raised."""
    settings = Settings.from_env({"PITBOSS_BROKER_URL": "kafka://127.0.0.1:1"})
    runner = WhatIfRunner(settings, ConsoleLimits(), no_archive)

    async def scenario() -> WhatIfJob:
        job = runner.start(SHIPPED, 0, DAY_MS, "alice")
        await asyncio.gather(*runner.tasks)
        return job

    job = asyncio.run(scenario())
    assert job.state == "failed" and job.error and job.result is None
    assert asyncio.run(runner.find(job.job_id))["state"] == "failed"
    assert asyncio.run(runner.find("elsewhere")) is None  # no archive to ask


def test_console_limits_come_from_the_environment():
    assert ConsoleLimits.from_env({}) == ConsoleLimits()
    own = ConsoleLimits.from_env(
        {"PITBOSS_CONSOLE_WHATIF_MAX_DAYS": "3", "PITBOSS_CONSOLE_GENEROUS_FACTOR": "2.5"}
    )
    assert (own.whatif_max_days, own.generous_factor) == (3, 2.5)
    for name, value in (
        ("PITBOSS_CONSOLE_WHATIF_MAX_DAYS", "1.5"),
        ("PITBOSS_CONSOLE_DEAD_MISSION_DAYS", "0"),
        ("PITBOSS_CONSOLE_GENEROUS_FACTOR", "1"),
        ("PITBOSS_CONSOLE_WHATIF_MAX_RECORDS", "many"),
    ):
        with pytest.raises(ValueError, match=name):
            ConsoleLimits.from_env({name: value})


def test_the_rules_page_escapes_what_it_shows():
    evil = "<script>alert(1)</script>"
    response = page(
        "rules.html",
        viewer={"subject": "eve", "roles": ["crm_manager"], "pages": [], "home": None},
        ruleset=default_ruleset(),
        published=False,
        caught_up=True,
        outcomes={},
        worker_id="w-1",
        editor=evil,
        live_revision=0,
        may={"rules.whatif": True, "rules.push": True},
        pending=[{"request_id": "r1", "requester": evil, "live_revision": 0, "lines": [evil]}],
        limits=ConsoleLimits(),
        days=DayRange(date(2026, 11, 11), date(2026, 11, 18), "UTC"),
        figures={
            "rules": [RuleFigures(evil, 1, 2, 1, {"XP": 20}, {"no_consent": 1}, {})],
            "engagement": [Engagement(evil, evil, 3, {"SHOWN": 2, "CLICKED": 1})],
            "chart": daily_chart(
                {(evil, "XP"): {date(2026, 11, 18): 20}}, date(2026, 11, 11), date(2026, 11, 18)
            ),
            "generous": [],
            "dead": [DeadMission(evil, 30, 7)],
        },
        problem=None,
    )
    assert "<script>alert(1)" not in response.text and response.text.count("&lt;script&gt;") == 13
    assert 'id="push" data-revision="0"' in response.text
    assert '<td class="ctr">50%</td>' in response.text
    assert response.text.count("<circle ") == 8  # a point per day of the range
    assert "Dead mission" in response.text and "2,000,000 records" in response.text
