"""Wiring of the ``train`` pipeline: Task 1's instance of the training pipeline (``training.pipeline``)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from playing_with_mnist.training.pipeline import training_pipeline

from .nodes import check_cache_is_current, check_split_is_current


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
