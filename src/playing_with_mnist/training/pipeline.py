"""One training as a modular pipeline: :func:`training_pipeline`, and the two nodes it runs.

Task 1 and each MNIST run (and each run of a sweep) are instances of it under their own
namespace, so their settings, models, histories and checkpoints get their own catalog entries
and nothing of the training code is copied. Its nodes carry the tags :data:`CONFIG_TAG` and
:data:`TRAINING_TAG`, by which hooks find every training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial, update_wrapper
from typing import Any

import pandas as pd
from kedro.pipeline import Node, Pipeline

from playing_with_mnist.analysis import inference
from playing_with_mnist.analysis.calibration import fit_temperature

from .checkpoints import TrainedModel
from .config import TrainConfig
from .loop import CheckpointStore, fit
from .setup import set_up_network

CONFIG_TAG = "train_config"  # the node that builds a training's settings
TRAINING_TAG = "training"    # the node that trains


def train_model(
    model_input: dict[str, Any],
    split: dict[str, Any],
    config: TrainConfig,
    checkpoints: CheckpointStore | None = None,
    initial_model: TrainedModel | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[TrainedModel, pd.DataFrame]:
    """Train the seed's ResNet on a cache of images (``images`` uint8 [N, 1, S, S], ``labels``, ``class_names``,
    ``fingerprint`` ...): ``split["train"]`` to learn, ``split["val"]`` (or the MNIST splits' ``test``) to score after
    every ``config.val_every``-th epoch and the last. ``checkpoints`` receives the training state after every epoch (``config.resume`` continues from it);
    ``initial_model``'s weights are the start; ``on_epoch`` is ``fit``'s per-epoch callback. Returns the model and the history (a row per epoch).

    The model's calibration temperature is fitted on ``split["val"]`` (on nothing, 1.0, for a split without one:
    a temperature fitted on the test images would flatter them)."""
    if split.get("fingerprint") != model_input["fingerprint"]:
        raise ValueError("the train/val split was made from other data than the images; run the pipeline that makes both again (preprocess, for Task 1)")
    network, fingerprint, started_from = set_up_network(config, model_input, split["train"], initial_model)
    images, labels = model_input["images"], model_input["labels"]
    scored = split["val"] if "val" in split else split["test"]
    result = fit(network, (images[split["train"]], labels[split["train"]]), (images[scored], labels[scored]),
                 config, checkpoints=checkpoints, fingerprint=fingerprint, on_epoch=on_epoch)
    trained_model = TrainedModel(
        model_config=network.config, state_dict=result.model.state_dict(), class_names=list(model_input["class_names"]),
        class_folders=list(model_input["class_folders"]), train_config=config, run=result.run, source=model_input["source"],
        fingerprint=model_input["fingerprint"], started_from=started_from,
        final_val_accuracy=float(result.history[-1]["val_accuracy"]) if result.history else None,
    )
    if "val" in split:
        val = split["val"]
        trained_model = replace(trained_model, temperature=fit_temperature(inference.logits(trained_model, images[val]), labels[val]))
    return trained_model, pd.DataFrame(result.history)


def resolve_train_config(train: dict[str, Any], *layers: dict[str, Any], sections: tuple[str, ...] = (),
                         changes: dict[str, Any] | None = None) -> TrainConfig:
    """``train`` with each of ``layers``, then ``changes``, laid over it in turn (:meth:`TrainConfig.from_params`:
    ``model`` and ``augment`` merge key by key), checked; a wrong name or value is a ValueError naming the parameter
    under its layer's section (``changes``: the run's own)."""
    config = TrainConfig.from_params(train)
    for layer, section in [*zip(layers, sections, strict=True), (changes or {}, "the run's own settings")]:
        config = TrainConfig.from_params(config.to_dict(), layer, section)
    return config


def training_pipeline(
    namespace: str,
    model_input: str,
    split: str,
    overrides: str | Sequence[str] = (),
    initial_model: str | None = None,
    outputs: dict[str, str] | None = None,
    changes: dict[str, Any] | None = None,
) -> Pipeline:
    """One training run named ``namespace``, from ``initial_model``'s weights when given.

    Trains with ``params:train`` and, laid over it in order, the parameters named by ``overrides``
    (e.g. ``params:mnist_recipe`` then ``params:mnist_train``: what this experiment changes), then
    ``changes``, fixed when the pipeline is built (a learning curve's seed, e.g. ``{"seed": 1}``). Writes
    ``<namespace>_model`` and ``<namespace>_history`` (or the names in ``outputs``) and keeps its
    checkpoints in ``<namespace>.training_checkpoints``.
    """
    layers = [overrides] if isinstance(overrides, str) else list(overrides)
    settings = ["params:train", *layers]
    inputs = {"model_input": "model_input", "split": "split", "config": "train_config", "checkpoints": "training_checkpoints",
              **({"initial_model": "initial_model"} if initial_model else {})}
    sections = tuple(layer.removeprefix("params:") for layer in layers)  # what errors in the settings name
    resolve = update_wrapper(partial(resolve_train_config, sections=sections, changes=changes), resolve_train_config)
    nodes = [
        Node(resolve, settings, "train_config", name="resolve_train_config", tags=[CONFIG_TAG]),
        Node(train_model, inputs, ["trained_model", "training_history"], name="train_model", tags=[TRAINING_TAG]),
    ]
    names = {"trained_model": f"{namespace}_model", "training_history": f"{namespace}_history", **(outputs or {})}
    mapping = {"model_input": model_input, "split": split, **({"initial_model": initial_model} if initial_model else {})}
    if "training_checkpoints" in names:
        mapping["training_checkpoints"] = names.pop("training_checkpoints")
    return Pipeline(nodes, namespace=namespace, inputs=mapping, outputs=names, parameters=set(settings))
