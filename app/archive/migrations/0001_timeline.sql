-- The timeline archive: the journal, rewards and cool-downs, one row per id.
-- Applied by app/archive/migrate.py inside the archive's schema (search_path), in one
-- transaction with its row in schema_migrations. Never edit an applied file: add 0002_….

CREATE TABLE journal (
    entry_id     text PRIMARY KEY,
    -- a player's id; for a PLAYER_ERASED marker, the hash the worker keeps (never the id)
    player_id    text,
    decision     text NOT NULL,
    rule_id      text,
    rule_version integer,
    reason       text,
    event_ids    text[] NOT NULL DEFAULT '{}',
    reward_id    text,
    details      jsonb NOT NULL DEFAULT '{}',
    event_time   timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL,
    -- where the first delivery came from (re-deliveries never overwrite it)
    topic        text NOT NULL,
    "partition"  integer NOT NULL,
    "offset"     bigint NOT NULL,
    archived_at  timestamptz NOT NULL DEFAULT now()
);
-- the timeline: a player's entries newest first, keyset-paged on (event_time, entry_id)
CREATE INDEX journal_player_time ON journal (player_id, event_time DESC, entry_id DESC);
CREATE INDEX journal_decision ON journal (decision, event_time DESC);

CREATE TABLE rewards (
    reward_id         text PRIMARY KEY,
    player_id         text NOT NULL,
    rule_id           text NOT NULL,
    rule_version      integer NOT NULL,
    kind              text NOT NULL,
    amount            bigint NOT NULL,
    currency          text,
    message           text,
    table_id          text,
    game              text NOT NULL,
    dealer_id         text,
    trigger_event_ids text[] NOT NULL DEFAULT '{}',
    event_time        timestamptz NOT NULL,
    issued_at         timestamptz NOT NULL,
    attributes        jsonb NOT NULL DEFAULT '{}',
    topic             text NOT NULL,
    "partition"       integer NOT NULL,
    "offset"          bigint NOT NULL,
    archived_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rewards_player_time ON rewards (player_id, event_time DESC);

CREATE TABLE cooldowns (
    cooldown_id       text PRIMARY KEY,
    player_id         text NOT NULL,
    reason            text NOT NULL,
    figures           jsonb NOT NULL DEFAULT '{}',
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    message           text NOT NULL,
    trigger_event_ids text[] NOT NULL DEFAULT '{}',
    issued_at         timestamptz NOT NULL,
    topic             text NOT NULL,
    "partition"       integer NOT NULL,
    "offset"          bigint NOT NULL,
    archived_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cooldowns_player_time ON cooldowns (player_id, starts_at DESC);

-- Erased players, by the same hash the worker keeps (app.core.ids.erased_marker): their
-- rows are deleted and any later (or re-delivered) record of theirs is never inserted.
CREATE TABLE erasures (
    player_hash text PRIMARY KEY,
    entry_id    text NOT NULL,
    erased_at   timestamptz NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now()
);
