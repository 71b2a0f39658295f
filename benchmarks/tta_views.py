"""Which test-time views help a trained model: several view sets on its validation images and a test zip.

Scores the saved model (``trained_model``, read through the project's catalog) once per view
and then averages the probabilities of each set, so every set sees the same predictions:

    python benchmarks/tta_views.py --project benchmark-runs/tuned-seed0 --env tuned --test-zip emnist62_dev_test.zip

One JSON line per set and split: accuracy and case-folded accuracy. Choose a set on the
validation images of several seeds, then confirm it on the test zip (choosing on the test zip
makes its score optimistic). ``recipe`` is ``TTA_VIEWS``, what ``train.tta`` uses.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def view_sets() -> dict[str, tuple]:
    from playing_with_mnist.training.augment import TTA_VIEWS, TTAView

    # The recipe's views, in their three kinds (the image itself counts with the shifts).
    shifts = tuple(view for view in TTA_VIEWS if view.rotate == 0 and view.size == 1)
    turns = tuple(view for view in TTA_VIEWS if view.rotate != 0)
    sizes = tuple(view for view in TTA_VIEWS if view.size != 1)
    wider = (TTAView(rotate=-4.0), TTAView(rotate=4.0), TTAView(rotate=-8.0), TTAView(rotate=8.0), TTAView(size=0.9), TTAView(size=1.1))
    return {
        "none": (TTAView(),),
        "shifts": shifts,
        "shifts+turns": shifts + turns,
        "shifts+sizes": shifts + sizes,
        "recipe": TTA_VIEWS,
        "shifts+sizes+turns4,8+sizes10": shifts + sizes + wider,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=PROJECT_ROOT, help="a Kedro project folder (default: this one)")
    parser.add_argument("--env", help="the Kedro environment the model was trained under (e.g. tuned)")
    parser.add_argument("--test-zip", type=Path, help="a zip in the training layout to score as well")
    args = parser.parse_args()
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

    import torch
    from finished_runs import run_catalog, scored_test_set

    from playing_with_mnist.analysis.metrics import accuracies
    from playing_with_mnist.training.engine import predict_logits
    from playing_with_mnist.training.hardware import select_device, select_precision

    project = args.project.resolve()
    with run_catalog(project, args.env, args.test_zip) as catalog:
        trained_model = catalog.load("trained_model")
        cached = catalog.load("character_images")
        split = catalog.load("train_val_split")
        val = torch.as_tensor(split["val"])
        parts = {"val": (cached["images"][val], cached["labels"][val])}
        if args.test_zip:
            parts["test"] = scored_test_set(catalog, trained_model)

    device = select_device("auto")
    precision = select_precision("auto", device)
    model = trained_model.build().to(device)
    names = trained_model.class_names
    sets = view_sets()
    views = sorted({view for members in sets.values() for view in members}, key=repr)
    for part, (images, labels) in parts.items():
        # One view at a time: with a single view the averaged probabilities are that view's own.
        probabilities = {view: predict_logits(model, images.to(device), 256, precision, tta=True, views=(view,)).exp().cpu() for view in views}
        for name, members in sets.items():
            predicted = (sum(probabilities[view] for view in members) / len(members)).argmax(1)
            accuracy, folded = accuracies(predicted, labels, names)
            print(json.dumps({
                "project": project.name, "part": part, "views": name, "count": len(members), "images": len(labels),
                "accuracy": round(accuracy, 4), "accuracy_case_folded": folded,
            }), flush=True)


if __name__ == "__main__":
    main()
