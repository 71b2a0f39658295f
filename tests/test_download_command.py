"""``playing-with-mnist download``: trainPart1.zip and MNIST into the folders the catalog reads, offline (127.0.0.1)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from kedro.io import AbstractDataset

from playing_with_mnist.__main__ import main
from playing_with_mnist.ingest.archive import file_sha256
from playing_with_mnist.ingest.download.targets import download_mnist, download_train_part1, manifest_path, mnist_sources
from playing_with_mnist.ingest.download.transfer import ConsoleProgress, DownloadError, partial_path
from playing_with_mnist.ingest.idx import MNIST_FILES, read_mnist, write_idx

from .conftest import PROJECT_ROOT
from .http_server import FileServer, no_proxy  # noqa: F401 (an autouse fixture)
from .zips import png_bytes

RNG = np.random.default_rng(7)
MNIST_ARRAYS = {
    "train_images": RNG.integers(0, 256, (5, 28, 28), dtype=np.uint8),
    "train_labels": RNG.integers(0, 10, 5, dtype=np.uint8),
    "test_images": RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8),
    "test_labels": RNG.integers(0, 10, 3, dtype=np.uint8),
}


@pytest.fixture(scope="module")
def real_layout_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """trainPart1.zip's exact layout and counts (62 folders x 40 PNGs), with 12x9 images."""
    path = tmp_path_factory.mktemp("real") / "trainPart1.zip"
    image = png_bytes(0, (12, 9))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder in range(1, 63):
            for sample in range(1, 41):
                archive.writestr(f"train/Sample{folder:03d}/img{folder:03d}-{sample:03d}.png", image)
    return path


@pytest.fixture(scope="module")
def mnist_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Tiny MNIST files under their standard gzipped names: {file name: bytes}."""
    folder = tmp_path_factory.mktemp("idx")
    return {name: write_idx(folder / name, MNIST_ARRAYS[key]).read_bytes() for key, name in MNIST_FILES.items()}


@pytest.fixture
def server(real_layout_zip: Path, mnist_files: dict[str, bytes]) -> FileServer:
    with FileServer() as running:
        running.state.serve("/s/trainPart1.zip", real_layout_zip.read_bytes())
        for name, data in mnist_files.items():
            running.state.serve(f"/mnist/{name}", data)
        yield running


@pytest.fixture
def md5s(mnist_files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.md5(data).hexdigest() for name, data in mnist_files.items()}


def unreachable_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/"


def test_trainpart1_is_verified_and_recorded_in_a_manifest(server: FileServer, real_layout_zip: Path, tmp_path: Path) -> None:
    path, downloaded = download_train_part1(tmp_path, server.url("/s/trainPart1.zip"))
    assert downloaded and path == tmp_path / "trainPart1.zip"
    assert path.read_bytes() == real_layout_zip.read_bytes()
    manifest = json.loads(manifest_path(path).read_text())
    assert manifest["sha256"] == file_sha256(path)
    assert (manifest["class_folders"], manifest["images"], manifest["bytes"]) == (62, 2480, path.stat().st_size)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trainPart1.zip", "trainPart1.zip.manifest.json"]


def test_a_verified_zip_is_kept_and_force_downloads_it_again(server: FileServer, tmp_path: Path) -> None:
    url = server.url("/s/trainPart1.zip")
    download_train_part1(tmp_path, url)
    assert download_train_part1(tmp_path, url)[1] is False
    assert len(server.state.requests) == 1
    assert download_train_part1(tmp_path, url, force=True)[1] is True
    assert len(server.state.requests) == 2


def test_a_wrong_file_already_there_is_reported_and_left_alone(server: FileServer, tmp_path: Path) -> None:
    (tmp_path / "trainPart1.zip").write_bytes(b"my own notes")
    with pytest.raises(DownloadError):
        download_train_part1(tmp_path, server.url("/s/trainPart1.zip"))
    assert (tmp_path / "trainPart1.zip").read_bytes() == b"my own notes"
    assert server.state.requests == []


def test_mnist_falls_back_to_the_next_mirror(server: FileServer, md5s: dict[str, str], tmp_path: Path) -> None:
    server.state.serve("/bad/" + MNIST_FILES["test_labels"], b"\x1f\x8b corrupted")
    mirrors = [server.url("/bad/"), unreachable_url(), server.url("/mnist")]  # the last one without its slash
    results = download_mnist(tmp_path, mirrors, md5s)
    assert [downloaded for _, downloaded in results] == [True] * 4
    arrays = read_mnist(tmp_path / "mnist")
    assert all(np.array_equal(arrays[key], MNIST_ARRAYS[key]) for key in MNIST_FILES)
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(MNIST_FILES.values())


def test_mnist_with_a_wrong_md5_everywhere_leaves_nothing(server: FileServer, md5s: dict[str, str], tmp_path: Path) -> None:
    wrong = {**md5s, MNIST_FILES["train_labels"]: "0" * 32}
    with pytest.raises(DownloadError):
        download_mnist(tmp_path, [server.url("/mnist/")], wrong)
    left = sorted(p.name for p in (tmp_path / "mnist").iterdir())
    assert left == [MNIST_FILES["train_images"]]  # the verified first file; none of the bad one


def test_mnist_sources_are_torchvisions_for_the_files_the_catalog_reads() -> None:
    from torchvision.datasets import MNIST

    mirrors, md5s = mnist_sources()
    assert mirrors == MNIST.mirrors and all(url.endswith("/") for url in mirrors)
    assert list(md5s) == list(MNIST_FILES.values())
    assert md5s == {name: md5 for name, md5 in MNIST.resources if name in md5s}


def test_the_command_writes_where_the_catalog_reads(server: FileServer, md5s: dict[str, str], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`download all`, then the catalog's raw datasets load the real files, not the stand-ins."""
    (tmp_path / "data" / "01_raw").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("playing_with_mnist.ingest.download.targets.mnist_sources", lambda: ([server.url("/mnist/")], md5s))
    with pytest.raises(SystemExit) as exit_code:
        main(["download", "all", "--url", server.url("/s/trainPart1.zip")])
    assert exit_code.value.code == 0

    catalog = yaml.safe_load((PROJECT_ROOT / "conf" / "base" / "catalog.yml").read_text())
    # filepath: no --params; demo: none, so anything but the downloaded files is an error.
    load = lambda name: AbstractDataset.from_config(name, {**catalog[name], "filepath": None, "demo": None}).load()
    archive = load("raw_character_zip")
    assert archive.source["kind"] == "zip"
    assert archive.source["sha256"] == json.loads(manifest_path(archive.path).read_text())["sha256"]
    mnist = load("raw_mnist")
    assert mnist["source"]["kind"] == "mnist"
    assert np.array_equal(mnist["test_images"], MNIST_ARRAYS["test_images"])


def test_the_command_outside_a_project_fails_without_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_code:
        main(["download", "trainPart1", "--url", unreachable_url()])
    assert exit_code.value.code == 1
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_keeps_the_partial_file_for_the_next_run(server: FileServer, real_layout_zip: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(self: ConsoleProgress, done: int) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(ConsoleProgress, "update", interrupt)
        with pytest.raises(SystemExit) as exit_code:
            main(["download", "trainPart1", "--data-dir", str(tmp_path), "--url", server.url("/s/trainPart1.zip")])
    assert exit_code.value.code == 130
    assert not (tmp_path / "trainPart1.zip").exists()
    assert partial_path(tmp_path / "trainPart1.zip").exists()

    with pytest.raises(SystemExit) as exit_code:
        main(["download", "trainPart1", "--data-dir", str(tmp_path), "--url", server.url("/s/trainPart1.zip")])
    assert exit_code.value.code == 0
    assert (tmp_path / "trainPart1.zip").read_bytes() == real_layout_zip.read_bytes()
    assert server.state.requests[-1]["headers"].get("Range", "").startswith("bytes=")


@pytest.mark.slow
def test_the_console_script(server: FileServer, tmp_path: Path) -> None:
    """The installed `playing-with-mnist download`: exit codes, one message and no traceback on failure."""
    script = Path(sys.executable).with_name("playing-with-mnist")
    (tmp_path / "data" / "01_raw").mkdir(parents=True)
    env = {key: value for key, value in os.environ.items() if key.upper() not in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")}
    run = lambda *args: subprocess.run([str(script), "download", *args], cwd=tmp_path, env=env, capture_output=True,
                                       text=True, timeout=120)

    failed = run("trainPart1", "--url", unreachable_url() + "trainPart1.zip")
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert list((tmp_path / "data" / "01_raw").iterdir()) == []

    done = run("trainPart1", "--url", server.url("/s/trainPart1.zip"))
    assert done.returncode == 0, done.stderr
    assert manifest_path(tmp_path / "data" / "01_raw" / "trainPart1.zip").exists()


def test_every_other_argument_list_still_goes_to_kedro_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import kedro.framework.cli.utils

    calls = []
    monkeypatch.setattr(kedro.framework.cli.utils, "find_run_command", lambda package: lambda *a, **k: calls.append((a, k)))
    main(["--pipelines=train", "download"])
    assert calls == [((["--pipelines=train", "download"],), {"standalone_mode": True})]
