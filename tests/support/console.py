"""The console's end-to-end tests share one set-up: a worker with its archive in a PostgreSQL
schema of their own, checked first for the browser, everything stopped and the schema dropped
afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from app.devtools.deployment import Deployment
from tests.browser.driver import missing
from tests.e2e.test_archive_e2e import start_archive
from tests.unit.archive.test_archive import URL


@contextmanager
def console_deployment(state_dir: Path, name: str) -> Iterator[Deployment]:
    """A deployment named ``name`` with worker-1 and the archive (``pitboss archive``) running
    on PostgreSQL at ``URL``; a test failure saying so when the browser is not installed."""
    if (why := missing()) is not None:
        pytest.fail(f"the browser tests need `make browser`: {why}", pytrace=False)
    schema = f"test_{name}_{uuid.uuid4().hex[:8]}"
    dep = Deployment.create(state_dir, PITBOSS_ARCHIVE_SCHEMA=schema)
    archive = None
    try:
        dep.start_worker()
        archive = start_archive(dep, URL)
        yield dep
    finally:
        if archive is not None and archive.alive():
            archive.proc.kill()
        dep.stop_all()
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
