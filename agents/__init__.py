"""Faust agents: thin adapters between Kafka and the pure decision core."""
