"""Wiring of the ``train`` pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import train_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                train_model,
                inputs=["character_images", "train_val_split", "params:train", "training_checkpoints"],
                outputs=["trained_model", "training_history"],
                name="train_model",
            ),
        ]
    )
