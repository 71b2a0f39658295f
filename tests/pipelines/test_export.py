"""The ``export`` pipeline: the trained model as ONNX gives the PyTorch path's calibrated probabilities."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
import yaml
from kedro.io import DataCatalog

from playing_with_mnist.analysis.calibration import calibrated
from playing_with_mnist.pipeline_registry import ON_DEMAND, register_pipelines
from playing_with_mnist.pipelines.export.nodes import export_onnx
from playing_with_mnist.training.checkpoints import TrainedModel
from playing_with_mnist.training.config import TrainConfig
from playing_with_mnist.training.engine import predict_logits
from playing_with_mnist.training.pipeline import train_model

from ..conftest import PROJECT_ROOT
from ..params import TRAIN

# Trained a little longer than TRAIN, without dropout, on normalised input, and sharpened by a low temperature: the
# probabilities then clearly depend on the image and on the test-time views, so a graph that missed a step would be far off.
SHARPER = {"dropout": 0.0, "lr": 0.01, "epochs": 3, "normalize": True}
# seed: the seed's network; tuned: as the tuned recipe, with test-time views and pooled downsampling
SETTINGS = {"seed": {}, "tuned": {"tta": True, "model": {**TRAIN["model"], "downsample": "pool"}}}
TEMPERATURE = 0.1


@pytest.fixture(scope="module", params=sorted(SETTINGS))
def trained(request: pytest.FixtureRequest, tiny_cache: dict, tiny_split: dict) -> TrainedModel:
    model = train_model(tiny_cache, tiny_split, TrainConfig.from_params({**TRAIN, **SHARPER, **SETTINGS[request.param]}))[0]
    return replace(model, temperature=TEMPERATURE)


@pytest.fixture(scope="module")
def exported(trained: TrainedModel) -> bytes:
    return export_onnx(trained)


def reference(trained: TrainedModel, images: torch.Tensor, tta: bool) -> np.ndarray:
    """What ``analysis.inference.predict`` gives (with ``tta``), in fp32 on the CPU."""
    return calibrated(predict_logits(trained.build(), images, 16, "fp32", tta=tta), trained.temperature).numpy()


def test_onnx_model_reproduces_the_calibrated_predictions(trained: TrainedModel, exported: bytes, tiny_cache: dict,
                                                          tiny_split: dict) -> None:
    images = tiny_cache["images"][tiny_split["val"]]
    expected = reference(trained, images, trained.tta)
    assert expected.std(0).max() > 1e-2  # the probabilities depend on the image, 100 times the tolerance below
    if trained.tta:  # and on the views
        assert np.abs(expected - reference(trained, images, tta=False)).max() > 1e-2
    session = onnxruntime.InferenceSession(exported, providers=["CPUExecutionProvider"])
    [image], [output] = session.get_inputs(), session.get_outputs()
    assert (image.name, image.type, output.name) == ("image", "tensor(float)", "probabilities")
    inputs = (images.float() / 255.0).numpy()
    for batch in (1, 4, len(inputs)):
        got = np.concatenate([session.run(None, {"image": inputs[start : start + batch]})[0] for start in range(0, len(inputs), batch)])
        assert got.dtype == np.float32 and got.shape == (len(inputs), len(trained.class_names))
        assert np.abs(got - expected).max() < 1e-4, f"batch {batch}"
        assert (got.argmax(1) == expected.argmax(1)).all(), f"batch {batch}"


def test_onnx_metadata_says_how_to_use_the_model(trained: TrainedModel, exported: bytes) -> None:
    model = onnx.load_from_string(exported)
    props = {prop.key: prop.value for prop in model.metadata_props}
    assert json.loads(props["class_names"]) == trained.class_names
    assert int(props["image_size"]) == trained.image_size == 32
    assert float(props["temperature"]) == trained.temperature == TEMPERATURE
    assert json.loads(props["tta"]) is trained.tta
    assert "[0, 1]" in props["input"]
    [image] = model.graph.input
    batch, *rest = image.type.tensor_type.shape.dim
    assert batch.dim_param and [d.dim_value for d in rest] == [1, 32, 32]


def test_export_runs_only_when_named_and_writes_a_versioned_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kedro.framework.project import settings

    settings.configure("playing_with_mnist.settings")  # the sweep pipeline reads the parameters with the project's resolvers
    monkeypatch.chdir(PROJECT_ROOT)
    pipelines = register_pipelines()
    assert "export" in ON_DEMAND
    assert pipelines["export"].inputs() == {"trained_model"} and pipelines["export"].outputs() == {"onnx_model"}
    assert "export_onnx" not in {node.name for node in pipelines["__default__"].nodes}
    entry = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())["onnx_model"]
    assert entry["filepath"] == "data/06_models/resnet.onnx" and entry["versioned"] is True
    catalog = DataCatalog.from_config({"onnx_model": {**entry, "filepath": str(tmp_path / "resnet.onnx")}})
    assert not catalog.exists("onnx_model")
    catalog.save("onnx_model", b"\x08\x07 model")
    assert catalog.load("onnx_model") == b"\x08\x07 model"
    [version] = (tmp_path / "resnet.onnx").iterdir()
    assert (version / "resnet.onnx").read_bytes() == b"\x08\x07 model" and not list(version.glob(".*partial"))
