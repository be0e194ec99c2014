"""Hostile XML is refused before anything is expanded or fetched."""

from __future__ import annotations

import pytest

from app.intake.xmlsafe import UnsafeXml, parse_xml

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<batch><event id="&lol5;"/></batch>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE batch [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<batch><event id="&secret;"/></batch>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE batch SYSTEM "http://127.0.0.1:9/evil.dtd">
<batch><event id="x"/></batch>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_a_document_with_a_dtd_is_refused(body):
    with pytest.raises(UnsafeXml, match="DOCTYPE or ENTITY"):
        parse_xml(body)


def test_a_dtd_hidden_in_utf16_is_refused_after_parsing_without_expansion():
    body = EXTERNAL_ENTITY.replace(b'version="1.0"', b'version="1.0" encoding="UTF-16"')
    with pytest.raises(UnsafeXml):
        parse_xml(body.decode().encode("utf-16"))


@pytest.mark.parametrize("body", [b"", b"<batch>", b"not xml", b"<a></b>"])
def test_malformed_xml_is_refused_with_why(body):
    with pytest.raises(UnsafeXml, match="not well-formed XML"):
        parse_xml(body)


def test_plain_xml_parses():
    root = parse_xml(b'<?xml version="1.0" encoding="UTF-8"?><batch><event id="x"/></batch>')
    assert root.tag == "batch"
    assert root[0].get("id") == "x"
