-- Crypto-shredding (docs/security.md): the journal names players by pseudonyms under their
-- own secrets. player_keys maps each pseudonym back to its player id while the secret exists
-- (filled from the player-keys topic), so a timeline is still found by player id; erasing
-- the player deletes the row with the player's other rows. The secrets themselves are not
-- kept here.
CREATE TABLE player_keys (
    pseudonym   text PRIMARY KEY,
    player_id   text NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX player_keys_player ON player_keys (player_id);

-- An erasure also remembers the pseudonym its journal entries had, so a re-delivered entry
-- of the erased player is dropped; entry_id is '' until the PLAYER_ERASED entry is read
-- (the tombstone of the player's secret can come first).
ALTER TABLE erasures ADD COLUMN pseudonym text;
CREATE INDEX erasures_pseudonym ON erasures (pseudonym);
