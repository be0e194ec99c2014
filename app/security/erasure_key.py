"""The deployment's erasure key: the secret of the keyed hash (``app.core.ids.pseudonym``)
that stands for a player id in logs, dead letters and erasure markers.

Every worker, the archive follower and the audit replay must use the same key, or an erased
player is no longer recognised and a replay disagrees. Production sets
``PITBOSS_ERASURE_KEY``; against the local broker a random key is made once in
``PITBOSS_ERASURE_KEY_FILE`` (default ``.state/erasure.key``), as the development identity is.
"""

from __future__ import annotations

import os
import secrets
from functools import cache
from pathlib import Path

from app.settings import Settings

#: fewer characters than this is a key someone could guess
MIN_KEY_CHARS = 32


class ErasureKeyMissing(RuntimeError):
    """No key is configured and this deployment may not make one."""


def erasure_key(settings: Settings) -> bytes:
    """The key from the setting, else from (or newly made in) the key file; a deployment
    on a real broker must configure it, because a key made on one host differs on the next."""
    if settings.erasure_key:
        return _checked(settings.erasure_key, "PITBOSS_ERASURE_KEY")
    path = settings.erasure_key_file
    if not path.exists() and not settings.uses_local_broker:
        raise ErasureKeyMissing(
            "set PITBOSS_ERASURE_KEY (or PITBOSS_ERASURE_KEY_FILE) to the deployment's erasure "
            "key: every worker, the archive and the replay must share it"
        )
    return _from_file(path)


@cache
def _from_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        draft.write_text(secrets.token_hex(32) + "\n")
        draft.chmod(0o600)
        try:  # a link is atomic and never replaces: processes starting together agree
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return _checked(path.read_text().strip(), str(path))


def _checked(key: str, where: str) -> bytes:
    if len(key) < MIN_KEY_CHARS:
        raise ErasureKeyMissing(f"{where}: the erasure key must have {MIN_KEY_CHARS}+ characters")
    return key.encode()
