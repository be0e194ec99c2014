"""A real browser for pytest: one headless Debian Chromium per ``Browser``, driven by
playwright-core through ``driver.mjs`` (JSON lines over a pipe), so a test reads as Python.

Each ``Browser`` is one person: a fresh Chromium profile (cookies and all), thrown away on
``close``. ``make browser`` installs what it needs (Chromium with apt, playwright-core with
``npm ci``); without them the fixture fails saying so rather than skipping. Screenshots go to
``$PITBOSS_ARTIFACTS_DIR/screenshots/`` (default ``.state/artifacts/screenshots/``), kept after
the run as the tests' artifacts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
DRIVER = HERE / "driver.mjs"
CHROMIUM = os.environ.get("PITBOSS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("PITBOSS_ARTIFACTS_DIR", ROOT / ".state" / "artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"


class BrowserError(RuntimeError):
    """The page did not do what the test asked (Playwright's one-line reason)."""


def missing() -> str | None:
    """What ``make browser`` has not installed yet, in words; None when all is there."""
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}"
    if shutil.which("node") is None:
        return "no node on PATH"
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is not installed in tests/browser"
    return None


class Browser:
    """One Chromium with a fresh profile; each method is one Playwright call on its page.
    ``with Browser() as person:`` closes it (and removes the profile) at the end."""

    def __init__(self) -> None:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  (closed by close())
        self._proc = subprocess.Popen(
            ["node", str(DRIVER)],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**os.environ, "PITBOSS_CHROMIUM": CHROMIUM},
            text=True,
        )
        self._id = 0
        self._read()  # "ready", or why Chromium did not start

    def _read(self) -> Any:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._log.seek(0)
            stderr = self._log.read().decode(errors="replace").strip()
            raise BrowserError(f"the browser driver exited: {stderr[-2000:] or 'no output'}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise BrowserError(reply["error"])
        return reply["value"]

    def call(self, op: str, **args: Any) -> Any:
        assert self._proc.stdin is not None
        self._id += 1
        self._proc.stdin.write(json.dumps({"id": self._id, "op": op, **args}) + "\n")
        self._proc.stdin.flush()
        return self._read()

    def goto(self, url: str) -> int | None:
        """Open ``url``; the HTTP status of its response."""
        return self.call("goto", url=url)

    def fill(self, selector: str, value: str) -> None:
        self.call("fill", selector=selector, value=value)

    def click(self, selector: str) -> None:
        self.call("click", selector=selector)

    def click_and_load(self, selector: str) -> str:
        """Click, and wait until the page the click leads to (a reload too) has loaded; its
        URL."""
        return self.call("click_and_load", selector=selector)

    def text(self, selector: str) -> str:
        """The visible text of the first match, once there is one."""
        return self.call("text", selector=selector)

    def texts(self, selector: str) -> list[str]:
        return self.call("texts", selector=selector)

    def count(self, selector: str) -> int:
        return self.call("count", selector=selector)

    def wait_until(self, expression: str, arg: Any = None) -> Any:
        """Wait until the JavaScript function ``expression`` returns a truthy value for ``arg``
        in the page (within PITBOSS_BROWSER_TIMEOUT_MS); that value."""
        return self.call("wait_until", expression=expression, arg=arg)

    def cookies(self) -> list[dict[str, Any]]:
        return self.call("cookies")

    def screenshot(self, name: str) -> Path:
        """A full-page PNG kept under SCREENSHOTS as ``name``.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return Path(self.call("screenshot", path=str(SCREENSHOTS / f"{name}.png")))

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(json.dumps({"op": "close"}) + "\n")
                self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._log.close()
