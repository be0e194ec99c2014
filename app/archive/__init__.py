"""The timeline archive: the journal, rewards and cool-downs copied into PostgreSQL.

Kafka keeps the journal forever but cannot answer "what happened to player p-17 last
Tuesday?"; PostgreSQL can. ``follow`` copies the three topics in batches as its own
consumer group (``pitboss archive``), ``store`` holds every SQL statement, ``migrate``
ships the schema, and ``views`` serves a player's timeline and export from any worker.
"""
