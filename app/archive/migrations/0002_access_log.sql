-- The access log (schemas/AccessLogEntry.avsc): every access decision of the web views, as
-- the access-log topic holds it, one row per record (re-deliveries never add a row), for
-- auditors to query by player, by subject and by time (docs/security.md).

CREATE TABLE access_log (
    id            bigserial PRIMARY KEY,
    request_id    text NOT NULL,
    occurred_at   timestamptz NOT NULL,
    subject       text,
    kind          text NOT NULL,
    roles         text[] NOT NULL DEFAULT '{}',
    permission    text,
    action        text NOT NULL,
    player_id     text,
    allowed       boolean NOT NULL,
    reason        text NOT NULL,
    fields_hidden text[] NOT NULL DEFAULT '{}',
    remote        text,
    -- where the first delivery came from: the record's identity
    topic         text NOT NULL,
    "partition"   integer NOT NULL,
    "offset"      bigint NOT NULL,
    archived_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, "partition", "offset")
);
-- newest first, keyset-paged on (occurred_at, id), whole or by player or by subject
CREATE INDEX access_log_time ON access_log (occurred_at DESC, id DESC);
CREATE INDEX access_log_player ON access_log (player_id, occurred_at DESC, id DESC);
CREATE INDEX access_log_subject ON access_log (subject, occurred_at DESC, id DESC);
