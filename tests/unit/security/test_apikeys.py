"""Machine API keys: minted keys authenticate, anything else is refused the same way, and
only hashes are stored."""

from __future__ import annotations

import pytest
import yaml

from app.security.apikeys import KeyRing, hash_secret, mint_api_key, secret_matches
from app.security.documents import SecurityFileError
from app.security.principal import AuthenticationError, Kind


def ring_file(tmp_path, *lines: str):
    path = tmp_path / "keys.yaml"
    path.write_text("keys:\n" + "\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("scheme", ["sha256", "scrypt"])
def test_a_minted_key_authenticates_as_its_machine(tmp_path, scheme):
    key, line = mint_api_key("exporter", ["analyst", "auditor"], scheme)
    other, other_line = mint_api_key("other", ["support"])
    ring = KeyRing.load(ring_file(tmp_path, line, other_line))
    principal = ring.authenticate(key)
    key_id = key.split("_")[1]
    assert principal.subject == f"pbk_{key_id}"
    assert principal.kind is Kind.MACHINE
    assert principal.roles == {"analyst", "auditor"}
    assert ring.authenticate(other).roles == {"support"}
    stored = (tmp_path / "keys.yaml").read_text()
    assert key.split("_", 2)[2] not in stored  # the secret is not in the file


def test_wrong_secret_and_unknown_id_are_refused_alike(tmp_path):
    key, line = mint_api_key("exporter", ["analyst"])
    ring = KeyRing.load(ring_file(tmp_path, line))
    _, key_id, secret = key.split("_", 2)
    wrong = secret[:-1] + ("x" if secret[-1] != "x" else "y")
    messages = set()
    for attempt in (f"pbk_{key_id}_{wrong}", f"pbk_000000000000_{secret}"):
        with pytest.raises(AuthenticationError) as caught:
            ring.authenticate(attempt)
        messages.add(str(caught.value))
    assert messages == {"unknown or wrong API key"}


@pytest.mark.parametrize("garbage", ["pbk_", "pbk_abc", "pbk__secret", "xyz_abc_def", "pbk"])
def test_malformed_keys(garbage):
    with pytest.raises(AuthenticationError, match="malformed"):
        KeyRing({}).authenticate(garbage)


def test_hashes_compare_secrets():
    for scheme in ("sha256", "scrypt"):
        stored = hash_secret("s3cret", scheme)
        assert secret_matches("s3cret", stored)
        assert not secret_matches("s3cret!", stored)
    assert hash_secret("a", "scrypt") != hash_secret("a", "scrypt")  # salted
    with pytest.raises(ValueError):
        hash_secret("a", "md5")


def test_the_printed_line_is_a_keys_file_entry():
    _, line = mint_api_key("exporter", ["b", "a"])
    (entry,) = yaml.safe_load("keys:\n" + line)["keys"].values()
    assert entry["name"] == "exporter" and entry["roles"] == ["a", "b"]
    assert entry["hash"].startswith("sha256:")


def test_a_broken_keys_file_is_reported_by_line(tmp_path):
    path = ring_file(
        tmp_path,
        '  "abcd1234": {name: x, roles: [analyst], hash: "md5:00"}',
        "  123456: {name: y, roles: [analyst], hash: 'sha256:" + "0" * 64 + "'}",
        "  ab_cd: {name: z, roles: [], hash: 'scrypt:1024:8:1:c2FsdA:aGFzaA'}",
    )
    with pytest.raises(SecurityFileError) as caught:
        KeyRing.load(path)
    text = str(caught.value)
    assert ":2: keys.abcd1234.hash:" in text
    assert ":4: keys.ab_cd: is not a valid name" in text


def test_a_numeric_key_id_must_be_quoted(tmp_path):
    path = ring_file(tmp_path, "  123456: {name: y, roles: [a], hash: 'sha256:" + "0" * 64 + "'}")
    with pytest.raises(SecurityFileError, match="a key id is text: quote it"):
        KeyRing.load(path)


def test_weak_scrypt_parameters_are_refused(tmp_path):
    path = ring_file(
        tmp_path, "  abcd1234: {name: z, roles: [], hash: 'scrypt:1024:8:1:c2Fs:aGFz'}"
    )
    with pytest.raises(SecurityFileError, match="power of 2"):
        KeyRing.load(path)


def test_an_empty_keys_file_accepts_no_key(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text("keys:\n")
    with pytest.raises(AuthenticationError):
        KeyRing.load(path).authenticate(mint_api_key("x", ["admin"])[0])
