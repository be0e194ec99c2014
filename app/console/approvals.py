"""Pushes waiting for a second crm_manager (``second_approver: [rules.push]`` in access.yaml).

A request holds the ruleset text and the live revision it was diffed against; the approval
publishes exactly that text, only if that revision is still live (``push``'s
``if_revision``), so nobody approves a change on top of a push they did not see. The person
who asked cannot approve their own request. Requests live in the memory of the worker whose
console took them (docs/console.md says what that means for a restart).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any


class ApprovalRefused(ValueError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PendingPush:
    request_id: str
    requester: str
    text: str
    live_revision: int
    lines: tuple[str, ...]
    requested_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "requester": self.requester,
            "live_revision": self.live_revision,
            "lines": list(self.lines),
            "requested_at": self.requested_at,
        }


class PendingPushes:
    def __init__(self) -> None:
        self.pending: dict[str, PendingPush] = {}

    def add(self, requester: str, text: str, live_revision: int, lines: list[str]) -> PendingPush:
        request = PendingPush(
            uuid.uuid4().hex[:16],
            requester,
            text,
            live_revision,
            tuple(lines),
            int(time.time() * 1000),
        )
        self.pending[request.request_id] = request
        return request

    def for_approval(self, request_id: str, approver: str) -> PendingPush:
        """The request ``approver`` may approve (ApprovalRefused: none such, or their own)."""
        request = self.pending.get(request_id)
        if request is None:
            raise ApprovalRefused(f"no push request {request_id[:40]!r} is waiting here", 404)
        if request.requester == approver:
            raise ApprovalRefused(
                "a push needs a second person: another crm_manager must approve it", 403
            )
        return request

    def drop(self, request_id: str) -> None:
        self.pending.pop(request_id, None)

    def listed(self) -> list[PendingPush]:
        return sorted(self.pending.values(), key=lambda r: r.requested_at)
