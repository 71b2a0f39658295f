"""Kedro-Viz shows the project's pipelines the way users see them.

* ``kedro viz build`` on a copy of the project: the static site's ``api/main`` JSON holds the
  pipelines, the task nodes and the dataset edges that chain preprocess -> train -> report.
* ``kedro viz run`` served to headless Chromium: the rendered page draws those nodes and edges in
  the graph (not only in the side list); a screenshot lands in ``test-artifacts/viz.png``.

Node ids in Kedro-Viz are hashes, so everything is matched through node names. Assertions are
inclusions, so more nodes may be added to the pipelines without breaking these tests.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .conftest import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"

PIPELINES = {"preprocess", "train", "report", "__default__"}
TASKS = {
    "preprocess": {"build_image_cache", "split_train_val"},
    "train": {"check_cache_is_current", "train_model"},
    "report": {"summarise_training", "plot_loss", "plot_accuracy", "write_results_document"},
}
# (source, target) by name: node -> dataset it writes, dataset -> node that reads it.
# Together they chain raw zip -> preprocess -> train -> report -> results document.
EDGES = {
    ("raw_character_zip", "build_image_cache"),
    ("build_image_cache", "character_images"),
    ("character_images", "split_train_val"),
    ("split_train_val", "train_val_split"),
    ("character_images", "check_cache_is_current"),
    ("check_cache_is_current", "current_character_images"),
    ("current_character_images", "train_model"),
    ("train_val_split", "train_model"),
    ("train_model", "trained_model"),
    ("train_model", "training_history"),
    ("training_history", "summarise_training"),
    ("trained_model", "summarise_training"),
    ("validation_predictions", "summarise_training"),
    ("summarise_training", "training_metrics"),
    ("training_history", "plot_loss"),
    ("plot_loss", "loss_graph"),
    ("training_history", "plot_accuracy"),
    ("plot_accuracy", "accuracy_graph"),
    ("training_metrics", "write_results_document"),
    ("write_results_document", "results_document"),
}
# What the browser test looks for in the drawn graph (a subset, to keep failures readable).
# Task 1's training is the ``task1`` instance of the training modular pipeline: Kedro-Viz
# draws it as one collapsed node named after its namespace.
RENDERED_NAMES = ["build_image_cache", "split_train_val", "task1", "plot_loss", "write_results_document"]
RENDERED_EDGES = {
    ("build_image_cache", "character_images"),
    ("task1", "training_history"),
    ("training_history", "plot_loss"),
}

CHROMIUM_FLAGS = [
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


def _env() -> dict[str, str]:
    return {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}


def _pretty(name: str) -> str:
    """Kedro-Viz's "pretty name" form: ``build_image_cache`` -> ``Build Image Cache``."""
    return " ".join(word.capitalize() for word in name.replace("-", "_").split("_"))


def _stop_group(process: subprocess.Popen) -> None:
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
        # The leader is gone; children (multiprocessing workers) may still be in the group.
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


# --------------------------------------------------------------------------- kedro viz build


@pytest.mark.slow
def test_viz_build_shows_pipelines_nodes_and_edges(project_copy: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "build"],
        cwd=project_copy,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"kedro viz build failed:\n{result.stdout}\n{result.stderr}"
    main = project_copy / "build" / "api" / "main"
    assert main.is_file(), f"kedro viz build wrote no {main}:\n{result.stdout}\n{result.stderr}"
    data = json.loads(main.read_text())

    pipeline_ids = {p["id"] for p in data["pipelines"]}
    assert PIPELINES <= pipeline_ids, f"missing pipelines: {sorted(PIPELINES - pipeline_ids)}"

    names = {node["id"]: node["name"] for node in data["nodes"]}
    tasks = {node["name"]: node for node in data["nodes"] if node["type"] == "task"}
    for pipeline, expected in TASKS.items():
        missing = expected - tasks.keys()
        assert not missing, f"task nodes missing from Kedro-Viz: {sorted(missing)}"
        for name in expected:
            member_of = set(tasks[name]["pipelines"])
            assert {pipeline, "__default__"} <= member_of, f"{name} shown in {sorted(member_of)}"

    edges = {(names.get(e["source"], e["source"]), names.get(e["target"], e["target"])) for e in data["edges"]}
    missing_edges = EDGES - edges
    assert not missing_edges, f"edges missing from Kedro-Viz: {sorted(missing_edges)}"


# --------------------------------------------------------------------------- kedro viz run + Chromium


class _GraphParser(HTMLParser):
    """Collects what the Kedro-Viz flowchart drew: node groups, their labels, and edge groups."""

    def __init__(self) -> None:
        super().__init__()
        self.node_names: dict[str, str] = {}  # data-id -> data-node-fullname
        self.labels: list[str] = []
        self.edges: list[tuple[str, str]] = []  # (source id, target id)
        self._in_label = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "g" and "pipeline-node" in classes and a.get("data-id"):
            self.node_names[a["data-id"]] = a.get("data-node-fullname") or ""
        elif tag == "g" and "pipeline-edge" in classes and "|" in (a.get("data-id") or ""):
            source, target = a["data-id"].split("|", 1)
            self.edges.append((source, target))
        elif tag == "text" and "pipeline-node__text" in classes:
            self._in_label = True
            self.labels.append("")

    def handle_data(self, data: str) -> None:
        if self._in_label:
            self.labels[-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "text":
            self._in_label = False


def _free_port() -> int:
    """A free port below 49152: kedro viz refuses the ephemeral range the OS hands out."""
    for port in random.Random().sample(range(20000, 49000), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port between 20000 and 49000")


def _wait_for_http(url: str, server: subprocess.Popen, log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"kedro viz run exited with {server.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    pytest.fail(f"kedro viz run did not answer on {url} within {timeout_s:.0f} s:\n{log.read_text(errors='replace')}")


def _render(url: str, workdir: Path, budget_ms: int, started: list[subprocess.Popen]) -> tuple[str, Path]:
    """One headless Chromium run: DOM after ``budget_ms`` of virtual time, and a screenshot."""
    shot = workdir / f"viz-{budget_ms}.png"
    profile = workdir / f"profile-{budget_ms}"
    chromium = subprocess.Popen(
        [
            str(CHROMIUM),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1600,1000",
            f"--screenshot={shot}",
            "--dump-dom",
            f"--virtual-time-budget={budget_ms}",
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    started.append(chromium)
    try:
        dom, errors = chromium.communicate(timeout=45)
    except subprocess.TimeoutExpired:
        _stop_group(chromium)
        pytest.fail(f"headless Chromium did not finish rendering {url} within 45 s")
    assert chromium.returncode == 0, f"Chromium exited with {chromium.returncode}:\n{errors[-3000:]}"
    return dom, shot


@pytest.mark.slow
@pytest.mark.browser
def test_viz_run_renders_graph_in_chromium(project_copy: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `apt-get install -y chromium` (CI installs it in .ci/run)")

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path / "kedro-viz.log"
    started: list[subprocess.Popen] = []
    shot: Path | None = None
    try:
        with log.open("w") as log_file:
            server = subprocess.Popen(
                [sys.executable, "-m", "kedro", "viz", "run", "--no-browser", "--host", "127.0.0.1", "--port", str(port)],
                cwd=project_copy,
                env=_env(),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(server)
        _wait_for_http(url, server, log)
        _wait_for_http(url + "api/main", server, log)

        wanted_labels = {name: {name, _pretty(name)} for name in RENDERED_NAMES}
        for budget_ms in (15_000, 30_000):  # a second, longer try if the first was too quick
            dom, shot = _render(url, tmp_path, budget_ms, started)
            graph = _GraphParser()
            graph.feed(dom)
            labels = {label.strip() for label in graph.labels}
            missing = [name for name, forms in wanted_labels.items() if not forms & labels]
            if not missing:
                break
        assert not missing, (
            f"the Kedro-Viz graph did not draw {missing}; it drew {sorted(labels)} "
            f"(page: {len(dom)} characters, screenshot: {shot})"
        )

        drawn_names = set(graph.node_names.values())
        assert set(RENDERED_NAMES) <= drawn_names, f"graph node groups: {sorted(drawn_names)}"
        drawn_edges = {(graph.node_names.get(s, s), graph.node_names.get(t, t)) for s, t in graph.edges}
        missing_edges = RENDERED_EDGES - drawn_edges
        assert not missing_edges, f"the graph did not draw edges {sorted(missing_edges)}"

        assert shot.is_file() and shot.stat().st_size > 10_000, f"no usable screenshot at {shot}"
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        for process in reversed(started):
            _stop_group(process)
        if shot is not None and shot.is_file():  # kept on failure too: it shows what the page looked like
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copyfile(shot, ARTIFACTS / "viz.png")
