"""Nodes of the ``export`` pipeline."""

from __future__ import annotations

import io
import json
import logging
import warnings

import onnx
import torch
from torch import nn

from playing_with_mnist.analysis.calibration import calibrated
from playing_with_mnist.training.augment import TTA_VIEWS
from playing_with_mnist.training.checkpoints import TrainedModel
from playing_with_mnist.training.engine import view_averaged_logits

logger = logging.getLogger(__name__)

# ONNX opset 20 is the first with AffineGrid, which the rotated and resized test-time views need (GridSample: 16).
# onnxruntime runs it from 1.17 on.
OPSET = 20
INPUT_CONVENTION = ("image: float32 [N, 1, S, S], S = image_size, grayscale in [0, 1] (uint8 / 255), dark ink on white, "
                    "decoded as training decoded its images; probabilities: float32 [N, C], C = len(class_names)")


class CalibratedClassifier(nn.Module):
    """Images in [0, 1] [N, 1, S, S] -> class probabilities [N, C], as ``analysis.inference.predict`` makes them
    from the same images as uint8: the network (with its own input normalisation), the test-time views when the
    model was trained with them (``train.tta``), then the calibration temperature and a softmax."""

    def __init__(self, trained_model: TrainedModel) -> None:
        super().__init__()
        self.network = trained_model.build()
        self.tta = trained_model.tta
        self.temperature = trained_model.temperature

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        logits = view_averaged_logits(self.network, image, TTA_VIEWS) if self.tta else self.network(image)
        return calibrated(logits, self.temperature)


def export_onnx(trained_model: TrainedModel) -> bytes:
    """The trained model as an ONNX model (fp32, any batch size) of :class:`CalibratedClassifier`, with what a user
    needs in its metadata: ``class_names`` (JSON, output order), ``image_size``, ``temperature``, ``tta`` and ``input``."""
    size = trained_model.image_size
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # Constants on purpose: the test-time views' warp matrices, and the image size (only the batch varies).
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            CalibratedClassifier(trained_model).eval(), (torch.ones(2, 1, size, size),), buffer, dynamo=False,
            opset_version=OPSET, input_names=["image"], output_names=["probabilities"],
            dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}},
        )
    model = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(model, {
        "class_names": json.dumps(trained_model.class_names), "image_size": str(size),
        "temperature": repr(trained_model.temperature), "tta": json.dumps(trained_model.tta), "input": INPUT_CONVENTION,
    })
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    logger.info("Exported the model (%d classes, %dx%d, TTA %s, temperature %.3f) to ONNX opset %d: %.1f MB",
                len(trained_model.class_names), size, size, "on" if trained_model.tta else "off", trained_model.temperature,
                OPSET, len(data) / 1e6)
    return data
