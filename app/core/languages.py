"""Messages in the player's language: a template per language, picked by the profile's tag.

A tag is matched as written (``pt-br``), then by its primary language (``pt``), and falls back
to the default template; tags compare case-insensitively, with ``_`` read as ``-``.
"""

from __future__ import annotations

from collections.abc import Mapping


def normal_tag(tag: str) -> str:
    """``pt_BR`` and ``PT-br`` as ``pt-br``: how tags are compared."""
    return tag.strip().replace("_", "-").lower()


def in_language(
    default: str | None, by_language: Mapping[str, str], language: str | None
) -> str | None:
    """The template for ``language`` (a profile's tag), else ``default``."""
    if not by_language or not language:
        return default
    tag = normal_tag(language)
    found = by_language.get(tag)
    if found is None:
        found = by_language.get(tag.split("-", 1)[0])
    return default if found is None else found
