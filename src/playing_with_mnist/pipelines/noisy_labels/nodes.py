"""Nodes of the ``noisy_labels`` pipeline (Task 3): the noisy set as model input, the noise
analysis with a clean model, and the cleaned training set."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import torch
from matplotlib.figure import Figure

from playing_with_mnist.analysis import figures, inference, noise
from playing_with_mnist.analysis.figures import compare_runs
from playing_with_mnist.ingest.archive import CharacterArchive
from playing_with_mnist.ingest.model_input import DIGITS, ModelInput, decode_archive, invert_ink, train_test_input
from playing_with_mnist.training.checkpoints import TrainedModel

logger = logging.getLogger(__name__)


def decode_noisy_digits(raw_noisy_digits: CharacterArchive, preprocess_params: dict[str, Any]) -> ModelInput:
    """Every image of the noisy zip at Task 1's size (Task 1's decoder), labelled by its folder: the digits ``0`` .. ``9``."""
    cache, _ = decode_archive(raw_noisy_digits, preprocess_params)
    if sorted(cache["class_names"]) != DIGITS:
        raise ValueError(f"{raw_noisy_digits.path.name}: expected folders 0-9, found {', '.join(cache['class_names'])}")
    digit_of_class = torch.tensor([int(name) for name in cache["class_names"]])
    return {**cache, "labels": digit_of_class[cache["labels"]], "class_names": list(DIGITS), "class_folders": list(DIGITS)}


def noisy_model_input(noisy_images: dict[str, Any], mnist_images: dict[str, Any], mnist_split: dict[str, Any],
                      input_params: dict[str, Any]) -> tuple[dict, dict]:
    """The noisy images to train on (inverted like MNIST's, see ``mnist_input.invert``) and the
    MNIST test set to score on, as one cache and its split."""
    images = invert_ink(noisy_images["images"]) if input_params["invert"] else noisy_images["images"]
    test = mnist_split["test"]
    members = list(noisy_images["members"]) + [mnist_images["members"][i] for i in test.tolist()]
    return train_test_input(images, noisy_images["labels"], mnist_images["images"][test], mnist_images["labels"][test],
                            members, noisy_images["source"], f"{noisy_images['fingerprint']}|test:{mnist_split['fingerprint']}")


def known_label_truth(raw_noisy_digits: CharacterArchive, noisy_images: ModelInput) -> dict[str, Any]:
    """The true label of every decoded image and the noise matrix where the zip's maker hands them over (the
    synthetic stand-in, ``CharacterArchive.known_labels``); ``{"known": False}`` for a real zip."""
    if raw_noisy_digits.known_labels is None:
        return {"known": False}
    known = raw_noisy_digits.known_labels()
    true_labels = torch.tensor([known.true_labels[member] for member in noisy_images["members"]], dtype=torch.long)
    return {"known": True, "true_labels": true_labels, "noise_matrix": known.noise_matrix}


def clean_model_probabilities(mnist_model: TrainedModel, noisy_input: dict[str, Any], noisy_split: dict[str, Any]) -> tuple[torch.Tensor, float]:
    """The clean model's (Task 2's MNIST model) class probabilities [N, 10] for every noisy training
    image, and its accuracy on the test images (how far its reading of the labels can be trusted)."""
    if mnist_model.class_names != DIGITS:
        raise ValueError(f"the clean model must classify the digits 0-9, it has classes {mnist_model.class_names[:12]}")
    train, test = noisy_split["train"], noisy_split["test"]
    # One pass over both sets: each call of predict rebuilds the model and moves it to the device.
    probabilities = inference.predict(mnist_model, noisy_input["images"][torch.cat([train, test])])
    test_predictions = probabilities[len(train):].argmax(1)
    accuracy = float((test_predictions == noisy_input["labels"][test]).float().mean())
    return probabilities[: len(train)], accuracy


def analyse_noise(noisy_input: dict[str, Any], noisy_split: dict[str, Any], probabilities: torch.Tensor, clean_accuracy: float,
                  truth: dict[str, Any], params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, Figure, Figure, Figure, dict]:
    """Where the folder and the clean model disagree: the estimated noise matrix (table, and heat map beside the
    truth when known), wrong labels per folder (table and bars), images per folder with the clean model's reading,
    and a summary."""
    index, names, true_labels = noisy_split["train"], list(noisy_input["class_names"]), truth.get("true_labels")
    given, predicted = noisy_input["labels"][index], probabilities.argmax(1)
    estimate = noise.noise_matrix_estimate(given, predicted, len(names))
    empirical = noise.empirical_noise_matrix(given, true_labels, len(names)) if truth["known"] else None
    shares = noise.wrong_label_share(given, predicted, names, true_labels)
    summary = {"images": len(index), "clean_model_test_accuracy": clean_accuracy,
               "estimated_wrong_share": float((predicted != given).float().mean()),
               "true_wrong_share": float((true_labels != given).float().mean()) if truth["known"] else None,
               "estimate_vs_truth": noise.matrix_difference(estimate, empirical) if truth["known"] else None}
    table = pd.DataFrame(estimate, index=pd.Index(names, name="true (clean model)"), columns=names).reset_index()
    return (table, shares, figures.plot_noise_matrices(estimate, names, empirical), figures.plot_wrong_share(shares),
            figures.plot_folder_grid(noisy_input["images"][index], given, names, int(params["grid_per_folder"]), predicted), summary)


def clean_training_set(noisy_input: dict[str, Any], noisy_split: dict[str, Any], probabilities: torch.Tensor,
                       truth: dict[str, Any], params: dict[str, Any]) -> tuple[dict, dict, dict]:
    """The noisy training set after ``params["cleaning"]`` (policy drop | relabel | none, see
    :func:`noise.flag_suspect_labels` and :func:`noise.apply_label_policy`); the test images are
    unchanged. With known truth the summary says how many flags were right and how much noise is left."""
    cleaning, index = params["cleaning"], noisy_split["train"]
    given = noisy_input["labels"][index]
    flagged = noise.flag_suspect_labels(given, probabilities, float(cleaning["loss_threshold"]), float(cleaning["min_confidence"]))
    kept, labels, summary = noise.apply_label_policy(given, probabilities, flagged, cleaning["policy"])
    kept_index = index[torch.from_numpy(kept)]
    if truth["known"]:
        true_train = truth["true_labels"]
        wrong = (true_train != given).numpy()
        summary["flags_that_were_wrong_labels"] = float(wrong[flagged].mean()) if flagged.any() else None
        summary["wrong_labels_flagged"] = float(flagged[wrong].mean()) if wrong.any() else None
        summary["wrong_share_before"] = float(wrong.mean())
        summary["wrong_share_after"] = float((true_train[torch.from_numpy(kept)] != torch.from_numpy(labels)).float().mean())
    test = noisy_split["test"]
    members = [noisy_input["members"][i] for i in kept_index.tolist() + test.tolist()]
    fingerprint = f"{noisy_input['fingerprint']}|cleaned:{cleaning['policy']}:{cleaning['loss_threshold']}:{cleaning['min_confidence']}"
    cache, split = train_test_input(noisy_input["images"][kept_index], torch.from_numpy(labels).long(),
                                    noisy_input["images"][test], noisy_input["labels"][test], members, noisy_input["source"], fingerprint)
    return cache, split, summary


def compare_noisy(scratch: pd.DataFrame, from_task1: pd.DataFrame, from_task2: pd.DataFrame, cleaned: pd.DataFrame) -> tuple[pd.DataFrame, Figure, Figure]:
    """Summary table and figures of the four runs on the noisy set, scored on the MNIST test set."""
    histories = {"scratch": scratch, "from_task1": from_task1, "from_task2": from_task2, "cleaned": cleaned}
    return compare_runs(histories, "Noisy labels")
