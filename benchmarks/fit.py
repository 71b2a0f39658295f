"""How well a trained model fits its own training images: underfitting or overfitting?

The history's ``train_accuracy`` is measured on augmented batches with dropout on, while the
weights move; it says little about the fit. This scores the saved model (``trained_model``,
EMA weights where the recipe keeps them; no test-time augmentation, as in the history's
validation accuracy) on the clean training images and on the validation images of the same
split, both read through the project's catalog:

    python benchmarks/fit.py                                   # this project, conf/base
    python benchmarks/fit.py --project benchmark-runs/tuned-seed0 --env tuned

A training accuracy far above validation means overfitting (more regularisation or data
helps); both low means underfitting (more steps, a higher learning rate or less
regularisation helps). Beside each accuracy, the case-folded one (c read as C counts as
right): the part of the missing fit that is o/O, s/S, x/X ... rather than a failure to learn.
Run by hand; one forward pass over the images (measured: 17 minutes
for 1,984 + 496 images on one thread of a 2-core AVX2-only CPU busy with a training).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=PROJECT_ROOT, help="a Kedro project folder (default: this one)")
    parser.add_argument("--env", help="the Kedro environment the model was trained under (e.g. tuned)")
    args = parser.parse_args()
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

    import torch
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from playing_with_mnist.analysis.inference import predict
    from playing_with_mnist.analysis.metrics import accuracies

    project = args.project.resolve()
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=args.env) as session:
        catalog = session.load_context().catalog
        trained_model = catalog.load("trained_model")
        cached = catalog.load("character_images")
        split = catalog.load("train_val_split")

    names = list(cached["class_names"])
    row: dict[str, object] = {"project": project.name, "epochs": trained_model.train_config.epochs}
    for part in ("train", "val"):
        indices = torch.as_tensor(split[part])
        started = time.perf_counter()
        predicted = predict(trained_model, cached["images"][indices], tta=False).argmax(1)
        labels = cached["labels"][indices]
        # Case-folded: how much of the missing fit is o/O, s/S, x/X, which a clean 32x32 image
        # often cannot tell apart.
        accuracy, folded = accuracies(predicted, labels, names)
        row[f"{part}_accuracy"] = round(accuracy, 4)
        if folded is not None:
            row[f"{part}_accuracy_case_folded"] = round(folded, 4)
        row[f"{part}_images"] = len(indices)
        row[f"{part}_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
