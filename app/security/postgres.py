"""PostgreSQL TLS: the settings' libpq parameters added to the archive's connection string."""

from __future__ import annotations

from psycopg.conninfo import make_conninfo

from app.security.settings import PostgresTLS


def tls_params(pg: PostgresTLS) -> dict[str, str]:
    """libpq's ``sslmode``, ``sslrootcert``, ``sslcert``, ``sslkey``: only those that are set."""
    params = {
        "sslmode": pg.sslmode,
        "sslrootcert": str(pg.sslrootcert or ""),
        "sslcert": str(pg.sslcert or ""),
        "sslkey": str(pg.sslkey or ""),
    }
    return {name: value for name, value in params.items() if value}


def with_tls(conninfo: str, pg: PostgresTLS) -> str:
    """``conninfo`` (a URL or key=value string) with the TLS parameters; they override any
    the string already has, so the settings are what is used."""
    return make_conninfo(conninfo, **tls_params(pg))
