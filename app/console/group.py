"""The overview of the whole group of workers: the worker that serves the page asks every other
worker for its own figures (``/console/api/overview``) at the URL that worker advertises
(``PITBOSS_WEB_ADVERTISED_URL``, which Faust's partition assignment hands to every member),
with the viewer's own credentials, so each worker's door decides and logs as for a direct
request. A worker that does not answer in time is named, never silently left out.

Asked over HTTP rather than read from Kafka or the archive because the figures are each
worker's own counters, lag and cool-down index, which exist nowhere else; the asks run in
parallel, so the page waits for the slowest worker, at most ``PEER_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from app.console.overview import merged

#: The route each worker answers with its own figures.
OWN_FIGURES = "/console/api/overview"
#: The request headers that carry the viewer's credentials to the other workers.
FORWARDED = ("Authorization", "Cookie")
#: How long the page waits for another worker's figures.
PEER_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Answer:
    url: str
    document: dict[str, Any] | None = None
    #: what went wrong, worded to follow "worker X at URL"
    problem: str | None = None


def _ident(url: str) -> tuple[str | None, int | None]:
    parsed = URL(url)
    return parsed.host, parsed.port


def peer_urls(advertised: Iterable[str], own: str) -> list[str]:
    """The other workers' URLs among those the assignment advertises (host and port compared,
    as Faust's own forwarding does)."""
    mine = _ident(own)
    return sorted({url for url in advertised if _ident(url) != mine})


async def ask(session: aiohttp.ClientSession, url: str, headers: Mapping[str, str]) -> Answer:
    """One worker's own figures, or why there are none."""
    try:
        async with asyncio.timeout(PEER_TIMEOUT_S):
            async with session.get(str(URL(url) / OWN_FIGURES.lstrip("/")), headers=headers) as r:
                if r.status != 200:
                    return Answer(url, problem=f"refused the figures (HTTP {r.status})")
                document = await r.json(content_type=None)
    except TimeoutError:
        return Answer(url, problem=f"did not answer within {PEER_TIMEOUT_S:g} s")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Answer(url, problem=f"did not answer ({why})")
    if not isinstance(document, dict) or not isinstance(document.get("totals"), dict):
        return Answer(url, problem="answered something other than its figures")
    return Answer(url, document=document)


class Group:
    """Gathers the group's figures; remembers which worker id answered at which URL, so a
    worker that stops answering is named by its id, not only its URL."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    async def overview(
        self,
        own: dict[str, Any],
        peers: list[str],
        session: aiohttp.ClientSession,
        request_headers: Mapping[str, str],
    ) -> dict[str, Any]:
        """The group document (``/console/api/overview/group``, described in openapi.yaml)."""
        headers = {k: request_headers[k] for k in FORWARDED if k in request_headers}
        answers = await asyncio.gather(*(ask(session, url, headers) for url in peers))
        documents = [own]
        unanswered = []
        for answer in answers:
            if answer.document is not None:
                self.known[answer.url] = str(answer.document.get("worker_id"))
                documents.append(answer.document)
            else:
                worker = self.known.get(answer.url)
                named = f"worker {worker}" if worker else "the worker"
                unanswered.append(
                    {
                        "worker_id": worker,
                        "url": answer.url,
                        "problem": f"{named} at {answer.url} {answer.problem}",
                    }
                )
        return {
            "served_by": own["worker_id"],
            "total": merged(documents),
            "workers": sorted(documents, key=lambda d: str(d["worker_id"])),
            "unanswered": unanswered,
        }
