"""Who may send: a source's API key (stored as a hash) or its HMAC signature with a fresh
timestamp; every failure answers alike."""

from __future__ import annotations

import textwrap
import time

import pytest

from app.intake.sources import REFUSED, SIGNATURE_HEADER, Sources, new_key, sign
from app.security.documents import SecurityFileError
from app.security.principal import AuthenticationError, Kind

BODY = b'{"events": []}'


@pytest.fixture
def keyed(tmp_path):
    key, stored = new_key()
    (tmp_path / "studio.hmac").write_bytes(b"s3cret-shared\n")
    (tmp_path / "sources.yaml").write_text(
        textwrap.dedent(
            f"""\
            sources:
              dealerstream:
                mappings: [{EXAMPLES}/dealerstream.mapping.yaml, {EXAMPLES}/croupierml.mapping.yaml]
                api_keys: ['{stored}']
              croupier:
                hmac_secret_file: studio.hmac
            """
        )
    )
    return key, Sources.load(tmp_path / "sources.yaml", tolerance_s=300)


from tests.unit.intake.test_examples import EXAMPLES  # noqa: E402


def test_the_sources_file_names_each_sources_mappings(keyed):
    _, sources = keyed
    assert sorted(sources.sources["dealerstream"].mappings) == ["json", "xml"]
    assert sources.sources["croupier"].hmac_secret == b"s3cret-shared"


def test_an_api_key_admits_its_source_only(keyed):
    key, sources = keyed
    who = sources.authenticate("dealerstream", {"Authorization": f"Bearer {key}"}, BODY, 0)
    assert (who.subject, who.kind) == ("intake:dealerstream", Kind.MACHINE)
    assert sources.any_key(f"Bearer {key}")
    for name, header in [
        ("dealerstream", f"Bearer {key}x"),
        ("dealerstream", key),
        ("dealerstream", ""),
        ("croupier", f"Bearer {key}"),
        ("nobody", f"Bearer {key}"),
    ]:
        with pytest.raises(AuthenticationError, match=REFUSED):
            sources.authenticate(name, {"Authorization": header}, BODY, 0)


def test_a_signature_admits_a_fresh_request_for_its_body(keyed):
    _, sources = keyed
    now = time.time()
    good = sign(b"s3cret-shared", int(now), BODY)
    assert sources.authenticate("croupier", {SIGNATURE_HEADER: good}, BODY, now).subject == (
        "intake:croupier"
    )
    for header, body, at in [
        (good, BODY + b" ", now),  # another body
        (sign(b"wrong", int(now), BODY), BODY, now),
        (sign(b"s3cret-shared", int(now) - 301, BODY), BODY, now),  # replayed later
        ("t=abc,v1=00", BODY, now),
        ("garbage", BODY, now),
    ]:
        with pytest.raises(AuthenticationError, match=REFUSED):
            sources.authenticate("croupier", {SIGNATURE_HEADER: header}, body, at)
    with pytest.raises(AuthenticationError):  # a keyed source has no signing secret
        sources.authenticate("dealerstream", {SIGNATURE_HEADER: good}, BODY, now)


def test_a_source_nothing_could_use_is_refused_with_its_line(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  studio:\n    mappings: []\n  Bad Name: {api_keys: []}\n")
    with pytest.raises(SecurityFileError) as caught:
        Sources.load(path, 300)
    found = [str(p) for p in caught.value.problems]
    assert any(p.startswith(f"{path}:4: sources.Bad Name: is not a valid name") for p in found)
    path.write_text("sources:\n  studio:\n    mappings: []\n")
    with pytest.raises(SecurityFileError) as caught:
        Sources.load(path, 300)
    [problem] = [str(p) for p in caught.value.problems]
    assert (
        problem
        == f"{path}:2: sources.studio: needs mappings, api_keys or hmac_secret_file: "
        + ("nothing could use it")
    )


def test_two_mappings_of_one_format_are_refused(tmp_path):
    path = tmp_path / "sources.yaml"
    mapping = EXAMPLES / "dealerstream.mapping.yaml"
    (tmp_path / "copy.yaml").write_text(mapping.read_text())
    (tmp_path / "s").write_text("x")
    path.write_text(
        f"sources:\n  studio:\n    mappings: [{mapping}, copy.yaml]\n    hmac_secret_file: s\n"
    )
    with pytest.raises(SecurityFileError, match="one mapping per format"):
        Sources.load(path, 300)
