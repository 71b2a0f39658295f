"""Download one file over HTTP(S) without ever leaving half a file at its real path.

The bytes go to a hidden partial file beside the target (``.<name>.part``); a dropped
connection is resumed with an HTTP ``Range`` request (guarded by ``If-Range``, so a file
that changed on the server restarts instead of being spliced), and the partial file is
moved into place only once it is complete and has passed the caller's check. Proxies
come from the standard ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` variables
(urllib's default ``ProxyHandler``).
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import re
import shutil
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.error import HTTPError, URLError

from .progress import Progress, QuietProgress, human_bytes

DEFAULT_TIMEOUT = 20.0  # seconds without an answer (connect, or between two reads)
DEFAULT_ATTEMPTS = 3  # transfers per call: the first, then resumes after dropped connections
CHUNK_BYTES = 256 * 1024
USER_AGENT = "playing-with-mnist-download/1"


class DownloadError(RuntimeError):
    """A download that failed; the message names the URL or file and says what to do."""


class VerificationError(DownloadError):
    """Downloaded bytes that are not the expected file; the message says what is wrong."""


class _Interrupted(Exception):
    """The connection dropped mid-transfer: what is in the partial file can be resumed."""


def partial_path(target: Path) -> Path:
    """Where the download of ``target`` collects its bytes until it is complete and verified."""
    return target.with_name(f".{target.name}.part")


def _state_path(partial: Path) -> Path:
    # The URL and validator (ETag / Last-Modified) of the partial bytes, for a safe resume.
    return partial.with_name(partial.name + ".json")


def discard_partial(target: Path) -> None:
    """Delete the partial download of ``target`` and its resume state, if any."""
    partial = partial_path(target)
    partial.unlink(missing_ok=True)
    _state_path(partial).unlink(missing_ok=True)


def check_free_space(folder: Path, needed: int, name: str) -> None:
    """Raise :class:`DownloadError` when ``folder``'s disk has fewer than ``needed`` bytes free."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise DownloadError(
            f"{name} needs {human_bytes(needed)} but only {human_bytes(free)} is free on the disk of "
            f"{folder}. Free some space and run the command again."
        )


def fetch(
    url: str,
    target: Path | str,
    *,
    verify: Callable[[Path], None] | None = None,
    progress: Progress | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    attempts: int = DEFAULT_ATTEMPTS,
) -> Path:
    """Download ``url`` to ``target`` and return ``target``.

    ``verify(path)`` gets the complete partial file and raises :class:`VerificationError`
    when it is not the expected file; the partial file is then deleted. A connection that
    drops is resumed up to ``attempts`` transfers in all; what remains after the last one
    stays in the partial file, and the next call resumes from it. ``timeout`` bounds every
    wait for the server. Raises :class:`DownloadError` with one message for every fault.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    progress = progress or QuietProgress()
    for attempt in range(1, attempts + 1):
        try:
            _transfer(url, partial, target.name, timeout, progress)
            break
        except _Interrupted as error:
            if attempt == attempts:
                raise DownloadError(
                    f"{url}: the download of {target.name} stopped ({error}). What arrived is kept in "
                    f"{partial.name}: run the command again to resume it."
                ) from None
            progress.note(f"{url}: the connection dropped {error}; resuming (try {attempt + 1} of {attempts})")
    if verify is not None:
        try:
            verify(partial)
        except VerificationError as error:
            discard_partial(target)
            raise VerificationError(
                f"{target.name} from {url} failed verification: {error}. The download was deleted."
            ) from None
    os.replace(partial, target)
    _state_path(partial).unlink(missing_ok=True)
    return target


def _open(url: str, partial: Path, timeout: float) -> tuple[http.client.HTTPResponse, int]:
    """Send the request (a resume when ``partial`` has bytes of the same URL); return the
    response and the offset its body starts at (0: the whole file, ``partial`` restarts)."""
    offset = partial.stat().st_size if partial.exists() else 0
    state = _read_state(partial)
    if offset and state.get("url") != url:
        offset = 0  # bytes of another URL: never splice them
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
        if state.get("validator"):
            request.add_header("If-Range", state["validator"])
    # Built per call: the ProxyHandler reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY when built.
    opener = urllib.request.build_opener()
    try:
        response = opener.open(request, timeout=timeout)
    except HTTPError as error:
        error.close()
        total = _content_range_total(error.headers.get("Content-Range", "")) if error.headers else None
        if error.code == 416 and offset:
            if total == offset:
                raise _Complete() from None  # the partial file already holds every byte
            partial.unlink(missing_ok=True)  # longer than the file: start again
            return _open(url, partial, timeout)
        raise DownloadError(
            f"{url}: the server answered HTTP {error.code} {error.reason}. Check the address; "
            "if it is right, the file may have moved or the server may be down: try again later."
        ) from None
    except (URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(
            f"{url}: cannot reach the server ({reason}). Check the network connection, and the "
            "proxy in HTTPS_PROXY / HTTP_PROXY if you need one."
        ) from None
    if offset and response.status == 206:
        if response.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
            return response, offset
        response.close()  # a part other than the one asked for: start again without a range
        partial.unlink(missing_ok=True)
        return _open(url, partial, timeout)
    return response, 0  # the whole file (no Range support, or it changed): ``partial`` restarts


class _Complete(Exception):
    """A resume found the partial file already complete."""


def _content_range_total(header: str) -> int | None:
    match = re.search(r"/(\d+)\s*$", header)
    return int(match.group(1)) if match else None


def _read_state(partial: Path) -> dict:
    try:
        return json.loads(_state_path(partial).read_text())
    except (OSError, ValueError):
        return {}


def _transfer(url: str, partial: Path, name: str, timeout: float, progress: Progress) -> None:
    """One request: append to (or restart) ``partial`` until the server's body ends."""
    try:
        response, offset = _open(url, partial, timeout)
    except _Complete:
        return
    with response:
        length = response.headers.get("Content-Length")
        remaining = int(length) if length and length.isdigit() else None
        total = offset + remaining if remaining is not None else None
        if remaining is not None:
            check_free_space(partial.parent, remaining, name)
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        _state_path(partial).write_text(json.dumps({"url": url, "validator": validator}))
        progress.start(name, url, total, offset)
        try:
            done = _copy(response, partial, offset, progress)
        except OSError as error:  # only writing raises OSError here: reading raises _Interrupted
            partial.unlink(missing_ok=True)  # frees the space; nothing to resume onto a full disk
            _state_path(partial).unlink(missing_ok=True)
            if error.errno == errno.ENOSPC:
                raise DownloadError(
                    f"the disk of {partial.parent} is full: {name} could not be written. The partial "
                    "download was deleted; free some space and run the command again."
                ) from None
            raise DownloadError(f"cannot write {name} in {partial.parent}: {error.strerror or error}") from None
    if total is not None and done != total:
        raise _Interrupted(f"after {human_bytes(done)} of {human_bytes(total)}")
    progress.finish(done)


def _copy(response: http.client.HTTPResponse, partial: Path, offset: int, progress: Progress) -> int:
    """Append the body to ``partial`` (truncated first when ``offset`` is 0); return its size.

    Reading faults become :class:`_Interrupted` (the bytes so far are kept, durably);
    writing faults propagate as :class:`OSError`.
    """
    done = offset
    with open(partial, "ab" if offset else "wb") as out:
        while True:
            try:
                chunk = response.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as error:  # reset, timeout, short body
                out.flush()
                os.fsync(out.fileno())
                raise _Interrupted(f"after {human_bytes(done)}: {type(error).__name__} {error}".strip()) from None
            if not chunk:
                break
            out.write(chunk)
            done += len(chunk)
            progress.update(done)
        out.flush()
        os.fsync(out.fileno())
    return done
