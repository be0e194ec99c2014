"""Credentials for an endpoint: a static header, or an OAuth2 client-credentials token
(RFC 6749 section 4.4: the client id and secret by HTTP Basic, as every server must accept)
fetched from the token URL and kept until shortly before it expires, or until the endpoint
answers 401."""

from __future__ import annotations

import time
from urllib.parse import quote_plus

import aiohttp

from app.delivery.config import OAuth2

#: Seconds before its stated expiry that a token is fetched again (clocks and transit).
EXPIRY_MARGIN = 30.0


class AuthError(Exception):
    """The token URL did not give a token: a failed attempt, retried like one."""


class TokenSource:
    """One endpoint's OAuth2 token, cached."""

    def __init__(self, oauth: OAuth2) -> None:
        self.oauth = oauth
        self._token: str | None = None
        self._until = 0.0
        # RFC 6749 section 2.3.1: both form-encoded, then HTTP Basic
        self._basic = aiohttp.encode_basic_auth(
            quote_plus(oauth.client_id), quote_plus(oauth.client_secret)
        )

    def forget(self) -> None:
        """Drop the cached token (the endpoint refused it)."""
        self._token = None

    async def header(self, session: aiohttp.ClientSession, timeout: float) -> tuple[str, str]:
        if self._token is None or time.monotonic() >= self._until:
            await self._fetch(session, timeout)
        return "Authorization", f"Bearer {self._token}"

    async def _fetch(self, session: aiohttp.ClientSession, timeout: float) -> None:
        form = {"grant_type": "client_credentials"}
        if self.oauth.scope:
            form["scope"] = self.oauth.scope
        try:
            async with session.post(
                self.oauth.token_url,
                data=form,
                headers={"Authorization": self._basic},
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as answer:
                if answer.status != 200:
                    raise AuthError(f"the token URL answered HTTP {answer.status}")
                token = await answer.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise AuthError(f"no token from the token URL: {exc or type(exc).__name__}") from None
        if not isinstance(token, dict) or not isinstance(token.get("access_token"), str):
            raise AuthError("the token URL's answer has no access_token")
        lifetime = token.get("expires_in")
        lifetime = float(lifetime) if isinstance(lifetime, int | float) else 3600.0
        self._token = token["access_token"]
        self._until = time.monotonic() + max(0.0, lifetime - EXPIRY_MARGIN)
