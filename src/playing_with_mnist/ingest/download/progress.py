"""Progress of downloads: one live line in a terminal, plain lines elsewhere (logs, CI)."""

from __future__ import annotations

import logging
import sys
import time
from typing import Protocol, TextIO

logger = logging.getLogger(__name__)


def human_bytes(count: float) -> str:
    """``1234567`` -> ``'1.2 MB'`` (decimal units, as servers and browsers show sizes)."""
    if abs(count) < 1000:
        return f"{count:.0f} B"
    for unit in ("kB", "MB", "GB"):
        count /= 1000
        if abs(count) < 1000 or unit == "GB":
            break
    return f"{count:.1f} {unit}"


class Progress(Protocol):
    """What a download reports: its start, bytes so far (resumed ones included), its end, and notes
    (a retry, a mirror that failed)."""

    def note(self, message: str) -> None: ...
    def start(self, name: str, url: str, total: int | None, offset: int) -> None: ...
    def update(self, done: int) -> None: ...
    def finish(self, done: int) -> None: ...


class QuietProgress:
    """Reports the start and notes to the log: for library callers without a terminal of their own."""

    def note(self, message: str) -> None:
        logger.warning("%s", message)

    def start(self, name: str, url: str, total: int | None, offset: int) -> None:
        logger.info("Downloading %s from %s", name, url)

    def update(self, done: int) -> None:
        pass

    def finish(self, done: int) -> None:
        pass


class ConsoleProgress:
    """Size, percentage and speed on ``stream``, for the ``download`` command.

    In a terminal one line is redrawn in place (at most ``refresh`` times a second);
    otherwise a plain line is written at every tenth of the file (or every
    ``line_seconds`` when the size is unknown), so a log stays short and readable.
    ``note`` writes a message of its own without garbling the live line.
    """

    def __init__(self, stream: TextIO | None = None, live: bool | None = None, refresh: float = 10.0,
                 line_seconds: float = 10.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.min_interval, self.line_seconds = 1.0 / refresh, line_seconds
        self._line_open = False
        self._name, self._total, self._offset = "", None, 0
        self._started = self._last_shown = 0.0
        self._next_step = 1

    def note(self, message: str) -> None:
        self._close_line()
        print(message, file=self.stream, flush=True)

    def start(self, name: str, url: str, total: int | None, offset: int) -> None:
        self._name, self._total, self._offset = name, total, offset
        self._started = self._last_shown = time.monotonic()
        size = f" ({human_bytes(total)})" if total is not None else " (size not given by the server)"
        resumed = f", resuming at {human_bytes(offset)}" if offset else ""
        self.note(f"Downloading {name} from {url}{size}{resumed}")
        self._next_step = int(10 * offset / total) + 1 if total else 1

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.live:
            if now - self._last_shown >= self.min_interval:
                self._last_shown = now
                self.stream.write("\r" + self._status(done, now) + "\033[K")
                self.stream.flush()
                self._line_open = True
        elif self._total:
            if done * 10 >= self._next_step * self._total and self._next_step < 10:
                self._next_step = done * 10 // self._total + 1
                self.note("  " + self._status(done, now))
        elif now - self._last_shown >= self.line_seconds:
            self._last_shown = now
            self.note("  " + self._status(done, now))

    def finish(self, done: int) -> None:
        status = self._status(done, time.monotonic()) + " - complete, verifying"
        if self._line_open:  # the live line becomes the final one
            self.stream.write("\r" + status + "\033[K\n")
            self.stream.flush()
            self._line_open = False
        else:
            self.note("  " + status)

    def _status(self, done: int, now: float) -> str:
        speed = (done - self._offset) / max(now - self._started, 1e-3)
        if self._total:
            eta = (self._total - done) / speed if speed > 0 else float("inf")
            left = f", {eta:.0f} s left" if 1 <= eta < float("inf") and done < self._total else ""
            amount = f"{human_bytes(done)} / {human_bytes(self._total)} ({100 * done / self._total:.0f}%)"
        else:
            amount, left = human_bytes(done), ""
        return f"{self._name}: {amount} at {human_bytes(speed)}/s{left}"

    def _close_line(self) -> None:
        if self._line_open:
            self.stream.write("\n")
            self._line_open = False
