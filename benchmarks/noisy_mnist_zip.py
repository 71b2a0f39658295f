"""Make a Task 3 zip from real MNIST digits: folders ``0``-``9`` named by labels drawn through a noise matrix (the
stand-in's, ``demo.noisy_digits.noise_matrix``), and beside it ``<name>.truth.json`` with every image's true digit and
the matrix, which the ``noisy_labels`` pipeline reads to score its noise estimate and its cleaning against the truth.

The digits are MNIST training images (white ink on black, 28x28, as the real mnistTask3.zip), drawn with ``--seed``
from those that Task 2's clean model did not train on (``--clean-model-point``: the learning-curve point whose
model ``mnist_model`` is, ``<size>:<seed>``; its class-balanced subset is recomputed here), so that cleaning cannot
lean on images the clean model has seen with their true labels. The test set stays MNIST's 10,000 test digits.

    python benchmarks/noisy_mnist_zip.py ../shared/data/mnist data/01_raw/mnist_systematic.zip \\
        --count 3000 --noise-rate 0.9 --kind systematic --clean-model-point 3000:0
    kedro run --pipelines=noisy_labels --params=mnist_dir=../shared/data/mnist,noisy_zip=data/01_raw/mnist_systematic.zip
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from playing_with_mnist.demo.noisy_digits import NOISE_KINDS, digit_zip_members, flip_labels, noise_matrix, write_digit_zip
from playing_with_mnist.ingest.archive import KnownLabels
from playing_with_mnist.ingest.idx import read_mnist
from playing_with_mnist.pipelines.mnist_transfer.nodes import training_subset
from playing_with_mnist.sweep import curve_points


def clean_model_images(train_labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of the MNIST training images that the learning curve's point ``n<size>_s<seed>`` trained on."""
    curve = {"train_sizes": [size], "seeds": [seed]}
    points = curve_points(curve["train_sizes"], curve["seeds"])
    cache = {"labels": torch.from_numpy(train_labels.astype(np.int64)), "class_names": [str(d) for d in range(10)]}
    split = {"train": torch.arange(len(train_labels))}
    return training_subset(cache, split, curve, points, next(iter(points)))["train"].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mnist_dir", type=Path, help="folder with the four MNIST IDX files")
    parser.add_argument("zip", type=Path, help="the zip to write; <name>.truth.json goes beside it")
    parser.add_argument("--count", type=int, default=3000, help="digits in the zip (default 3000, the stand-in's)")
    parser.add_argument("--noise-rate", type=float, default=0.9, help="share of labels drawn wrong (default 0.9)")
    parser.add_argument("--kind", choices=NOISE_KINDS, default="systematic", help="noise matrix kind (default systematic)")
    parser.add_argument("--seed", type=int, default=0, help="draws the digits, the matrix and the flips (default 0)")
    parser.add_argument("--clean-model-point", default="3000:0",
                        help="size:seed of the learning-curve point whose training images to leave out (default 3000:0; none: keep all)")
    args = parser.parse_args()

    mnist = read_mnist(args.mnist_dir)
    images, labels = mnist["train_images"], mnist["train_labels"]
    available = np.arange(len(labels))
    if args.clean_model_point != "none":
        size, seed = (int(part) for part in args.clean_model_point.split(":"))
        available = np.setdiff1d(available, clean_model_images(labels, size, seed))
    if args.count > len(available):
        parser.error(f"--count {args.count} is more than the {len(available)} training digits available")
    chosen = np.sort(np.random.default_rng([args.seed, 7]).choice(available, args.count, replace=False))
    matrix = noise_matrix(args.noise_rate, args.seed, args.kind)
    true_labels = labels[chosen]
    noisy_labels = flip_labels(true_labels, matrix, args.seed)
    members = digit_zip_members(noisy_labels)
    write_digit_zip(args.zip, images[chosen], members)
    truth = KnownLabels(dict(zip(members, true_labels.tolist())), matrix.tolist())  # what NoisyDigitArchiveDataset reads
    args.zip.with_name(args.zip.stem + ".truth.json").write_text(json.dumps(dataclasses.asdict(truth)))
    print(f"{args.zip}: {args.count} MNIST training digits, {(true_labels != noisy_labels).mean():.1%} of labels wrong "
          f"({args.kind}, rate {args.noise_rate:g}, seed {args.seed}); truth in {args.zip.stem}.truth.json")


if __name__ == "__main__":
    main()
