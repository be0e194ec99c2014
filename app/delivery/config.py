"""The endpoints file of ``pitboss webhooks`` and ``pitboss fulfil``: which HTTP endpoints get
which records, how the body is made, how the request is authenticated and signed, and how
often it is tried. YAML checked against ``endpoints.schema.json`` and then for what only code
can see (a reward kind or decision the contract does not have, a template that does not
compile, a secret file that cannot be read); every problem names file, line and field, the way
the intake's sources file is read (``app.security.documents``).

Secrets (an auth header's value, an OAuth2 client secret, the signing secret) are never in the
file itself: it names files, relative to itself, that hold them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any, Literal

from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from app.contract.schemas import get_schema
from app.rules.problems import Path, hint
from app.security.documents import load_document

SCHEMA_PATH = FilePath(__file__).resolve().parent / "endpoints.schema.json"
#: What the file is read for: subscriptions to any topic, or fulfilment adapters of rewards.
Use = Literal["webhooks", "fulfil"]
#: Templates run in Jinja2's sandbox: a template can format a record, not reach Python.
_TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@dataclass(frozen=True)
class Retry:
    attempts: int = 6
    first_delay: float = 0.5
    max_delay: float = 60.0


@dataclass(frozen=True)
class OAuth2:
    """OAuth2 client credentials (RFC 6749 section 4.4): a token fetched and cached."""

    token_url: str
    client_id: str
    client_secret: str
    scope: str | None


@dataclass(frozen=True)
class Filter:
    """Which records an endpoint gets: every filter given must match; a record without the
    field a filter looks at (a cool-down has no rule) does not match it."""

    kinds: frozenset[str] | None = None
    decisions: frozenset[str] | None = None
    rules: frozenset[str] | None = None


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    method: str
    #: contract names: ``rewards``, ``cooldowns``, ``journal``, ``rg-alerts``
    topics: tuple[str, ...]
    filter: Filter
    template: Template | None
    content_type: str
    headers: Mapping[str, str]
    #: a static header (name, value), e.g. an API key
    auth_header: tuple[str, str] | None
    oauth2: OAuth2 | None
    signing_secret: bytes | None
    timeout: float
    retry: Retry
    #: fulfil: the field of the operator's JSON answer that says what became of the reward,
    #: and its values -> ``credited``, ``claimable``, ``claimed``, ``expired``, ``failed``
    answer_field: str | None = None
    answer_states: Mapping[str, str] = field(default_factory=dict)


def load_endpoints(path: str | FilePath, use: Use) -> list[Endpoint]:
    """The endpoints in ``path`` for ``use``; SecurityFileError listing every problem."""
    base = FilePath(path).resolve().parent
    doc = load_document(path, SCHEMA_PATH, lambda d: _checks(d, use, base))
    return [_endpoint(base, name, spec, use) for name, spec in doc["endpoints"].items()]


def _endpoint(base: FilePath, name: str, spec: dict, use: Use) -> Endpoint:
    auth, retry, answer = spec.get("auth", {}), spec.get("retry", {}), spec.get("answer", {})
    header, oauth = auth.get("header"), auth.get("oauth2")
    filters = spec.get("filter", {})
    signing = spec.get("signing_secret_file")
    return Endpoint(
        name=name,
        url=spec["url"],
        method=spec.get("method", "POST"),
        topics=tuple(spec.get("topics", ["rewards"] if use == "fulfil" else [])),
        filter=Filter(**{k: frozenset(v) for k, v in filters.items()}),
        template=_TEMPLATES.from_string(spec["template"]) if "template" in spec else None,
        content_type=spec.get("content_type", "application/json"),
        headers=dict(spec.get("headers", {})),
        auth_header=((header["name"], _secret(base, header["value_file"])) if header else None),
        oauth2=(
            OAuth2(
                oauth["token_url"],
                oauth["client_id"],
                _secret(base, oauth["client_secret_file"]),
                oauth.get("scope"),
            )
            if oauth
            else None
        ),
        signing_secret=(_secret(base, signing).encode() if signing else None),
        timeout=float(spec.get("timeout", 10)),
        retry=Retry(
            int(retry.get("attempts", Retry.attempts)),
            float(retry.get("first_delay", Retry.first_delay)),
            float(retry.get("max_delay", Retry.max_delay)),
        ),
        answer_field=answer.get("field"),
        answer_states=dict(answer.get("states", {})),
    )


def _secret(base: FilePath, name: str) -> str:
    """A secret file's text, stripped (``_checks`` made sure it can be read)."""
    return (base / name).read_text(encoding="utf-8").strip()


def _unreadable(base: FilePath, name: str) -> str | None:
    """Why the secret file ``name`` cannot serve, or None."""
    try:
        text = (base / name).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read {base / name}: {getattr(exc, 'strerror', None) or exc}"
    return None if text else f"{base / name} is empty"


def _secret_files(spec: Mapping[str, Any]) -> list[tuple[Path, str]]:
    """(path in the endpoint, file name) of each secret file the endpoint names."""
    auth = spec.get("auth", {})
    named = [
        (("auth", "header", "value_file"), auth.get("header", {}).get("value_file")),
        (
            ("auth", "oauth2", "client_secret_file"),
            auth.get("oauth2", {}).get("client_secret_file"),
        ),
        (("signing_secret_file",), spec.get("signing_secret_file")),
    ]
    return [(path, name) for path, name in named if name]


def _symbols(record: str, field_name: str) -> list[str]:
    """The enum symbols of one field of a contract record (the schema is the authority)."""
    fields = {f["name"]: f["type"] for f in get_schema(record).parsed["fields"]}
    return list(fields[field_name]["symbols"])


def _checks(doc: Mapping[str, Any], use: Use, base: FilePath) -> list[tuple[Path, str]]:
    kinds, decisions = _symbols("Reward", "kind"), _symbols("JournalEntry", "decision")
    problems: list[tuple[Path, str]] = []
    handled: dict[str, str] = {}
    for name, spec in doc["endpoints"].items():
        where = ("endpoints", name)
        filters = spec.get("filter", {})
        for inside, file_name in _secret_files(spec):
            why = _unreadable(base, file_name)
            if why:
                problems.append(((*where, *inside), why))
        for key, known in (("kinds", kinds), ("decisions", decisions)):
            for i, value in enumerate(filters.get(key, ())):
                if value not in known:
                    why = f"{value!r} is not one of {', '.join(known)}{hint(value, known)}"
                    problems.append(((*where, "filter", key, i), why))
        if "template" in spec:
            try:
                _TEMPLATES.parse(spec["template"])
            except TemplateSyntaxError as exc:
                why = f"does not compile: {exc.message} (line {exc.lineno} of the template)"
                problems.append(((*where, "template"), why))
        if use == "webhooks":
            if "topics" not in spec:
                problems.append(
                    (where, "names no topics: rewards, cooldowns, journal or rg-alerts")
                )
            if "answer" in spec:
                problems.append(((*where, "answer"), "only fulfilment adapters read the answer"))
            continue
        if spec.get("topics", ["rewards"]) != ["rewards"]:
            problems.append(((*where, "topics"), "a fulfilment adapter reads rewards only"))
        if "kinds" not in filters:
            problems.append((where, "needs filter.kinds: the reward kinds this adapter credits"))
        for i, kind in enumerate(filters.get("kinds", ())):
            if kind in handled:
                why = f"{kind} is credited by {handled[kind]} already: one adapter per kind"
                problems.append(((*where, "filter", "kinds", i), why))
            handled.setdefault(kind, name)
    return problems
