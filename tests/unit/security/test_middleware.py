"""The door of the web surfaces, on a real aiohttp server on loopback: who gets in, who is
told 401 or 403, what the access log receives, and that no answer carries a traceback."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization

from app.contract.codec import AvroCodec
from app.security.access import strip_fields
from app.security.apikeys import KeyRing, mint_api_key
from app.security.authenticate import Authenticator
from app.security.dev_identity import ensure_dev_identity
from app.security.https import server_ssl_context
from app.security.middleware import auth_middleware, authorize_player, requires
from app.security.settings import WebSettings

PROFILE = {"vip_tier": "GOLD", "harm_flags": ["chasing"], "consents": [], "segments": ["x"]}
TIERS = {"p-gold": "GOLD", "p-diamond": "DIAMOND"}


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@requires("player.read")
async def player(request: web.Request) -> web.Response:
    player_id = request.match_info["player_id"]
    decision = await authorize_player(request, TIERS.get(player_id))
    view = {"player_id": player_id, "profile": {**PROFILE, "vip_tier": TIERS[player_id]}}
    return web.json_response(strip_fields(view, decision.fields_hidden))


async def forget(request: web.Request) -> web.Response:
    return web.json_response({"forgotten": request.match_info["player_id"]})


async def undeclared(request: web.Request) -> web.Response:
    return web.json_response({"secret": "table dump"})


async def crash(request: web.Request) -> web.Response:
    raise RuntimeError("boom with a secret inside")


def make_app(authenticator, policy, log: list | Callable) -> web.Application:
    on_access = log.append if isinstance(log, list) else log
    app = web.Application(
        middlewares=[
            auth_middleware(
                authenticator,
                policy,
                on_access,
                routes={
                    "POST /players/{player_id}/forget": "player.forget",
                    "/crash": "stats.read",
                },
            )
        ]
    )
    for path in ("/health", "/livez", "/readyz"):
        app.router.add_get(path, health)
    app.router.add_get("/players/{player_id}", player)
    app.router.add_post("/players/{player_id}/forget", forget)
    app.router.add_get("/table/{name}", undeclared)
    app.router.add_get("/crash", crash)
    return app


Scenario = Callable[[TestClient], Awaitable[None]]


def run(identity, policy, scenario: Scenario, log=None, keys=None) -> list:
    entries = [] if log is None else log

    async def main() -> None:
        app = make_app(Authenticator(identity.verifier(), keys), policy, entries)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            await scenario(client)

    asyncio.run(main())
    return entries


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_routes_are_open_and_everything_else_needs_credentials(identity, policy):
    async def scenario(client: TestClient) -> None:
        for path in ("/health", "/livez", "/readyz"):
            assert (await client.get(path)).status == 200
        for method, path in [
            ("GET", "/players/p-gold"),
            ("POST", "/players/p-gold/forget"),
            ("GET", "/table/players"),
            ("GET", "/nowhere"),
            ("GET", "/health/../table/x"),
        ]:
            response = await client.request(method, path)
            assert response.status == 401, path
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="pitboss"'
            assert (await response.json())["error"] == "unauthenticated"

    entries = run(identity, policy, scenario)
    assert len(entries) == 5 and all(not e["allowed"] for e in entries)
    assert {e["kind"] for e in entries} == {"ANONYMOUS"}


GARBAGE = [
    b"Bearer",
    b"Bearer ",
    b"Basic dXNlcjpwYXNz",
    b"bearer a.b.c",
    b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    b"Bearer " + b"A" * 7000,
    b"Bearer ey\x01J",
    "Bearer é✓.✓.✓".encode(),
    b"Bearer \xff\xfe.\x80",
    b"Bearer pbk_",
    b"Bearer pbk_abc_def",
    b'Bearer {"alg":"none"}',
    b"Bearer eyJhbGciOiJFUzI1NiJ9.%%%%.@@@@",
    b"Token abc",
]


async def raw_get(port: int, authorization: bytes) -> tuple[int, str]:
    """A GET with exactly these header bytes, which no well-behaved client would send."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /players/p-gold HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Authorization: " + authorization + b"\r\n\r\n"
    )
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode("utf-8", "replace")


def test_garbage_credentials_get_a_401_without_a_traceback(identity, policy):
    async def scenario(client: TestClient) -> None:
        for header in GARBAGE:
            status, body = await raw_get(client.server.port, header)
            # aiohttp's parser itself refuses a control character (400) before any handler
            assert status == (400 if b"\x01" in header else 401), header
            assert "Traceback" not in body and 'File "' not in body, header

    entries = run(identity, policy, scenario)
    assert len(entries) == len(GARBAGE) - 1
    assert all(e["subject"] is None and not e["allowed"] for e in entries)


def test_expired_forged_and_foreign_tokens_are_401(identity, policy, tmp_path):
    attacker = ensure_dev_identity(tmp_path / "attacker")
    cases = {
        "the token has expired": identity.mint("a", ["auditor"], ttl=1, now=time.time() - 600),
        "the token's signature does not verify": _resigned(identity, attacker),
        "the token is not for this audience": _foreign(identity, aud="another-app"),
        "the token is from another issuer": _foreign(identity, iss="https://evil.example"),
    }

    async def scenario(client: TestClient) -> None:
        for reason, token in cases.items():
            response = await client.get("/players/p-gold", headers=bearer(token))
            assert response.status == 401
            assert (await response.json())["detail"] == reason
            challenge = response.headers["WWW-Authenticate"]
            assert 'error="invalid_token"' in challenge and reason.replace("'", "'") in challenge

    entries = run(identity, policy, scenario)
    assert [e["reason"] for e in entries] == list(cases)


def _resigned(identity, attacker) -> str:
    import jwt

    claims = jwt.decode(identity.mint("a", ["admin"]), options={"verify_signature": False})
    key = serialization.load_pem_private_key(
        (attacker.directory / "private.pem").read_bytes(), password=None
    )
    header = jwt.get_unverified_header(identity.mint("a", ["admin"]))
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": header["kid"]})


def _foreign(identity, **over) -> str:
    import jwt

    token = identity.mint("a", ["auditor"])
    claims = {**jwt.decode(token, options={"verify_signature": False}), **over}
    key = serialization.load_pem_private_key(
        (identity.directory / "private.pem").read_bytes(), password=None
    )
    return jwt.encode(claims, key, algorithm="ES256", headers=jwt.get_unverified_header(token))


def test_each_role_gets_its_routes_and_the_log_says_so(identity, policy):
    expect = {  # role -> (GET player, POST forget, GET undeclared table)
        "support": (200, 403, 403),
        "rg_officer": (200, 403, 403),
        "auditor": (200, 403, 403),
        "admin": (403, 200, 403),
        "crm_manager": (403, 403, 403),
        "analyst": (403, 403, 403),
    }

    async def scenario(client: TestClient) -> None:
        for role, (read, erase, table) in expect.items():
            headers = bearer(identity.mint(role, [role]))
            assert (await client.get("/players/p-gold", headers=headers)).status == read, role
            assert (await client.post("/players/p-gold/forget", headers=headers)).status == erase
            response = await client.get("/table/players", headers=headers)
            assert response.status == table
            assert "table dump" not in await response.text()

    entries = run(identity, policy, scenario)
    denied = [e for e in entries if not e["allowed"]]
    assert {(e["subject"], e["action"]) for e in denied} >= {
        ("support", "POST /players/{player_id}/forget"),
        ("admin", "GET /players/{player_id}"),
        ("admin", "GET /table/{name}"),
    }
    undeclared_entries = [e for e in entries if e["action"] == "GET /table/{name}"]
    assert all("declares no permission" in e["reason"] for e in undeclared_entries)
    reads = [e for e in entries if e["action"] == "GET /players/{player_id}" and e["allowed"]]
    assert {e["player_id"] for e in reads} == {"p-gold"}
    assert all(e["kind"] == "STAFF" and e["permission"] == "player.read" for e in reads)


def test_fields_are_stripped_per_role(identity, policy):
    async def scenario(client: TestClient) -> None:
        support = await client.get(
            "/players/p-gold", headers=bearer(identity.mint("s", ["support"]))
        )
        assert (await support.json())["profile"] == {"vip_tier": "GOLD", "segments": ["x"]}
        rg = await client.get("/players/p-gold", headers=bearer(identity.mint("r", ["rg_officer"])))
        assert (await rg.json())["profile"]["harm_flags"] == ["chasing"]

    entries = run(identity, policy, scenario)
    player_entries = [e for e in entries if e["subject"] == "s"]
    assert player_entries[-1]["fields_hidden"] == [
        "consents",
        "cooldown",
        "deposits",
        "harm_flags",
        "last_deposit",
        "self_excluded",
    ]


def test_a_vip_player_is_refused_to_an_uncleared_role(identity, policy):
    async def scenario(client: TestClient) -> None:
        support = bearer(identity.mint("s", ["support"]))
        response = await client.get("/players/p-diamond", headers=support)
        assert response.status == 403
        assert "cleared" in (await response.json())["detail"]
        officer = bearer(identity.mint("r", ["rg_officer"]))
        assert (await client.get("/players/p-diamond", headers=officer)).status == 200

    entries = run(identity, policy, scenario)
    refusal = [e for e in entries if e["subject"] == "s" and not e["allowed"]]
    assert len(refusal) == 1 and refusal[0]["player_id"] == "p-diamond"


def test_missing_mfa_is_a_401_step_up(identity, policy):
    """401, not 403 (RFC 9470): the same person may pass after logging in again with MFA."""

    async def scenario(client: TestClient) -> None:
        headers = bearer(identity.mint("r", ["rg_officer"], amr=["pwd"]))
        response = await client.get("/players/p-gold", headers=headers)
        assert response.status == 401
        challenge = response.headers["WWW-Authenticate"]
        assert 'error="insufficient_user_authentication"' in challenge
        assert "mfa" in (await response.json())["detail"]

    entries = run(identity, policy, scenario)
    assert entries[-1]["allowed"] is False and entries[-1]["subject"] == "r"


def test_unknown_routes_answer_404_only_once_authenticated(identity, policy):
    async def scenario(client: TestClient) -> None:
        headers = bearer(identity.mint("a", ["auditor"]))
        assert (await client.get("/nowhere", headers=headers)).status == 404
        assert (await client.delete("/players/p-gold", headers=headers)).status == 405

    entries = run(identity, policy, scenario)
    assert [e["reason"] for e in entries] == ["no such route", "no such route"]


def test_a_crash_is_a_500_without_a_traceback(identity, policy):
    async def scenario(client: TestClient) -> None:
        response = await client.get("/crash", headers=bearer(identity.mint("a", ["analyst"])))
        body = await response.text()
        assert response.status == 500
        assert "Traceback" not in body and "secret" not in body

    run(identity, policy, scenario)


def test_machine_keys(identity, policy, tmp_path):
    key, line = mint_api_key("exporter", ["auditor"])
    path = tmp_path / "keys.yaml"
    path.write_text("keys:\n" + line + "\n")

    async def scenario(client: TestClient) -> None:
        assert (await client.get("/players/p-gold", headers=bearer(key))).status == 200
        wrong = key[:-2] + ("aa" if not key.endswith("aa") else "bb")
        assert (await client.get("/players/p-gold", headers=bearer(wrong))).status == 401

    entries = run(identity, policy, scenario, keys=KeyRing.load(path))
    assert entries[0]["kind"] == "MACHINE" and entries[0]["subject"] == "_".join(
        key.split("_", 2)[:2]
    )


def test_when_the_access_log_fails_nothing_is_served(identity, policy):
    def broken(entry: dict) -> None:
        raise OSError("topic unavailable")

    async def scenario(client: TestClient) -> None:
        response = await client.get(
            "/players/p-gold", headers=bearer(identity.mint("s", ["support"]))
        )
        assert response.status == 503
        assert "PROFILE" not in await response.text()

    run(identity, policy, scenario, log=broken)


def test_an_async_access_log_and_a_given_request_id(identity, policy):
    seen: list[dict] = []

    async def slow_log(entry: dict) -> None:
        await asyncio.sleep(0)
        seen.append(entry)

    async def scenario(client: TestClient) -> None:
        headers = {**bearer(identity.mint("s", ["support"])), "X-Request-Id": "req-42"}
        assert (await client.get("/players/p-gold", headers=headers)).status == 200
        await client.get("/players/p-gold", headers={"X-Request-Id": "bad id\twith junk"})

    run(identity, policy, scenario, log=slow_log)
    assert seen[0]["request_id"] == "req-42"
    assert seen[-1]["request_id"] != "bad id\twith junk" and len(seen[-1]["request_id"]) == 32
    assert seen[0]["remote"] == "127.0.0.1"


def test_every_entry_is_a_valid_access_log_record(identity, policy):
    async def scenario(client: TestClient) -> None:
        await client.get("/players/p-gold")
        await client.get("/players/p-diamond", headers=bearer(identity.mint("s", ["support"])))
        await client.post("/players/p-1/forget", headers=bearer(identity.mint("x", ["admin"])))

    codec = AvroCodec("AccessLogEntry")
    for entry in run(identity, policy, scenario):
        assert codec.decode(codec.encode(entry)) == entry


# --- HTTPS --------------------------------------------------------------------------------


def test_https_serves_and_plain_http_is_refused(identity, policy, certificate):
    cert_file, key_file = certificate
    web_settings = WebSettings("127.0.0.1", "", cert_file, key_file)
    server_context = server_ssl_context(web_settings)
    client_context = ssl.create_default_context(cafile=str(cert_file))

    async def main() -> None:
        app = make_app(Authenticator(identity.verifier()), policy, [])
        server = TestServer(app, host="127.0.0.1")
        await server.start_server(ssl=server_context)
        try:
            url = server.make_url("/players/p-gold")
            assert url.scheme == "https"
            async with aiohttp.ClientSession() as session:
                headers = bearer(identity.mint("s", ["support"]))
                async with session.get(url, headers=headers, ssl=client_context) as response:
                    assert response.status == 200
                with pytest.raises(aiohttp.ClientError):
                    async with session.get(url.with_scheme("http"), headers=headers) as response:
                        await response.read()
                with pytest.raises(aiohttp.ClientConnectorCertificateError):
                    async with session.get(url, headers=headers) as response:  # untrusted CA
                        await response.read()
        finally:
            await server.close()

    asyncio.run(main())
