"""Small parameter sets for fast tests: the real code paths on tiny data and a slim model; and a made-up history."""

import pandas as pd

PREPROCESS = {"image_size": 32, "max_broken_fraction": 0.05, "min_images_per_class": 2, "workers": 2}
SPLIT = {"val_fraction": 0.2, "seed": 1}
TRAIN = {
    "epochs": 1, "lr": 0.001, "weight_decay": 0.0001, "batch_size": 8, "val_batch_size": 16, "dropout": 0.7,
    "optimizer": "adam", "seed": 5, "device": "cpu", "precision": "fp32", "channels_last": False, "compile": False,
    "resume": False, "model": {"block_channels": [8, 8, 16, 16, 16], "strides": [1, 1, 1, 6, 1], "hidden_units": [16, 8]},
}


def history(accuracies: list[float]) -> pd.DataFrame:
    """A training history (the columns every history has) whose validation accuracy per epoch is ``accuracies``."""
    epochs = range(1, len(accuracies) + 1)
    return pd.DataFrame({"epoch": list(epochs), "train_loss": [1.0] * len(accuracies), "train_accuracy": [0.5] * len(accuracies),
                         "val_loss": [2.0 - a for a in accuracies], "val_accuracy": accuracies,
                         "seconds": [3.0] * len(accuracies), "train_seconds": [2.0] * len(accuracies)})
