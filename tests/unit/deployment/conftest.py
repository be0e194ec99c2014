"""What the deployment files (docker/compose.yaml, docker/k8s/) are checked against: the
environment variables Pitboss actually reads, asked of the settings code itself, so that a
setting renamed there fails the file that still sets the old name."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from app.security.authenticate import AuthenticationError, Authenticator
from app.security.settings import SecuritySettings
from app.settings import PROJECT_ROOT, Settings

DOCKER = PROJECT_ROOT / "docker"
#: variables a deployment file may set that are not Pitboss settings: libpq's password
#: (docs/audit.md), and a pod's own namespace, only used to spell its advertised URL
NOT_PITBOSS = {"PGPASSWORD", "POD_NAMESPACE"}


class RecordingEnv(Mapping[str, str]):
    """An empty environment that remembers every name it was asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@pytest.fixture(scope="session")
def settings_read() -> set[str]:
    """Every variable the worker's and the commands' settings read, and the command token."""
    env = RecordingEnv()
    Settings.from_env(env)
    SecuritySettings.from_env(env)
    # a command's token: asked for before any verifier is needed, so none is given
    with pytest.raises(AuthenticationError):
        Authenticator(tokens=None).authenticate_cli(env)
    return env.asked | NOT_PITBOSS


def docker_path(*parts: str) -> Path:
    return DOCKER.joinpath(*parts)
