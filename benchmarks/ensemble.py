"""How much averaging several trained models gains on a test zip: a bound on what one model misses.

Loads the saved model (``trained_model``) of each finished run folder (a project that ran
``kedro run``) through that folder's catalog, scores the test zip with
each model's own test-time views, and averages the class probabilities of every subset of the
models. One JSON line per ensemble size: the mean, lowest and highest accuracy (and case-folded
accuracy) over the subsets of that size.

    python benchmarks/ensemble.py --env tuned --test-zip emnist62_dev_test.zip \\
        --projects runs/tuned-seed0 runs/tuned-seed1 runs/tuned-seed2

If the average of several models scores well above each of them, one model's errors are partly
chance (its seed, its augmentation draws), and a better-averaged single model could gain some of
that back. If it gains little, the errors are shared by every model: they lie in the images
(a c that could be a C), not in the training. Run by hand; it trains nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from pathlib import Path

import torch


def ensemble_accuracies(probabilities: list[torch.Tensor], labels: torch.Tensor, names: list[str]) -> list[dict[str, object]]:
    """Per ensemble size k (1 to the number of models): accuracy over every subset of k models.

    ``probabilities`` holds one [N, C] tensor of class probabilities per model, ``labels`` the
    N true class indices, ``names`` the C class names (for the case-folded accuracy). A subset's
    prediction is the arg-max of its members' mean probability.
    """
    from playing_with_mnist.analysis.metrics import accuracies

    rows = []
    for size in range(1, len(probabilities) + 1):
        scores = [accuracies((sum(probabilities[i] for i in members) / size).argmax(1), labels, names)
                  for members in itertools.combinations(range(len(probabilities)), size)]
        exact = [accuracy for accuracy, _ in scores]
        row: dict[str, object] = {"models": size, "subsets": len(scores), "accuracy": sum(exact) / len(exact),
                                  "accuracy_min": min(exact), "accuracy_max": max(exact)}
        if scores[0][1] is not None:
            row["accuracy_case_folded"] = sum(folded for _, folded in scores) / len(scores)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=Path, nargs="+", required=True, help="finished run folders (Kedro projects), one per model")
    parser.add_argument("--env", help="the Kedro environment the models were trained under (e.g. tuned)")
    parser.add_argument("--test-zip", type=Path, required=True, help="a zip in the training layout to score")
    args = parser.parse_args()
    if not args.test_zip.is_file():
        parser.error(f"{args.test_zip}: no such file; pass a test zip in the training layout")
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

    from finished_runs import run_catalog, scored_test_set

    from playing_with_mnist.analysis.inference import predict

    probabilities, labels, names = [], None, None
    for project in (path.resolve() for path in args.projects):
        with run_catalog(project, args.env, args.test_zip) as catalog:
            trained_model = catalog.load("trained_model")
            images, model_labels = scored_test_set(catalog, trained_model)
        if labels is not None and (not torch.equal(model_labels, labels) or trained_model.class_names != names):
            parser.error(f"{project}: its model's classes differ from the first model's; ensemble models of one task only")
        labels, names = model_labels, trained_model.class_names
        probabilities.append(predict(trained_model, images))
        print(json.dumps({"project": project.name, "images": len(labels)}), flush=True)
    for row in ensemble_accuracies(probabilities, labels, names):
        print(json.dumps({key: round(value, 4) if isinstance(value, float) else value for key, value in row.items()}), flush=True)


if __name__ == "__main__":
    main()
