-- What each player brought in per day, as the operator sends it on player-outcomes
-- (Avro PlayerOutcome): what `pitboss experiments report` measures the A/B arms on.
-- One row per player and day: a later record (by occurred_at) replaces the figures.
-- Erased with the player, as every other row of theirs.

CREATE TABLE player_outcomes (
    player_id      text NOT NULL,
    day            date NOT NULL,
    deposits_minor bigint NOT NULL,
    ggr_minor      bigint NOT NULL,
    currency       text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    topic          text NOT NULL,
    "partition"    integer NOT NULL,
    "offset"       bigint NOT NULL,
    archived_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (player_id, day)
);

-- the report finds each rule's exposures by rule and decision
CREATE INDEX journal_rule_decision ON journal (rule_id, decision, event_time);
