"""The registered model: what a Task 1 run registers, MLflow's scoring server answering over real HTTP on
127.0.0.1 through ``playing-with-mnist serve``, and the command's messages for a store or version it cannot use."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from playing_with_mnist.serving.registry import MODEL_NAME

from .conftest import free_port, stop_group, wait_until_up
from .test_project_run import latest

pytestmark = pytest.mark.slow


def client(project: Path) -> MlflowClient:
    uri = f"sqlite:///{project / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def command(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "playing_with_mnist", *args], cwd=project, capture_output=True, text=True, timeout=300)


def post(port: int, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_task1_run_registers_one_tagged_version_holding_only_its_model(registered_project: Path) -> None:
    versions = client(registered_project).search_model_versions(f"name = '{MODEL_NAME}'")
    assert [int(v.version) for v in versions] == [1]
    tags = versions[0].tags
    metrics = json.loads(latest(registered_project, "metrics.json").read_text())
    assert tags["recipe"] == "seed" and float(tags["val_accuracy"]) == pytest.approx(metrics["val_accuracy"], abs=1e-4)
    assert float(tags["temperature"]) == pytest.approx(metrics["calibration"]["temperature"], rel=1e-3)
    assert tags["data_fingerprint"].startswith("zip:sha256:") and "tiny.zip" in tags["data"] and tags["classes"] == "6"
    training = client(registered_project).get_run(tags["training_run"])
    assert training.data.tags["training"] == "task1"
    model_files = sorted(p.name for p in (registered_project / "mlartifacts").rglob("*.pt") if "models" in p.parts)
    assert model_files == ["resnet.pt"], "the model bundles this run's file, not every saved version"


@pytest.mark.slow
def test_the_scoring_server_answers_every_row_and_survives_bad_requests(registered_project: Path, tiny_zip: Path) -> None:
    with zipfile.ZipFile(tiny_zip) as archive:
        good = [base64.b64encode(archive.read(name)).decode() for name in archive.namelist() if name.endswith(".png")][:2]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "playing_with_mnist", "serve", "--port", str(port)], cwd=registered_project,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ping", server)
        rows = [[good[0]], ["%% not base64"], [base64.b64encode(b"not an image").decode()], [good[1]]]
        status, answer = post(port, {"dataframe_split": {"columns": ["image"], "data": rows}})
        assert status == 200 and len(answer["predictions"]) == 4
        first, not_base64, not_image, last = answer["predictions"]
        for row in (first, last):
            assert row["error"] == "" and 0 < row["confidence"] <= 1 and row["top3"].startswith(f"{row['character']}:")
        assert not_base64["error"].startswith("row 1: not base64") and not_image["error"].startswith("row 2: cannot decode image")
        assert not_base64["character"] == "" and not_image["confidence"] == 0

        status, answer = post(port, {"dataframe_split": {"columns": ["picture"], "data": [["x"]]}})
        assert status == 400 and "image" in answer["message"]
        status, again = post(port, {"dataframe_split": {"columns": ["image"], "data": [[good[0]]]}})
        assert status == 200 and again["predictions"][0] == first, "the server keeps answering, the same way"
    finally:
        stop_group(server)


def test_serve_names_what_it_cannot_use(registered_project: Path, tmp_path: Path, tiny_zip: Path) -> None:
    missing_version = command(registered_project, "serve", "--version", "7")
    assert missing_version.returncode == 1 and "has no version 7" in missing_version.stderr and "version(s) 1" in missing_version.stderr
    no_store = command(tmp_path, "serve", "--store", f"sqlite:///{tmp_path / 'nothing.db'}")
    assert no_store.returncode == 1 and "there is no model store at" in no_store.stderr
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(tiny_zip.read_bytes())
    unreadable = command(tmp_path, "serve", "--store", f"sqlite:///{corrupt}")
    assert unreadable.returncode == 1 and "corrupt.db cannot be read" in unreadable.stderr
