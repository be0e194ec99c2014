"""HTTPS for the web views, and the address they listen on and are reached at.

With a certificate set, the server speaks TLS only, so a plain-HTTP request fails at the
handshake and no credential ever travels in clear. Faust takes ``web_ssl_context``,
``web_bind`` and ``canonical_url`` (the advertised URL other workers forward requests to).
"""

from __future__ import annotations

import ssl
from typing import Any

from app.security.settings import WebSettings


def server_ssl_context(web: WebSettings) -> ssl.SSLContext | None:
    """The server's TLS context (TLS 1.2 or later), or None when HTTPS is not configured."""
    if not web.uses_tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(web.cert_file, web.key_file)  # type: ignore[arg-type]
    return context


def advertised_url(web: WebSettings, host: str, port: int) -> str:
    """The URL other workers reach this one at: the setting, else ``host:port`` (PITBOSS_WEB_HOST
    and PITBOSS_WEB_PORT) with the scheme HTTPS settings imply."""
    if web.advertised_url:
        return web.advertised_url
    return f"{'https' if web.uses_tls else 'http'}://{host}:{port}"


def faust_web_options(web: WebSettings, host: str, port: int) -> dict[str, Any]:
    """Keyword arguments for ``faust.App``: bind address, advertised URL, TLS context."""
    return {
        "web_bind": web.bind,
        "web_host": host,
        "web_port": port,
        "canonical_url": advertised_url(web, host, port),
        "web_ssl_context": server_ssl_context(web),
    }
