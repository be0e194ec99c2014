-- The console's shared work (docs/console.md): pushes waiting for a second crm_manager and
-- what-if jobs, kept where every worker's console reads them, so a request filed on one
-- worker is approved on another or after a restart, and a what-if is followed from any worker.

CREATE TABLE console_push_requests (
    request_id    text PRIMARY KEY,
    ruleset_id    text NOT NULL,
    requester     text NOT NULL,
    -- the ruleset's text exactly as asked, and the live revision it was diffed against
    text          text NOT NULL,
    live_revision integer NOT NULL,
    lines         text[] NOT NULL DEFAULT '{}',
    requested_at  timestamptz NOT NULL DEFAULT now(),
    -- set while an approval publishes it: a second approval meanwhile finds it taken
    claimed_by    text,
    claimed_at    timestamptz
);
CREATE INDEX console_push_requests_time ON console_push_requests (ruleset_id, requested_at);

CREATE TABLE console_whatif_jobs (
    job_id     text PRIMARY KEY,
    -- the worker that runs it, and when it last said how far it is
    worker_id  text NOT NULL,
    job        jsonb NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_whatif_jobs_time ON console_whatif_jobs (started_at DESC);
