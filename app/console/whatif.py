"""What-if replays started from the console: ``pitboss replay --what-if``'s own
``run_replay``, run in the worker as a background task that the page polls for progress.

The replay is plain CPU work between fetches, so it runs in a thread of its own (with its own
event loop and Kafka consumer, no group) rather than on the worker's event loop, where it would
hold up deciding for as long as it runs. Python's GIL still shares the CPU between the two, so
the console bounds what it asks for: one what-if at a time per worker, a range of at most
``PITBOSS_CONSOLE_WHATIF_MAX_DAYS`` days, and at most ``PITBOSS_CONSOLE_WHATIF_MAX_RECORDS``
records read (the replay warms up from the earliest retained record, so the range alone does
not bound the work); a larger replay is stopped, saying to run ``pitboss replay --what-if``
on a machine of its own.

Each job is also written to the archive's PostgreSQL (``console_whatif_jobs``, migration
0005) when it starts, every ``SAVE_EVERY_S`` while it runs and when it ends, so any worker's
console follows it and its result outlives a restart. A running job whose worker stopped
saving it is reported as failed. Without the archive, a job is followed on its own worker only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg import AsyncConnection

from app.archive.store import ArchiveUnavailable
from app.audit.model import ReplayRange
from app.audit.report import tally_difference
from app.audit.source import Progress, ReplayOptions, run_replay
from app.console.candidate import candidate_file
from app.console.limits import ConsoleLimits
from app.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

DAY_MS = 86_400_000
#: Finished what-ifs kept in memory (the archive keeps them all).
KEPT = 20
#: How often a running job's progress is written to the archive.
SAVE_EVERY_S = 1.0
#: A running job not saved for this long has lost its worker.
STALE_S = 30.0
SAVE = """
INSERT INTO console_whatif_jobs (job_id, worker_id, job) VALUES (%s, %s, %s)
ON CONFLICT (job_id) DO UPDATE SET job = EXCLUDED.job, updated_at = now()
"""
FIND = """
SELECT worker_id, job, extract(epoch FROM now() - updated_at) FROM console_whatif_jobs
 WHERE job_id = %s
"""
Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


class WhatIfRefused(ValueError):
    """A what-if the console will not start; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class WhatIfJob:
    job_id: str
    subject: str
    from_ms: int
    to_ms: int
    state: str = "running"  # running, done, failed
    done: int = 0
    total: int = 0
    seconds_left: float = 0.0
    result: dict[str, Any] | None = None
    error: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "subject": self.subject,
            "window": ReplayRange(self.from_ms, self.to_ms).describe(),
            "state": self.state,
            "progress": {
                "records_done": self.done,
                "records_total": self.total,
                "seconds_left": round(self.seconds_left, 1),
            },
            "result": self.result,
            "error": self.error,
        }


async def in_thread(work: Coroutine[Any, Any, T]) -> T:
    """``work`` run to its end on an event loop of its own, in a daemon thread: a worker that
    stops does not wait for a what-if (``asyncio.to_thread``'s pool would be joined at exit)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(outcome: T | None, error: BaseException | None) -> None:
        if done.cancelled():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(outcome)  # type: ignore[arg-type]

    def run() -> None:
        outcome, error = None, None
        try:
            outcome = asyncio.run(work)
        except BaseException as exc:  # handed to the awaiting task, which decides
            error = exc
        with contextlib.suppress(RuntimeError):  # the worker's loop closed meanwhile
            loop.call_soon_threadsafe(settle, outcome, error)

    threading.Thread(target=run, name="pitboss-what-if", daemon=True).start()
    return await done


class WhatIfRunner:
    """The what-ifs of one worker: at most one running, the last few kept; every job also in
    the archive (``connect`` opens a connection to it) for the other workers' consoles."""

    def __init__(self, settings: Settings, limits: ConsoleLimits, connect: Connect) -> None:
        self.settings, self.limits, self.connect = settings, limits, connect
        self.jobs: dict[str, WhatIfJob] = {}
        self.tasks: set[asyncio.Task] = set()

    async def find(self, job_id: str) -> dict[str, Any] | None:
        """A job of this worker, else one the archive holds (a running one whose worker
        stopped saving it reads as failed); None: no such job, or no archive to ask."""
        if (job := self.jobs.get(job_id)) is not None:
            return job.to_json()
        try:
            async with self.connect() as conn:
                row = await (await conn.execute(FIND, (job_id,))).fetchone()
        except (ArchiveUnavailable, psycopg.Error) as exc:
            log.info("what-if %s not looked up in the archive: %s", job_id[:40], exc)
            return None
        if row is None:
            return None
        worker_id, found, silent_s = row
        if found["state"] == "running" and silent_s > STALE_S:
            found["state"] = "failed"
            found["error"] = (
                f"worker {worker_id}, which ran this what-if, stopped before it finished "
                "(restarted or gone); start it again"
            )
        return found

    async def _save(self, job: WhatIfJob) -> None:
        try:
            async with self.connect() as conn:
                await conn.execute(
                    SAVE,
                    (job.job_id, self.settings.worker_id, orjson.dumps(job.to_json()).decode()),
                )
        except (ArchiveUnavailable, psycopg.Error) as exc:
            log.info("what-if %s not saved in the archive: %s", job.job_id, exc)

    async def _keep_saving(self, job: WhatIfJob) -> None:
        while True:
            await self._save(job)
            await asyncio.sleep(SAVE_EVERY_S)

    def start(self, text: str, from_ms: int, to_ms: int, subject: str) -> WhatIfJob:
        """Start replaying ``from_ms``..``to_ms`` (event time, to exclusive) under the
        candidate ``text`` (already validated); WhatIfRefused when it may not run."""
        if to_ms <= from_ms:
            raise WhatIfRefused("the range's end must be after its start")
        if to_ms - from_ms > self.limits.whatif_max_days * DAY_MS:
            raise WhatIfRefused(
                f"a what-if from the console covers at most {self.limits.whatif_max_days} days "
                "(PITBOSS_CONSOLE_WHATIF_MAX_DAYS); run `pitboss replay --what-if` for more"
            )
        running = [j for j in self.jobs.values() if j.state == "running"]
        if running:
            raise WhatIfRefused(
                f"a what-if is already running on this worker (by {running[0].subject}); "
                "wait for it to finish",
                status=409,
            )
        job = WhatIfJob(uuid.uuid4().hex[:16], subject, from_ms, to_ms)
        self.jobs[job.job_id] = job
        for old in list(self.jobs)[:-KEPT]:
            del self.jobs[old]
        task = asyncio.create_task(self._run(job, text))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return job

    def _progress(self, job: WhatIfJob, progress: Progress) -> None:
        """Called in the replay's thread: note how far it is; stop it past the record cap."""
        job.done, job.total, job.seconds_left = progress.done, progress.total, progress.seconds_left
        if progress.total > self.limits.whatif_max_records and not job.stop.is_set():
            job.error = (
                f"this what-if would read about {progress.total:,} records (the replay warms up "
                f"from the earliest retained record), more than the console's cap of "
                f"{self.limits.whatif_max_records:,} (PITBOSS_CONSOLE_WHATIF_MAX_RECORDS); run "
                "`pitboss replay --what-if` on a machine of its own"
            )
            job.stop.set()

    async def _run(self, job: WhatIfJob, text: str) -> None:
        saving = asyncio.create_task(self._keep_saving(job))
        try:
            await self._replay(job, text)
        finally:
            saving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await saving  # no older save may land after the last one
            await self._save(job)

    async def _replay(self, job: WhatIfJob, text: str) -> None:
        started = time.monotonic()
        try:
            with candidate_file(text) as path:
                options = ReplayOptions(
                    window=ReplayRange(job.from_ms, job.to_ms),
                    what_if=path,
                    progress=lambda p: self._progress(job, p),
                    progress_every=0.5,
                    stop=job.stop,
                )
                outcome = await in_thread(run_replay(self.settings, options))
        except Exception as exc:  # anything the replay meets is the job's answer, not a crash
            log.warning("what-if %s failed: %s", job.job_id, exc)
            job.state, job.error = "failed", str(exc).splitlines()[0] if str(exc) else repr(exc)
            return
        if outcome.stopped:
            job.state = "failed"
            job.error = job.error or "stopped"
            return
        report = outcome.report
        assert report.candidate is not None
        job.done = job.total = report.records
        job.seconds_left = 0.0
        job.result = {
            "candidate": report.candidate_label,
            "records": report.records,
            "events_in_range": report.in_range,
            "mismatches": report.mismatch_total,
            "rules": tally_difference(report.in_force, report.candidate),
            "elapsed_s": round(time.monotonic() - started, 2),
        }
        job.state = "done"
