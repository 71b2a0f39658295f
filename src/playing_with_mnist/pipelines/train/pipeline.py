"""Wiring of the ``train`` pipeline, and the training pipeline every experiment reuses.

:func:`training_pipeline` is one training step as a modular pipeline: Task 1 and each
MNIST run are instances of it under their own namespace, so their models, histories and
checkpoints get their own catalog entries and nothing of the training code is copied.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from .nodes import check_cache_is_current, check_split_is_current, fine_tune_model, train_model


def training_pipeline(
    namespace: str,
    model_input: str,
    split: str,
    overrides: str | None = None,
    initial_model: str | None = None,
    outputs: dict[str, str] | None = None,
) -> Pipeline:
    """One training run named ``namespace``, from ``initial_model``'s weights when given.

    Trains with ``params:train`` and, laid over it, the parameters named by ``overrides``
    (e.g. ``params:mnist_train``: what this experiment changes). Writes ``<namespace>_model``
    and ``<namespace>_history`` (or the names in ``outputs``) and keeps its checkpoints in
    ``<namespace>.training_checkpoints``.
    """
    inputs = {"model_input": "model_input", "split": "split", "params": "params:train", "checkpoints": "training_checkpoints"}
    parameters = {"params:train": "params:train"}
    if initial_model:
        inputs["initial_model"] = "initial_model"
    if overrides:
        inputs["overrides"] = "params:overrides"
        parameters["params:overrides"] = overrides
    node = Node(
        fine_tune_model if initial_model else train_model,
        inputs=inputs,
        outputs=["trained_model", "training_history"],
        name="train_model",
    )
    names = {"trained_model": f"{namespace}_model", "training_history": f"{namespace}_history", **(outputs or {})}
    mapping = {"model_input": model_input, "split": split}
    if initial_model:
        mapping["initial_model"] = initial_model
    if "training_checkpoints" in names:
        mapping["training_checkpoints"] = names.pop("training_checkpoints")
    return Pipeline([node], namespace=namespace, inputs=mapping, outputs=names, parameters=parameters)


def create_pipeline(**kwargs) -> Pipeline:
    """Task 1: check the cache and the split, then train on them (the ``task1`` instance of the training pipeline)."""
    return Pipeline(
        [
            Node(
                check_cache_is_current,
                inputs=["raw_character_zip", "character_images"],
                outputs="current_character_images",
                name="check_cache_is_current",
            ),
            Node(
                check_split_is_current,
                inputs=["train_val_split", "params:split"],
                outputs="current_train_val_split",
                name="check_split_is_current",
            ),
            training_pipeline(
                "task1",
                model_input="current_character_images",
                split="current_train_val_split",
                outputs={"trained_model": "trained_model", "training_history": "training_history",
                         "training_checkpoints": "training_checkpoints"},
            ),
        ]
    )
