"""Wiring of the ``preprocess`` pipeline."""

from kedro.pipeline import Node, Pipeline

from playing_with_mnist.ingest.model_input import split_train_val

from .nodes import build_image_cache, plot_sample_inputs


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        Node(build_image_cache, ["raw_character_zip", "previous_character_images", "params:preprocess"],
             ["character_images", "preprocess_summary"], name="build_image_cache"),
        Node(split_train_val, ["character_images", "params:split"], "train_val_split", name="split_train_val"),
        Node(plot_sample_inputs, "character_images", "sample_inputs", name="plot_sample_inputs"),
    ])
