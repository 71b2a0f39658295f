"""How much of a 62-class model's error is case: the shape right, the case wrong.

Reads a predictions table written by the project (``evaluate``'s ``test_predictions.csv``,
or the validation predictions; columns ``true`` and ``predicted`` hold the characters) and
splits the images into three groups:

- ``same-shape letters``: the 15 letters whose capital and small forms have the same shape
  (c i j k l m o p s u v w x y z; the classes EMNIST's "Balanced" split merges because a
  centred, size-normalised crop cannot tell them apart);
- ``other letters``: the 11 whose forms differ (a/A, b/B, d/D ...);
- ``digits``.

For each group: the case-folded accuracy (the shape right), the 62-class accuracy, and how
often the case is right when the shape is. Then the 62-class accuracy the model would reach
with every shape right and its case guesses as they are: a ceiling that better shape
recognition alone cannot pass. Last, for each same-shape letter, how many small forms were
read as capitals and how many capitals as small forms: whether the model leans one way.

    python benchmarks/case_errors.py data/07_model_output/test_predictions.csv/<version>/test_predictions.csv

Run by hand; it reads one CSV and trains nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

SAME_SHAPE_LETTERS = frozenset("cijklmopsuvwxyz")


def character_group(character: str) -> str:
    """The group of a class name: digits, same-shape letters or other letters."""
    if character.isdigit():
        return "digits"
    return "same-shape letters" if character.casefold() in SAME_SHAPE_LETTERS else "other letters"


def case_error_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per group of true characters: images, case-folded and exact accuracy, case right given shape right."""
    true, predicted = predictions["true"].astype(str), predictions["predicted"].astype(str)
    table = pd.DataFrame(
        {
            "group": true.map(character_group),
            "shape_right": true.str.casefold() == predicted.str.casefold(),
            "exact_right": true == predicted,
        }
    )
    summary = table.groupby("group").agg(
        images=("exact_right", "size"), case_folded=("shape_right", "mean"), exact=("exact_right", "mean")
    )
    summary["case_right_when_shape_right"] = summary["exact"] / summary["case_folded"]
    return summary


def case_direction_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per same-shape letter: its small and capital images, and how many of each were read as the other.

    A model that leans one way (reading most c as C, say) makes these two counts unequal; about
    equal counts near half the images mean the case is a coin toss for that letter, which no
    per-class bias or threshold can fix.
    """
    true, predicted = predictions["true"].astype(str), predictions["predicted"].astype(str)
    rows = []
    for letter in sorted(SAME_SHAPE_LETTERS):
        capital = letter.upper()
        small_images, capital_images = true == letter, true == capital
        rows.append({
            "letter": f"{letter}/{capital}",
            "small": int(small_images.sum()),
            "small_read_as_capital": int((small_images & (predicted == capital)).sum()),
            "capital": int(capital_images.sum()),
            "capital_read_as_small": int((capital_images & (predicted == letter)).sum()),
        })
    return pd.DataFrame(rows).set_index("letter")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("predictions", type=Path, nargs="+", help="predictions CSVs with columns true and predicted")
    args = parser.parse_args()
    for path in args.predictions:
        if not path.is_file():
            parser.error(f"{path}: no such file; pass a predictions CSV, e.g. evaluate's "
                         "data/07_model_output/test_predictions.csv/<version>/test_predictions.csv")
        predictions = pd.read_csv(path, dtype={"true": str, "predicted": str}, keep_default_na=False)
        summary = case_error_table(predictions)
        total = int(summary["images"].sum())
        print(f"\n{path}: {total} images, accuracy {(summary['exact'] * summary['images']).sum() / total:.1%}, "
              f"case-folded {(summary['case_folded'] * summary['images']).sum() / total:.1%}")
        print(summary.to_string(float_format=lambda value: f"{value:.1%}"))
        ceiling = (summary["case_right_when_shape_right"] * summary["images"]).sum() / total
        print(f"with every shape right and the case guessed as now: {ceiling:.1%}")
        directions = case_direction_table(predictions)
        print("\nthe same-shape letters' case errors, each way:")
        print(directions.to_string())
        print(f"in all: {directions['small_read_as_capital'].sum()} of {directions['small'].sum()} small letters "
              f"read as capitals, {directions['capital_read_as_small'].sum()} of {directions['capital'].sum()} "
              "capitals read as small letters")


if __name__ == "__main__":
    main()
