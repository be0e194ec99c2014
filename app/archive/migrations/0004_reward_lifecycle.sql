-- Each step of a money-like reward's fulfilment (pitboss fulfil), as it is published on
-- reward-lifecycle (Avro RewardLifecycle): PENDING before the operator's API is called, then
-- CREDITED, CLAIMABLE, FAILED, ... The timeline shows each reward's latest step. One row per
-- lifecycle_id (deterministic from reward, adapter and status: a re-delivery adds nothing).
-- Erased with the player, as every other row of theirs.

CREATE TABLE reward_lifecycle (
    lifecycle_id text PRIMARY KEY,
    reward_id    text NOT NULL,
    player_id    text NOT NULL,
    kind         text NOT NULL,
    amount       bigint NOT NULL,
    currency     text,
    adapter      text NOT NULL,
    status       text NOT NULL,
    attempts     integer NOT NULL,
    http_status  integer,
    reason       text,
    recorded_at  timestamptz NOT NULL,
    topic        text NOT NULL,
    "partition"  integer NOT NULL,
    "offset"     bigint NOT NULL,
    archived_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reward_lifecycle_reward ON reward_lifecycle (reward_id, recorded_at);
CREATE INDEX reward_lifecycle_player ON reward_lifecycle (player_id);
