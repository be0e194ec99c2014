"""The console's pages: escaped by default, and no script or style runs but the page's own
(the Content Security Policy's nonce is the one on the inline script and style)."""

from __future__ import annotations

import re

from app.console.pages import page, shown

VIEWER = {"subject": "<b>eve</b>", "roles": ["support"], "pages": [], "home": None}


def test_what_a_player_or_viewer_sent_is_escaped():
    response = page("players.html", viewer=VIEWER, player_id='"><script>alert(1)</script>')
    assert "<script>alert(1)" not in response.text and "&lt;script&gt;alert(1)" in response.text
    assert "<b>eve</b>" not in response.text


def test_only_the_page_s_own_scripts_and_styles_run():
    response = page("login.html", status=401, detail="the token has expired")
    policy = response.headers["Content-Security-Policy"]
    [nonce] = set(re.findall(r"'nonce-([^']+)'", policy))
    tags = re.findall(r"<(script|style)([^>]*)>", response.text)
    assert tags and all(f'nonce="{nonce}"' in attributes for _, attributes in tags)
    assert "default-src 'none'" in policy and "unsafe" not in policy
    assert response.status == 401 and "the token has expired" in response.text
    assert page("login.html", detail="").headers["Content-Security-Policy"] != policy


def test_profile_fields_read_as_text():
    assert shown(["chasing_losses", "late_night"]) == "chasing_losses, late_night"
    assert shown(None) == "-" and shown([]) == "none"
    assert shown({"amount_minor": 5000}) == '{"amount_minor": 5000}'
    assert shown(1_795_000_000_000, "updated_at") == "2026-11-18T11:06:40Z"
    assert shown(1_795_000_000_000, "points") == "1795000000000"
