"""The contract's Avro codec under Faust's serializer names (``avro.TableEvent`` ...).

Registered when the app is configured (``app.streaming.faust_app``), so the worker's topics
and ``pitboss send --value-serializer avro.TableEvent`` encode with the same codec as the
rest of Pitboss (docs/contract.md).
"""

from __future__ import annotations

import json
from typing import Any

from faust.serializers import codecs as faust_codecs
from faust.serializers.codecs import Codec

from app.contract.codec import AvroCodec
from app.contract.schemas import catalog


def _to_record(obj: Any) -> Any:
    """A dict from a dict or JSON text: ``faust send`` passes the value as a string."""
    if isinstance(obj, bytes | bytearray | memoryview):
        obj = bytes(obj).decode("utf-8")
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as exc:
            raise ValueError(f"expected a dict or JSON object text: {exc}") from exc
    return obj


class FaustAvroCodec(Codec):
    """Faust codec for one contract record: dict or JSON text in, Avro bytes out."""

    def __init__(self, schema_name: str, registry_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(schema_name=schema_name, registry_url=registry_url, **kwargs)
        self.avro = AvroCodec(schema_name, registry_url)

    def _dumps(self, obj: Any) -> bytes:
        return self.avro.encode(_to_record(obj))

    def _loads(self, s: bytes) -> Any:
        return self.avro.decode(s)


def faust_codec_name(schema_name: str) -> str:
    """The Faust serializer name of a record type, e.g. ``avro.TableEvent``."""
    return f"avro.{catalog().get(schema_name).name}"


def register_faust_codecs(registry_url: str | None = None) -> dict[str, FaustAvroCodec]:
    """Register ``avro.<Record>`` Faust codecs for every contract schema; safe to call again.

    A codec already registered with the same registry URL is kept, so codecs handed out
    earlier stay in use; a different URL replaces it.
    """
    registered: dict[str, FaustAvroCodec] = {}
    for info in catalog():
        name = faust_codec_name(info.name)
        existing = faust_codecs.codecs.get(name)
        if not (
            isinstance(existing, FaustAvroCodec)
            and not existing.children
            and existing.kwargs.get("registry_url") == (registry_url or None)
        ):
            existing = FaustAvroCodec(schema_name=info.name, registry_url=registry_url or None)
            faust_codecs.register(name, existing)
        registered[name] = existing
    return registered
