"""Security: who may do what (authentication, roles and permissions, the access log) and
encrypted transport (Kafka TLS/SASL, PostgreSQL TLS, HTTPS). See docs/security.md."""
