"""Wiring of the ``train`` pipeline: Task 1's instance of the training pipeline (``training.pipeline``)."""

from kedro.pipeline import Node, Pipeline

from playing_with_mnist.training.pipeline import training_pipeline

from .nodes import check_cache_is_current, check_split_is_current


def create_pipeline(**kwargs) -> Pipeline:
    """Task 1: check the cache and the split, then train on them (the ``task1`` instance of the training pipeline)."""
    outputs = {name: name for name in ("trained_model", "training_history", "training_checkpoints")}
    return Pipeline([
        Node(check_cache_is_current, ["raw_character_zip", "character_images"], "current_character_images",
             name="check_cache_is_current"),
        Node(check_split_is_current, ["train_val_split", "params:split"], "current_train_val_split",
             name="check_split_is_current"),
        training_pipeline("task1", model_input="current_character_images", split="current_train_val_split", outputs=outputs),
    ])
