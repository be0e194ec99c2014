"""Staff tokens: what the identity provider signs is accepted, anything else is refused with
a reason the client may see (real keys, real signatures, a real JWKS endpoint)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.security.dev_identity import AUDIENCE, ISSUER, ensure_dev_identity
from app.security.principal import AuthenticationError, Kind
from app.security.tokens import (
    IdentityProvider,
    JwksUrl,
    KeyFile,
    KeysUnavailable,
    TokenVerifier,
)


def claims(**over):
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 600}
    return {**base, **over}


def private_key(identity):
    return serialization.load_pem_private_key(
        (identity.directory / "private.pem").read_bytes(), password=None
    )


def kid(identity):
    return json.loads((identity.directory / "jwks.json").read_text())["keys"][0]["kid"]


def sign(identity, body, key=None, algorithm="ES256", headers=None):
    return jwt.encode(
        body,
        key or private_key(identity),
        algorithm=algorithm,
        headers=headers if headers is not None else {"kid": kid(identity)},
    )


def refused(verifier, token) -> str:
    with pytest.raises(AuthenticationError) as caught:
        verifier.verify(token)
    return str(caught.value)


def test_a_minted_token_is_a_principal(identity):
    token = identity.mint("alice", ["support", "analyst"], amr=["pwd", "mfa"])
    principal = identity.verifier().verify(token)
    assert principal.subject == "alice"
    assert principal.kind is Kind.STAFF
    assert principal.roles == {"support", "analyst"}
    assert principal.amr == {"pwd", "mfa"}


def test_expired_token_is_refused(identity):
    token = identity.mint("alice", ["support"], ttl=60, now=time.time() - 3600)
    assert refused(identity.verifier(), token) == "the token has expired"


def test_forged_signature_is_refused(identity, tmp_path):
    other = ensure_dev_identity(tmp_path / "attacker")
    forged = sign(identity, claims(roles=["admin"]), key=private_key(other))
    assert refused(identity.verifier(), forged) == "the token's signature does not verify"
    valid = identity.mint("alice", ["support"])
    head, _, signature = valid.split(".")
    tampered_body = jwt.utils.base64url_encode(
        json.dumps(
            {**jwt.decode(valid, options={"verify_signature": False}), "roles": ["admin"]}
        ).encode()
    ).decode()
    assert "signature" in refused(identity.verifier(), f"{head}.{tampered_body}.{signature}")


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"iss": "https://evil.example"}, "the token is from another issuer"),
        ({"aud": "someone-else"}, "the token is not for this audience"),
        ({"nbf": int(time.time()) + 3600}, "the token is not valid yet"),
    ],
)
def test_wrong_issuer_audience_or_time_is_refused(identity, over, reason):
    assert refused(identity.verifier(), sign(identity, claims(**over))) == reason


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "iss", "aud"])
def test_a_token_lacking_a_required_claim_is_refused(identity, missing):
    body = {k: v for k, v in claims().items() if k != missing}
    assert refused(identity.verifier(), sign(identity, body)) in (
        "the token lacks a required claim",
        "the token is from another issuer",
        "the token is not for this audience",
    )


def test_alg_none_and_hmac_with_the_public_key_are_refused(identity):
    unsigned = jwt.encode(claims(), None, algorithm="none", headers={"kid": kid(identity)})
    assert refused(identity.verifier(), unsigned) == "the token's algorithm is not accepted"
    # the classic confusion: HMAC "signed" with the public key, which every client may know
    public = (identity.directory / "jwks.json").read_bytes()
    header = {"alg": "HS256", "typ": "JWT", "kid": kid(identity)}
    signing_input = b".".join(
        jwt.utils.base64url_encode(json.dumps(part).encode()) for part in (header, claims())
    )
    mac = hmac.new(public, signing_input, hashlib.sha256).digest()
    hmac_token = (signing_input + b"." + jwt.utils.base64url_encode(mac)).decode()
    assert refused(identity.verifier(), hmac_token) == "the token's algorithm is not accepted"


@pytest.mark.parametrize("garbage", ["", "x", "a.b.c", "eyJ.eyJ.", "é" * 50, "..", "Bearer"])
def test_garbage_is_malformed(identity, garbage):
    assert refused(identity.verifier(), garbage)


def test_only_asymmetric_algorithms_can_be_configured():
    for weak in (("HS256",), ("none",), ()):
        with pytest.raises(ValueError, match="asymmetric"):
            IdentityProvider(issuer="i", audience="a", algorithms=weak)
    with pytest.raises(ValueError, match="issuer"):
        IdentityProvider(issuer="", audience="a")


def test_pem_key_file_and_nested_roles_claim(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "idp.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    provider = IdentityProvider(
        issuer="https://idp.example", audience="pitboss", roles_claim="realm_access.roles"
    )
    verifier = TokenVerifier(provider, KeyFile(pem))
    body = {**claims(iss="https://idp.example"), "realm_access": {"roles": ["auditor"]}}
    body["acr"] = "urn:mfa"
    principal = verifier.verify(jwt.encode(body, key, algorithm="RS256"))
    assert principal.roles == {"auditor"} and principal.acr == "urn:mfa"
    assert refused(verifier, jwt.encode(body, key, algorithm="RS512")) == (
        "the token's algorithm is not accepted"
    )


def test_a_key_file_with_a_symmetric_key_is_refused(tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}))
    with pytest.raises(ValueError, match="public RSA, EC or OKP"):
        KeyFile(path)


def test_a_token_with_an_unknown_kid_is_refused(identity):
    token = sign(identity, claims(), headers={"kid": "nope"})
    assert refused(identity.verifier(), token) == "the token's signing key is unknown"


def test_keys_from_a_jwks_url_and_an_unreachable_provider(identity):
    jwks = json.loads((identity.directory / "jwks.json").read_text())

    async def serve_jwks(request: web.Request) -> web.Response:
        return web.json_response(jwks)

    async def scenario() -> None:
        app = web.Application()
        app.router.add_get("/jwks", serve_jwks)
        async with TestServer(app, host="127.0.0.1") as server:
            verifier = TokenVerifier(identity.provider, JwksUrl(str(server.make_url("/jwks"))))
            assert verifier.fetches
            token = identity.mint("bob", ["auditor"])
            principal = await asyncio.to_thread(verifier.verify, token)
            assert principal.roles == {"auditor"}
            other = ensure_dev_identity(identity.directory.parent / "other-idp")
            forged = sign(identity, claims(), key=private_key(other))
            with pytest.raises(AuthenticationError):
                await asyncio.to_thread(verifier.verify, forged)

    asyncio.run(scenario())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    verifier = TokenVerifier(identity.provider, JwksUrl(f"http://127.0.0.1:{port}/jwks", 1))
    with pytest.raises(KeysUnavailable):
        verifier.verify(identity.mint("bob", ["auditor"]))


def test_an_ec_key_cannot_verify_an_rsa_token(identity):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": kid(identity)})
    assert refused(identity.verifier(), token) == "the token's algorithm is not accepted"
    p384 = ec.generate_private_key(ec.SECP384R1())
    token = jwt.encode(claims(), p384, algorithm="ES384", headers={"kid": kid(identity)})
    assert refused(identity.verifier(), token) == "the token's algorithm is not accepted"
