"""The erasure key: configured, or made once per local deployment and shared; never guessable."""

from __future__ import annotations

import stat

import pytest

from app.security.erasure_key import ErasureKeyMissing, erasure_key
from app.settings import Settings


def settings(tmp_path, **env: str) -> Settings:
    return Settings.from_env({"PITBOSS_STATE_DIR": str(tmp_path), **env})


def test_a_local_deployment_makes_one_key_and_every_process_reads_it(tmp_path):
    first = erasure_key(settings(tmp_path))
    path = tmp_path / "erasure.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip().encode() == first and len(first) == 64
    assert erasure_key(settings(tmp_path)) == first
    assert erasure_key(settings(tmp_path / "other")) != first  # another deployment, another key


def test_the_setting_wins_and_is_never_shown(tmp_path):
    configured = settings(tmp_path, PITBOSS_ERASURE_KEY="k" * 40)
    assert erasure_key(configured) == b"k" * 40
    assert "k" * 40 not in str(configured.describe()) and "k" * 40 not in repr(configured)
    assert not (tmp_path / "erasure.key").exists()


def test_a_short_key_is_refused(tmp_path):
    with pytest.raises(ErasureKeyMissing, match="32"):
        erasure_key(settings(tmp_path, PITBOSS_ERASURE_KEY="short"))


def test_a_real_cluster_without_a_key_refuses_to_make_one(tmp_path):
    remote = settings(tmp_path, PITBOSS_BROKER_URL="kafka://kafka-1:9092")
    with pytest.raises(ErasureKeyMissing, match="PITBOSS_ERASURE_KEY"):
        erasure_key(remote)
