"""Label-noise estimates, suspect labels and their figures, on data with a known noise matrix."""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from playing_with_mnist.analysis.figures import plot_folder_grid, plot_noise_matrices, plot_wrong_share
from playing_with_mnist.analysis.noise import (
    apply_label_policy,
    empirical_noise_matrix,
    flag_suspect_labels,
    matrix_difference,
    noise_matrix_estimate,
    wrong_label_share,
)
from playing_with_mnist.demo.noisy_digits import flip_labels, label_permutation, noise_matrix

SEED = 4
DIGITS = [str(d) for d in range(10)]


def clean_labels(given: object, probabilities: object, policy: str, loss_threshold: float,
                 min_confidence: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """The cleaning step of the noisy_labels pipeline: flag, then apply the policy."""
    suspect = flag_suspect_labels(given, probabilities, loss_threshold, min_confidence)
    return apply_label_policy(given, probabilities, suspect, policy)


def noisy_sample(per_class: int = 2000, error_rate: float = 0.03, noise_rate: float = 0.3,
                 kind: str = "random") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(noise matrix, true labels, given labels, predictions) with ``error_rate`` of predictions wrong."""
    truth = noise_matrix(noise_rate, SEED, kind)
    true = np.tile(np.arange(10, dtype=np.uint8), per_class)
    given = flip_labels(true, truth, SEED)
    rng = np.random.default_rng(SEED)
    predicted = true.astype(np.int64)
    wrong = rng.random(len(true)) < error_rate
    predicted[wrong] = (predicted[wrong] + rng.integers(1, 10, wrong.sum())) % 10  # always another class
    return truth, true, given, predicted


def test_estimate_is_close_to_the_noise_matrix() -> None:
    truth, true, given, predicted = noisy_sample()
    estimate = noise_matrix_estimate(given, predicted, 10)
    empirical = empirical_noise_matrix(given, true, 10)
    assert np.allclose(estimate.sum(axis=1), 1.0)
    # Two sources of error. Bias: row p mixes the ~3% of images wrongly predicted as p
    # into true p's row, moving each entry by at most 0.03 * 0.7 = 0.021 (the diagonal).
    # Sampling: a share from 2000 images has sd <= sqrt(0.7 * 0.3 / 2000) = 0.010, and
    # the largest of the 10 diagonal deviations stays under 3.5 sd = 0.036. Sum 0.057.
    # (Over 60 seeds the largest error seen was 0.048.)
    to_truth = matrix_difference(estimate, truth)
    assert to_truth["max_abs_error"] < 0.06
    # The empirical matrix shares the sampling error, leaving the bias (0.021) plus the
    # noise of the ~60 swapped images per row (sd ~0.003): a bound of 0.035.
    to_empirical = matrix_difference(estimate, empirical)
    assert to_empirical["max_abs_error"] < 0.035
    assert to_empirical["mean_abs_error"] < to_truth["mean_abs_error"]
    assert all(isinstance(value, float) for value in to_truth.values())


def test_perfect_predictions_give_the_empirical_matrix() -> None:
    _, true, given, _ = noisy_sample(per_class=300)
    estimate = noise_matrix_estimate(given, torch.from_numpy(true.astype(np.int64)), 10)
    assert np.array_equal(estimate, empirical_noise_matrix(given, true, 10))
    assert matrix_difference(estimate, empirical_noise_matrix(given, true, 10))["max_abs_error"] == 0.0


def test_estimate_recovers_systematic_noise_where_most_labels_are_wrong() -> None:
    # 90% of labels wrong, each digit mostly labelled as one other (label_permutation(SEED)).
    truth, true, given, predicted = noisy_sample(error_rate=0.005, noise_rate=0.9, kind="systematic")
    assert (given != true).mean() > 0.85
    estimate = noise_matrix_estimate(given, predicted, 10)
    # Near-perfect predictions: the estimate is the realised matrix but for the 0.5% of
    # swapped images (~10 per row); against the truth, the sampling error of 2000 images
    # a row adds 3.5 sd = 0.034 at most (over 60 seeds the largest error seen was 0.036).
    assert matrix_difference(estimate, empirical_noise_matrix(given, true, 10))["max_abs_error"] < 0.015
    assert matrix_difference(estimate, truth)["max_abs_error"] < 0.045
    off_diagonal = estimate - np.diag(np.diag(estimate))
    assert (off_diagonal.argmax(axis=1) == label_permutation(SEED)).all()  # which digit goes to which folder
    assert (np.diag(estimate) < 0.15).all()

    # 3% of predictions wrong: row p takes in ~3% of images of other digits, whose labels
    # follow their own rows, moving an entry by at most 0.03 * 0.74 = 0.022; with the
    # sampling error, 0.065 (over 60 seeds the largest error seen was 0.054).
    truth, true, given, predicted = noisy_sample(error_rate=0.03, noise_rate=0.9, kind="systematic")
    estimate = noise_matrix_estimate(given, predicted, 10)
    assert matrix_difference(estimate, truth)["max_abs_error"] < 0.065
    assert matrix_difference(estimate, empirical_noise_matrix(given, true, 10))["max_abs_error"] < 0.04
    assert ((estimate - np.diag(np.diag(estimate))).argmax(axis=1) == label_permutation(SEED)).all()


def confident_probabilities(true: np.ndarray, error_rate: float, unsure_rate: float, seed: int = SEED) -> np.ndarray:
    """A clean model's probabilities [N, 10]: sure (0.85-0.99) of the true digit, of another
    digit for ``error_rate`` of the images, and flat (top 0.3) for ``unsure_rate`` of them."""
    rng = np.random.default_rng(seed)
    count = len(true)
    top = true.astype(np.int64)
    wrong = rng.random(count) < error_rate
    top[wrong] = (top[wrong] + rng.integers(1, 10, wrong.sum())) % 10
    confidence = np.where(rng.random(count) < unsure_rate, 0.3, rng.uniform(0.85, 0.99, count))
    probabilities = np.repeat(((1.0 - confidence) / 9.0)[:, None], 10, axis=1)
    probabilities[np.arange(count), top] = confidence
    return probabilities


def test_relabelling_with_a_confident_clean_model_fixes_systematic_noise() -> None:
    truth, true, given, _ = noisy_sample(per_class=500, noise_rate=0.9, kind="systematic")
    probabilities = confident_probabilities(true, error_rate=0.02, unsure_rate=0.03)
    before = (given != true).mean()
    assert before > 0.8
    # The project's thresholds (parameters_mnist.yml): nothing in them is about the folder's share.
    kept, labels, summary = clean_labels(given, probabilities, "relabel", 2.3, 0.8)
    assert len(kept) == len(given) and summary["relabelled"] > 0.8 * len(given)
    after = (labels != true[kept]).mean()
    # Left wrong: the ~2% the model misreads and the unsure 3% that keep their (90% wrong) label.
    assert after < 0.1, f"wrong labels {before:.0%} before, {after:.0%} after"
    # Per folder too: every folder ends up mostly its own digit.
    for folder in range(10):
        assert (true[kept][labels == folder] == folder).mean() > 0.85


def test_dropping_most_labels_warns(caplog: pytest.LogCaptureFixture) -> None:
    _, true, given, _ = noisy_sample(per_class=100, noise_rate=0.9, kind="systematic")
    probabilities = confident_probabilities(true, error_rate=0.0, unsure_rate=0.0)
    with caplog.at_level(logging.WARNING, logger="playing_with_mnist.noise"):
        kept, labels, summary = clean_labels(given, probabilities, "drop", 2.3, 0.8)
    assert (labels == true[kept]).all() and summary["dropped"] == (given != true).sum()
    assert "most labels look wrong" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="playing_with_mnist.noise"):
        clean_labels(given, probabilities, "relabel", 2.3, 0.8)
    assert "most labels look wrong" not in caplog.text


def test_policy_takes_flags_of_any_type_but_not_of_another_length() -> None:
    flags = np.array([0, 1, 0, 1, 0])  # ints: ~ would not negate them
    kept, labels, _ = apply_label_policy(GIVEN, PROBABILITIES, flags, "drop")
    assert kept.tolist() == [0, 2, 4] and labels.tolist() == [0, 2, 1]
    kept, _, _ = apply_label_policy(GIVEN, PROBABILITIES, torch.tensor(flags, dtype=torch.bool), "drop")
    assert kept.tolist() == [0, 2, 4]
    with pytest.raises(ValueError, match="suspect has 4 flags for 5 labels"):
        apply_label_policy(GIVEN, PROBABILITIES, flags[:4], "drop")


def test_unseen_class_is_a_nan_row_and_is_ignored() -> None:
    estimate = noise_matrix_estimate(np.array([0, 1, 1]), np.array([0, 0, 1]), 3)
    assert estimate[:2].tolist() == [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]]
    assert np.isnan(estimate[2]).all()
    difference = matrix_difference(estimate, np.eye(3))
    assert difference == pytest.approx({"mean_abs_error": 1 / 6, "max_abs_error": 0.5, "diagonal_mean_abs_error": 0.25})
    with pytest.raises(ValueError, match="given_labels|columns"):
        noise_matrix_estimate(np.array([0, 3]), np.array([0, 1]), 3)


def test_wrong_label_share_matches_hand_counts() -> None:
    given = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2])
    true = np.array([0, 0, 1, 1, 1, 2])
    table = wrong_label_share(given, predicted, ["a", "b", "c", "d"], true_labels=true)
    assert table["folder"].tolist() == ["a", "b", "c", "d"]
    assert table["images"].tolist() == [3, 2, 1, 0]
    assert np.allclose(table["estimated_wrong_share"][:3], [2 / 3, 1 / 2, 0])
    assert np.allclose(table["true_wrong_share"][:3], [1 / 3, 0, 0])
    # Folder "a" is read as "b" twice of three; "b" once each "a" and "b" (the lower class wins a tie).
    assert table["main_reading"][:3].tolist() == ["b", "a", "c"]
    assert np.allclose(table["main_reading_share"][:3], [2 / 3, 1 / 2, 1])
    assert table.iloc[3, 2:].isna().all()  # an empty folder has no share and no reading
    assert "true_wrong_share" not in wrong_label_share(given, predicted, ["a", "b", "c"]).columns


# given 0,1,2,0,1. Row 1: the model is sure of another class -> suspect. Row 2: high loss
# but flat probabilities -> not suspect. Row 3: p[given] = 0, clamped -> suspect, top class 2.
GIVEN = np.array([0, 1, 2, 0, 1], dtype=np.uint8)
PROBABILITIES = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.4, 0.3, 0.3], [0.0, 0.0, 1.0], [0.2, 0.7, 0.1]])


def test_wrong_label_share_names_the_digit_each_folder_holds_under_systematic_noise() -> None:
    _, true, given, predicted = noisy_sample(per_class=300, error_rate=0.02, noise_rate=0.9, kind="systematic")
    table = wrong_label_share(given, predicted, DIGITS, true_labels=true)
    assert (table["estimated_wrong_share"] > 0.7).all() and (table["true_wrong_share"] > 0.7).all()
    perm = label_permutation(SEED)
    # Folder perm[t] mostly holds digit t.
    assert [table["main_reading"][perm[t]] for t in range(10)] == DIGITS
    assert (table["main_reading_share"] > 0.6).all()


def test_flag_suspect_labels() -> None:
    assert flag_suspect_labels(GIVEN, PROBABILITIES, 1.0, 0.6).tolist() == [False, True, False, True, False]
    assert flag_suspect_labels(GIVEN, PROBABILITIES, 1.0, 0.4).tolist() == [False, True, True, True, False]  # >= confidence
    assert flag_suspect_labels(GIVEN, PROBABILITIES, 5.0, 0.6).tolist() == [False, False, False, True, False]
    assert flag_suspect_labels(torch.from_numpy(GIVEN), torch.from_numpy(PROBABILITIES).float(), 1.0, 0.6).sum() == 2


@pytest.mark.parametrize(
    ("policy", "kept", "labels", "dropped", "relabelled"),
    [("drop", [0, 2, 4], [0, 2, 1], 2, 0), ("relabel", [0, 1, 2, 3, 4], [0, 0, 2, 2, 1], 0, 2), ("none", [0, 1, 2, 3, 4], [0, 1, 2, 0, 1], 0, 0)],
)
def test_clean_labels(policy: str, kept: list[int], labels: list[int], dropped: int, relabelled: int) -> None:
    given, probabilities = GIVEN.copy(), PROBABILITIES.copy()
    kept_indices, kept_labels, summary = clean_labels(given, probabilities, policy, 1.0, 0.6)
    assert kept_indices.dtype == np.int64 and kept_indices.tolist() == kept
    assert kept_labels.tolist() == labels and kept_labels.dtype == GIVEN.dtype
    assert summary == {"policy": policy, "images": 5, "suspects": 2, "dropped": dropped, "relabelled": relabelled}
    assert all(type(summary[key]) is int for key in ("images", "suspects", "dropped", "relabelled"))
    assert np.array_equal(given, GIVEN) and np.array_equal(probabilities, PROBABILITIES)  # inputs untouched


def test_unknown_policy_names_itself_and_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="'keep'.*drop, relabel, none"):
        clean_labels(GIVEN, PROBABILITIES, "keep", 1.0, 0.6)


def image_axes(figure: plt.Figure) -> list[plt.Axes]:
    return [ax for ax in figure.axes if ax.images]


def test_plot_noise_matrices() -> None:
    truth, _, given, predicted = noisy_sample(per_class=100)
    estimate = noise_matrix_estimate(given, predicted, 10)
    alone = plot_noise_matrices(estimate, DIGITS)
    both = plot_noise_matrices(estimate, DIGITS, truth=truth)
    try:
        assert len(image_axes(alone)) == 1
        panels = image_axes(both)
        assert [ax.get_title() for ax in panels] == ["estimated", "true"]
        assert panels[0].images[0].norm is panels[1].images[0].norm  # one colour scale
        assert len(panels[0].texts) == 100 and panels[0].texts[0].get_text().endswith("%")
    finally:
        plt.close(alone)
        plt.close(both)


def test_plot_wrong_share() -> None:
    given, predicted, true = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), np.array([0, 0, 1, 1])
    with_truth = plot_wrong_share(wrong_label_share(given, predicted, ["a", "b", "c"], true_labels=true))
    estimated_only = plot_wrong_share(wrong_label_share(given, predicted, ["a", "b", "c"]))
    try:
        assert len(with_truth.axes) == 1 and len(with_truth.axes[0].patches) == 6
        assert len(estimated_only.axes) == 1 and len(estimated_only.axes[0].patches) == 3
    finally:
        plt.close(with_truth)
        plt.close(estimated_only)


def test_plot_folder_grid() -> None:
    given = np.array([0] * 7 + [1] * 2 + [2] * 5)  # folder 1 has fewer images than per_folder
    predicted = given.copy()
    predicted[:7] = 2  # every image of folder 0 is predicted as "c"
    images = np.arange(len(given), dtype=np.uint8).repeat(16).reshape(-1, 1, 4, 4)
    figures = [
        plot_folder_grid(images, given, ["a", "b", "c"], per_folder=4, predicted_labels=predicted, seed=1),
        plot_folder_grid(torch.from_numpy(images), given, ["a", "b", "c"], per_folder=4, seed=1),
    ]
    try:
        for figure in figures:
            assert len(figure.axes) == 12 and len(image_axes(figure)) == 4 + 2 + 4
        shown = [[ax.images[0].get_array()[0, 0] for ax in image_axes(figure)] for figure in figures]
        assert shown[0] == shown[1]  # same seed, numpy or torch: the same images
        titles = [ax.get_title() for ax in image_axes(figures[0])]
        assert titles == ["c"] * 4 + ["b"] * 2 + ["c"] * 4
        red = [ax.title.get_color() != "black" for ax in image_axes(figures[0])]
        assert red == [True] * 4 + [False] * 6
        assert image_axes(figures[1])[0].get_title() == ""
    finally:
        for figure in figures:
            plt.close(figure)
