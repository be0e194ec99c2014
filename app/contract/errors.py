"""Why bytes could not be read as a contract record: the dead-letter reason they carry."""

from __future__ import annotations


class DecodeError(ValueError):
    """Bytes that cannot be turned into the expected record.

    ``error`` is the ``DeadLetterError`` symbol the dead-letter record carries:
    ``UNDECODABLE`` (bad framing or body), ``UNKNOWN_SCHEMA`` (fingerprint or registry id
    not known) or ``INVALID`` (a well-formed message of another record type).
    """

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
