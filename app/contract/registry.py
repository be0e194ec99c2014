"""The two endpoints of a Confluent-compatible schema registry that the codec needs.

Blocking urllib calls, cached: one per schema id or subject per process.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from app.contract.errors import DecodeError

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistryError(RuntimeError):
    """The schema registry could not be reached or answered unexpectedly.

    Deliberately not a ``DecodeError``: the message may be fine, so the caller should retry
    rather than dead-letter it.
    """


class RegistryClient:
    """Schema text by id and id by registration, cached per client."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        parts = urllib.parse.urlsplit(url.rstrip("/"))
        self._auth: str | None = None
        if parts.username is not None:
            creds = f"{urllib.parse.unquote(parts.username)}:"
            creds += urllib.parse.unquote(parts.password or "")
            self._auth = "Basic " + base64.b64encode(creds.encode()).decode()
            parts = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))
        self.url = urllib.parse.urlunsplit(parts)
        self.timeout = timeout
        self._schemas: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Accept", _CONTENT_TYPE)
        if data is not None:
            request.add_header("Content-Type", _CONTENT_TYPE)
        if self._auth:
            request.add_header("Authorization", self._auth)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read())

    def schema_text(self, schema_id: int) -> str | None:
        """The Avro schema text registered under ``schema_id``, or None if there is none."""
        with self._lock:
            if schema_id in self._schemas:
                return self._schemas[schema_id]
        try:
            answer = self._call("GET", f"/schemas/ids/{schema_id}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise SchemaRegistryError(f"registry {self.url}: schema id {schema_id}: {exc}") from exc
        except (OSError, ValueError) as exc:
            raise SchemaRegistryError(f"registry {self.url}: schema id {schema_id}: {exc}") from exc
        schema_type = answer.get("schemaType", "AVRO")
        if schema_type != "AVRO":
            raise DecodeError(
                "UNKNOWN_SCHEMA", f"schema id {schema_id} is a {schema_type} schema, not Avro"
            )
        with self._lock:
            self._schemas[schema_id] = answer["schema"]
        return answer["schema"]

    def register(self, subject: str, schema_text: str) -> int:
        """Register ``schema_text`` under ``subject`` (idempotent in the registry) → its id."""
        key = (subject, schema_text)
        with self._lock:
            if key in self._ids:
                return self._ids[key]
        path = f"/subjects/{urllib.parse.quote(subject, safe='')}/versions"
        try:
            schema_id = int(self._call("POST", path, {"schema": schema_text})["id"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SchemaRegistryError(f"registry {self.url}: register {subject}: {exc}") from exc
        with self._lock:
            self._ids[key] = schema_id
            self._schemas[schema_id] = schema_text
        return schema_id


@functools.cache
def registry_client(url: str) -> RegistryClient:
    """One client (and so one cache) per registry URL per process."""
    return RegistryClient(url)
