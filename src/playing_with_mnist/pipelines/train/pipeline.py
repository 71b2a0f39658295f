"""Wiring of the ``train`` pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import check_cache_is_current, train_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                check_cache_is_current,
                inputs=["raw_character_zip", "character_images"],
                outputs="current_character_images",
                name="check_cache_is_current",
            ),
            Node(
                train_model,
                inputs=["current_character_images", "train_val_split", "params:train", "training_checkpoints"],
                outputs=["trained_model", "training_history"],
                name="train_model",
            ),
        ]
    )
