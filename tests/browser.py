"""Drive headless Chromium through the Chrome DevTools Protocol, with the standard library only.

Chromium is started with ``--remote-debugging-pipe``: it reads protocol commands from its file
descriptor 3 and writes replies and events to descriptor 4, each message JSON ended by a NUL
byte. No port, no websocket client. :class:`DevToolsPage` opens one tab and offers what the
Kedro-Viz tests need: navigate, evaluate JavaScript until it returns something, click with real
mouse events at a point, and take a screenshot.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

INSTALL_HINT = "install it with `apt-get install -y chromium` (Debian/Ubuntu; the `chromium` command must be on PATH)"
REQUIRE_BROWSER_VARIABLE = "REQUIRE_BROWSER"  # .ci/run sets it to 1: no Chromium is then a failure, not a skip

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--hide-scrollbars",
]


def find_chromium() -> Path | None:
    """The ``chromium`` executable on PATH (the Debian package's), or ``None``."""
    found = shutil.which("chromium")
    return Path(found) if found else None


def browser_required() -> bool:
    """Whether a missing Chromium must fail the browser tests instead of skipping them."""
    return os.environ.get(REQUIRE_BROWSER_VARIABLE, "") not in ("", "0")


def stop_group(process: subprocess.Popen) -> None:
    """Stop a process started with ``start_new_session=True`` and everything in its group."""
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; children (renderers, multiprocessing workers) may still be in the group.
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
    try:  # last resort for stragglers of the group
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class DevToolsError(RuntimeError):
    """Chromium answered a command with an error, closed the pipe, or did not answer in time."""


class DevToolsPage:
    """One headless Chromium with one tab, controlled over ``--remote-debugging-pipe``.

    Use as a context manager; leaving it closes the browser and its whole process group.
    """

    def __init__(self, chromium: Path, profile: Path, log: Path, width: int = 1600, height: int = 1000) -> None:
        self._next_id = 0
        self._buffer = b""
        self._session: str | None = None
        commands_read, commands_write = os.pipe()  # we write, Chromium reads (its fd 3)
        replies_read, replies_write = os.pipe()  # Chromium writes (its fd 4), we read
        # Copies above 4 with close-on-exec, so moving them onto 3 and 4 in the child cannot clobber one.
        child_in = fcntl.fcntl(commands_read, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(replies_write, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (commands_read, replies_write):
            os.close(fd)

        def wire_pipe() -> None:  # runs in the child between fork and exec
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        with log.open("w") as log_file:
            self.process = subprocess.Popen(
                [str(chromium), *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 "--remote-debugging-pipe", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                close_fds=False,  # keep the 3 and 4 made by wire_pipe; every other descriptor is close-on-exec
                preexec_fn=wire_pipe,
                start_new_session=True,
            )
        os.close(child_in)
        os.close(child_out)
        self._commands, self._replies = commands_write, replies_read
        self._width, self._height = width, height

    def __enter__(self) -> DevToolsPage:
        try:
            target = self.command("Target.createTarget", url="about:blank")["targetId"]
            self._session = self.command("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            self.command("Emulation.setDeviceMetricsOverride", width=self._width, height=self._height,
                         deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Ask Chromium to quit, then stop its process group and close the pipe."""
        if self.process.poll() is None:
            try:
                self._session = None
                self.command("Browser.close", timeout_s=5)
                self.process.wait(timeout=5)
            except (DevToolsError, OSError, subprocess.TimeoutExpired):
                pass
        stop_group(self.process)
        for fd in (self._commands, self._replies):
            try:
                os.close(fd)
            except OSError:
                pass

    # ---------------------------------------------------------------- protocol

    def command(self, method: str, timeout_s: float = 30, **params: Any) -> dict[str, Any]:
        """Send one command (to the tab once attached) and return its ``result``."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self._session is not None:
            message["sessionId"] = self._session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._commands, data):]
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._receive(deadline, method)
            if reply.get("id") != self._next_id:
                continue  # an event, or a late reply to an earlier command
            if "error" in reply:
                raise DevToolsError(f"{method}: {reply['error']}")
            return reply.get("result", {})

    def _receive(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DevToolsError(f"Chromium did not answer {waiting_for} in time")
            ready, _, _ = select.select([self._replies], [], [], remaining)
            if ready:
                chunk = os.read(self._replies, 1 << 20)
                if not chunk:
                    raise DevToolsError(f"Chromium closed the DevTools pipe (exit code {self.process.poll()})")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    # ---------------------------------------------------------------- page actions

    def navigate(self, url: str) -> None:
        self.command("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable values only)."""
        result = self.command("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise DevToolsError(f"JavaScript failed: {result['exceptionDetails'].get('text')}: {expression[:200]}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float, stable: bool = False) -> Any:
        """Evaluate ``expression`` until it returns something truthy (twice the same if ``stable``).

        Returns that value, or ``None`` when ``timeout_s`` passes first.
        """
        deadline = time.monotonic() + timeout_s
        previous: Any = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value and (not stable or value == previous):
                return value
            previous = value
            time.sleep(0.25)
        return None

    def click(self, x: float, y: float) -> None:
        """A left click with real mouse events at viewport coordinates (as a user's would be)."""
        self.command("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.command("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, path: Path) -> Path:
        """Save what the tab shows as a PNG."""
        data = self.command("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        logger.info("screenshot saved to %s", path)
        return path
