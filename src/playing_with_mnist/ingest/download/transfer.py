"""Download one file over HTTP(S) without ever leaving half a file at its real path.

The bytes go to a hidden partial file beside the target (``.<name>.part``); a dropped
connection is resumed with an HTTP ``Range`` request (guarded by ``If-Range``, so a file
that changed on the server restarts instead of being spliced), and the partial file is
moved into place only once it is complete and has passed the caller's check. Proxies
come from ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` (urllib's default ``ProxyHandler``).
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TextIO
from urllib.error import HTTPError, URLError

from rich.console import Console
from rich.filesize import decimal as human_bytes
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

DEFAULT_TIMEOUT = 20.0  # seconds without an answer (connect, or between two reads)
CHUNK_BYTES = 256 * 1024


class DownloadError(RuntimeError):
    """A download that failed; the message names the URL or file and says what to do."""


class VerificationError(DownloadError):
    """Downloaded bytes that are not the expected file; the message says what is wrong."""


class ConsoleProgress:
    """Notes, and the progress of each download, on ``stream`` (stderr): a live bar in a terminal;
    elsewhere (logs, CI) plain lines, at every tenth of the file (every 10 s when its size is unknown)."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.console = Console(file=stream or sys.stderr, force_terminal=live, markup=False, emoji=False,
                               highlight=False, soft_wrap=True)

    def note(self, message: str) -> None:
        self.console.print(message)

    @contextmanager
    def showing(self, name: str, url: str, total: int | None, offset: int) -> Iterator[None]:
        """Report one transfer of ``name``: its start, then :meth:`update`, then where it ended."""
        size = human_bytes(total) if total is not None else "size not given by the server"
        self.note(f"Downloading {name} from {url} ({size})" + (f", resuming at {human_bytes(offset)}" if offset else ""))
        self.name, self.total, self.offset, self.done = name, total, offset, offset
        self.started = self.shown_at = time.monotonic()
        self.bar = Progress(TextColumn(name), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                            console=self.console, transient=True) if self.console.is_terminal else None
        try:
            with self.bar or nullcontext():
                self.task = self.bar.add_task(name, total=total, completed=offset) if self.bar else None
                yield
        finally:
            self.note("  " + self._status())

    def update(self, done: int) -> None:
        previous, self.done = self.done, done
        if self.bar is not None:
            self.bar.update(self.task, completed=done)
        elif (done < self.total and done * 10 // self.total > previous * 10 // self.total if self.total
              else time.monotonic() - self.shown_at >= 10):
            self.shown_at = time.monotonic()
            self.note("  " + self._status())

    def _status(self) -> str:
        speed = human_bytes(int((self.done - self.offset) / max(time.monotonic() - self.started, 1e-3)))
        size = f" / {human_bytes(self.total)} ({100 * self.done / self.total:.0f}%)" if self.total else ""
        return f"{self.name}: {human_bytes(self.done)}{size} at {speed}/s"


def partial_path(target: Path) -> Path:
    """Where the download of ``target`` collects its bytes until it is complete and verified."""
    return target.with_name(f".{target.name}.part")


def _state_path(target: Path) -> Path:
    """The URL and validator (ETag / Last-Modified) of the partial bytes, for a safe resume."""
    return target.with_name(f".{target.name}.part.json")


def _discard(target: Path) -> None:
    for path in (partial_path(target), _state_path(target)):
        path.unlink(missing_ok=True)


def fetch(url: str, target: Path | str, *, verify: Callable[[Path], object] | None = None,
          progress: ConsoleProgress | None = None, timeout: float = DEFAULT_TIMEOUT, attempts: int = 3) -> Path:
    """Download ``url`` to ``target`` and return ``target``; raise :class:`DownloadError`, one message a fault.

    ``verify(path)`` raises :class:`VerificationError` when the complete partial file is not the
    expected one (it is then deleted). A dropped connection is resumed, up to ``attempts`` transfers
    in all; after the last, the partial file stays for the next call to resume. ``timeout`` bounds
    every wait for the server.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    progress = progress or ConsoleProgress()
    for attempt in range(1, attempts + 1):
        if not (dropped := _transfer(url, target, timeout, progress)):
            break
        if attempt == attempts:
            raise DownloadError(f"{url}: the download of {target.name} stopped ({dropped}). What arrived is kept "
                                f"in {partial_path(target).name}: run the command again to resume it.")
        progress.note(f"{url}: the connection dropped {dropped}; resuming (try {attempt + 1} of {attempts})")
    try:
        if verify is not None:
            verify(partial_path(target))
    except VerificationError as error:
        _discard(target)
        raise VerificationError(f"{target.name} from {url} failed verification: {error}. The download was deleted.") from None
    os.replace(partial_path(target), target)
    _state_path(target).unlink(missing_ok=True)
    return target


def _transfer(url: str, target: Path, timeout: float, progress: ConsoleProgress, resume: bool = True) -> str | None:
    """One request: append to ``target``'s partial file (or restart it) until the server's body ends.

    Returns None when the file is complete, else how the connection dropped (what arrived is kept)."""
    partial, state = partial_path(target), _state_path(target)
    try:
        saved = json.loads(state.read_text())
    except (OSError, ValueError):
        saved = {}
    # Never splice bytes of another URL.
    offset = partial.stat().st_size if resume and partial.exists() and saved.get("url") == url else 0
    headers = {"User-Agent": "playing-with-mnist-download/1"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if saved.get("validator"):
            headers["If-Range"] = saved["validator"]
    try:  # the opener is built per call: its ProxyHandler reads the proxy variables then
        response = urllib.request.build_opener().open(urllib.request.Request(url, headers=headers), timeout=timeout)
    except HTTPError as error:
        error.close()
        if error.code == 416 and offset:  # nothing after ``offset``: complete, or longer than the file
            if (error.headers.get("Content-Range") or "").endswith(f"/{offset}"):
                return None
            return _transfer(url, target, timeout, progress, resume=False)
        raise DownloadError(
            f"{url}: the server answered HTTP {error.code} {error.reason}. Check the address; "
            "if it is right, the file may have moved or the server may be down: try again later."
        ) from None
    except (URLError, OSError, http.client.HTTPException) as error:
        raise DownloadError(
            f"{url}: cannot reach the server ({getattr(error, 'reason', error)}). Check the network "
            "connection, and the proxy in HTTPS_PROXY / HTTP_PROXY if you need one."
        ) from None
    with response:
        if response.status == 206 and not response.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
            response.close()  # a part other than the one asked for: start again without a range
            return _transfer(url, target, timeout, progress, resume=False)
        offset = offset if response.status == 206 else 0  # the whole file (no Range support, or it changed)
        length = response.headers.get("Content-Length", "")
        total = offset + int(length) if length.isdigit() else None
        if length.isdigit() and int(length) > (free := shutil.disk_usage(target.parent).free):
            raise DownloadError(
                f"{target.name} needs {human_bytes(int(length))} but only {human_bytes(free)} is free on the disk "
                f"of {target.parent}. Free some space and run the command again."
            )
        state.write_text(json.dumps({"url": url, "validator": response.headers.get("ETag") or response.headers.get("Last-Modified")}))
        done, dropped = offset, ""
        try:
            with open(partial, "ab" if offset else "wb") as out, progress.showing(target.name, url, total, offset):
                while True:
                    try:
                        chunk = response.read(CHUNK_BYTES)
                    except (OSError, http.client.HTTPException) as error:  # a reset or a timeout: resumable
                        dropped = f": {type(error).__name__} {error}".rstrip()
                        break
                    if not chunk:
                        break
                    out.write(chunk)
                    done += len(chunk)
                    progress.update(done)
                out.flush()
                os.fsync(out.fileno())  # what arrived survives a crash, to be resumed
        except OSError as error:  # reading faults are caught above: this is writing
            _discard(target)  # frees the space; nothing to resume onto a full disk
            full = " Free some space and run the command again." if error.errno == errno.ENOSPC else ""
            raise DownloadError(f"cannot write {target.name} in {target.parent} ({error.strerror or error}): "
                                f"the partial download was deleted.{full}") from None
    if dropped or (total is not None and done != total):
        return f"after {human_bytes(done)}" + (dropped or f" of {human_bytes(total)}")
    return None
