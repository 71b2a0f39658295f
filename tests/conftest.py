"""Shared fixtures: tiny generated zips and throw-away copies of the project."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, sync_playwright

from playing_with_mnist.demo.characters import write_demo_zip
from playing_with_mnist.ingest.archive import CharacterArchive
from playing_with_mnist.ingest.model_input import split_train_val
from playing_with_mnist.pipelines.preprocess.nodes import build_image_cache

from .params import PREPROCESS, SPLIT

PROJECT_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


LOCAL_HOSTS = ("127.0.0.1", "localhost")
INSTALL_HINT = "install it with `apt-get install -y chromium` (Debian/Ubuntu; the `chromium` command must be on PATH)"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``browser`` skip where Chromium is missing, or fail there if ``REQUIRE_BROWSER=1`` (CI)."""
    if item.get_closest_marker("browser") is None or shutil.which("chromium"):
        return
    if os.environ.get("REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail(f"Chromium is missing and REQUIRE_BROWSER=1 requires the browser tests: {INSTALL_HINT}", pytrace=False)
    pytest.skip(f"Chromium is missing: {INSTALL_HINT}; REQUIRE_BROWSER=1 (set by .ci/run) makes this a failure")


@pytest.fixture
def page() -> Iterator[Page]:
    """A 1600x1000 tab of Debian's headless Chromium, driven by Playwright (tests marked ``browser``)."""
    assert shutil.which("chromium"), "mark the test with @pytest.mark.browser"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"], headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            # The tests reach nothing off the machine: Kedro-Viz's request for a web font is refused.
            page.route(lambda url: url.startswith(("http://", "https://")) and urlparse(url).hostname not in LOCAL_HOSTS,
                       lambda route: route.abort())
            yield page
        finally:
            browser.close()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout_s: float = 180) -> None:
    """Wait until ``url`` answers (any HTTP status); fail at once if ``process`` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            assert process.poll() is None, f"the server for {url} exited with code {process.returncode}"
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout_s:.0f} s")


def stop_group(process: subprocess.Popen) -> None:
    """Stop a process started with ``start_new_session=True`` and everything left in its group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):  # SIGKILL also reaches children that outlive the leader
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture(scope="session")
def tiny_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 classes x 6 images at 96x72: the real layout, small enough for seconds of work."""
    return write_demo_zip(
        tmp_path_factory.mktemp("zips") / "tiny.zip", seed=3, images_per_class=6, image_size=(96, 72), characters="0123AB"
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the project (configuration, sources) with empty data folders."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def registered_project(tmp_path_factory: pytest.TempPathFactory, tiny_zip: Path) -> Path:
    """A copy of the project after one Task 1 run (1 epoch on the tiny zip) with tracking on: its ``mlflow.db``
    holds version 1 of the registered model ``playing-with-mnist``. For tests that only read it."""
    from .test_project_run import SMALL_TRAIN, run_session

    project = copy_project(tmp_path_factory.mktemp("registered") / "project")
    run_session(project, raw_zip=str(tiny_zip), **SMALL_TRAIN)
    return project


def copy_project(target: Path) -> Path:
    """A copy of the project (configuration, sources) at ``target``, with empty data folders."""
    shutil.copytree(PROJECT_ROOT / "conf", target / "conf", ignore=shutil.ignore_patterns("local"))
    (target / "conf" / "local").mkdir()
    shutil.copytree(PROJECT_ROOT / "src", target / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy2(PROJECT_ROOT / name, target / name)
    for folder in sorted((PROJECT_ROOT / "data").iterdir()):
        if folder.is_dir():
            (target / "data" / folder.name).mkdir(parents=True)
    return target


@pytest.fixture(scope="session")
def tiny_cache(tiny_zip: Path) -> dict:
    """The tiny zip decoded once per session."""
    return build_image_cache(CharacterArchive.from_zip(tiny_zip), None, PREPROCESS)[0]


@pytest.fixture(scope="session")
def tiny_split(tiny_cache: dict) -> dict:
    return split_train_val(tiny_cache, SPLIT)
