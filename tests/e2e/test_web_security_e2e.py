"""The door of the worker's web views, against a real worker, its archive and PostgreSQL.

One deployment (a worker and the archive follower) serves the module: every route answers 401
without credentials (routes read from the app's router), each role gets exactly its routes and
fields, a VIP player is refused to an uncleared role, bad tokens are 401, every decision is on
the access-log topic and in the archive, and the views survive a fuzz from their OpenAPI
document. HTTPS has a worker of its own.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

from app.core.ids import pseudonym
from app.devtools.deployment import Deployment, wait_for
from app.devtools.supervise import Child
from app.operations.api_views import OPENAPI_PATH
from app.security.access import load_access_file
from app.security.erasure_key import erasure_key
from app.security.middleware import HEALTH_ROUTES
from app.streaming.web import FAUST_VIEWS_OFF
from tests.e2e.test_archive_e2e import start_archive
from tests.support.factories import losing_burst, natural, profile
from tests.support.web import sample_path, served_routes
from tests.unit.archive.test_archive import URL, pg  # noqa: F401  (PostgreSQL or a clear failure)
from tests.unit.security.conftest import certificate  # noqa: F401  (a self-signed certificate)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

GOLD, DIAMOND = "p-sec-gold", "p-sec-diamond"
FORMULA = "=HYPERLINK(1)"
POLICY = load_access_file()
#: Paths Faust's own views would serve; off, so an authenticated caller gets 404.
FAUST_PATHS = ("/", "/router/", "/table/", "/table/player-state/p-1/", "/graph/", "/stats/")


class Served:
    """The module's deployment, its archive schema and the archive process."""

    def __init__(self, dep: Deployment, schema: str, archive: Child) -> None:
        self.dep, self.schema, self.archive = dep, schema, archive

    def call(
        self, path: str, token: str | None = None, method: str = "GET", **headers: str
    ) -> tuple[int, bytes]:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.dep.web_url + path, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def as_role(self, role: str, path: str) -> tuple[int, bytes]:
        return self.call(path, self.dep.token(role, subject=f"{role}-{self.schema}"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, pg: str) -> Iterator[Served]:  # noqa: F811
    schema = f"test_websec_{uuid.uuid4().hex[:8]}"
    dep = Deployment.create(tmp_path_factory.mktemp("web-security"), PITBOSS_ARCHIVE_SCHEMA=schema)
    archive = None
    try:
        dep.start_worker()
        archive = start_archive(dep, URL)
        now = int(time.time() * 1000) - 60_000
        dep.produce_profiles(
            [
                profile(GOLD, vip_tier="GOLD", harm_flags=["chasing_losses"]),
                profile(DIAMOND, vip_tier="DIAMOND"),
            ]
        )
        # Kafka does not order profiles against events: the harm flag must be known first
        wait_for(lambda: dep.view("/pitboss/stats/")["totals"]["profiles"] >= 2, what="profiles")
        # a reward whose event id a spreadsheet would run, and a rapid-loss cool-down
        events = [natural(player_id=GOLD, event_id=FORMULA, occurred_at=now)]
        events += losing_burst(GOLD, now + 1000)
        events.append(natural(player_id=DIAMOND, occurred_at=now))
        dep.produce_events(events)
        wait_for(
            lambda: dep.view("/pitboss/stats/")["totals"]["events"] >= len(events),
            what="the worker to decide every event",
        )

        def archived_cooldown() -> bool:
            try:
                return bool(
                    dep.view(f"/pitboss/timeline/{GOLD}/?decision=COOLDOWN_STARTED")["items"]
                )
            except urllib.error.HTTPError:  # 503 until the archive has its tables
                return False

        wait_for(archived_cooldown, timeout=60, what="the archive to hold the cool-down")
        yield Served(dep, schema, archive)
    finally:
        if archive is not None and archive.alive():
            archive.proc.kill()
        dep.stop_all()
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_no_credentials_is_401_on_every_route_and_health_is_open(served):
    routes = served_routes()
    assert set(routes) - HEALTH_ROUTES, "no routes read from the app's router"
    for pattern, methods in routes.items():
        for method in methods:
            status, body = served.call(sample_path(pattern), method=method)
            if pattern in HEALTH_ROUTES:
                assert (status, json.loads(body)) == (200, {"status": "ok"}), pattern
            else:
                assert status == 401, (method, pattern, status)
                assert json.loads(body)["error"] == "unauthenticated"
    for path in FAUST_PATHS:
        assert served.call(path)[0] == 401, path


def test_faust_own_views_are_off(served):
    assert all(value is False for value in FAUST_VIEWS_OFF.values())
    auditor = served.dep.token("auditor")
    for path in FAUST_PATHS:
        assert served.call(path, auditor)[0] == 404, path


def test_each_role_gets_exactly_its_routes(served):
    routes = {p: m for p, m in served_routes().items() if p not in HEALTH_ROUTES}
    for role in POLICY.roles:
        token = served.dep.token(role, subject=f"{role}-{served.schema}")
        for pattern, methods in routes.items():
            permission = _permission(pattern)
            allowed = POLICY.authorize(_principal(role), permission).allowed
            # a POST-only route answers GET with 405 whoever asks: ask with its own method
            method = "GET" if "GET" in methods else min(methods)
            status, body = served.call(sample_path(pattern), token, method=method)
            if allowed:
                assert status not in (401, 403), (role, pattern, status, body)
            else:
                assert status == 403, (role, pattern, status)
                assert json.loads(body)["error"] == "forbidden"


def test_each_role_sees_exactly_its_fields(served):
    views = {
        role: json.loads(served.as_role(role, f"/pitboss/players/{GOLD}/")[1])["profile"]
        for role in ("support", "rg_officer", "auditor")
    }
    assert set(views["auditor"]) >= {"harm_flags", "self_excluded", "consents", "last_deposit"}
    assert views["auditor"]["harm_flags"] == ["chasing_losses"]
    assert not {"harm_flags", "self_excluded", "consents", "last_deposit"} & set(views["support"])
    assert views["support"]["vip_tier"] == "GOLD"
    assert {"harm_flags", "self_excluded", "last_deposit"} <= set(views["rg_officer"])
    assert "consents" not in views["rg_officer"]
    timeline = f"/pitboss/timeline/{GOLD}/?decision=COOLDOWN_STARTED"
    [support_item] = json.loads(served.as_role("support", timeline)[1])["items"]
    [officer_item] = json.loads(served.as_role("rg_officer", timeline)[1])["items"]
    assert "cooldown" not in support_item and officer_item["cooldown"]["reason"]
    # nor what tripped it, nor that a harm flag held a reward back (reason and explanation)
    assert (support_item["reason"], support_item["details"]) == ("responsible_gaming", {})
    assert officer_item["reason"] != "responsible_gaming" and officer_item["details"]
    held = f"/pitboss/timeline/{GOLD}/?decision=REWARD_SUPPRESSED"

    def officer_sees_the_harm_flag() -> bool:
        """The officer reads the harm flag's hold once the archive has it (it may still be
        catching up on the entries after the cool-down the fixture waited for)."""
        items = json.loads(served.as_role("rg_officer", held)[1])["items"]
        return "harm_flag" in {e["reason"] for e in items}

    wait_for(officer_sees_the_harm_flag, timeout=60, what="a harm flag's hold")
    support_held = json.loads(served.as_role("support", held)[1])["items"]
    assert "harm_flag" not in {e["reason"] for e in support_held}
    assert "chasing_losses" not in json.dumps(support_held)


def test_a_vip_player_is_refused_to_an_uncleared_role(served):
    for path in (f"/pitboss/players/{DIAMOND}/", f"/pitboss/timeline/{DIAMOND}/"):
        status, body = served.as_role("support", path)
        assert status == 403 and "cleared" in json.loads(body)["detail"], path
        assert served.as_role("rg_officer", path)[0] == 200, path
    assert served.as_role("support", f"/pitboss/players/{GOLD}/")[0] == 200


def test_expired_and_forged_tokens_are_401(served, tmp_path):
    from app.security.dev_identity import ensure_dev_identity

    expired = served.dep.identity.mint("x", ["auditor"], ttl=1, now=time.time() - 600)
    forged = ensure_dev_identity(tmp_path / "attacker").mint("x", ["auditor"])
    for token, reason in (
        (expired, "the token has expired"),
        (forged, "the token's signing key is unknown"),
        (served.dep.token("auditor")[:-4] + "AAAA", "the token's signature does not verify"),
    ):
        status, body = served.call("/pitboss/stats/", token)
        assert (status, json.loads(body)["detail"]) == (401, reason)


def test_every_decision_is_in_the_access_log_topic_and_the_archive(served):
    subject = f"support-{served.schema}"
    served.as_role("support", "/pitboss/consumer/")  # refused: support has no debug.read
    served.as_role("support", f"/pitboss/players/{GOLD}/")  # allowed, fields hidden

    def mine(entries: list[dict]) -> list[dict]:
        return [e for e in entries if e["subject"] == subject]

    logged = mine(
        served.dep.consume(
            served.dep.settings.topics.access_log,
            "AccessLogEntry",
            lambda found: any(
                e["action"] == "GET /pitboss/consumer/" and not e["allowed"] for e in mine(found)
            ),
        )
    )
    assert any(not e["allowed"] and e["permission"] == "debug.read" for e in logged)
    # named by the pseudonym under the player's secret, or by the erasure marker where the
    # worker held no secret yet; never by the id
    names = {served.dep.named(GOLD), pseudonym(GOLD, erasure_key(served.dep.settings))}
    assert not [e for e in logged if e["player_id"] == GOLD]
    player_reads = [e for e in logged if e["player_id"] in names and e["allowed"]]
    assert any("harm_flags" in e["fields_hidden"] for e in player_reads)
    anonymous = served.dep.consume(
        served.dep.settings.topics.access_log,
        "AccessLogEntry",
        lambda found: any(e["kind"] == "ANONYMOUS" for e in found),
    )
    assert any(e["kind"] == "ANONYMOUS" and not e["allowed"] for e in anonymous)

    def archived() -> list[tuple]:
        with psycopg.connect(URL) as conn:
            return conn.execute(
                f"SELECT permission, allowed FROM {served.schema}.access_log WHERE subject = %s",
                [subject],
            ).fetchall()

    rows = wait_for(
        lambda: (rows := archived()) and ("debug.read", False) in rows and rows,
        timeout=60,
        what="the archive to hold the denial",
    )
    assert ("player.read", True) in rows
    # the auditor's route, paged
    page = json.loads(
        served.as_role("auditor", f"/pitboss/access-log/?subject={subject}&limit=1")[1]
    )
    assert page["count"] == 1 and page["items"][0]["subject"] == subject and page["next"]
    following = f"/pitboss/access-log/?subject={subject}&limit=500&before={page['next']}"
    rest = json.loads(served.as_role("auditor", following)[1])["items"]
    assert page["items"][0]["id"] not in {e["id"] for e in rest} and rest
    by_player = json.loads(served.as_role("auditor", f"/pitboss/access-log/?player_id={GOLD}")[1])
    # found by the id, the entries name the player by a pseudonym
    assert by_player["items"] and {e["player_id"] for e in by_player["items"]} <= names
    assert served.as_role("support", "/pitboss/access-log/")[0] == 403


def test_inputs_that_broke_the_views_before(served):
    auditor = served.dep.token("auditor")
    timeline = f"/pitboss/timeline/{GOLD}/"
    for query in (
        "limit=%D9%A3",  # Arabic-Indic three
        "limit=%C2%B2",  # superscript two
        "limit=1%00",
        "from=99999999999999999999",
        "to=-99999999999999999999",
        "from=10000-01-01T00:00:00Z",
        "from=0001-01-01T00:00:00%2B01:00",
        "before=%FF%FE",
    ):
        for path in (timeline, "/pitboss/access-log/"):
            status, body = served.call(f"{path}?{query}", auditor)
            assert status == 400, (path, query, status, body)
            assert "Traceback" not in body.decode("utf-8", "replace")
    assert served.call("/pitboss/access-log/?subject=a%00b", auditor)[0] == 400
    status, body = served.call(f"{timeline}export?format=csv", auditor)
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    cells = {cell for row in rows for cell in row.values() if cell}
    assert "'" + FORMULA in cells
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]


def test_the_views_survive_a_fuzz_from_their_openapi_document(served):
    schema = schemathesis.openapi.from_path(OPENAPI_PATH)
    headers = {"Authorization": f"Bearer {served.dep.token('auditor', ttl=7200)}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        has_parameters = bool(operation.query or operation.path_parameters)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)[: 1 + has_parameters]:

            @settings(
                max_examples=15,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case) -> None:
                response = case.call(base_url=served.dep.web_url, headers=headers, timeout=30)
                assert response.status_code < 500, (case.path, case.query, response.text[:300])
                assert "Traceback" not in response.text and 'File "' not in response.text

            fuzz()


def test_https_serves_and_plain_http_is_refused(tmp_path, certificate):  # noqa: F811
    cert_file, key_file = certificate
    dep = Deployment.create(
        tmp_path, PITBOSS_WEB_CERTFILE=str(cert_file), PITBOSS_WEB_KEYFILE=str(key_file)
    )
    try:
        dep.start_worker()
        url = f"https://127.0.0.1:{dep.settings.web_port}/pitboss/stats/"
        context = ssl.create_default_context(cafile=str(cert_file))
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {dep.token('auditor')}"}
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            assert response.status == 200 and json.load(response)["worker_id"]
        plain = http.client.HTTPConnection("127.0.0.1", dep.settings.web_port, timeout=10)
        with pytest.raises((OSError, http.client.HTTPException)):
            plain.request("GET", "/health")
            plain.getresponse().read()
        with pytest.raises(urllib.error.URLError):  # a client that does not trust the CA
            urllib.request.urlopen(url, timeout=10)
    finally:
        dep.stop_all()


def _permission(pattern: str) -> str:
    from app.streaming.faust_app import app
    from app.streaming.web import declared_permissions

    return declared_permissions(app.web)[pattern]


def _principal(role: str):
    from app.security.principal import Kind, Principal

    return Principal(role, Kind.STAFF, frozenset({role}), frozenset({"pwd", "mfa"}))


def test_the_worker_says_it_uses_the_development_identity(served):
    assert "AUTHENTICATION USES THE DEVELOPMENT IDENTITY" in served.dep.workers[0].log()
    assert Path(served.dep.env["PITBOSS_DEV_IDENTITY"], "private.pem").stat().st_mode & 0o077 == 0
