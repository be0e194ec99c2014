"""Delivery over HTTP: one machinery that follows chosen topics with its own consumer group and
hands each record to HTTP endpoints configured as data, in order per partition and at least
once. ``pitboss webhooks`` subscribes operators' endpoints to rewards, cool-downs and journal
decisions; ``pitboss fulfil`` credits money-like rewards through the operator's wallet or bonus
API and publishes each reward's lifecycle (docs/integration.md)."""
