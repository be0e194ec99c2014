"""The door of the commands that change things (``rules push``, ``forget``, ``topics create``):
they run only for a token (PITBOSS_TOKEN or PITBOSS_TOKEN_FILE; an API key too) the deployment
trusts, whose roles grant the command's permission in access.yaml, and the access log records
the authenticated identity, not the OS user. A refusal is one line on stderr and exit code 2."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any, NoReturn

from app.security.access import Decision, load_access_file
from app.security.access_log import access_entry
from app.security.access_log_producer import AccessLogProducer
from app.security.authenticate import authenticator_from_settings
from app.security.principal import AuthenticationError, Principal
from app.security.settings import KafkaSecurity, SecuritySettings
from app.settings import Environ, Settings

log = logging.getLogger(__name__)


def refuse(message: str) -> NoReturn:
    """One clear line, no traceback, exit code 2."""
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(2)


@dataclass(frozen=True)
class Admission:
    """Who runs the command and what the access policy said; ``entry`` is its access-log
    record."""

    principal: Principal
    decision: Decision
    entry: dict[str, Any]
    kafka: KafkaSecurity


def admit(
    permission: str, action: str, *, player_id: str | None = None, environ: Environ | None = None
) -> Admission:
    """Authenticate the person running ``action`` and ask the access policy about
    ``permission``; refuses (exit 2) when there is no valid token."""
    env = os.environ if environ is None else environ
    try:
        security = SecuritySettings.from_env(env)
        principal = authenticator_from_settings(security.auth).authenticate_cli(env)
        decision = load_access_file(security.auth.access_file).authorize(principal, permission)
    except (AuthenticationError, ValueError) as exc:  # NoIdentityProvider, a bad setting
        refuse(f"`pitboss {action}` refused: {exc}")
    entry = access_entry(
        request_id=uuid.uuid4().hex,
        occurred_at=int(time.time() * 1000),
        principal=principal,
        permission=permission,
        action=f"pitboss {action}",
        decision=decision,
        player_id=player_id,
        remote=socket.gethostname(),
    )
    return Admission(principal, decision, entry, security.kafka)


async def record(settings: Settings, admission: Admission) -> None:
    """Write the admission to the access log, then refuse (exit 2) if the policy did; an
    allowed command whose record the broker did not take is refused too (as the web views
    answer 503), so no change goes unrecorded."""
    producer = AccessLogProducer(settings, admission.kafka)
    try:
        await producer(admission.entry)
    except Exception as exc:  # any failure to record refuses the change
        if admission.decision.allowed:
            refuse(f"the access log ({settings.topics.access_log}) could not be written: {exc!r}")
        log.warning("a refused command could not be recorded in the access log: %r", exc)
    finally:
        await producer.stop()
    if not admission.decision.allowed:
        refuse(f"`{admission.entry['action']}` refused: {admission.decision.reason}")


async def authorize_command(
    settings: Settings,
    permission: str,
    action: str,
    *,
    player_id: str | None = None,
    environ: Environ | None = None,
) -> Principal:
    """The principal allowed to run ``action``, recorded in the access log before it runs."""
    admission = admit(permission, action, player_id=player_id, environ=environ)
    await record(settings, admission)
    return admission.principal
