"""Kedro-Viz shows the project's pipelines the way users see them.

* ``kedro viz build`` on a copy of the project: the static site's ``api/main`` JSON holds the
  pipelines, the task nodes and the dataset edges that chain preprocess -> train -> report.
* ``kedro viz run`` served to headless Chromium: the rendered page draws those nodes and edges in
  the graph (not only in the side list); a screenshot lands in ``test-artifacts/viz.png``.
* After a tiny run, a click on a figure node and on a table node opens Kedro-Viz's side panel
  with the preview of the run's file: the PNG itself, the CSV's first rows
  (``test-artifacts/viz-preview-<dataset>.png``). Chromium is driven by Playwright.

Browser tests skip where there is no Chromium (``apt-get install -y chromium``); with
``REQUIRE_BROWSER=1``, as ``.ci/run`` sets it, they fail instead (``conftest.py``).

Node ids in Kedro-Viz are hashes, so everything is matched through node names. Assertions are
inclusions, so more nodes may be added to the pipelines without breaking these tests.
"""

from __future__ import annotations

import base64
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from playwright.sync_api import Page

from .conftest import PROJECT_ROOT, stop_group
from .params import TRAIN
from .test_project_run import latest, run_session

ARTIFACTS = PROJECT_ROOT / "test-artifacts"

PIPELINES = {"preprocess", "train", "report", "__default__"}
TASKS = {
    "preprocess": {"build_image_cache", "split_train_val"},
    "train": {"check_cache_is_current", "check_split_is_current", "train_model"},
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
    ("train_val_split", "check_split_is_current"),
    ("check_split_is_current", "current_train_val_split"),
    ("current_train_val_split", "train_model"),
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

# Datasets whose side-panel preview the browser test opens: name -> Kedro-Viz preview kind.
PREVIEWS = {"loss_graph": "image", "training_history": "table"}
# Previews the server must offer after a run (GET /api/nodes/<id>): name -> preview type.
API_PREVIEWS = {
    "loss_graph": "ImagePreview",
    "confusion_matrix": "ImagePreview",
    "training_history": "TablePreview",
    "training_metrics": "JSONPreview",
}


def _env() -> dict[str, str]:
    return {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}


def _pretty(name: str) -> str:
    """Kedro-Viz's "pretty name" form: ``build_image_cache`` -> ``Build Image Cache``."""
    return " ".join(word.capitalize() for word in name.replace("-", "_").split("_"))


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


# What the flowchart drew: node groups (data-id -> name), node labels, edges ("source id|target id").
_GRAPH = """(() => ({
  nodes: Object.fromEntries([...document.querySelectorAll('g.pipeline-node[data-id]')]
    .map(g => [g.dataset.id, g.getAttribute('data-node-fullname') || ''])),
  labels: [...document.querySelectorAll('text.pipeline-node__text')].map(t => t.textContent.trim()),
  edges: [...document.querySelectorAll('g.pipeline-edge[data-id*="|"]')].map(g => g.dataset.id),
}))()"""


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


def _wait_for(page: Page, expression: str, timeout_s: float, done: Any = bool) -> Any:
    """Evaluate ``expression`` until its value is ``done`` and the same twice in a row (settled), else ``None``."""
    deadline, previous = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if done(value) and value == previous:
            return value
        previous = value
        page.wait_for_timeout(250)
    return None


@contextmanager
def _viz_server(project: Path, workdir: Path) -> Iterator[str]:
    """``kedro viz run`` on ``project`` at a free port; yields its URL once it serves the graph."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = workdir / "kedro-viz.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "kedro", "viz", "run", "--no-browser", "--host", "127.0.0.1", "--port", str(port)],
            cwd=project,
            env=_env(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_http(url, server, log)
        _wait_for_http(url + "api/main", server, log)
        yield url
    finally:
        stop_group(server)


@pytest.mark.slow
@pytest.mark.browser
def test_viz_run_renders_graph_in_chromium(project_copy: Path, tmp_path: Path, page: Page) -> None:
    wanted_labels = {name: {name, _pretty(name)} for name in RENDERED_NAMES}

    def missing(graph: dict) -> list[str]:
        return [name for name, forms in wanted_labels.items() if not forms & set(graph["labels"])]

    shot = ARTIFACTS / "viz.png"
    with _viz_server(project_copy, tmp_path) as url:
        try:
            page.goto(url)
            graph = _wait_for(page, _GRAPH, timeout_s=60, done=lambda g: not missing(g)) or page.evaluate(_GRAPH)
        finally:  # kept on failure too: it shows what the page looked like
            page.screenshot(path=shot)
    assert not missing(graph), f"the Kedro-Viz graph did not draw {missing(graph)}; it drew {sorted(graph['labels'])}"

    drawn_names = set(graph["nodes"].values())
    assert set(RENDERED_NAMES) <= drawn_names, f"graph node groups: {sorted(drawn_names)}"
    drawn_edges = {tuple(graph["nodes"].get(end, end) for end in edge.split("|", 1)) for edge in graph["edges"]}
    missing_edges = RENDERED_EDGES - drawn_edges
    assert not missing_edges, f"the graph did not draw edges {sorted(missing_edges)}"

    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no usable screenshot at {shot}"


# --------------------------------------------------------------------------- side-panel previews

# Where the flowchart drew a dataset node, once it has stopped moving, and what a click there hits.
_NODE_AT = """(() => {{
  const node = [...document.querySelectorAll('g.pipeline-node')]
    .find(g => g.getAttribute('data-node-fullname') === {name});
  if (!node) return null;
  const box = (node.querySelector('.pipeline-node__bg') || node).getBoundingClientRect();
  if (!box.width || !box.height) return null;
  const x = Math.round(box.left + box.width / 2), y = Math.round(box.top + box.height / 2);
  const hit = document.elementFromPoint(x, y);
  const hitNode = hit && hit.closest('g.pipeline-node');
  const on = hitNode ? hitNode.getAttribute('data-node-fullname')
                     : (hit ? hit.tagName + ' ' + (hit.getAttribute('class') || '') : 'nothing');
  return {{x, y, on}};
}})()"""
# What the side panel shows: its title and the preview, once there is one.
_PANEL = """(() => {{
  const panel = document.querySelector('.pipeline-metadata');
  if (!panel) return null;
  const title = (panel.querySelector('.pipeline-metadata__title') || {{}}).textContent || '';
  if ({kind!r} === 'image') {{
    const img = panel.querySelector('img.pipeline-metadata__plot-image');
    if (!img || !img.complete || !img.naturalWidth) return null;
    return {{title, src: img.getAttribute('src'), width: img.naturalWidth, height: img.naturalHeight}};
  }}
  const table = panel.querySelector('table.preview-table');
  if (!table) return null;
  return {{title,
           header: [...table.querySelectorAll('th')].map(th => th.textContent),
           rows: [...table.querySelectorAll('tr.preview-table__row')]
             .map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent))}};
}})()"""


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def _same_cell(shown: str, value: object) -> bool:
    """A table cell as Kedro-Viz prints it (JavaScript ``String``) against the CSV's value."""
    if isinstance(value, (int, float)):
        return float(shown) == pytest.approx(float(value), rel=1e-9)
    return shown == str(value)


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def _check_api_previews(url: str) -> None:
    """``kedro viz run`` offers a preview of each dataset in :data:`API_PREVIEWS`, of the right type."""
    ids = {node["name"]: node["id"] for node in _get_json(url + "api/main")["nodes"]}
    for name, preview_type in API_PREVIEWS.items():
        metadata = _get_json(f"{url}api/nodes/{ids[name]}")
        assert metadata.get("preview_type") == preview_type and metadata.get("preview"), (
            f"{name}: preview_type {metadata.get('preview_type')!r}, preview {str(metadata.get('preview'))[:200]!r}")


def _check_image_preview(panel: dict, project: Path, name: str) -> None:
    """The side panel shows the PNG this run saved for ``name``, decoded by the browser."""
    saved = latest(project, f"{name}.png").read_bytes()
    assert panel["src"] == "data:image/png;base64," + base64.b64encode(saved).decode(), (
        f"the {name} preview is not the run's {name}.png")
    assert (panel["width"], panel["height"]) == _png_size(saved)


def _check_table_preview(panel: dict, project: Path, name: str) -> None:
    """The side panel shows the CSV's columns and its first rows, cell by cell."""
    table = pd.read_csv(latest(project, f"{name}.csv"))
    assert panel["header"] == list(table.columns)
    expected = table.head(5).values.tolist()
    assert len(panel["rows"]) == len(expected) > 0, f"{name}: {panel['rows']} against {expected}"
    for shown_row, row in zip(panel["rows"], expected):
        assert all(_same_cell(shown, value) for shown, value in zip(shown_row, row, strict=True)), (
            f"{name}: row {shown_row} against {row}")


@pytest.mark.slow
@pytest.mark.browser
def test_viz_run_previews_a_figure_and_a_table_in_the_side_panel(
    project_copy: Path, tiny_zip: Path, tmp_path: Path, page: Page
) -> None:
    run_session(project_copy, ["preprocess", "train", "report"], raw_zip=str(tiny_zip), train=TRAIN)
    checks = {"image": _check_image_preview, "table": _check_table_preview}
    with _viz_server(project_copy, tmp_path) as url:
        _check_api_previews(url)
        for name, kind in PREVIEWS.items():
            shot = ARTIFACTS / f"viz-preview-{name}.png"
            try:
                page.goto(url)
                spot = _wait_for(page, _NODE_AT.format(name=json.dumps(name)), timeout_s=60)
                assert spot, f"Kedro-Viz did not draw the {name} node within 60 s"
                assert spot["on"] == name, f"a click on the {name} node would hit {spot['on']!r}"
                page.mouse.click(spot["x"], spot["y"])
                panel = _wait_for(page, _PANEL.format(kind=kind), timeout_s=30)
                assert panel, f"no {kind} preview in the side panel after clicking {name}"
                assert panel["title"].strip() in {name, _pretty(name)}, f"the side panel shows {panel['title']!r}"
                checks[kind](panel, project_copy, name)
            finally:  # kept on failure too: it shows what the page looked like
                page.screenshot(path=shot)
            assert _png_size(shot.read_bytes())[0] > 0
