"""Downloading one file: complete, resumed, restarted, rejected, failed - always offline (127.0.0.1)."""

from __future__ import annotations

import errno
import io
import socket
import time
from pathlib import Path

import pytest

from playing_with_mnist.ingest.download import transfer
from playing_with_mnist.ingest.download.targets import check_character_zip
from playing_with_mnist.ingest.download.transfer import ConsoleProgress, DownloadError, VerificationError, fetch, partial_path

from .http_server import FileServer, no_proxy  # noqa: F401 (an autouse fixture)


@pytest.fixture
def server(tiny_zip: Path) -> FileServer:
    with FileServer() as running:
        running.state.serve("/trainPart1.zip", tiny_zip.read_bytes())
        yield running


def verify_tiny(path: Path) -> None:
    check_character_zip(path, classes=6, images=36)  # the tiny_zip fixture: 6 classes x 6 images


def leftovers(target: Path) -> list[str]:
    """Everything the download left in the target's folder."""
    return sorted(p.name for p in target.parent.iterdir()) if target.parent.exists() else []


def test_full_download(server: FileServer, tiny_zip: Path, tmp_path: Path) -> None:
    target = tmp_path / "raw" / "trainPart1.zip"
    assert fetch(server.url("/trainPart1.zip"), target, verify=verify_tiny) == target
    assert target.read_bytes() == tiny_zip.read_bytes()
    assert leftovers(target) == ["trainPart1.zip"]  # no partial file, no resume state


def test_dropped_connection_is_resumed_with_a_range_request(server: FileServer, tiny_zip: Path, tmp_path: Path) -> None:
    server.state.cut_after = [1000, 3000]
    target = tmp_path / "trainPart1.zip"
    fetch(server.url("/trainPart1.zip"), target, verify=verify_tiny, attempts=3)
    assert target.read_bytes() == tiny_zip.read_bytes()
    ranges = [r["headers"].get("Range") for r in server.state.requests]
    assert ranges == [None, "bytes=1000-", "bytes=4000-"]
    assert all(r["headers"].get("If-Range") == '"v1"' for r in server.state.requests[1:])


def test_interrupted_download_resumes_on_the_next_run(server: FileServer, tiny_zip: Path, tmp_path: Path) -> None:
    server.state.cut_after = [2500]
    target = tmp_path / "trainPart1.zip"
    with pytest.raises(DownloadError) as failure:
        fetch(server.url("/trainPart1.zip"), target, verify=verify_tiny, attempts=1)
    assert not isinstance(failure.value, VerificationError)
    assert not target.exists()  # never half a file at the real path
    assert partial_path(target).stat().st_size == 2500

    fetch(server.url("/trainPart1.zip"), target, verify=verify_tiny, attempts=1)
    assert target.read_bytes() == tiny_zip.read_bytes()
    assert server.state.requests[-1]["headers"].get("Range") == "bytes=2500-"
    assert leftovers(target) == ["trainPart1.zip"]


def interrupted_at_2500(server: FileServer, tmp_path: Path) -> Path:
    """A download of trainPart1.zip whose connection drops after 2,500 bytes, with no retry: its target."""
    server.state.cut_after = [2500]
    target = tmp_path / "trainPart1.zip"
    with pytest.raises(DownloadError):
        fetch(server.url("/trainPart1.zip"), target, attempts=1)
    return target


def test_server_without_range_support_restarts_cleanly(server: FileServer, tiny_zip: Path, tmp_path: Path) -> None:
    target = interrupted_at_2500(server, tmp_path)
    server.state.honour_range = False
    fetch(server.url("/trainPart1.zip"), target, verify=verify_tiny, attempts=1)
    assert target.read_bytes() == tiny_zip.read_bytes()


def test_a_misplaced_partial_answer_restarts_without_a_range(server: FileServer, tiny_zip: Path, tmp_path: Path) -> None:
    target = interrupted_at_2500(server, tmp_path)
    server.state.misplaced_range = True
    fetch(server.url("/trainPart1.zip"), target, verify=verify_tiny, attempts=1)
    assert target.read_bytes() == tiny_zip.read_bytes()
    assert [r["headers"].get("Range") for r in server.state.requests] == [None, "bytes=2500-", None]


def test_file_changed_on_the_server_restarts_instead_of_splicing(server: FileServer, tmp_path: Path) -> None:
    server.state.serve("/data.bin", bytes(range(256)) * 40, etag='"old"')
    server.state.cut_after = [5000]
    target = tmp_path / "data.bin"
    with pytest.raises(DownloadError):
        fetch(server.url("/data.bin"), target, attempts=1)
    new = bytes(reversed(range(256))) * 50
    server.state.serve("/data.bin", new, etag='"new"')
    fetch(server.url("/data.bin"), target, attempts=1)
    assert target.read_bytes() == new


def test_partial_file_that_is_already_complete_is_verified_and_moved(server: FileServer, tiny_zip: Path, tmp_path: Path) -> None:
    target = tmp_path / "trainPart1.zip"  # as an earlier run leaves it when stopped before the check
    partial_path(target).write_bytes(tiny_zip.read_bytes())
    transfer._state_path(target).write_text(f'{{"url": "{server.url("/trainPart1.zip")}", "validator": "\\"v1\\""}}')
    fetch(server.url("/trainPart1.zip"), target, verify=verify_tiny)
    assert target.read_bytes() == tiny_zip.read_bytes()
    assert server.state.requests[-1]["headers"].get("Range") == f"bytes={tiny_zip.stat().st_size}-"  # answered 416


@pytest.mark.parametrize("body", [b"PK\x03\x04 this is not a zip at all" * 10, b"<!DOCTYPE html><html>Dropbox</html>"])
def test_a_file_that_is_not_a_zip_is_rejected_and_removed(server: FileServer, tmp_path: Path, body: bytes) -> None:
    server.state.serve("/trainPart1.zip", body)
    target = tmp_path / "trainPart1.zip"
    with pytest.raises(VerificationError) as failure:
        fetch(server.url("/trainPart1.zip"), target, verify=verify_tiny)
    assert "trainPart1.zip" in str(failure.value)
    assert leftovers(target) == []


def test_a_zip_with_other_contents_is_rejected_and_removed(server: FileServer, tmp_path: Path) -> None:
    target = tmp_path / "trainPart1.zip"
    with pytest.raises(VerificationError):
        fetch(server.url("/trainPart1.zip"), target, verify=check_character_zip)  # trainPart1's counts
    assert leftovers(target) == []


def test_a_zip_with_a_damaged_member_is_rejected(tiny_zip: Path, tmp_path: Path) -> None:
    data = bytearray(tiny_zip.read_bytes())
    data[200] ^= 0xFF  # inside the first member's data: the listing still reads, the CRC does not match
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    with pytest.raises(VerificationError):
        verify_tiny(damaged)


def test_an_unreachable_address_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/trainPart1.zip"
    started = time.monotonic()
    with pytest.raises(DownloadError) as failure:
        fetch(url, tmp_path / "trainPart1.zip")
    assert time.monotonic() - started < 5
    assert url in str(failure.value)
    assert leftovers(tmp_path / "trainPart1.zip") == []


def test_a_server_that_never_answers_times_out(server: FileServer, tmp_path: Path) -> None:
    server.state.hang = True
    started = time.monotonic()
    with pytest.raises(DownloadError) as failure:
        fetch(server.url("/trainPart1.zip"), tmp_path / "trainPart1.zip", timeout=0.5)
    assert time.monotonic() - started < 5
    assert server.url("/trainPart1.zip") in str(failure.value)


@pytest.mark.parametrize("status", [403, 404, 500])
def test_an_http_error_fails_with_nothing_written(server: FileServer, tmp_path: Path, status: int) -> None:
    server.state.status = status
    with pytest.raises(DownloadError) as failure:
        fetch(server.url("/trainPart1.zip"), tmp_path / "trainPart1.zip")
    assert str(status) in str(failure.value)
    assert leftovers(tmp_path / "trainPart1.zip") == []


def test_too_little_free_space_fails_before_writing(server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.disk_usage", lambda path: type("Usage", (), {"free": 100})())
    with pytest.raises(DownloadError):
        fetch(server.url("/trainPart1.zip"), tmp_path / "trainPart1.zip")
    assert leftovers(tmp_path / "trainPart1.zip") == []


def test_a_disk_that_fills_up_mid_download_leaves_nothing(server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class FullDisk(io.BytesIO):
        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path
            path.write_bytes(b"")

        def write(self, data: bytes) -> int:
            self.path.write_bytes(self.path.read_bytes() + data[:100])  # some bytes land, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")

        def fileno(self) -> int:
            raise AssertionError("never reached: the write fails first")

    monkeypatch.setattr(transfer, "open", lambda path, mode: FullDisk(Path(path)), raising=False)
    target = tmp_path / "trainPart1.zip"
    with pytest.raises(DownloadError) as failure:
        fetch(server.url("/trainPart1.zip"), target)
    assert not isinstance(failure.value, VerificationError)
    assert leftovers(target) == []


def test_proxy_from_the_environment_is_used(server: FileServer, tiny_zip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", server.base)  # the test server acts as the proxy
    url = "http://files.example.invalid/trainPart1.zip"  # never resolved: only the proxy is contacted
    fetch(url, tmp_path / "trainPart1.zip", verify=verify_tiny)
    assert (tmp_path / "trainPart1.zip").read_bytes() == tiny_zip.read_bytes()
    assert server.state.requests[0]["path"] == url  # a proxy request carries the absolute URL


def test_progress_is_plain_lines_outside_a_terminal(server: FileServer, tmp_path: Path) -> None:
    server.state.serve("/big.bin", bytes(3_000_000))
    stream = io.StringIO()
    fetch(server.url("/big.bin"), tmp_path / "big.bin", progress=ConsoleProgress(stream, live=False))
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert 2 <= len(lines) <= 12  # start, at most one line per tenth, the end
