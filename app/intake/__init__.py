"""Intake for studios and platforms that cannot produce Avro to Kafka: mappings as data
(``mapping``), the contract's checks on what they make (``translate``), the senders and their
credentials (``sources``), and the ways in: HTTP (``server``) and RabbitMQ (``amqp``), both
through one Kafka outlet (``outlet``). docs/integration.md."""
