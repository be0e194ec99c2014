"""The console's Rules: the page (the ruleset in force, its figures from the archive, the
flags, the editor) and the JSON routes behind the editor's buttons: validate, diff, what-if
(started, then polled) and push, with a second crm_manager's approval when access.yaml asks
for one. Each calls what the CLI calls (``app.console.candidate``, ``app.console.whatif``);
every push and approval is an access-log entry of its own, saying what was published.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from aiokafka.errors import KafkaError
from faust.web import Request, Response, View
from psycopg import AsyncConnection

from agents.decide import live
from agents.rules import feed
from app.archive.store import ArchiveUnavailable
from app.archive.views import archive_connection
from app.console import approvals
from app.console import figures as archived
from app.console.approvals import ApprovalRefused
from app.console.candidate import (
    CandidateTooLarge,
    diff_json,
    diff_live,
    editor_text,
    problem_json,
    publish,
    validate,
)
from app.console.charts import daily_chart
from app.console.flags import dead_missions, over_generous
from app.console.limits import ConsoleLimits
from app.console.overview import rule_outcomes
from app.console.pages import page
from app.console.views import viewer
from app.console.whatif import WhatIfRefused, WhatIfRunner
from app.metrics.definitions import REGISTRY
from app.rules.loader import RulesFileError
from app.rules.policy import PolicyFileError
from app.rules.publish import RulesTopicMissingError, StaleRevisionError
from app.rules.versioning import RulesetDiff
from app.security.access import Decision
from app.security.middleware import ACCESS, requires
from app.streaming.faust_app import app, settings

LIMITS = ConsoleLimits.from_env()
WHAT_IFS = WhatIfRunner(settings, LIMITS, archive_connection)
#: Kafka could not be reached or refused: the push did not happen (503).
UNREACHABLE = (KafkaError, RulesTopicMissingError, OSError, asyncio.TimeoutError)


class BadInput(ValueError):
    pass


def _error(view: View, status: int, error: str, detail: str, **more: Any) -> Response:
    return view.json({"error": error, "detail": detail, **more}, status=status)


async def _body(request: Request) -> dict[str, Any]:
    """The request's JSON object with a ``yaml`` string (BadInput otherwise)."""
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("yaml"), str):
        raise BadInput('send a JSON object with the ruleset as "yaml" (a string)')
    return body


def _problems(view: View, exc: RulesFileError) -> Response:
    count = len(exc.problems)
    return _error(
        view,
        400,
        "invalid_ruleset",
        f"the ruleset is not valid: {count} problem{'s' if count != 1 else ''}",
        problems=[problem_json(p) for p in [*exc.problems, *exc.warnings]],
    )


async def _answer(view: View, work: Any) -> Response:
    """Run ``work`` (a coroutine making the answer), turning what a candidate or Kafka can do
    wrong into a 400, 409 or 503 with the reason."""
    try:
        return await work
    except (BadInput, CandidateTooLarge, PolicyFileError) as exc:
        return _error(view, 400, "bad_request", str(exc))
    except RulesFileError as exc:
        return _problems(view, exc)
    except StaleRevisionError as exc:
        return _error(view, 409, "stale_revision", str(exc))
    except WhatIfRefused as exc:
        return _error(view, exc.status, "refused", str(exc))
    except ApprovalRefused as exc:
        return _error(view, exc.status, "refused", str(exc))
    except ArchiveUnavailable as exc:
        return _error(view, 503, "unavailable", f"the archive holds push requests: {exc}")
    except UNREACHABLE as exc:
        return _error(view, 503, "unavailable", f"Kafka could not be used: {exc}")


async def _log(request: Request, what: str) -> None:
    """An access-log entry saying what a push or approval did, under the person's name."""
    access = request[ACCESS]
    await access.record(access.principal, access.permission, Decision(True, what))


def _today() -> date:
    return datetime.now(ZoneInfo(settings.operator_timezone)).date()


def _may(request: Request, permission: str) -> bool:
    access = request[ACCESS]
    return access.policy.authorize(access.principal, permission).allowed


async def _archived(conn: AsyncConnection, days: archived.DayRange) -> dict[str, Any]:
    rules = await archived.rule_figures(conn, days)
    daily = await archived.daily_amounts(conn, days, LIMITS.generous_history_days)
    missions = await archived.mission_progress(conn, days, LIMITS.dead_mission_days)
    return {
        "rules": rules,
        "engagement": await archived.engagement(conn, days),
        "chart": daily_chart(daily, days.first, days.last),
        "generous": over_generous(
            daily, days.first, days.last, LIMITS.generous_factor, LIMITS.generous_history_days
        ),
        "dead": dead_missions(missions, LIMITS.dead_mission_players, LIMITS.dead_mission_days),
    }


async def _published(
    view: View, request: Request, published: dict | None, diff: RulesetDiff, what: str
) -> Response:
    """The answer to a push that ran, and its access-log entry naming the revision."""
    if published is None:
        return view.json({"status": "unchanged", **diff_json(diff)})
    await _log(
        request,
        f"{what}: published ruleset {published['ruleset']} revision {published['revision']} "
        f"({published['source']}): " + "; ".join(diff.lines()),
    )
    return view.json({"status": "pushed", "revision": published["revision"], **diff_json(diff)})


@app.page("/console/rules/")
@requires("rules.read")
class RulesPage(View):
    """The ruleset this worker runs and its revision; per rule and version, what the archive
    holds for the chosen days (``?from=&to=``, YYYY-MM-DD, default the last eight) with the
    flags; the editor for those whose roles may use it; the pushes waiting for approval."""

    async def get(self, request: Request) -> Response:
        ruleset = live.current().ruleset
        published = feed.get(settings.ruleset_id)
        context: dict[str, Any] = {
            "viewer": viewer(request),
            "ruleset": ruleset,
            "published": published is not None,
            "caught_up": feed.caught_up.is_set(),
            "outcomes": rule_outcomes(REGISTRY),
            "worker_id": settings.worker_id,
            "editor": editor_text(published),
            "live_revision": ruleset.revision if published is not None else 0,
            "may": {p: _may(request, p) for p in ("rules.whatif", "rules.push")},
            "pending": [],
            "limits": LIMITS,
            "days": None,
            "figures": None,
            "problem": None,
        }
        try:
            days = archived.day_range(request.query, _today(), settings.operator_timezone)
        except archived.BadRange as exc:
            return page("rules.html", status=400, **{**context, "problem": str(exc)})
        context["days"] = days
        try:
            async with archive_connection() as conn:
                waiting = await approvals.listed(conn, settings.ruleset_id)
                context["pending"] = [r.to_json() for r in waiting]
                context["figures"] = await _archived(conn, days)
        except ArchiveUnavailable as exc:
            context["problem"] = str(exc)
        return page("rules.html", **context)


@app.page("/console/api/rules/validate")
@requires("rules.read")
class ValidateView(View):
    """``pitboss rules validate`` on the posted text: valid, or every problem with its line."""

    async def post(self, request: Request) -> Response:
        async def work() -> Response:
            doc, warnings = await validate(settings, (await _body(request))["yaml"])
            rules = doc.get("rules") or []
            return self.json(
                {
                    "valid": True,
                    "ruleset": doc["ruleset"],
                    "rules": len(rules),
                    "problems": [problem_json(w) for w in warnings],
                }
            )

        return await _answer(self, work())


@app.page("/console/api/rules/diff")
@requires("rules.read")
class DiffView(View):
    """``pitboss rules diff``: the posted text against the live ruleset, rule by rule."""

    async def post(self, request: Request) -> Response:
        async def work() -> Response:
            diff, warnings = await diff_live(settings, (await _body(request))["yaml"])
            return self.json({**diff_json(diff), "problems": [problem_json(w) for w in warnings]})

        return await _answer(self, work())


@app.page("/console/api/rules/whatif")
@requires("rules.whatif")
class WhatIfStartView(View):
    """Start a what-if of the posted text over the days ``from``..``to`` (YYYY-MM-DD, default
    the last eight); 202 with the job to poll."""

    async def post(self, request: Request) -> Response:
        async def work() -> Response:
            body = await _body(request)
            asked = {k: body[k] for k in ("from", "to") if isinstance(body.get(k), str)}
            try:
                days = archived.day_range(asked, _today(), settings.operator_timezone)
            except archived.BadRange as exc:
                raise BadInput(str(exc)) from None
            await validate(settings, body["yaml"])
            start, end = days.start(), days.end()
            job = WHAT_IFS.start(
                body["yaml"],
                int(start.timestamp() * 1000),
                int(end.timestamp() * 1000),
                request[ACCESS].principal.subject,
            )
            return self.json(job.to_json(), status=202)

        return await _answer(self, work())


@app.page("/console/api/rules/whatif/{job_id}")
@requires("rules.whatif")
class WhatIfJobView(View):
    """A what-if's progress and, once done, per rule the recorded and candidate figures."""

    async def get(self, request: Request, job_id: str) -> Response:
        job = await WHAT_IFS.find(job_id)
        if job is None:
            return _error(self, 404, "not_found", "no such what-if")
        return self.json(job)


@app.page("/console/api/rules/push")
@requires("rules.push")
class PushView(View):
    """``pitboss rules push`` of the posted text, the person as its author; with
    ``if_revision``, only if that revision is still live. When access.yaml wants a second
    approver, the push waits for one instead (202)."""

    async def post(self, request: Request) -> Response:
        async def work() -> Response:
            body = await _body(request)
            if_revision = body.get("if_revision")
            if if_revision is not None and (
                not isinstance(if_revision, int) or isinstance(if_revision, bool) or if_revision < 0
            ):
                raise BadInput("if_revision must be a whole number, 0 or more")
            subject = request[ACCESS].principal.subject
            if request[ACCESS].decision.second_approver:
                return await self._ask(request, body["yaml"], subject, if_revision)
            published, diff = await publish(
                settings, body["yaml"], f"console by {subject}", if_revision
            )
            return await _published(self, request, published, diff, "push")

        return await _answer(self, work())

    async def _ask(
        self, request: Request, text: str, subject: str, if_revision: int | None
    ) -> Response:
        diff, _ = await diff_live(settings, text)
        if if_revision is not None and diff.live_revision != if_revision:
            raise StaleRevisionError(
                f"ruleset {diff.ruleset_id} is at revision {diff.live_revision}, not "
                f"{if_revision}: someone published since; diff against it, then push again"
            )
        if not diff.has_changes:
            return self.json({"status": "unchanged", **diff_json(diff)})
        async with archive_connection() as conn:
            pending = await approvals.add(
                conn, settings.ruleset_id, subject, text, diff.live_revision, diff.lines()
            )
        await _log(
            request,
            f"push request {pending.request_id} waits for a second crm_manager: "
            + "; ".join(pending.lines),
        )
        return self.json({"status": "pending", **pending.to_json()}, status=202)


@app.page("/console/api/rules/pushes/{request_id}/approve")
@requires("rules.push")
class ApproveView(View):
    """A second crm_manager approves a waiting push, on any worker: it is published as asked,
    once, only if the revision it was diffed against is still live."""

    async def post(self, request: Request, request_id: str) -> Response:
        async def work() -> Response:
            approver = request[ACCESS].principal.subject
            async with archive_connection() as conn:
                pending = await approvals.claim(conn, settings.ruleset_id, request_id, approver)
                source = f"console by {pending.requester}, approved by {approver}"
                try:
                    published, diff = await publish(
                        settings, pending.text, source, pending.live_revision
                    )
                except (StaleRevisionError, RulesFileError):
                    await approvals.drop(conn, request_id)  # it can never pass now: ask again
                    raise
                except BaseException:
                    await approvals.release(conn, request_id)  # not tried: it waits again
                    raise
                await approvals.drop(conn, request_id)
            what = f"approval of push request {request_id}"
            return await _published(self, request, published, diff, what)

        return await _answer(self, work())
